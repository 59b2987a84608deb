//! `startup/host`: spawn of the workload to its start marker reaching the
//! host — the baseline every other startup figure is compared with.
//!
//! Each iteration is one full run of the `startup` task; criterion is given
//! only the launch → marker time (`iter_custom`), not the teardown.

use std::time::Duration;

use bench::backend::host::HostBackend;
use bench::backend::{Backend, Launch};
use bench::workload::Workload;
use criterion::{Criterion, criterion_group, criterion_main};

fn startup(c: &mut Criterion) {
    let launch = Launch {
        workload: Workload::embedded(),
        argv: vec!["startup".into()],
        timeout: Some(Duration::from_secs(10)),
        echo: false,
    };
    let mut group = c.benchmark_group("startup");
    group.bench_function("host", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let report = HostBackend.run(&launch).expect("the host backend runs");
                let startup = report.startup_ns.expect("the workload printed its marker");
                total += Duration::from_nanos(startup);
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, startup);
criterion_main!(benches);

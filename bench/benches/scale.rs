//! `scale/{container,vm}/N`: N instances of a backend started at once (as
//! many in parallel as the host has cores), each to its start marker.
//!
//! Each iteration is one `versus scale` point: start N parked instances,
//! measure them, tear them all down. Criterion is given only the time
//! from the first instance's launch to the last start marker
//! (`iter_custom`), so the figure is what N starts cost together; the
//! memory per instance is printed once to stderr, as criterion only
//! measures time. The counts stay small: `versus scale` measures the large
//! ones (hundreds), which would take minutes per criterion sample.
//!
//! A backend that cannot run here (no root for containers, no usable
//! /dev/kvm for VMs) is skipped with the reason on stderr.

use std::time::Duration;

use bench::backend::vm::VmSettings;
use bench::scale::{self, ScaleBackend, ScalePlan, ScalePoint};
use criterion::{BenchmarkId, Criterion};

/// Instance counts measured: one alone, then a few at once.
const COUNTS: [usize; 3] = [1, 4, 16];
/// Samples per count: criterion's minimum, as every sample starts and
/// tears down up to 16 containers or VMs.
const SAMPLES: usize = 10;
/// Warm-up per count.
const WARM_UP: Duration = Duration::from_secs(1);
/// Measured time per count (criterion's estimate; the wall time is longer
/// by each point's measuring and teardown).
const MEASUREMENT: Duration = Duration::from_secs(5);

fn plan(backend: ScaleBackend, count: usize) -> ScalePlan {
    ScalePlan {
        backends: vec![backend],
        counts: vec![count],
        vm: VmSettings::default(),
        parallelism: std::thread::available_parallelism().map_or(1, usize::from),
        hold: Duration::ZERO,
    }
}

/// One scale point, or why the backend cannot run here.
fn point(backend: ScaleBackend, count: usize) -> Result<ScalePoint, String> {
    let report = scale::run(&plan(backend, count), |_| {}).map_err(|e| e.to_string())?;
    let point = report
        .points
        .into_iter()
        .next()
        .ok_or_else(|| format!("no {} point was measured", backend.name()))?;
    if point.started != count {
        return Err(format!(
            "{} of {count} {} instances started",
            point.started,
            backend.name()
        ));
    }
    if !point.leftovers.is_empty() {
        return Err(format!("the teardown left {}", point.leftovers.join("; ")));
    }
    Ok(point)
}

fn scale_group(c: &mut Criterion, backend: ScaleBackend) {
    // One trial point first: it says whether the backend runs here at all,
    // and gives the memory figures printed beside the timings.
    let trial = match point(backend, COUNTS[COUNTS.len() - 1]) {
        Ok(trial) => trial,
        Err(why) => {
            eprintln!("scale/{}: {why}; nothing measured", backend.name());
            return;
        }
    };
    eprintln!(
        "scale/{}/{}: {} KiB PSS per instance, kernel growth {} KiB for the set",
        backend.name(),
        trial.count,
        trial.pss_per_instance_bytes / 1024,
        trial.kernel_growth_bytes / 1024
    );
    let mut group = c.benchmark_group(format!("scale/{}", backend.name()));
    group
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT);
    for count in COUNTS {
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, &count| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let point = point(backend, count)
                        .unwrap_or_else(|why| panic!("scale/{}/{count}: {why}", backend.name()));
                    total += Duration::from_nanos(point.start_all_ns);
                }
                total
            });
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    scale_group(&mut c, ScaleBackend::Container);
    scale_group(&mut c, ScaleBackend::Vm);
    c.final_summary();
}

//! Console I/O and the host's system call, as criterion benches; the time
//! criterion sees comes from inside each run (`iter_custom` with the
//! workload's own `total_ns`):
//!
//! * `syscall/host`: one `getpid` of a plain host process — the baseline
//!   for `syscall/container` (container crate) and `syscall/vm` (vm bench);
//! * `io/pipe`: one small `write` to stdout where stdout is a pipe to
//!   versus — a host process and a container's PID 1 write the same way;
//! * `io/paravirt`: the same write in a VM through the paravirtual console
//!   (the guest kernel hands the buffer over in one exit);
//! * `io/uart`: the same write in a VM through the emulated 16550 UART (one
//!   exit per byte).
//!
//! Exits per write are printed once to stderr (criterion measures time).
//! Without /dev/kvm the VM functions say why and are left out.

use std::time::Duration;

use bench::backend::host::HostBackend;
use bench::backend::vm::{VmBackend, VmSettings};
use bench::backend::{Backend, Launch};
use bench::report::RunReport;
use bench::workload::{TaskResult, Workload};
use criterion::{Criterion, criterion_group, criterion_main};

/// Longest one run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes per write: a short console line, where the per-write cost shows.
const WRITE_BYTES: u64 = 16;
/// Writes per host run (a few hundred ns each).
const HOST_WRITES_PER_RUN: u64 = 100_000;
/// Writes per VM run: hundreds of µs each on a software KVM backend.
const VM_WRITES_PER_RUN: u64 = 100;
/// `getpid`s per host run.
const HOST_GETPIDS_PER_RUN: u64 = 1_000_000;

fn launch(argv: &[String]) -> Launch {
    Launch {
        workload: Workload::embedded(),
        argv: argv.to_vec(),
        timeout: Some(RUN_TIMEOUT),
        echo: false,
    }
}

fn run(backend: &dyn Backend, argv: &[String]) -> RunReport {
    let report = backend
        .run(&launch(argv))
        .unwrap_or_else(|e| panic!("{} did not run {argv:?}: {e}", backend.name()));
    assert!(
        report.exit.success(),
        "{argv:?} on {}: {}",
        backend.name(),
        report.exit.describe()
    );
    report
}

/// `(ops, total_ns)` of the run's first write or getpid result.
fn loop_time(report: &RunReport) -> (u64, u64) {
    report
        .results
        .iter()
        .find_map(|r| match r {
            TaskResult::Write {
                iters, total_ns, ..
            }
            | TaskResult::Getpid {
                iters, total_ns, ..
            } => Some((*iters, *total_ns)),
            _ => None,
        })
        .expect("the workload reported its loop")
}

/// Criterion's `iter_custom` for a task whose loop runs `per_run` times:
/// enough runs for `iters` operations, the loops' own time scaled to
/// exactly `iters`.
fn measured(backend: &dyn Backend, task: &[&str], per_run: u64, iters: u64) -> Duration {
    let mut done = 0u64;
    let mut total_ns = 0u128;
    while done < iters {
        let n = per_run.min(iters - done).max(2);
        let mut argv = vec![task[0].to_string(), n.to_string()];
        argv.extend(task[1..].iter().map(|a| a.to_string()));
        let (ops, ns) = loop_time(&run(backend, &argv));
        done += ops;
        total_ns += u128::from(ns);
    }
    let scaled = total_ns * u128::from(iters) / u128::from(done.max(1));
    Duration::from_nanos(u64::try_from(scaled).unwrap_or(u64::MAX))
}

fn kvm_unavailable() -> Option<String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .err()
        .map(|e| format!("/dev/kvm cannot be opened: {e}"))
}

/// Exits per write in a VM: the exits of a run with `VM_WRITES_PER_RUN`
/// writes minus those of a run with one, over the difference.
fn exits_per_write(backend: &VmBackend) -> f64 {
    let total = |writes: u64| {
        let argv = [
            "write".to_string(),
            writes.to_string(),
            WRITE_BYTES.to_string(),
        ];
        let report = run(backend, &argv);
        let vm = report.vm.expect("a VM report");
        vm.exits.iter().map(|row| row.count).sum::<u64>() as f64
    };
    (total(VM_WRITES_PER_RUN) - total(1)) / (VM_WRITES_PER_RUN - 1) as f64
}

fn benches(c: &mut Criterion) {
    let bytes = WRITE_BYTES.to_string();
    let mut syscall = c.benchmark_group("syscall");
    syscall.bench_function("host", |b| {
        b.iter_custom(|iters| measured(&HostBackend, &["getpid"], HOST_GETPIDS_PER_RUN, iters));
    });
    syscall.finish();

    let mut io = c.benchmark_group("io");
    io.bench_function("pipe", |b| {
        b.iter_custom(|iters| {
            measured(&HostBackend, &["write", &bytes], HOST_WRITES_PER_RUN, iters)
        });
    });
    match kvm_unavailable() {
        Some(why) => eprintln!("io/paravirt, io/uart: skipped: {why}"),
        None => {
            io.sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(5));
            let paravirt = VmBackend::new();
            let uart = VmBackend::with_settings(VmSettings {
                console_uart: true,
                ..VmSettings::default()
            });
            eprintln!(
                "io: exits per {WRITE_BYTES}-byte write: paravirtual console {:.2}, UART {:.2}",
                exits_per_write(&paravirt),
                exits_per_write(&uart)
            );
            io.bench_function("paravirt", |b| {
                b.iter_custom(|iters| {
                    measured(&paravirt, &["write", &bytes], VM_WRITES_PER_RUN, iters)
                });
            });
            io.bench_function("uart", |b| {
                b.iter_custom(|iters| {
                    measured(&uart, &["write", &bytes], VM_WRITES_PER_RUN, iters)
                });
            });
        }
    }
    io.finish();
}

criterion_group!(io_benches, benches);
criterion_main!(io_benches);

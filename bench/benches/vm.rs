//! The VM's figures as criterion benches, each one full VM run (or a few)
//! per measurement, with the time criterion sees taken from inside the run
//! (`iter_custom`):
//!
//! * `startup/vm`: launch → the workload's start marker reaching the host,
//!   1 vCPU (the same definition as `startup/host`);
//! * `syscall/vm`: one `getpid` inside the guest, from the workload's own
//!   `total_ns` for its loop;
//! * `exit/vm_pio`: one VM exit round trip (port I/O to the ping port), from
//!   the guest kernel's exit probe (its TSC time per exit × exits).
//!
//! A VM run costs milliseconds of boot and teardown around what is
//! measured, so the groups take few samples and long loops are split over
//! several runs of at most `*_PER_RUN` operations. Memory (guest touched,
//! VMM overhead) and the host side of the exit probe are printed to stderr,
//! as criterion only measures time. Without a usable /dev/kvm the bench
//! says why and measures nothing.

use std::time::Duration;

use bench::backend::vm::{VmBackend, VmSettings};
use bench::backend::{Backend, Launch};
use bench::report::RunReport;
use bench::report::vm::{ExitProbe, VmDetails};
use bench::stats::Summary;
use bench::workload::{TaskResult, Workload};
use criterion::Criterion;

/// Longest a single VM run may take before it counts as hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// `getpid`s per VM run: a guest `getpid` costs ~50 µs on the software
/// backend, so one run's loop stays around 50 ms.
const GETPIDS_PER_RUN: u64 = 1_000;
/// Exits per exit probe: ~6–10 µs each here, so one probe stays under
/// 100 ms.
const EXITS_PER_RUN: u64 = 10_000;
/// Probes shorter than this are left out of the host-side figures printed
/// to stderr: the host's span also holds the marker exits around the loop,
/// which only a long loop makes negligible.
const HOST_FIGURE_MIN_EXITS: u64 = 1_000;
/// Samples per group: criterion's minimum, as every sample is VM runs.
const SAMPLES: usize = 10;
/// Warm-up per group.
const WARM_UP: Duration = Duration::from_secs(1);
/// Measured time per group (criterion's own estimate; the wall time is
/// longer by each run's boot and teardown).
const MEASUREMENT: Duration = Duration::from_secs(5);

/// Why /dev/kvm cannot be used, if it cannot.
fn kvm_unavailable() -> Option<String> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => None,
        Err(e) => Some(format!("/dev/kvm cannot be opened: {e}")),
    }
}

fn launch(argv: &[&str]) -> Launch {
    Launch {
        workload: Workload::embedded(),
        argv: argv.iter().map(|a| a.to_string()).collect(),
        timeout: Some(RUN_TIMEOUT),
        echo: false,
    }
}

/// One VM run that must succeed.
fn run(backend: &VmBackend, launch: &Launch) -> RunReport {
    let report = backend
        .run(launch)
        .unwrap_or_else(|e| panic!("the VM backend did not run {:?}: {e:#}", launch.argv));
    assert!(
        report.exit.success(),
        "{:?} in the VM: {}",
        launch.argv,
        report.exit.describe()
    );
    report
}

fn details(report: &RunReport) -> &VmDetails {
    report.vm.as_ref().expect("a VM run has VM details")
}

/// The backend every bench uses: 1 vCPU, the default memory, the
/// embedded kernel.
fn backend() -> VmBackend {
    VmBackend::with_settings(VmSettings {
        vcpus: 1,
        ..VmSettings::default()
    })
}

/// One run's memory figures and backend, once: criterion has no place for them.
fn print_memory() {
    let report = run(&backend(), &launch(&["startup"]));
    let vm = details(&report);
    let kib = |b: Option<u64>| b.map_or("?".into(), |b| format!("{} KiB", b / 1024));
    eprintln!(
        "vm memory (startup task, 1 vCPU): guest touched {}, VMM overhead RSS {}; KVM backend {}{}",
        kib(report.memory.guest_touched_bytes),
        kib(report.memory.vmm_overhead_rss_bytes),
        vm.kvm_backend,
        if vm.software_backend {
            " (software: guest ring 0 is emulated, not hardware figures)"
        } else {
            ""
        }
    );
}

fn startup(c: &mut Criterion) {
    let backend = backend();
    let launch = launch(&["startup"]);
    let mut group = c.benchmark_group("startup");
    group
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT);
    group.bench_function("vm", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let report = run(&backend, &launch);
                let startup = report.startup_ns.expect("the start marker arrived");
                total += Duration::from_nanos(startup);
            }
            total
        });
    });
    group.finish();
}

/// Splits `iters` operations into VM runs of at most `per_run` and sums
/// what `one_run(n)` measured (ns) for each: criterion's `iter_custom`
/// time for `iters` operations.
fn over_runs(iters: u64, per_run: u64, mut one_run: impl FnMut(u64) -> f64) -> Duration {
    let mut total = 0.0;
    let mut left = iters;
    while left > 0 {
        let n = left.min(per_run);
        total += one_run(n);
        left -= n;
    }
    Duration::from_nanos(total.round() as u64)
}

/// Guest nanoseconds for `n` getpid calls in one VM run.
fn getpid_ns(backend: &VmBackend, n: u64) -> u64 {
    let report = run(backend, &launch(&["getpid", &n.to_string()]));
    match report.results.as_slice() {
        [
            TaskResult::Getpid {
                iters, total_ns, ..
            },
        ] if *iters == n => *total_ns,
        other => panic!("expected one getpid result of {n} calls, got {other:?}"),
    }
}

fn syscall(c: &mut Criterion) {
    let backend = backend();
    let mut group = c.benchmark_group("syscall");
    group
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT);
    group.bench_function("vm", |b| {
        b.iter_custom(|iters| over_runs(iters, GETPIDS_PER_RUN, |n| getpid_ns(&backend, n) as f64));
    });
    group.finish();
}

/// The exit probe of one VM run with `n` exits.
fn probe(n: u64) -> ExitProbe {
    let backend = VmBackend::with_settings(VmSettings {
        exit_probe: Some(u32::try_from(n).expect("EXITS_PER_RUN fits the probe")),
        ..backend().settings
    });
    let report = run(&backend, &launch(&["startup"]));
    let probe = details(&report)
        .exit_probe
        .clone()
        .expect("the probe was asked for");
    assert_eq!(probe.ping_exits, n, "{probe:?}");
    probe
}

/// Median, min and max of `values`, for stderr (the harness's statistics).
fn spread(values: &[f64]) -> String {
    match Summary::of(values) {
        Ok(s) => format!(
            "median {:.0} ns (min {:.0}, max {:.0}, IQR {:.0}, {} runs)",
            s.median, s.min, s.max, s.iqr, s.n
        ),
        Err(e) => format!("no figure ({e})"),
    }
}

fn exit(c: &mut Criterion) {
    let mut host = Vec::new();
    let mut handler = Vec::new();
    let mut group = c.benchmark_group("exit");
    group
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT);
    group.bench_function("vm_pio", |b| {
        b.iter_custom(|iters| {
            over_runs(iters, EXITS_PER_RUN, |n| {
                let p = probe(n);
                if n >= HOST_FIGURE_MIN_EXITS {
                    host.extend(p.host_ns_per_exit);
                    handler.extend(p.handler_ns_per_exit);
                }
                p.guest_ns_per_exit.expect("the kernel printed its line") * n as f64
            })
        });
    });
    group.finish();
    eprintln!(
        "exit/vm_pio host side (probes of {HOST_FIGURE_MIN_EXITS}+ exits): round trip {}; of it in the VMM's handler {}",
        spread(&host),
        spread(&handler)
    );
}

fn main() {
    if let Some(why) = kvm_unavailable() {
        eprintln!("vm benches: {why}; nothing measured");
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    print_memory();
    startup(&mut c);
    syscall(&mut c);
    exit(&mut c);
    c.final_summary();
}

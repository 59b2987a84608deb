//! `startup/vm_linux`: launch → the minimal Linux kernel's "Run /init as
//! init process", the workload in its initramfs as `/init` — the Linux
//! guest's start-up as `versus compare --linux` times it, one boot per
//! measurement (`iter_custom`, the time taken from the run's own report).
//!
//! A boot takes about 20 s on a software KVM backend, so the group takes
//! criterion's fewest samples, one boot each (flat sampling). The guest
//! memory each boot touched is printed to stderr, as criterion only
//! measures time, and so is the start-up (with `--test`, criterion's one
//! run, that is the only figure). Without the kernel (`make linux-guest`) or a usable
//! /dev/kvm the bench says why and measures nothing.

use std::time::Duration;

use bench::backend::Launch;
use bench::backend::linux::{LinuxBackend, LinuxKernelError};
use bench::stats::Summary;
use bench::workload::Workload;
use criterion::{Criterion, SamplingMode};

/// Samples: criterion's minimum, as each is a boot of about 20 s here.
const SAMPLES: usize = 10;
/// Warm-up: one boot is longer than this, so criterion warms up with one.
const WARM_UP: Duration = Duration::from_secs(1);
/// Criterion's measurement budget: short, so that flat sampling gives each
/// sample a single boot (the wall time is SAMPLES boots).
const MEASUREMENT: Duration = Duration::from_secs(1);
/// Longest one boot may take before it counts as hung.
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

/// Why the bench cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Some(format!("/dev/kvm cannot be opened: {e}"));
    }
    bench::backend::linux::kernel_path(None)
        .err()
        .map(|e: LinuxKernelError| e.to_string())
}

/// One boot to "Run /init": its start-up and the guest memory it touched.
fn boot(backend: &LinuxBackend) -> (Duration, u64) {
    let launch = Launch {
        workload: Workload::embedded(),
        argv: vec!["startup".into()],
        timeout: Some(BOOT_TIMEOUT),
        echo: false,
    };
    let (_, report) = backend
        .boot(&launch, None, None)
        .unwrap_or_else(|e| panic!("the Linux backend did not boot: {e:#}"));
    let startup = report.startup_ns.unwrap_or_else(|| {
        panic!(
            "the boot did not reach \"Run /init\": {}",
            report.exit.describe()
        )
    });
    (
        Duration::from_nanos(startup),
        report.memory.guest_touched_bytes.unwrap_or(0),
    )
}

fn main() {
    if let Some(why) = unavailable() {
        eprintln!("startup/vm_linux: {why}; nothing measured");
        return;
    }
    let backend = match LinuxBackend::new(None) {
        Ok(backend) => backend,
        Err(e) => {
            eprintln!("startup/vm_linux: {e}; nothing measured");
            return;
        }
    };
    let mut c = Criterion::default().configure_from_args();
    let mut touched = Vec::new();
    let mut startups = Vec::new();
    let mut group = c.benchmark_group("startup");
    group
        .sample_size(SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT);
    group.bench_function("vm_linux", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (startup, bytes) = boot(&backend);
                    touched.push(bytes as f64);
                    startups.push(startup.as_secs_f64());
                    startup
                })
                .sum()
        });
    });
    group.finish();
    // Also here, so that `--test` (one boot, no statistics) shows a figure.
    match Summary::of(&startups) {
        Ok(s) => eprintln!(
            "startup/vm_linux launch → \"Run /init\": median {:.1} s (min {:.1}, max {:.1}, {} boots)",
            s.median, s.min, s.max, s.n
        ),
        Err(e) => eprintln!("startup/vm_linux launch → \"Run /init\": no figure ({e})"),
    }
    match Summary::of(&touched) {
        Ok(s) => eprintln!(
            "startup/vm_linux guest memory touched: median {:.1} MiB (min {:.1}, max {:.1}, {} boots)",
            s.median / f64::from(1 << 20),
            s.min / f64::from(1 << 20),
            s.max / f64::from(1 << 20),
            s.n
        ),
        Err(e) => eprintln!("startup/vm_linux guest memory touched: no figure ({e})"),
    }
    c.final_summary();
}

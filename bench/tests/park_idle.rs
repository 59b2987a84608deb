//! An idle parked VM costs (almost) no CPU: the vCPU waits for stdin
//! blocked on the host inside its exit, not spinning in the guest. Alone in
//! its own test binary, so that the process' CPU time is this VM's.

mod common;

use std::time::{Duration, Instant};

use bench::backend::vm::VmBackend;
use bench::backend::{HeldBackend, Launch};
use bench::workload::Workload;

/// How long the instance is held while CPU time is counted.
const HOLD: Duration = Duration::from_secs(1);

/// This process' user + system CPU time.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid for writes for the call.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let of = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}

#[testkit::needs(kvm)]
#[test]
fn a_parked_vm_uses_almost_no_cpu() {
    if !common::require_kvm("a_parked_vm_uses_almost_no_cpu") {
        return;
    }
    let launch = Launch {
        workload: Workload::embedded(),
        argv: vec!["park".to_string()],
        timeout: Some(Duration::from_secs(60)),
        echo: false,
    };
    let mut started = VmBackend::new().start(&launch).expect("the VM starts");
    assert!(
        started.wait_started(Duration::from_secs(60)).is_some(),
        "the workload started"
    );
    let (cpu_before, wall_before) = (cpu_time(), Instant::now());
    std::thread::sleep(HOLD);
    let (cpu, wall) = (cpu_time() - cpu_before, wall_before.elapsed());
    assert!(started.is_running(), "still parked");
    let report = started.wait().expect("a report");
    assert!(report.exit.success(), "{:?}", report.exit);
    // A spinning vCPU would use a whole core: ~100 % of the wall time.
    assert!(
        cpu < wall / 10,
        "a parked VM used {cpu:?} of CPU in {wall:?}"
    );
    let vm = report.vm.expect("VM details");
    assert!(
        vm.exits.iter().any(|row| row.reason == "stdin"),
        "the wait is counted as `stdin` exits: {:?}",
        vm.exits
    );
}

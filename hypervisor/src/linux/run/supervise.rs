//! What the vCPU threads and the supervisor share, and the supervisor:
//! it ends the run (timeout, Ctrl-C/SIGTERM, a panic's grace) and kicks
//! every vCPU thread out of KVM_RUN until all have left.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::milestones::{BootProgress, Milestone};
use super::LinuxEnd;
use crate::exits::ExitStats;
use crate::vcpu;

/// How long the console keeps printing after "Kernel panic" before the
/// run ends (the panic's own lines follow it).
const PANIC_GRACE: Duration = Duration::from_secs(2);
/// How often the supervisor looks at the run (and re-kicks vCPUs).
const POLL: Duration = Duration::from_millis(20);

/// What the vCPU threads and the supervisor share.
#[derive(Debug)]
pub(super) struct RunShared {
    pub(super) launch: Instant,
    pub(super) stop: AtomicBool,
    pub(super) end: Mutex<Option<LinuxEnd>>,
    pub(super) progress: Mutex<BootProgress>,
    pub(super) assists: Mutex<BTreeMap<&'static str, u64>>,
    /// End the run at "Run /init" (a software backend).
    pub(super) stop_at_init: bool,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RunShared {
    pub(super) fn finish(&self, end: LinuxEnd) {
        let mut slot = lock(&self.end);
        if slot.is_none() {
            *slot = Some(end);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Waits for the end (a vCPU's, a panic's grace, or the timeout), then
/// kicks every vCPU thread out of KVM_RUN until all have left.
pub(super) fn supervise(
    shared: &RunShared,
    handles: &[JoinHandle<ExitStats>],
    timeout: Duration,
    stop_flag: Option<&AtomicBool>,
) {
    let start = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        if stop_flag.is_some_and(|f| f.load(Ordering::SeqCst)) {
            shared.finish(LinuxEnd::Interrupted);
            break;
        }
        if start.elapsed() >= timeout {
            shared.finish(LinuxEnd::Timeout);
            break;
        }
        let panicked = lock(&shared.progress).time_of(Milestone::Panic);
        if panicked.is_some_and(|t| shared.launch.elapsed() >= t + PANIC_GRACE) {
            shared.finish(LinuxEnd::Panic);
            break;
        }
        std::thread::sleep(POLL);
    }
    while handles.iter().any(|h| !h.is_finished()) {
        for h in handles.iter().filter(|h| !h.is_finished()) {
            use std::os::unix::thread::JoinHandleExt;
            // SAFETY: the thread has not finished, so its pthread_t is
            // valid (its JoinHandle is not joined yet); the kick signal has
            // a handler installed, so delivering it only interrupts KVM_RUN.
            unsafe { libc::pthread_kill(h.as_pthread_t(), vcpu::kick_signal()) };
        }
        std::thread::sleep(POLL);
    }
}

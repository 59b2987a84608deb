//! Ctrl-C and SIGTERM as a flag: a run must not be abandoned half-way (a
//! container's cgroup directory, a host workload or a VM's threads would
//! stay behind), so while versus runs anything these signals only set
//! [`INTERRUPTED`] and remember which signal came; every backend polls the
//! flag, stops what it started (the host workload and a container's PID 1
//! get SIGTERM, then SIGKILL after a grace period; a VM's vCPUs are kicked
//! out of `KVM_RUN`), cleans up and returns a report that says it was
//! interrupted. versus then exits as a shell expects of a program stopped by
//! that signal: 130 for SIGINT, 143 for SIGTERM.
//!
//! The handler is installed even when the signal was inherited as ignored
//! (a job started with `nohup` or `&` in a non-interactive shell): versus
//! always cleans up before it ends.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Set by the handler when SIGINT, SIGTERM or SIGHUP arrives.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The first signal that arrived (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a run: Ctrl-C, `kill`, and a closed terminal.
const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

extern "C" fn on_signal(signal: libc::c_int) {
    // Only atomic operations: async-signal-safe.
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Routes SIGINT, SIGTERM and SIGHUP to [`INTERRUPTED`] for the rest of the
/// process.
pub fn install() -> Result<(), nix::Error> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in STOP_SIGNALS {
        // SAFETY: the handler only performs atomic operations, which are
        // async-signal-safe, and it replaces no handler anyone relies on.
        unsafe { sigaction(signal, &action) }?;
    }
    // Make sure the signals are not blocked (a blocked mask is inherited
    // across exec just as an ignored disposition is).
    let mut mask = SigSet::empty();
    for signal in STOP_SIGNALS {
        mask.add(signal);
    }
    mask.thread_unblock()?;
    Ok(())
}

/// True once SIGINT, SIGTERM or SIGHUP has arrived.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The signal that interrupted versus, if one did (the flag alone can also
/// be raised by [`crate::output`] when stdout has gone; that is no signal).
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The exit status of a program stopped by the signal that interrupted
/// versus (128 + signal: 130 for SIGINT, 143 for SIGTERM), if one did.
pub fn exit_status() -> Option<u8> {
    signal().and_then(|signal| u8::try_from(128 + signal).ok())
}

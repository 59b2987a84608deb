//! Ctrl-C and SIGTERM as a flag: a container run must not be abandoned
//! half-way (its cgroup directory would stay behind), so while versus runs a
//! container these signals only set [`INTERRUPTED`]; the launcher polls it,
//! stops PID 1 (SIGTERM, then SIGKILL after a grace period), removes the
//! cgroup and returns a report that says it was interrupted.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Set by the handler when SIGINT or SIGTERM arrives.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Routes SIGINT and SIGTERM to [`INTERRUPTED`] for the rest of the process.
pub fn install() -> Result<(), nix::Error> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe, and it replaces no handler anyone relies on.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// True once SIGINT or SIGTERM has arrived.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

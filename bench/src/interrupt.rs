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
//! Nothing polls the flag while an instance is parked: the handler also
//! writes a byte to a pipe, and a thread of ours ([`install`] starts it)
//! reads it and wakes every container wait and VM supervisor in the process
//! ([`container::launch::wake_waiters`], [`hypervisor::vcpu::wake_supervisors`]),
//! which then look at the flag. Code that raises the flag itself calls
//! [`raise`], which does the same without the pipe.
//!
//! The handler is installed even when the signal was inherited as ignored
//! (a job started with `nohup` or `&` in a non-interactive shell): versus
//! always cleans up before it ends.

use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Set by the handler when SIGINT, SIGTERM or SIGHUP arrives.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The first signal that arrived (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a run: Ctrl-C, `kill`, and a closed terminal.
const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// The write end of the pipe the handler rings (-1: none yet); the end is
/// non-blocking, so a full pipe (already rung) never blocks the handler.
static BELL: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only atomic operations and write(2): async-signal-safe.
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
    let bell = BELL.load(Ordering::SeqCst);
    if bell >= 0 {
        let byte = 1u8;
        // SAFETY: `bell` is the pipe's write end, open for the rest of the
        // process; the buffer is one readable byte.
        let _ = unsafe { libc::write(bell, (&raw const byte).cast(), 1) };
    }
}

/// Raises [`INTERRUPTED`] from code (not a signal handler) and wakes every
/// wait that watches it: what a signal does, without the signal.
pub fn raise() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    wake_waiters();
}

/// Makes every container wait and VM supervisor look at the flag now.
fn wake_waiters() {
    container::launch::wake_waiters();
    hypervisor::vcpu::wake_supervisors();
}

/// Errors of [`install`].
#[derive(Debug, thiserror::Error)]
pub enum InterruptError {
    /// `sigaction` or `pthread_sigmask` refused.
    #[error("cannot route SIGINT/SIGTERM/SIGHUP to versus' handler: {0}")]
    Signal(#[from] nix::Error),
    /// The pipe the handler rings could not be made.
    #[error("cannot create the pipe that carries Ctrl-C to parked instances: {0}")]
    Pipe(std::io::Error),
    /// The thread that reads that pipe could not be started.
    #[error("cannot start the thread that carries Ctrl-C to parked instances: {0}")]
    Thread(std::io::Error),
}

/// Starts the thread that hears the handler's pipe and wakes the waits
/// (once per process; later calls keep the first pipe).
fn start_bell() -> Result<(), InterruptError> {
    if BELL.load(Ordering::SeqCst) >= 0 {
        return Ok(());
    }
    let (read, write) = std::io::pipe().map_err(InterruptError::Pipe)?;
    let write = OwnedFd::from(write);
    // SAFETY: `write` is a pipe end this function owns; F_GETFL only reads.
    let flags = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above; the new flags only add O_NONBLOCK.
    let nonblocking = flags >= 0
        && unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } == 0;
    if !nonblocking {
        return Err(InterruptError::Pipe(std::io::Error::last_os_error()));
    }
    std::thread::Builder::new()
        .name("versus-interrupt".into())
        .spawn(move || {
            use std::io::Read;
            let mut read = read;
            let mut rung = [0u8; 64];
            // Each ring wakes the waits once; the loop ends only if the
            // write end closes, which it never does.
            while matches!(read.read(&mut rung), Ok(1..)) {
                wake_waiters();
            }
        })
        .map_err(InterruptError::Thread)?;
    // Kept open for the rest of the process: the handler may write at any
    // time.
    BELL.store(write.into_raw_fd(), Ordering::SeqCst);
    Ok(())
}

/// Routes SIGINT, SIGTERM and SIGHUP to [`INTERRUPTED`] for the rest of the
/// process, and starts the thread that wakes parked instances' waits.
pub fn install() -> Result<(), InterruptError> {
    start_bell()?;
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

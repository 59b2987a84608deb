//! versus' own standard output and error, written so that nothing a reader
//! does to them can make versus panic.
//!
//! Rust's `println!` panics when the write fails, and Rust programs ignore
//! SIGPIPE, so `versus … | head` would panic once `head` has gone. Here:
//! - a closed pipe on stdout (`EPIPE`) ends versus quietly, as `ls | head`
//!   ends `ls`: [`stdout_closed`] becomes true and the run in progress is
//!   stopped and cleaned up through the same flag as Ctrl-C
//!   ([`crate::interrupt::INTERRUPTED`]); versus then exits with 141
//!   (128 + SIGPIPE) and prints nothing more;
//! - any other write error (a full disk, `/dev/full`) is returned to the
//!   caller, which reports it as `versus: error: …` with a non-zero status;
//! - messages on stderr never fail the program: if stderr itself is gone,
//!   there is nobody left to tell.

use std::io::ErrorKind;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout met a closed pipe.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// The first other error a write to stdout met (a full disk…).
static STDOUT_FAILURE: OnceLock<String> = OnceLock::new();

/// The exit status of a program whose output pipe closed (128 + SIGPIPE).
pub const CLOSED_PIPE_STATUS: u8 = 128 + libc::SIGPIPE as u8;

/// Writes `bytes` to stdout and flushes. A closed pipe marks stdout closed
/// (and asks the run in progress to stop) and returns `Ok`: the reader has
/// gone and that is not an error; later writes are skipped. Any other
/// error is remembered for [`stdout_failure`], also stops the run in
/// progress (its output cannot be shown), and is returned.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    if stdout_closed() || STDOUT_FAILURE.get().is_some() {
        return Ok(());
    }
    // Only one writer at a time, so that pieces of two writes never mix.
    let _stdout = std::io::stdout().lock();
    match write_fd(libc::STDOUT_FILENO, bytes) {
        Err(error) if error.kind() == ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::SeqCst);
            crate::interrupt::raise();
            Ok(())
        }
        Err(error) => {
            let _ = STDOUT_FAILURE.set(error.to_string());
            crate::interrupt::raise();
            Err(error)
        }
        Ok(()) => Ok(()),
    }
}

/// Writes `bytes` to stderr, ignoring failure (see the module's notes).
pub fn write_stderr(bytes: &[u8]) {
    let _stderr = std::io::stderr().lock();
    let _ = write_fd(libc::STDERR_FILENO, bytes);
}

/// How long one wait for a writable stdout or stderr lasts before the stop
/// signal is looked at again.
const WRITABLE_POLL_MS: libc::c_int = 50;

/// The most bytes written at once after `poll` said the descriptor is
/// writable: a pipe with room for one more buffer takes this many without
/// blocking (`PIPE_BUF`, the size of an atomic pipe write).
const WRITE_PIECE_BYTES: usize = libc::PIPE_BUF;

/// Per standard descriptor (indexed by its number: 1 stdout, 2 stderr),
/// set when a stop signal came while whoever reads it was not taking
/// output: from then on its output is dropped, so that a stuck reader
/// cannot keep versus from cleaning up and ending — and a stuck stdout
/// does not silence the last message on stderr.
static ABANDONED: [AtomicBool; 3] = [const { AtomicBool::new(false) }; 3];

/// The abandoned flag of `fd` (stdout's for anything but stderr).
fn abandoned(fd: libc::c_int) -> &'static AtomicBool {
    &ABANDONED[if fd == libc::STDERR_FILENO { 2 } else { 1 }]
}

/// Writes all of `bytes` to `fd` without ever blocking for good: it waits
/// (in `poll`, so it costs no CPU) until the descriptor can take a piece,
/// and gives up — dropping the rest, returning `Ok` — once a stop signal
/// (Ctrl-C, SIGTERM) has arrived while the reader was not reading. A
/// blocking `write` could not be interrupted: the signal handler restarts
/// system calls, and the signal may reach any thread.
fn write_fd(fd: libc::c_int, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        if abandoned(fd).load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: `pollfd` is one valid, writable pollfd for the call.
        let ready = unsafe { libc::poll(&mut pollfd, 1, WRITABLE_POLL_MS) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if ready == 0 {
            if crate::interrupt::signal().is_some() {
                abandoned(fd).store(true, Ordering::SeqCst);
                return Ok(());
            }
            continue;
        }
        let piece = &bytes[..bytes.len().min(WRITE_PIECE_BYTES)];
        // SAFETY: `piece` is valid for reads of `piece.len()` bytes; `fd`
        // is one of this process's standard descriptors.
        let written = unsafe { libc::write(fd, piece.as_ptr().cast(), piece.len()) };
        if written < 0 {
            let error = std::io::Error::last_os_error();
            match error.kind() {
                ErrorKind::Interrupted | ErrorKind::WouldBlock => continue,
                _ => return Err(error),
            }
        }
        // Non-negative here, and at most `piece.len()`.
        bytes = &bytes[written.unsigned_abs()..];
    }
    Ok(())
}

/// The first error other than a closed pipe that a write to stdout met.
pub fn stdout_failure() -> Option<&'static str> {
    STDOUT_FAILURE.get().map(String::as_str)
}

/// True once stdout met a closed pipe.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// Writes one line to stderr, ignoring failure.
pub fn stderr_line(text: &str) {
    write_stderr(format!("{text}\n").as_bytes());
}

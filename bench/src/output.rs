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

use std::io::{ErrorKind, Write};
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
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::SeqCst);
            crate::interrupt::INTERRUPTED.store(true, Ordering::SeqCst);
            Ok(())
        }
        Err(error) => {
            let _ = STDOUT_FAILURE.set(error.to_string());
            crate::interrupt::INTERRUPTED.store(true, Ordering::SeqCst);
            Err(error)
        }
        Ok(()) => Ok(()),
    }
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
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.write_all(b"\n"));
}

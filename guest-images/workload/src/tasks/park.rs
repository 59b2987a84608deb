//! A long-lived instance: starts, then holds still until told to finish.
//! `versus scale` starts many of these to measure how densely each backend
//! packs idle instances and what each one costs while it waits.

use versus_protocol::catalog;

use super::{MAX_PARAMS, Outcome, Task, now};
use crate::out::{Line, STDOUT};
use crate::sys::{self, Errno};

/// Standard input: the harness holds its other end.
const STDIN: i32 = 0;

/// The line that finishes a parked instance before end of file.
const FINISH: &[u8] = b"finish";

/// Bytes read from stdin at a time; input is only ever a few words.
const READ_CHUNK: usize = 64;

pub static PARK: Task = Task {
    spec: &catalog::PARK,
    run: park,
};

/// Why the instance stopped waiting.
#[derive(Clone, Copy)]
enum Finished {
    /// stdin reached end of file (the harness closed it, or it was
    /// /dev/null from the start).
    Eof,
    /// A `finish` line arrived.
    Line,
}

impl Finished {
    fn name(self) -> &'static str {
        match self {
            Self::Eof => "eof",
            Self::Line => "finish",
        }
    }
}

/// Blocks in `read(0, …)` — asleep in the kernel on every backend, so an
/// idle instance costs no CPU — until end of file or a `finish` line, then
/// reports how long it waited.
fn park(_: &[u64; MAX_PARAMS]) -> Outcome {
    let parked_at = now()?;
    let finished = wait_for_finish()?;
    let parked_ns = now()?.saturating_sub(parked_at);
    Line::result("park")
        .field_dec("parked_ns", parked_ns)
        .field("by", finished.name().as_bytes())
        .emit(STDOUT)?;
    Ok(())
}

/// Reads stdin until end of file or a line that is exactly `finish`; other
/// lines are ignored.
fn wait_for_finish() -> Result<Finished, Errno> {
    let mut chunk = [0u8; READ_CHUNK];
    // How much of the current line matches `finish` so far; `None` once it
    // cannot match any more.
    let mut matched = Some(0usize);
    loop {
        let count = match sys::read(STDIN, &mut chunk) {
            Ok(0) => return Ok(Finished::Eof),
            Ok(count) => count,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
        };
        for &byte in chunk.get(..count).unwrap_or_default() {
            matched = match (byte, matched) {
                (b'\n', Some(len)) if len == FINISH.len() => return Ok(Finished::Line),
                (b'\n', _) => Some(0),
                (byte, Some(len)) if FINISH.get(len) == Some(&byte) => Some(len + 1),
                _ => None,
            };
        }
    }
}

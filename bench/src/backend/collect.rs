//! What a run's output amounts to, kept in bounded memory: the start
//! marker (with the instant it arrived), the result records, the program's
//! own lines (the first [`OUTPUT_KEEP_BYTES`] of them, the rest counted),
//! and the first malformed `@versus` line; its stderr likewise. The readers
//! here take a pipe line by line as the output arrives and, when asked,
//! print the program's own lines at once (stdout to versus' stdout, stderr
//! to versus' stderr), so a program that floods its output costs versus a
//! fixed amount of memory (see [`super::MAX_LINE_BYTES`] and
//! [`MAX_RESULTS`]) and is shown as `docker run` shows it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::report::OUTPUT_KEEP_BYTES;
use crate::workload::{self, ParseError, Record, StartMarker, TaskResult};

/// The most result records kept from one run; a program that prints more
/// `@versus` result lines has the rest counted with the other output.
pub const MAX_RESULTS: usize = 10_000;

/// The parsed output of one run so far.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// When the start marker arrived.
    pub(crate) marker_at: Option<Instant>,
    /// The start marker.
    pub(crate) start: Option<StartMarker>,
    /// Result records, in the order printed (at most [`MAX_RESULTS`]).
    pub(crate) results: Vec<TaskResult>,
    /// Lines that were neither the first start marker nor a kept result.
    pub(crate) other_lines: u64,
    /// The program's own lines (not `@versus` records), bounded.
    pub(crate) stdout: KeptText,
    /// The first malformed `@versus` line.
    pub(crate) parse_error: Option<ParseError>,
}

impl Collected {
    /// Takes one line of output that arrived at `seen`.
    pub(crate) fn line(&mut self, seen: Instant, line: &str) {
        match workload::parse_line(line) {
            Ok(Some(Record::Start(marker))) if self.start.is_none() => {
                self.marker_at = Some(seen);
                self.start = Some(marker);
            }
            Ok(Some(Record::Result(result))) if self.results.len() < MAX_RESULTS => {
                self.results.push(result);
            }
            Ok(Some(_)) => self.other_lines += 1,
            Ok(None) => {
                self.other_lines += 1;
                self.stdout.push(line);
            }
            Err(error) => {
                self.parse_error.get_or_insert(error);
            }
        }
    }
}

/// The first [`OUTPUT_KEEP_BYTES`] of a stream of text, and a count of
/// what came after: what a report keeps of a program's stdout or stderr.
#[derive(Debug, Default)]
pub(crate) struct KeptText {
    /// The text kept, at most [`OUTPUT_KEEP_BYTES`].
    text: String,
    /// Bytes that came after the text was full.
    left_out_bytes: u64,
    /// Newlines among them: how many lines (or ends of lines) were lost.
    left_out_lines: u64,
}

impl KeptText {
    /// Keeps as much of `chunk` as still fits and counts the rest.
    pub(crate) fn push(&mut self, chunk: &str) {
        // Once something was left out nothing more is kept: the text stays
        // the beginning of the stream.
        let mut room = if self.left_out_bytes > 0 {
            0
        } else {
            OUTPUT_KEEP_BYTES
                .saturating_sub(self.text.len())
                .min(chunk.len())
        };
        // Cut between characters, never inside one.
        while !chunk.is_char_boundary(room) {
            room -= 1;
        }
        let (kept, rest) = chunk.split_at(room);
        self.text.push_str(kept);
        self.left_out_bytes += rest.len() as u64;
        self.left_out_lines += rest.bytes().filter(|&b| b == b'\n').count() as u64;
    }

    /// The kept text, followed by a note of what was left out, if anything.
    pub(crate) fn finish(&self) -> String {
        let mut text = self.text.clone();
        if self.left_out_bytes > 0 {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "[versus kept the first {} of this output and left out the other {} ({} lines)]\n",
                crate::fmt::bytes(OUTPUT_KEEP_BYTES as u64),
                crate::fmt::bytes(self.left_out_bytes),
                self.left_out_lines,
            ));
        }
        text
    }
}

/// Reads a program's stdout on a thread of its own: every line goes into
/// the returned [`Collected`] with the instant it arrived, and with `echo`
/// the lines that are not `@versus` records are printed at once on versus'
/// stdout. When versus' own stdout has gone (a closed pipe) printing stops
/// and the run is asked to stop (see [`crate::output`]); the reader goes on
/// draining so that the program never blocks on a full pipe. `done` runs
/// when the pipe closes; a last line the program left without its newline
/// gets one first, so that the report starts on a line of its own.
pub(crate) fn stream_stdout<R, D>(pipe: R, echo: bool, done: D) -> Arc<Mutex<Collected>>
where
    R: std::io::Read + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let collected = Arc::new(Mutex::new(Collected::default()));
    let sink = collected.clone();
    let open_line = Arc::new(AtomicBool::new(false));
    let still_open = open_line.clone();
    super::read_lines(
        pipe,
        move |seen, line| {
            if echo && !line.starts_with(workload::LINE_PREFIX) {
                // A failed write is remembered by `output` and stops the
                // run; there is nobody to tell here.
                let _ = crate::output::write_stdout(line.as_bytes());
                open_line.store(!line.ends_with('\n'), Ordering::Relaxed);
            }
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .line(seen, &line);
            true
        },
        move || {
            if still_open.load(Ordering::Relaxed) {
                let _ = crate::output::write_stdout(b"\n");
            }
            done();
        },
    );
    collected
}

/// Reads a program's stderr on a thread of its own, keeping the first
/// [`OUTPUT_KEEP_BYTES`]; with `echo` every line is also printed at once on
/// versus' stderr. Reading goes on past the limit, so that a program
/// flooding stderr never blocks on a full pipe. `done` runs when the pipe
/// closes; a last line left without its newline gets one first.
pub(crate) fn stream_stderr<R, D>(pipe: R, echo: bool, done: D) -> Arc<Mutex<KeptText>>
where
    R: std::io::Read + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let kept = Arc::new(Mutex::new(KeptText::default()));
    let sink = kept.clone();
    let open_line = Arc::new(AtomicBool::new(false));
    let still_open = open_line.clone();
    // As `crate::output` has it: writes to stderr never fail the run; if
    // stderr itself is gone, nobody can see them.
    let write_stderr = |bytes: &[u8]| {
        let _ = std::io::stderr().lock().write_all(bytes);
    };
    super::read_lines(
        pipe,
        move |_, line| {
            if echo {
                write_stderr(line.as_bytes());
                open_line.store(!line.ends_with('\n'), Ordering::Relaxed);
            }
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(&line);
            true
        },
        move || {
            if still_open.load(Ordering::Relaxed) {
                write_stderr(b"\n");
            }
            done();
        },
    );
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_marker_is_timed_and_results_beyond_the_cap_are_counted() {
        let mut collected = Collected::default();
        let at = Instant::now();
        collected.line(at, "hello\n");
        collected.line(at, "@versus start task=startup pid=7 mono_ns=1\n");
        let result = "@versus task=getpid iters=1 ns_per_op=5 total_ns=5 pid=1\n";
        for _ in 0..MAX_RESULTS + 3 {
            collected.line(at, result);
        }
        assert_eq!(collected.marker_at, Some(at));
        assert_eq!(collected.results.len(), MAX_RESULTS);
        assert_eq!(collected.other_lines, 1 + 3);
        assert!(collected.parse_error.is_none());
        collected.line(at, "@versus task=getpid ns_per_op=oops\n");
        assert!(collected.parse_error.is_some());
    }

    #[test]
    fn own_lines_are_kept_up_to_the_limit_and_the_rest_is_counted() {
        let mut collected = Collected::default();
        let at = Instant::now();
        collected.line(at, "@versus start task=startup pid=7 mono_ns=1\n");
        collected.line(at, "hello stdout\n");
        assert_eq!(collected.stdout.finish(), "hello stdout\n");
        // Two-byte characters straddling the limit: cut between them.
        let line = format!("{}\n", "é".repeat(OUTPUT_KEEP_BYTES / 2));
        collected.line(at, &line);
        collected.line(at, "lost\n");
        let text = collected.stdout.finish();
        let (kept, note) = text.rsplit_once("[versus kept").unwrap();
        assert!(kept.len() <= OUTPUT_KEEP_BYTES + 1, "{}", kept.len());
        assert!(kept.starts_with("hello stdout\néé"));
        assert!(note.contains("left out the other 20 B (2 lines)"), "{note}");
        assert_eq!(collected.other_lines, 3);
    }
}

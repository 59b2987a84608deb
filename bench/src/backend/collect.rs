//! What a run's output amounts to, kept in bounded memory: the start
//! marker (with the instant it arrived), the result records, the program's
//! own lines (the first [`OUTPUT_KEEP_BYTES`] of them, the rest counted),
//! and the first malformed `@versus` line; its stderr likewise. The readers
//! here take a pipe line by line as the output arrives and, when asked,
//! print the program's own lines at once (stdout to versus' stdout, stderr
//! to versus' stderr), so a program that floods its output costs versus a
//! fixed amount of memory (see [`super::MAX_LINE_BYTES`] and
//! [`MAX_RESULTS`]) and is shown as `docker run` shows it.

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
    /// Gets the start marker's instant when it arrives (a held run's
    /// [`super::HeldStdin::follow_marker`]).
    pub(crate) marker_to: Option<std::sync::mpsc::Sender<Instant>>,
}

impl Collected {
    /// Takes one line of output that arrived at `seen`.
    pub(crate) fn line(&mut self, seen: Instant, line: &str) {
        match workload::parse_line(line) {
            Ok(Some(Record::Start(marker))) if self.start.is_none() => {
                self.marker_at = Some(seen);
                self.start = Some(marker);
                if let Some(tx) = self.marker_to.take() {
                    let _ = tx.send(seen);
                }
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

    /// Counts `bytes` that were left out before they reached versus (a
    /// console capture keeps its own first bytes only).
    pub(crate) fn left_out(&mut self, bytes: u64) {
        self.left_out_bytes += bytes;
    }

    /// The kept text, followed by a note of what was left out, if anything.
    pub(crate) fn finish(&self) -> String {
        let mut text = self.text.clone();
        if self.left_out_bytes > 0 {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            let lines = match self.left_out_lines {
                0 => String::new(),
                lines => format!(" ({lines} lines)"),
            };
            text.push_str(&format!(
                "[versus kept the first {} of this output and left out the other {}{lines}]\n",
                crate::fmt::bytes(OUTPUT_KEEP_BYTES as u64),
                crate::fmt::bytes(self.left_out_bytes),
            ));
        }
        text
    }
}

/// Which bytes of a stream are the program's own, decided as they arrive:
/// a line that starts with the `@versus` prefix is a record for versus and
/// is never printed; every other byte is printed at once, without waiting
/// for its line to end, so that a prompt such as `Name: ` shows before the
/// program reads its answer (as `docker run` shows it). Only the first bytes
/// of a line, while they could still be the prefix, are held back.
#[derive(Debug)]
pub(crate) struct Passthrough {
    /// Whether `@versus` lines are held back (stdout) or not (stderr).
    filter_records: bool,
    /// What the current line is, as far as its bytes so far tell.
    line: LineKind,
    /// The current line's first bytes while they are a prefix of `@versus`.
    held: Vec<u8>,
    /// The last byte printed was not a newline.
    open_line: bool,
}

/// The current line of a [`Passthrough`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// Its bytes so far are a prefix of `@versus`.
    Undecided,
    /// The program's own: printed.
    Own,
    /// An `@versus` record: not printed.
    Record,
}

impl Passthrough {
    /// For stdout: `@versus` lines are held back.
    pub(crate) fn stdout() -> Self {
        Self::new(true)
    }

    /// For stderr: every byte is the program's own.
    pub(crate) fn stderr() -> Self {
        Self::new(false)
    }

    fn new(filter_records: bool) -> Self {
        Self {
            filter_records,
            line: if filter_records {
                LineKind::Undecided
            } else {
                LineKind::Own
            },
            held: Vec::new(),
            open_line: false,
        }
    }

    /// Passes the program's own bytes of `chunk` to `print`, in order.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], print: &mut impl FnMut(&[u8])) {
        let prefix = workload::LINE_PREFIX.as_bytes();
        while !chunk.is_empty() {
            if self.line == LineKind::Undecided {
                let byte = chunk[0];
                chunk = &chunk[1..];
                self.held.push(byte);
                if self.held.len() == prefix.len() && self.held == prefix {
                    self.line = LineKind::Record;
                    self.held.clear();
                } else if !prefix.starts_with(&self.held) {
                    self.line = LineKind::Own;
                    let held = std::mem::take(&mut self.held);
                    self.print(&held, print);
                }
                if byte == b'\n' {
                    self.end_line();
                }
                continue;
            }
            let (this_line, rest) = match chunk.iter().position(|&b| b == b'\n') {
                Some(newline) => chunk.split_at(newline + 1),
                None => (chunk, &[][..]),
            };
            if self.line == LineKind::Own {
                self.print(this_line, print);
            }
            if this_line.ends_with(b"\n") {
                self.end_line();
            }
            chunk = rest;
        }
    }

    /// At the end of the stream: bytes still held (a short last line that
    /// looked like the start of a record) are printed, and a last line left
    /// without its newline gets one, so what versus prints next starts on a
    /// line of its own.
    pub(crate) fn finish(&mut self, print: &mut impl FnMut(&[u8])) {
        let held = std::mem::take(&mut self.held);
        self.print(&held, print);
        if self.open_line {
            self.print(b"\n", print);
        }
    }

    fn print(&mut self, bytes: &[u8], print: &mut impl FnMut(&[u8])) {
        if let Some(&last) = bytes.last() {
            print(bytes);
            self.open_line = last != b'\n';
        }
    }

    fn end_line(&mut self) {
        self.held.clear();
        if self.filter_records {
            self.line = LineKind::Undecided;
        }
    }
}

/// A reader that shows what it reads: every chunk goes through a
/// [`Passthrough`] to `print` the moment it is read, before the line reader
/// above it has a whole line.
struct Tee<R, P: FnMut(&[u8])> {
    inner: R,
    passthrough: Passthrough,
    print: P,
}

impl<R: std::io::Read, P: FnMut(&[u8])> std::io::Read for Tee<R, P> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.passthrough.finish(&mut self.print);
        } else {
            self.passthrough.feed(&buf[..n], &mut self.print);
        }
        Ok(n)
    }
}

/// A failed write to versus' stdout is remembered by `output` and stops the
/// run; there is nobody to tell here.
fn print_stdout(bytes: &[u8]) {
    let _ = crate::output::write_stdout(bytes);
}

/// As `crate::output` has it: writes to stderr never fail the run; if
/// stderr itself is gone, nobody can see them.
fn print_stderr(bytes: &[u8]) {
    crate::output::write_stderr(bytes);
}

/// Reads a program's stdout on a thread of its own: every line goes into
/// the returned [`Collected`] with the instant it arrived, and with `echo`
/// the program's own bytes are printed on versus' stdout as they arrive
/// (see [`Passthrough`]). When versus' own stdout has gone (a closed pipe)
/// printing stops and the run is asked to stop (see [`crate::output`]); the
/// reader goes on draining so that the program never blocks on a full
/// pipe. `done` runs when the pipe closes.
pub(crate) fn stream_stdout<R, D>(pipe: R, echo: bool, done: D) -> Arc<Mutex<Collected>>
where
    R: std::io::Read + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    stream_lines(pipe, echo, false, done)
}

/// [`stream_stdout`] for the master side of a pseudo-terminal (`-t`): the
/// terminal ends its lines with `\r\n`, which are parsed as `\n` (and
/// printed as they are); reading ends at `EIO`, when the container's last
/// holder of the terminal has gone.
pub(crate) fn stream_terminal<R, D>(pty: R, echo: bool, done: D) -> Arc<Mutex<Collected>>
where
    R: std::io::Read + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    stream_lines(pty, echo, true, done)
}

fn stream_lines<R, D>(pipe: R, echo: bool, crlf: bool, done: D) -> Arc<Mutex<Collected>>
where
    R: std::io::Read + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let collected = Arc::new(Mutex::new(Collected::default()));
    let sink = collected.clone();
    let each = move |seen, mut line: String| {
        if crlf && line.ends_with("\r\n") {
            line.truncate(line.len() - 2);
            line.push('\n');
        }
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .line(seen, &line);
        true
    };
    if echo {
        let pipe = Tee {
            inner: pipe,
            passthrough: Passthrough::stdout(),
            print: print_stdout,
        };
        super::read_lines(pipe, each, done);
    } else {
        super::read_lines(pipe, each, done);
    }
    collected
}

/// Reads a program's stderr on a thread of its own, keeping the first
/// [`OUTPUT_KEEP_BYTES`]; with `echo` every byte is also printed at once on
/// versus' stderr. Reading goes on past the limit, so that a program
/// flooding stderr never blocks on a full pipe. `done` runs when the pipe
/// closes.
pub(crate) fn stream_stderr<R, D>(pipe: R, echo: bool, done: D) -> Arc<Mutex<KeptText>>
where
    R: std::io::Read + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let kept = Arc::new(Mutex::new(KeptText::default()));
    let sink = kept.clone();
    let each = move |_, line: String| {
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(&line);
        true
    };
    if echo {
        let pipe = Tee {
            inner: pipe,
            passthrough: Passthrough::stderr(),
            print: print_stderr,
        };
        super::read_lines(pipe, each, done);
    } else {
        super::read_lines(pipe, each, done);
    }
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

    /// What `passthrough` prints of `chunks`, fed one after another, and
    /// after the end of the stream.
    fn shown(mut passthrough: Passthrough, chunks: &[&str]) -> (String, String) {
        let mut out = Vec::new();
        for chunk in chunks {
            passthrough.feed(chunk.as_bytes(), &mut |b: &[u8]| out.extend_from_slice(b));
        }
        let live = String::from_utf8(out.clone()).unwrap();
        passthrough.finish(&mut |b: &[u8]| out.extend_from_slice(b));
        (live, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_prompt_shows_before_its_line_ends_and_records_never_show() {
        let (live, _) = shown(
            Passthrough::stdout(),
            &["@versus start task=x pid=1 mono_ns=1\nName", ": "],
        );
        assert_eq!(live, "Name: ");
        // A record split across reads, and a line that only starts like one.
        let (live, all) = shown(
            Passthrough::stdout(),
            &["@ver", "sus task=t\n@vers!\n", "hi\n@v"],
        );
        assert_eq!(live, "@vers!\nhi\n");
        assert_eq!(
            all, "@vers!\nhi\n@v\n",
            "held bytes and a closing newline at the end"
        );
    }

    #[test]
    fn stderr_passes_everything_and_a_finished_line_gets_no_extra_newline() {
        let (live, all) = shown(Passthrough::stderr(), &["@versus x\n", "err\n"]);
        assert_eq!(live, "@versus x\nerr\n");
        assert_eq!(all, live);
    }
}

//! What the VMM keeps of a guest's console output: bounded, whatever and
//! however much the guest writes.
//!
//! Console text is of two kinds. **Protocol lines** — `@versus …` from the
//! workload, `@kernel …` from the guest kernel — are what the harness
//! parses; they are kept whole, as lines, up to [`PROTOCOL_LINES_MAX`]
//! lines and [`PROTOCOL_BYTES_MAX`] bytes (the rest are counted). A line
//! longer than [`PROTOCOL_LINE_MAX`] is not a protocol line. **Everything
//! else** is kept as its first [`HEAD_MAX`] and last [`TAIL_MAX`] bytes,
//! with byte and line counts. So one log holds at most about 400 KiB
//! however many gigabytes a flooding guest writes, and the figures of the
//! run (bytes, exits, lines) stay exact.
//!
//! The workload's standard error (`versus_abi::port::CONSOLE_STDERR`) is
//! kept by a [`ConsoleLog::plain`] log: no protocol lines there (the harness
//! reads records from stdout only, as on the host), only head, tail and
//! counts, within the same bounds.
//!
//! Whoever wants the output as it arrives (versus printing it live) gives
//! the VM a [`ConsoleObserver`]: it sees every console write, on the vCPU
//! thread that made it, tagged with its [`ConsoleStream`].

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// Which console a write went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleStream {
    /// The paravirtual console of standard output and the kernel's lines
    /// (`versus_abi::port::CONSOLE`), per vCPU.
    Stdout,
    /// The paravirtual console of standard error
    /// (`versus_abi::port::CONSOLE_STDERR`), per vCPU.
    Stderr,
    /// The 16550 UART: one device for every vCPU and both streams.
    Uart,
}

/// One console write as a [`ConsoleObserver`] sees it.
#[derive(Clone, Copy, Debug)]
pub struct ConsoleWrite<'a> {
    /// The vCPU that wrote it; `None` for the UART, which every vCPU shares
    /// and whose bytes arrive one at a time.
    pub vcpu: Option<u32>,
    /// Where it went.
    pub stream: ConsoleStream,
    /// The bytes, as the guest wrote them.
    pub bytes: &'a [u8],
}

/// Called with every console write while the guest runs, on the vCPU
/// thread that made it (under the UART's lock for UART bytes), so the
/// bytes of one stream arrive in order. It must return quickly — the vCPU
/// waits — so hand the bytes on (a bounded channel) rather than write them
/// to a terminal from here.
#[derive(Clone)]
pub struct ConsoleObserver(Arc<dyn Fn(ConsoleWrite<'_>) + Send + Sync>);

impl ConsoleObserver {
    /// An observer calling `f`.
    pub fn new(f: impl Fn(ConsoleWrite<'_>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Hands `write` to the observer.
    pub fn observe(&self, write: ConsoleWrite<'_>) {
        (self.0)(write);
    }
}

impl fmt::Debug for ConsoleObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleObserver(..)")
    }
}

/// Line prefixes the harness parses (the workload's and the kernel's).
pub const PROTOCOL_PREFIXES: [&[u8]; 2] = [
    versus_protocol::line::VERSUS_PREFIX.as_bytes(),
    versus_protocol::line::KERNEL_PREFIX.as_bytes(),
];
/// Longest protocol line, newline included (the workload's lines are at
/// most 2 KiB, the kernel's 496 bytes); a longer line is other output.
pub const PROTOCOL_LINE_MAX: usize = 4096;
/// Most protocol lines one log keeps (a run prints a handful per vCPU).
pub const PROTOCOL_LINES_MAX: usize = 1024;
/// Most bytes of protocol lines one log keeps.
pub const PROTOCOL_BYTES_MAX: usize = 256 * 1024;
/// Bytes of other output kept from its start.
pub const HEAD_MAX: usize = 64 * 1024;
/// Bytes of other output kept from its end (after the head).
pub const TAIL_MAX: usize = 64 * 1024;

/// A console being written to (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct ConsoleLog {
    /// The current line while it may still be a protocol line.
    line: Vec<u8>,
    /// The rest of the current line is other output (it did not start
    /// like a protocol line, or grew too long for one).
    other_line: bool,
    capture: ConsoleCapture,
    protocol_bytes: usize,
    /// The first [`HEAD_MAX`] bytes of other output.
    head: Vec<u8>,
    /// The last [`TAIL_MAX`] bytes of other output after the head: a ring
    /// once full, whose oldest byte is at `tail_start`.
    tail: Vec<u8>,
    tail_start: usize,
    /// Last byte of other output (whether it ended a line).
    last_other: Option<u8>,
    /// No protocol lines: everything is other output ([`ConsoleLog::plain`]).
    plain: bool,
}

/// What a [`ConsoleLog`] kept, at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsoleCapture {
    /// Every byte written.
    pub bytes: u64,
    /// Protocol lines (`@versus `, `@kernel `), newline stripped, in order.
    pub protocol_lines: Vec<String>,
    /// Protocol lines beyond [`PROTOCOL_LINES_MAX`] / [`PROTOCOL_BYTES_MAX`],
    /// counted and dropped.
    pub protocol_lines_dropped: u64,
    /// Bytes of other output.
    pub other_bytes: u64,
    /// Lines of other output (an unterminated last one included).
    pub other_lines: u64,
    /// The first [`HEAD_MAX`] bytes of other output (lossy UTF-8).
    pub head: String,
    /// The last [`TAIL_MAX`] bytes of other output after the head.
    pub tail: String,
    /// Bytes of other output in neither head nor tail.
    pub other_bytes_dropped: u64,
}

impl ConsoleCapture {
    /// The protocol lines, for parsing.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.protocol_lines.iter().map(String::as_str)
    }
}

/// For people (test failures, debugging): the protocol lines, then the
/// head and tail of the other output with what was left out between them.
impl std::fmt::Display for ConsoleCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in &self.protocol_lines {
            writeln!(f, "{line}")?;
        }
        f.write_str(&self.head)?;
        if self.other_bytes_dropped != 0 {
            write!(f, "\n[… {} bytes left out …]\n", self.other_bytes_dropped)?;
        }
        f.write_str(&self.tail)
    }
}

/// Could a line that starts with `pending` followed by `next` still be a
/// protocol line?
fn may_be_protocol(pending: &[u8], next: &[u8]) -> bool {
    // Compared byte by byte over both pieces, without joining them: this
    // runs on every console exit (every byte, with the UART).
    PROTOCOL_PREFIXES.iter().any(|prefix| {
        pending
            .iter()
            .chain(next)
            .zip(prefix.iter())
            .all(|(a, b)| a == b)
    })
}

impl ConsoleLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty log that keeps no protocol lines: every byte is other
    /// output (standard error, where a line that looks like a record is
    /// still just text).
    pub fn plain() -> Self {
        Self {
            plain: true,
            ..Self::default()
        }
    }

    /// Takes `data` as the guest wrote it.
    pub fn push(&mut self, data: &[u8]) {
        self.capture.bytes += data.len() as u64;
        for piece in data.split_inclusive(|&b| b == b'\n') {
            let ends_line = piece.last() == Some(&b'\n');
            if self.plain || self.other_line {
                self.other(piece);
                self.other_line = !ends_line;
                continue;
            }
            let start_len = self.line.len();
            let candidate =
                start_len >= PROTOCOL_PREFIXES[0].len() || may_be_protocol(&self.line, piece);
            if !candidate || start_len + piece.len() > PROTOCOL_LINE_MAX {
                let line = std::mem::take(&mut self.line);
                self.other(&line);
                self.other(piece);
                self.other_line = !ends_line;
                continue;
            }
            self.line.extend_from_slice(piece);
            if ends_line {
                self.end_line();
            }
        }
    }

    /// The current line is complete (or the output ended).
    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if !PROTOCOL_PREFIXES.iter().any(|p| text.starts_with(p)) {
            self.other(&line);
            return;
        }
        if self.capture.protocol_lines.len() >= PROTOCOL_LINES_MAX
            || self.protocol_bytes + line.len() > PROTOCOL_BYTES_MAX
        {
            self.capture.protocol_lines_dropped += 1;
            return;
        }
        self.protocol_bytes += line.len();
        self.capture
            .protocol_lines
            .push(String::from_utf8_lossy(text).into_owned());
    }

    /// Other output: counted, its head and tail kept. `data` is (part of)
    /// one line — [`ConsoleLog::push`] splits at newlines — so a newline
    /// can only be its last byte, and counting lines needs no scan.
    fn other(&mut self, data: &[u8]) {
        let Some(&last) = data.last() else {
            return;
        };
        self.last_other = Some(last);
        self.capture.other_bytes += data.len() as u64;
        self.capture.other_lines += u64::from(last == b'\n');
        let room = HEAD_MAX - self.head.len();
        let (to_head, rest) = data.split_at(data.len().min(room));
        self.head.extend_from_slice(to_head);
        let overflow = (self.tail.len() + rest.len()).saturating_sub(TAIL_MAX);
        self.capture.other_bytes_dropped += overflow as u64;
        // Only the last TAIL_MAX bytes of `rest` can survive.
        let mut rest = &rest[rest.len().saturating_sub(TAIL_MAX)..];
        let fill = rest.len().min(TAIL_MAX - self.tail.len());
        self.tail.extend_from_slice(&rest[..fill]);
        rest = &rest[fill..];
        while !rest.is_empty() {
            let n = rest.len().min(TAIL_MAX - self.tail_start);
            self.tail[self.tail_start..self.tail_start + n].copy_from_slice(&rest[..n]);
            self.tail_start = (self.tail_start + n) % TAIL_MAX;
            rest = &rest[n..];
        }
    }

    /// Ends the log: an unterminated last line is taken as it is.
    pub fn finish(mut self) -> ConsoleCapture {
        if !self.line.is_empty() {
            self.end_line();
        }
        if self.last_other.is_some_and(|b| b != b'\n') {
            self.capture.other_lines += 1;
        }
        self.capture.head = String::from_utf8_lossy(&self.head).into_owned();
        self.tail.rotate_left(self.tail_start);
        self.capture.tail = String::from_utf8_lossy(&self.tail).into_owned();
        self.capture
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(chunks: &[&[u8]]) -> ConsoleCapture {
        let mut log = ConsoleLog::new();
        for chunk in chunks {
            log.push(chunk);
        }
        log.finish()
    }

    #[test]
    fn protocol_lines_are_parsed_out_of_other_output() {
        let c = capture(&[
            b"hello\n@ver",
            b"sus start task=x\n@kernel exit cpu=0\n",
            b"bye",
        ]);
        assert_eq!(
            c.protocol_lines,
            ["@versus start task=x", "@kernel exit cpu=0"]
        );
        assert_eq!(c.head, "hello\nbye");
        assert_eq!((c.other_bytes, c.other_lines), (9, 2));
        assert_eq!(c.bytes, 49);
        assert_eq!(c.tail, "");
        // An unterminated protocol line at the end still counts.
        let c = capture(&[b"@versus result task=y"]);
        assert_eq!(c.protocol_lines, ["@versus result task=y"]);
        assert_eq!(c.other_lines, 0);
    }

    #[test]
    fn a_flood_keeps_head_and_tail_only() {
        let mut log = ConsoleLog::new();
        let dots = [b'.'; 65535];
        let mut chunk = dots.to_vec();
        chunk.push(b'\n');
        let chunks = 1000u64;
        for i in 0..chunks {
            if i == 500 {
                log.push(b"@versus start task=write pid=1 mono_ns=1\n");
            }
            log.push(&chunk);
        }
        log.push(b"the end\n");
        let c = log.finish();
        let total = chunks * 65536 + 8;
        assert_eq!(c.other_bytes, total);
        assert_eq!(c.other_lines, chunks + 1);
        assert_eq!(c.head.len(), HEAD_MAX);
        assert_eq!(c.tail.len(), TAIL_MAX);
        assert!(c.tail.ends_with(".\nthe end\n"));
        assert_eq!(c.other_bytes_dropped, total - (HEAD_MAX + TAIL_MAX) as u64);
        assert_eq!(c.protocol_lines.len(), 1);
    }

    #[test]
    fn the_tail_ring_keeps_the_last_bytes_in_order() {
        let mut log = ConsoleLog::new();
        let mut all = Vec::new();
        for i in 0..3000u32 {
            let line = format!("line {i} {}\n", "x".repeat((i % 97) as usize));
            all.extend_from_slice(line.as_bytes());
            log.push(line.as_bytes());
        }
        let c = log.finish();
        assert_eq!(c.head.as_bytes(), &all[..HEAD_MAX]);
        assert_eq!(c.tail.as_bytes(), &all[all.len() - TAIL_MAX..]);
        assert_eq!(
            c.other_bytes_dropped,
            (all.len() - HEAD_MAX - TAIL_MAX) as u64
        );
        assert_eq!(c.other_lines, 3000);
    }

    #[test]
    fn a_plain_log_keeps_record_like_lines_as_text() {
        let mut log = ConsoleLog::plain();
        log.push(b"err\n@versus start task=x\n");
        log.push(b"no newline");
        let c = log.finish();
        assert!(c.protocol_lines.is_empty());
        assert_eq!(c.head, "err\n@versus start task=x\nno newline");
        assert_eq!((c.other_lines, c.other_bytes, c.bytes), (3, 35, 35));
    }

    #[test]
    fn a_plain_log_is_bounded_like_any_other() {
        let mut log = ConsoleLog::plain();
        let chunk = [b'e'; 4096];
        let chunks = 100u64;
        for _ in 0..chunks {
            log.push(&chunk);
        }
        log.push(b"\nlast\n");
        let c = log.finish();
        let total = chunks * 4096 + 6;
        assert_eq!(c.bytes, total);
        assert_eq!(c.head.len(), HEAD_MAX);
        assert_eq!(c.tail.len(), TAIL_MAX);
        assert!(c.tail.ends_with("e\nlast\n"));
        assert_eq!(c.other_bytes_dropped, total - (HEAD_MAX + TAIL_MAX) as u64);
        assert_eq!(c.other_lines, 2);
    }

    #[test]
    fn overlong_and_excess_protocol_lines_are_bounded() {
        let mut long = b"@versus ".to_vec();
        long.resize(PROTOCOL_LINE_MAX + 10, b'x');
        long.push(b'\n');
        let c = capture(&[&long]);
        assert!(c.protocol_lines.is_empty());
        assert_eq!(c.other_lines, 1);
        let mut log = ConsoleLog::new();
        for _ in 0..PROTOCOL_LINES_MAX + 5 {
            log.push(b"@kernel tick cpu=0\n");
        }
        let c = log.finish();
        assert_eq!(c.protocol_lines.len(), PROTOCOL_LINES_MAX);
        assert_eq!(c.protocol_lines_dropped, 5);
    }
}

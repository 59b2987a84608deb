//! What a run's stdout amounts to, kept in bounded memory: the start
//! marker (with the instant it arrived), the result records, a count of
//! every other line, and the first malformed `@versus` line. The host and
//! container backends feed it line by line as the output arrives, so a
//! program that floods its output costs versus a fixed amount of memory
//! (see [`super::MAX_LINE_BYTES`] and [`MAX_RESULTS`]).

use std::time::Instant;

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
            Ok(Some(_) | None) => self.other_lines += 1,
            Err(error) => {
                self.parse_error.get_or_insert(error);
            }
        }
    }
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
}

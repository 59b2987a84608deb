//! How far a Linux boot got: the console's bytes, cut into lines as they
//! arrive, checked for the kernel's milestone messages, each stamped with
//! the time it was first seen, the last lines kept for the report, and the
//! workload's own `@versus` lines kept with the time each arrived.

use std::collections::VecDeque;
use std::time::Duration;

use crate::console::{PROTOCOL_BYTES_MAX, PROTOCOL_LINE_MAX, PROTOCOL_LINES_MAX};

/// Console lines kept for the report (the last ones).
pub const KEPT_LINES: usize = 40;
/// Longest line kept; a longer one is cut (a kernel line is under 1 KiB).
pub const LINE_MAX: usize = 1024;
/// The workload's lines start with this (`@versus `); versus parses them.
pub const WORKLOAD_PREFIX: &str = versus_protocol::line::VERSUS_PREFIX;
/// Longest workload line kept, newline left out: the console's bound for a
/// protocol line ([`PROTOCOL_LINE_MAX`]); a longer one is other output.
pub const WORKLOAD_LINE_MAX: usize = PROTOCOL_LINE_MAX;
/// Most workload lines kept: a run prints a start record and a handful of
/// results, so a guest printing more is flooding and the rest are dropped.
pub const WORKLOAD_LINES_MAX: usize = PROTOCOL_LINES_MAX;
/// Most bytes of workload lines kept, for the same reason.
pub const WORKLOAD_BYTES_MAX: usize = PROTOCOL_BYTES_MAX;
/// What Linux prints when PID 1 exits (`kernel/exit.c`), followed by the
/// init's wait status as `0x%08x`: the panic that ends a guest whose
/// `/init` is the workload, and how the workload's exit status comes back.
const INIT_EXITED: &str = "Attempted to kill init! exitcode=0x";
/// What Linux prints (`kernel/reboot.c`) just before it halts every CPU
/// (`halt -f`), or tries to power off (`poweroff -f`; without ACPI the
/// machine cannot, and the CPUs halt or `/init` exits).
const HALT_LINES: [&str; 2] = ["reboot: System halted", "reboot: Power down"];

/// A point of a Linux boot that the console shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Milestone {
    /// The kernel's first console line (its banner, "Linux version …").
    FirstLine,
    /// "Memory: …": the memory map parsed, the page allocator up.
    Memory,
    /// "smp: Brought up …": the application processors are online.
    SmpUp,
    /// "Run /init as init process": the boot is done, user space starts.
    RunInit,
    /// "Kernel panic": the kernel gave up.
    Panic,
}

impl Milestone {
    /// Every milestone, in boot order.
    pub const ALL: [Milestone; 5] = [
        Milestone::FirstLine,
        Milestone::Memory,
        Milestone::SmpUp,
        Milestone::RunInit,
        Milestone::Panic,
    ];

    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Milestone::FirstLine => "first console line",
            Milestone::Memory => "\"Memory:\"",
            Milestone::SmpUp => "\"smp: Brought up\"",
            Milestone::RunInit => "\"Run /init as init process\"",
            Milestone::Panic => "\"Kernel panic\"",
        }
    }

    /// The text that marks it in a console line (none: any line).
    fn needle(self) -> Option<&'static str> {
        match self {
            Milestone::FirstLine => None,
            Milestone::Memory => Some("] Memory: "),
            Milestone::SmpUp => Some("smp: Brought up "),
            Milestone::RunInit => Some("Run /init as init process"),
            Milestone::Panic => Some("Kernel panic"),
        }
    }
}

/// The console of a Linux guest, line by line.
#[derive(Debug, Default)]
pub struct BootProgress {
    partial: Vec<u8>,
    lines: VecDeque<String>,
    seen: Vec<(Milestone, Duration)>,
    total_lines: u64,
    init_status: Option<InitStatus>,
    last_output: Option<Duration>,
    halt_line: Option<&'static str>,
    workload_lines: Vec<(String, Duration)>,
    workload_bytes: usize,
    /// The line being cut ran past [`WORKLOAD_LINE_MAX`].
    partial_overflowed: bool,
}

/// How `/init` ended, from its wait status in the kernel's panic line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitStatus {
    /// It exited with this code.
    Exited(u8),
    /// A signal killed it.
    Signaled(u8),
}

/// The `/init` status a console line announces, if it is the kernel's
/// "Attempted to kill init!" panic: its wait status holds the exit code in
/// bits 8–15, or the killing signal in bits 0–6.
pub fn init_status(line: &str) -> Option<InitStatus> {
    let (_, rest) = line.split_once(INIT_EXITED)?;
    let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    let wait_status = u32::from_str_radix(&hex, 16).ok()?;
    let signal = (wait_status & 0x7f) as u8;
    Some(if signal == 0 {
        InitStatus::Exited((wait_status >> 8) as u8)
    } else {
        InitStatus::Signaled(signal)
    })
}

impl BootProgress {
    /// Takes console bytes that arrived `at` (since launch).
    pub fn push(&mut self, bytes: &[u8], at: Duration) {
        if !bytes.is_empty() {
            self.last_output = Some(at);
        }
        for &b in bytes {
            match b {
                b'\n' => self.end_line(at),
                b'\r' => {}
                // Kept up to the longer workload bound; the line kept for
                // the report is cut to `LINE_MAX` when it ends.
                _ if self.partial.len() < WORKLOAD_LINE_MAX => self.partial.push(b),
                _ => self.partial_overflowed = true,
            }
        }
    }

    /// Ends a run: an unfinished last line counts as a line.
    pub fn finish(&mut self, at: Duration) {
        if !self.partial.is_empty() {
            self.end_line(at);
        }
    }

    fn end_line(&mut self, at: Duration) {
        let overflowed = std::mem::take(&mut self.partial_overflowed);
        if !overflowed && self.partial.starts_with(WORKLOAD_PREFIX.as_bytes()) {
            self.keep_workload_line(at);
        }
        self.partial.truncate(LINE_MAX);
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        self.total_lines += 1;
        if self.init_status.is_none() {
            self.init_status = init_status(&line);
        }
        if self.halt_line.is_none() {
            self.halt_line = HALT_LINES.into_iter().find(|h| line.contains(h));
        }
        for m in Milestone::ALL {
            let hit = match m.needle() {
                None => !line.trim().is_empty(),
                Some(needle) => line.contains(needle),
            };
            if hit && !self.seen.iter().any(|(s, _)| *s == m) {
                self.seen.push((m, at));
            }
        }
        if self.lines.len() == KEPT_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// Keeps the line being ended as a workload line, while the caps allow.
    fn keep_workload_line(&mut self, at: Duration) {
        let fits = self.workload_lines.len() < WORKLOAD_LINES_MAX
            && self.workload_bytes + self.partial.len() <= WORKLOAD_BYTES_MAX;
        if fits {
            self.workload_bytes += self.partial.len();
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.workload_lines.push((line, at));
        }
    }

    /// The workload's `@versus` lines in the order they came, each with
    /// the time (since launch) it ended; at most [`WORKLOAD_LINES_MAX`]
    /// lines and [`WORKLOAD_BYTES_MAX`] bytes.
    pub fn workload_lines(&self) -> &[(String, Duration)] {
        &self.workload_lines
    }

    /// When `milestone` was first seen, if it was.
    pub fn time_of(&self, milestone: Milestone) -> Option<Duration> {
        self.seen
            .iter()
            .find(|(m, _)| *m == milestone)
            .map(|(_, t)| *t)
    }

    /// The milestones seen, in boot order, with their times.
    pub fn milestones(&self) -> Vec<(Milestone, Duration)> {
        let mut seen = self.seen.clone();
        seen.sort();
        seen
    }

    /// The furthest milestone reached (a panic counts as the end).
    pub fn furthest(&self) -> Option<Milestone> {
        self.seen.iter().map(|(m, _)| *m).max()
    }

    /// The last lines (at most [`KEPT_LINES`]).
    pub fn last_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    /// Lines seen in all.
    pub fn total_lines(&self) -> u64 {
        self.total_lines
    }

    /// How `/init` ended, once the kernel said so.
    pub fn init_status(&self) -> Option<InitStatus> {
        self.init_status
    }

    /// When the console last received bytes (since launch).
    pub fn last_output(&self) -> Option<Duration> {
        self.last_output
    }

    /// The kernel's "reboot: System halted" or "reboot: Power down", once
    /// it said either: the CPUs are about to halt.
    pub fn halt_line(&self) -> Option<&'static str> {
        self.halt_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn milestones_are_stamped_with_the_time_they_first_appear() {
        let mut p = BootProgress::default();
        p.push(
            b"[    0.000000] Linux version 6.1.0\r\n[    0.1] Mem",
            s(25),
        );
        p.push(b"ory: 400000K/524288K available\n", s(60));
        p.push(b"[    9.0] smp: Brought up 1 node, 2 CPUs\n", s(90));
        p.push(b"[    9.9] Memory: again\n", s(95));
        assert_eq!(p.time_of(Milestone::FirstLine), Some(s(25)));
        assert_eq!(
            p.time_of(Milestone::Memory),
            Some(s(60)),
            "the first time counts"
        );
        assert_eq!(p.time_of(Milestone::SmpUp), Some(s(90)));
        assert_eq!(p.time_of(Milestone::RunInit), None);
        assert_eq!(p.furthest(), Some(Milestone::SmpUp));
        assert_eq!(p.total_lines(), 4);
    }

    #[test]
    fn the_last_lines_are_kept_and_an_unfinished_one_counts_at_the_end() {
        let mut p = BootProgress::default();
        for i in 0..100 {
            p.push(format!("line {i}\n").as_bytes(), s(1));
        }
        p.push(b"Run /init as init process", s(7));
        assert_eq!(p.time_of(Milestone::RunInit), None, "not a line yet");
        p.finish(s(8));
        assert_eq!(p.time_of(Milestone::RunInit), Some(s(8)));
        let lines: Vec<&str> = p.last_lines().collect();
        assert_eq!(lines.len(), KEPT_LINES);
        assert_eq!(lines[KEPT_LINES - 2], "line 99");
        assert_eq!(*lines.last().unwrap(), "Run /init as init process");
    }

    #[test]
    fn a_panic_is_the_furthest_point_and_long_lines_are_cut() {
        let mut p = BootProgress::default();
        p.push(&vec![b'x'; LINE_MAX * 3], s(1));
        p.push(b"\nKernel panic - not syncing: VFS\n", s(2));
        assert_eq!(p.last_lines().next().unwrap().len(), LINE_MAX);
        assert_eq!(p.furthest(), Some(Milestone::Panic));
        assert_eq!(p.milestones()[0].0, Milestone::FirstLine);
    }

    #[test]
    fn the_init_status_comes_from_the_kernels_panic_line() {
        let mut p = BootProgress::default();
        p.push(b"[    3.0] Run /init as init process\n", s(3));
        assert_eq!(p.init_status(), None);
        p.push(
            b"[    4.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000300\n",
            s(4),
        );
        assert_eq!(p.init_status(), Some(InitStatus::Exited(3)));
        assert_eq!(
            init_status("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009"),
            Some(InitStatus::Signaled(9))
        );
        assert_eq!(
            init_status("Attempted to kill init! exitcode=0x00000000"),
            Some(InitStatus::Exited(0))
        );
        assert_eq!(
            init_status("Kernel panic - not syncing: VFS: Unable to mount root"),
            None
        );
    }

    #[test]
    fn the_halt_lines_and_the_last_output_are_noted() {
        let mut p = BootProgress::default();
        assert_eq!(p.last_output(), None);
        p.push(b"[    5.0] reboot: Restarting system\n", s(5));
        assert_eq!(p.halt_line(), None, "a restart resets through the i8042");
        p.push(b"[    6.0] reboot: Power d", s(6));
        assert_eq!(p.halt_line(), None, "not a line yet");
        p.push(b"own\n", s(7));
        assert_eq!(p.halt_line(), Some("reboot: Power down"));
        assert_eq!(p.last_output(), Some(s(7)));
        let mut halted = BootProgress::default();
        halted.push(b"[    6.0] reboot: System halted\n", s(9));
        assert_eq!(halted.halt_line(), Some("reboot: System halted"));
    }

    #[test]
    fn the_workloads_lines_are_kept_with_their_time_and_bounded() {
        let mut p = BootProgress::default();
        p.push(b"[    3.0] Run /init as init process\r\n@versus st", s(3));
        p.push(b"art pid=1\r\n", s(4));
        p.push(b"not @versus at the start\n", s(5));
        let long = format!("{WORKLOAD_PREFIX}{}\n", "x".repeat(WORKLOAD_LINE_MAX));
        p.push(long.as_bytes(), s(6));
        assert_eq!(
            p.workload_lines(),
            [("@versus start pid=1".to_string(), s(4))],
            "a line counts when it ends; a longer line than the bound is other output"
        );
        assert_eq!(
            p.last_lines().last().unwrap().len(),
            LINE_MAX,
            "the console's copy is still cut"
        );
        for i in 0..WORKLOAD_LINES_MAX + 10 {
            p.push(format!("@versus result n={i}\n").as_bytes(), s(7));
        }
        assert_eq!(p.workload_lines().len(), WORKLOAD_LINES_MAX);
        let mut big = BootProgress::default();
        let line = format!("{WORKLOAD_PREFIX}{}\n", "y".repeat(WORKLOAD_LINE_MAX - 100));
        for _ in 0..WORKLOAD_LINES_MAX {
            big.push(line.as_bytes(), s(1));
        }
        let kept: usize = big.workload_lines().iter().map(|(l, _)| l.len()).sum();
        assert!(kept <= WORKLOAD_BYTES_MAX, "{kept} bytes kept");
        assert!(big.workload_lines().len() < WORKLOAD_LINES_MAX);
    }
}

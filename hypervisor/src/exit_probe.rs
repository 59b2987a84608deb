//! The exit probe ([`VmConfig::exit_probe`](crate::VmConfig::exit_probe)):
//! what one VM exit round trip (guest `out` → KVM → this VMM → guest) costs,
//! from a guest loop, seen from both sides of it.
//!
//! The guest kernel's bootstrap CPU writes the `EXIT_PROBE_START` marker,
//! makes N `out`s to `port::PING`, writes `EXIT_PROBE_END` and prints
//! `@kernel exitprobe cpu=0 iters=N ns_per_exit=… total_ns=… tsc_cycles=…`.
//! From one run this module derives three figures per exit:
//!
//! * **host**: (arrival of the end marker − arrival of the start marker) / N,
//!   on the host's monotonic clock — the whole round trip as the VMM lives
//!   it (plus one marker exit's return, spread over N);
//! * **handler**: the VMM's own time per PING exit (KVM_RUN returned →
//!   handler done), from the exit accounting — the userspace share;
//! * **guest**: the kernel's TSC measurement of its loop, from its line.

use serde::Serialize;
use versus_abi::{event, port};
use versus_protocol::line::{self, kernel};

use crate::console::ConsoleCapture;
use crate::exits::ExitKind;
use crate::report::VcpuReport;

/// The exit probe's figures (`VmReport::exit_probe`). A figure is `None`
/// when the run ended before the guest produced it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExitProbeReport {
    /// Exits asked for (`out`s to `port::PING`).
    pub iters: u32,
    /// PING exits the VMM counted on the bootstrap vCPU.
    pub ping_exits: u64,
    /// Host-measured round trip: the two markers' arrival times apart,
    /// divided by `iters`, in nanoseconds.
    pub host_ns_per_exit: Option<f64>,
    /// The VMM handler's own time per PING exit, in nanoseconds.
    pub handler_ns_per_exit: Option<f64>,
    /// Guest-measured round trip (its TSC, scaled with `tsc_khz`), in
    /// nanoseconds, from the kernel's line.
    pub guest_ns_per_exit: Option<f64>,
    /// TSC cycles the guest's loop took, from the kernel's line.
    pub guest_tsc_cycles: Option<u64>,
}

/// What the kernel's `@kernel exitprobe` line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestProbeLine {
    /// `iters=`.
    pub iters: u64,
    /// `ns_per_exit=` (whole nanoseconds).
    pub ns_per_exit: u64,
    /// `total_ns=`, if printed (a finer ns per exit than `ns_per_exit`).
    pub total_ns: Option<u64>,
    /// `tsc_cycles=`.
    pub tsc_cycles: Option<u64>,
}

impl GuestProbeLine {
    /// Parses one console line with the shared grammar
    /// (`versus_protocol::line`); `None` if it is not the probe's.
    pub fn parse(text: &str) -> Option<Self> {
        let (what, fields) = line::kernel_line(text)?;
        if what != kernel::EXIT_PROBE {
            return None;
        }
        let value = |key: &str| -> Option<u64> { fields.clone().find(key)?.parse().ok() };
        Some(Self {
            iters: value("iters")?,
            ns_per_exit: value("ns_per_exit")?,
            total_ns: value("total_ns"),
            tsc_cycles: value("tsc_cycles"),
        })
    }

    /// Nanoseconds per exit, as finely as the line allows.
    pub fn ns_per_exit(&self) -> f64 {
        match self.total_ns {
            Some(total) if self.iters != 0 => total as f64 / self.iters as f64,
            _ => self.ns_per_exit as f64,
        }
    }
}

/// The probe's figures from the bootstrap vCPU's report; `uart` is the
/// UART's output (where the kernel's line is when it was told to use it).
pub fn measure(iters: u32, bsp: Option<&VcpuReport>, uart: &ConsoleCapture) -> ExitProbeReport {
    let mut report = ExitProbeReport {
        iters,
        ping_exits: 0,
        host_ns_per_exit: None,
        handler_ns_per_exit: None,
        guest_ns_per_exit: None,
        guest_tsc_cycles: None,
    };
    let Some(bsp) = bsp else {
        return report;
    };
    let pings = bsp.exits.get(ExitKind::IoOut { port: port::PING });
    report.ping_exits = pings.count;
    if pings.count != 0 {
        report.handler_ns_per_exit = Some(pings.total_ns as f64 / pings.count as f64);
    }
    let at = |code| bsp.markers.iter().find(|m| m.code == code).map(|m| m.at_ns);
    if let (Some(start), Some(end)) = (at(event::EXIT_PROBE_START), at(event::EXIT_PROBE_END))
        && iters != 0
    {
        report.host_ns_per_exit = Some(end.saturating_sub(start) as f64 / f64::from(iters));
    }
    let line = bsp
        .console
        .lines()
        .chain(uart.lines())
        .find_map(GuestProbeLine::parse);
    if let Some(line) = line {
        report.guest_ns_per_exit = Some(line.ns_per_exit());
        report.guest_tsc_cycles = line.tsc_cycles;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exits::ExitStats;
    use crate::report::{Marker, VcpuEnd};

    fn capture(text: &str) -> ConsoleCapture {
        let mut log = crate::console::ConsoleLog::new();
        log.push(text.as_bytes());
        log.finish()
    }

    fn bsp(console: &str) -> VcpuReport {
        let mut exits = ExitStats::default();
        for _ in 0..4 {
            exits.record(ExitKind::IoOut { port: port::PING }, 500);
        }
        exits.record(ExitKind::IoOut { port: port::MARKER }, 9_999);
        VcpuReport {
            index: 0,
            end: VcpuEnd::Stopped,
            markers: vec![
                Marker {
                    code: event::KERNEL_READY,
                    at_ns: 1_000,
                    kernel_instructions: None,
                },
                Marker {
                    code: event::EXIT_PROBE_START,
                    at_ns: 10_000,
                    kernel_instructions: None,
                },
                Marker {
                    code: event::EXIT_PROBE_END,
                    at_ns: 50_000,
                    kernel_instructions: None,
                },
            ],
            exits,
            unhandled: 0,
            unhandled_log: Vec::new(),
            console_errors: 0,
            console: capture(console),
            stderr: ConsoleCapture::default(),
            instructions: None,
        }
    }

    #[test]
    fn parses_the_kernels_line() {
        let line = "@kernel exitprobe cpu=0 iters=1000 ns_per_exit=8123 total_ns=8123456 tsc_cycles=19865432";
        let parsed = GuestProbeLine::parse(line).unwrap();
        assert_eq!(
            parsed,
            GuestProbeLine {
                iters: 1000,
                ns_per_exit: 8123,
                total_ns: Some(8_123_456),
                tsc_cycles: Some(19_865_432)
            }
        );
        assert!((parsed.ns_per_exit() - 8123.456).abs() < 1e-9);
        let short = GuestProbeLine::parse("@kernel exitprobe cpu=0 iters=2 ns_per_exit=7").unwrap();
        assert_eq!(short.ns_per_exit(), 7.0);
        assert_eq!(
            GuestProbeLine::parse("@kernel exit cpu=0 pid=1 status=0"),
            None
        );
        assert_eq!(
            GuestProbeLine::parse("@kernel exitprobe cpu=0 iters=x ns_per_exit=7"),
            None
        );
    }

    #[test]
    fn figures_from_markers_accounting_and_the_line() {
        let console = "@kernel exitprobe cpu=0 iters=4 ns_per_exit=9000 total_ns=36002 tsc_cycles=88042\n@versus start task=startup pid=1 mono_ns=5\n";
        let r = measure(4, Some(&bsp(console)), &capture(""));
        assert_eq!(r.ping_exits, 4);
        assert_eq!(r.host_ns_per_exit, Some(10_000.0));
        assert_eq!(r.handler_ns_per_exit, Some(500.0));
        assert_eq!(r.guest_ns_per_exit, Some(9000.5));
        assert_eq!(r.guest_tsc_cycles, Some(88_042));
        // With the UART console the line is in the UART's output.
        let r = measure(4, Some(&bsp("")), &capture(console));
        assert_eq!(r.guest_ns_per_exit, Some(9000.5));
        // A run that ended early has only what it got to.
        let r = measure(4, None, &capture(""));
        assert_eq!((r.ping_exits, r.host_ns_per_exit), (0, None));
    }
}

//! The `exits` lesson: what makes a VM exit — system calls do not, console
//! writes and UART bytes do — and what one exit's round trip costs.

use super::{missing, run};
use crate::backend::vm::{VmBackend, VmSettings};
use crate::explain::catalog::Catalog;
use crate::explain::{ExplainError, Line, Pace, Presenter};
use crate::fmt;
use crate::report::RunReport;

/// `exits`' two getpid loops, by pace: if calls made exits, the longer loop
/// would show thousands more. Kept short because on software KVM a guest
/// system call takes a few hundred microseconds.
fn exits_getpid(pace: Pace) -> (u64, u64) {
    match pace {
        Pace::Lecture => (1_000, 20_000),
        Pace::Short => (1_000, 5_000),
    }
}

/// `exits`' console writes: `write WRITES SIZE`.
const EXITS_WRITES: (u64, u64) = (10, 64);

/// `exits`' ping exits for the round trip (`--exit-probe`).
const EXITS_PINGS: u32 = 1_000;

/// Exits of a VM run whose reason is `reason` (`io_out 0x608`), summed over
/// vCPUs.
fn exits_named(report: &RunReport, reason: &str) -> u64 {
    report.vm.as_ref().map_or(0, |vm| {
        vm.exits
            .iter()
            .filter(|row| row.reason == reason)
            .map(|row| row.count)
            .sum()
    })
}

/// Every exit of a VM run.
fn exits_total(report: &RunReport) -> u64 {
    report
        .vm
        .as_ref()
        .map_or(0, |vm| vm.exits.iter().map(|row| row.count).sum())
}

/// `exits`.
pub(crate) fn exits(
    catalog: &Catalog,
    pace: Pace,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    use hypervisor::abi::port;
    presenter.progress(&catalog.plain("exits.running")?);
    let vm = |settings: VmSettings| VmBackend::with_settings(settings);
    let paravirt = vm(VmSettings::default());
    let uart = vm(VmSettings {
        console_uart: true,
        ..VmSettings::default()
    });
    let probe = vm(VmSettings {
        exit_probe: Some(EXITS_PINGS),
        ..VmSettings::default()
    });
    let (few, many) = exits_getpid(pace);
    let (few, many) = (few.to_string(), many.to_string());
    let (writes, size) = (EXITS_WRITES.0.to_string(), EXITS_WRITES.1.to_string());
    let short = run(&paravirt, "vm", &["getpid", &few])?;
    let long = run(&paravirt, "vm", &["getpid", &many])?;
    let written = run(&paravirt, "vm", &["write", &writes, &size])?;
    let uart_run = run(&uart, "vm --console uart", &["write", &writes, &size])?;
    let probed = run(&probe, "vm --exit-probe", &["startup"])?;

    let console = format!("io_out {:#x}", port::CONSOLE);
    let com1 = format!("io_out {:#x}", port::COM1);
    let (a, b) = (exits_total(&short), exits_total(&long));
    let delta = b as i64 - a as i64;
    let pv_extra = exits_named(&written, &console).saturating_sub(exits_named(&short, &console));
    let per_write = pv_extra as f64 / EXITS_WRITES.0 as f64;
    let uart_exits = exits_named(&uart_run, &com1);
    let uart_bytes = uart_run.vm.as_ref().map_or(0, |vm| vm.uart_bytes);
    let per_byte = if uart_bytes == 0 {
        "?".to_string()
    } else {
        format!("{:.2}", uart_exits as f64 / uart_bytes as f64)
    };
    let round_trip = probed
        .vm
        .as_ref()
        .and_then(|vm| vm.exit_probe.as_ref())
        .ok_or_else(|| missing("vm --exit-probe", "exit round trip"))?;
    let ns = |value: Option<f64>| value.map_or_else(|| "?".to_string(), fmt::duration_f64);
    Ok(vec![
        Line::Figure(catalog.text(
            "exits.loop",
            &[
                ("few", &few),
                ("a", &a.to_string()),
                ("many", &many),
                ("b", &b.to_string()),
                ("delta", &delta.to_string()),
            ],
        )?),
        Line::Figure(catalog.text(
            "exits.paravirt",
            &[
                ("writes", &writes),
                ("size", &size),
                ("exits", &pv_extra.to_string()),
                ("per", &format!("{per_write:.2}")),
            ],
        )?),
        Line::Figure(catalog.text(
            "exits.uart",
            &[
                ("exits", &uart_exits.to_string()),
                ("bytes", &uart_bytes.to_string()),
                ("per", &per_byte),
            ],
        )?),
        Line::Figure(catalog.text(
            "exits.probe",
            &[
                ("iters", &round_trip.iters.to_string()),
                ("round", &ns(round_trip.host_ns_per_exit)),
                ("handler", &ns(round_trip.handler_ns_per_exit)),
            ],
        )?),
    ])
}

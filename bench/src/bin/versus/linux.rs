//! `versus vm run --linux [--linux-kernel PATH] [--json] [-- TASK ARGS]`: a
//! real Linux kernel booted in versus' VMM through the Linux backend
//! (`bench::backend::linux`), the task as its `/init`, reported as how far
//! the boot got — or, with `--json`, as the common report every backend
//! gives.
//!
//! The exit status: 0 when the boot reached "Run /init as init process"
//! and stopped there (a software KVM backend, where Linux user space cannot
//! make system calls); `/init`'s own status when it ran to its end (hardware
//! KVM); 0 when the guest halted itself (`halt -f`, `poweroff -f` without
//! ACPI); 1 for anything else (a panic, a timeout, a stalled boot, an
//! emulation failure); 130/143 when versus was interrupted; 2 before the
//! boot for a first word that is no task of the workload.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use bench::backend::Launch;
use bench::backend::linux::{self, Initramfs, LinuxBackend};
use bench::output;
use bench::workload::Workload;
use hypervisor::linux::milestones::{InitStatus, Milestone};
use hypervisor::linux::run::{LinuxEnd, LinuxRunReport};
use hypervisor::linux::symbols::{KernelSymbols, name_rip_in_line};

use crate::args::VmRunArgs;
use crate::exit::{emit, usage_error};
use crate::run::PROGRAM_HINT;

/// Console lines repeated in the report.
const REPORT_LINES: usize = 12;
/// Exit reasons listed in the report (the most frequent).
const REPORT_EXITS: usize = 12;

/// Boots the kernel and prints the report (`--json`: the common report,
/// as every backend's, with the console kept out of stdout); the exit
/// status as the module documentation says.
pub(crate) fn run(args: &VmRunArgs) -> Result<ExitCode> {
    // `--cmdline` is a flag of its own for clap (a `requires` does not hold
    // beside a trailing argument), so it alone reaches here.
    if !args.linux && args.linux_kernel.is_none() && args.cmdline.is_none() {
        anyhow::bail!(
            "--linux-symbols names a Linux guest's RIPs: it needs --linux (or --linux-kernel PATH)"
        );
    }
    if !args.linux && args.linux_kernel.is_none() {
        anyhow::bail!(
            "--cmdline is the Linux kernel's command line: it needs --linux (or --linux-kernel PATH)"
        );
    }
    // A task name that is no task is named before a boot of tens of
    // seconds: on a software KVM backend /init never runs, so nothing else
    // would ever say so.
    if args.run.workload.is_none()
        && args.initrd.is_none()
        && let Some(name) = args.run.task.first()
        && bench::workload::task_spec(name).is_none()
    {
        let unknown = bench::workload::TaskError::UnknownTask(name.clone());
        return usage_error(&format!("{unknown}; {PROGRAM_HINT}"));
    }
    let mut backend = LinuxBackend::new(args.linux_kernel.as_deref())?;
    // The user's symbols are read before the boot, so a wrong file is
    // refused at once; those beside the kernel only when a report needs them.
    let given_symbols = match &args.linux_symbols {
        Some(file) => Some((file.clone(), KernelSymbols::load(file)?)),
        None => None,
    };
    if let Some(path) = &args.initrd {
        if !args.run.task.is_empty() || args.run.workload.is_some() {
            anyhow::bail!(
                "--initrd {} is your own initramfs with its own /init; a task or --workload runs as versus' /init instead: give one or the other",
                path.display()
            );
        }
        backend.initramfs = Initramfs::User(args.initrd()?);
    } else if args.run.task.is_empty() && args.run.workload.is_none() {
        backend.initramfs = Initramfs::None;
    }
    backend.cmdline = args.cmdline.clone();
    backend.vcpus = args.vcpus;
    backend.memory = args.mem;
    let workload = match &args.run.workload {
        Some(path) => Workload::from_file(path)?,
        None => Workload::embedded(),
    };
    let launch = Launch {
        workload,
        argv: args.run.task.clone(),
        timeout: Some(args.run.timeout.unwrap_or(linux::DEFAULT_TIMEOUT)),
        echo: !args.run.json,
    };
    // The console live, through versus' own output (a closed or stuck
    // stdout cannot hold the vCPU or a stop signal) — unless stdout is for
    // the JSON alone.
    let observer = (!args.run.json).then(|| {
        hypervisor::console::ConsoleObserver::new(|write| {
            let _ = output::write_stdout(write.bytes);
        })
    });
    let (raw, report) = backend
        .boot(&launch, observer, Some(&bench::interrupt::INTERRUPTED))
        .context("booting the Linux kernel")?;
    if args.trace {
        output::stderr_line(&format!("versus: Linux command line: {}", raw.cmdline));
        for p in &raw.defaults {
            output::stderr_line(&format!("versus:   {} — {}", p.text, p.why));
        }
    }
    if args.run.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        let symbols = given_symbols.or_else(|| {
            names_a_rip(&raw)
                .then(|| KernelSymbols::beside(&backend.kernel_path))
                .flatten()
        });
        emit(&render(&raw, symbols.as_ref()))?;
        // The workload's results, in the table every `run` prints, when
        // /init ran and printed any (hardware KVM).
        if !report.results.is_empty() {
            let table = bench::width::table(&mut bench::render::results_table(&report));
            emit(&format!("workload results:\n{table}\n"))?;
        }
    }
    if let Some(status) = bench::interrupt::exit_status() {
        return Ok(ExitCode::from(status));
    }
    Ok(match raw.end {
        LinuxEnd::InitReached | LinuxEnd::Halted { .. } => ExitCode::SUCCESS,
        LinuxEnd::Stalled { .. } => ExitCode::from(1),
        LinuxEnd::InitEnded(InitStatus::Exited(code)) => ExitCode::from(code),
        // A shell's convention for a process killed by a signal.
        LinuxEnd::InitEnded(InitStatus::Signaled(signal)) => {
            ExitCode::from(128u8.saturating_add(signal))
        }
        // A kernel that only prints its boot (the hand-made test kernels)
        // and resets has still reached its milestone.
        _ if raw.milestones.iter().any(|(m, _)| *m == Milestone::RunInit)
            && !raw.milestones.iter().any(|(m, _)| *m == Milestone::Panic) =>
        {
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(1),
    })
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// True when the report shows a guest RIP a symbol could name.
fn names_a_rip(r: &LinuxRunReport) -> bool {
    matches!(
        r.end,
        LinuxEnd::Shutdown { rip: Some(_), .. }
            | LinuxEnd::EmulationFailure { .. }
            | LinuxEnd::Stalled { .. }
    ) || r.last_lines.iter().any(|line| line.contains("RIP: "))
}

/// The report as text, RIPs named from `symbols` (and the file they came
/// from) when given.
fn render(r: &LinuxRunReport, symbols: Option<&(PathBuf, KernelSymbols)>) -> String {
    let names = symbols.map(|(_, s)| s);
    let mut out = String::new();
    let format = linux::format_name(r.format);
    let _ = writeln!(out, "\nLinux boot on KVM backend {}", r.backend.label());
    let _ = writeln!(out, "  kernel:       {format}, {:?} entry", r.entry);
    let _ = writeln!(out, "  command line: {}", r.cmdline);
    let _ = writeln!(
        out,
        "  ended:        {} after {}",
        r.end.describe(names),
        secs(r.elapsed)
    );
    if let LinuxEnd::Stalled { vcpus, .. } = &r.end {
        for vcpu in vcpus {
            let _ = writeln!(out, "    {}", vcpu.describe(names));
        }
    }
    if let Some(advice) = r.advice() {
        let _ = writeln!(out, "  what to do:   {advice}");
    }
    if let Some((file, s)) = symbols {
        let _ = writeln!(
            out,
            "  symbols:      {} ({} code symbols)",
            file.display(),
            s.len()
        );
    }
    let _ = writeln!(
        out,
        "  guest memory: {} touched{}",
        hypervisor::memory::fmt_size(r.memory_touched),
        if r.initrd_size > 0 {
            format!(
                ", initramfs {}",
                hypervisor::memory::fmt_size(r.initrd_size)
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "milestones (time since launch):");
    for m in Milestone::ALL {
        match r.milestones.iter().find(|(s, _)| *s == m) {
            Some((_, t)) => {
                let _ = writeln!(out, "  {:<30} {}", m.name(), secs(*t));
            }
            None if m != Milestone::Panic => {
                let _ = writeln!(out, "  {:<30} not reached", m.name());
            }
            None => {}
        }
    }
    if r.end == LinuxEnd::InitReached {
        let _ = writeln!(
            out,
            "versus stops at \"Run /init\": {}.",
            linux::STOP_AT_INIT
        );
    }
    let skip = r.last_lines.len().saturating_sub(REPORT_LINES);
    let _ = writeln!(
        out,
        "last console lines ({} lines in all):",
        r.console_lines
    );
    for line in &r.last_lines[skip..] {
        let named = names.and_then(|s| name_rip_in_line(line, s));
        let _ = writeln!(out, "  | {}", named.as_deref().unwrap_or(line));
    }
    let mut exits: Vec<_> = r
        .exits
        .iter()
        .filter(|(kind, _)| *kind != hypervisor::ExitKind::Interrupted)
        .collect();
    exits.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let total = r.exits.total().count;
    let _ = writeln!(out, "exits by reason ({total} in all):");
    for (kind, figures) in exits.iter().take(REPORT_EXITS) {
        let _ = writeln!(out, "  {:<24} {}", kind.to_string(), figures.count);
    }
    if r.assists.is_empty() {
        let _ = writeln!(out, "assists: none");
    } else {
        let _ = writeln!(out, "assists:");
        for (what, n) in &r.assists {
            let _ = writeln!(out, "  {what:<24} {n}");
        }
    }
    out
}

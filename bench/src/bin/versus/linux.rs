//! `versus vm run --linux-kernel PATH`: a first boot of a real Linux kernel
//! in versus' VMM (`hypervisor::linux::run`), reported as how far it got.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use bench::output;
use bench::workload::file::{ImageKind, read_image};
use hypervisor::linux::KernelFormat;
use hypervisor::linux::milestones::Milestone;
use hypervisor::linux::run::{self, LinuxRunConfig, LinuxRunReport};

use crate::args::VmRunArgs;
use crate::exit::emit;

/// Guest RAM when `--mem` is not given: a distribution kernel wants well
/// over 128 MiB before its initcalls are done.
const DEFAULT_MEM: u64 = 512 << 20;
/// How long the boot may take when `--timeout` is not given: a software
/// backend needs about a minute to reach "Memory:" with a distribution kernel.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Console lines repeated in the report.
const REPORT_LINES: usize = 12;
/// Exit reasons listed in the report (the most frequent).
const REPORT_EXITS: usize = 12;

/// Boots the kernel and prints the report; exit status 0 only if the boot
/// reached "Run /init as init process".
pub(crate) fn run(args: &VmRunArgs) -> Result<ExitCode> {
    // clap's `requires` does not hold for a flag of a flattened group with
    // a trailing argument: `--cmdline` alone reaches here.
    let Some(path) = &args.linux_kernel else {
        anyhow::bail!("--cmdline is the Linux kernel's command line: it needs --linux-kernel PATH");
    };
    // A regular file, and no larger than the largest kernel versus unpacks
    // (so `/dev/zero` or a huge file is refused before it is read).
    let kernel = read_image(path, ImageKind::LinuxKernel)?;
    let config = LinuxRunConfig {
        kernel,
        cmdline: args.cmdline.clone(),
        vcpus: args.vcpus,
        memory: args.mem.unwrap_or(DEFAULT_MEM),
        timeout: args.run.timeout.unwrap_or(DEFAULT_TIMEOUT),
        // The console live, through versus' own output (a closed or stuck
        // stdout cannot hold the vCPU or a stop signal).
        console_observer: Some(hypervisor::console::ConsoleObserver::new(|write| {
            let _ = output::write_stdout(write.bytes);
        })),
        stop_flag: Some(&bench::interrupt::INTERRUPTED),
    };
    let report = run::boot(&config).context("booting the Linux kernel")?;
    if args.trace {
        output::stderr_line(&format!("versus: Linux command line: {}", report.cmdline));
        for p in &report.defaults {
            output::stderr_line(&format!("versus:   {} — {}", p.text, p.why));
        }
    }
    emit(&render(&report))?;
    if let Some(status) = bench::interrupt::exit_status() {
        return Ok(ExitCode::from(status));
    }
    let reached = report
        .milestones
        .iter()
        .any(|(m, _)| *m == Milestone::RunInit);
    Ok(if reached {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The report as text.
fn render(r: &LinuxRunReport) -> String {
    let mut out = String::new();
    let format = match r.format {
        KernelFormat::Elf => "ELF vmlinux".to_owned(),
        KernelFormat::BzImage(c) => format!("bzImage ({} payload, unpacked by versus)", c.name()),
    };
    let _ = writeln!(out, "\nLinux boot on KVM backend {}", r.backend.label());
    let _ = writeln!(out, "  kernel:       {format}, {:?} entry", r.entry);
    let _ = writeln!(out, "  command line: {}", r.cmdline);
    let _ = writeln!(out, "  ended:        {} after {}", r.end, secs(r.elapsed));
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
    if r.milestones.iter().any(|(m, _)| *m == Milestone::RunInit) && r.backend.is_software() {
        let _ = writeln!(
            out,
            "The boot is done; Linux user space cannot make system calls on this software KVM backend (a user-mode syscall does not enter guest ring 0), so versus stops here."
        );
    }
    let skip = r.last_lines.len().saturating_sub(REPORT_LINES);
    let _ = writeln!(
        out,
        "last console lines ({} lines in all):",
        r.console_lines
    );
    for line in &r.last_lines[skip..] {
        let _ = writeln!(out, "  | {line}");
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

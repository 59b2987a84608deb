//! Tables for people: a [`RunReport`] as comfy-tables. Colours appear only
//! when the output is a terminal (comfy-table checks that itself).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};

use crate::fmt;
use crate::report::{ExitOutcome, RunReport};
use crate::width;
use crate::workload::{ProcStatus, TaskResult};

/// A new table in versus' house style.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(
            header
                .iter()
                .map(|title| Cell::new(title).add_attribute(Attribute::Bold)),
        );
    table
}

/// Renders a whole run: results, phases, and how it ended.
pub fn run_report(report: &RunReport) -> String {
    let mut out = String::new();
    // A command of a root filesystem (`/bin/sh -c …`) is not the workload:
    // name the root it ran in, and leave out the (empty) results table.
    let command_of_rootfs = report.rootfs_command;
    let source = match (&report.container, &report.workload) {
        (Some(container), _) if command_of_rootfs => format!("in {}", container.rootfs),
        (_, crate::workload::WorkloadSource::Embedded) => "embedded workload".to_string(),
        (_, crate::workload::WorkloadSource::File(path)) => path.display().to_string(),
    };
    out.push_str(&width::paragraph(
        &format!("{} · {} · {source}", report.backend, report.argv.join(" ")),
        "",
        "  ",
    ));
    // A program of the user's own (or a rootfs command) prints no `@versus`
    // results: an empty results table would only be noise after its output.
    let foreign =
        command_of_rootfs || matches!(report.workload, crate::workload::WorkloadSource::File(_));
    if !(foreign && report.results.is_empty()) {
        out.push_str(&width::table(&mut results_table(report)));
        out.push('\n');
    }
    out.push_str(&width::table(&mut phases_table(report)));
    out.push('\n');
    out.push_str(&width::table(&mut outcome_table(report)));
    out.push('\n');
    if let Some(vm) = &report.vm {
        out.push_str(&width::table(&mut vm_exits_table(vm)));
        out.push('\n');
        if vm.software_backend {
            out.push_str(&width::paragraph(
                &format!(
                    "KVM here is {}: guest kernel code is emulated one \
                     instruction at a time, so VM figures are not those of hardware virtualization \
                     (see `versus doctor`).",
                    vm.kvm_backend
                ),
                "note: ",
                "      ",
            ));
        }
        for instance in &vm.instances {
            if let Some(count) = &instance.kernel_instructions {
                out.push_str(&width::paragraph(
                    &format!(
                        "guest kernel-mode instructions (vCPU {}): {} to the workload's start, {} in the whole run (single-stepped)",
                        instance.vcpu,
                        count
                            .to_workload_start
                            .map_or_else(|| "—".to_string(), group_digits),
                        group_digits(count.total)
                    ),
                    "",
                    "  ",
                ));
            }
            for line in &instance.kernel_lines {
                out.push_str(&width::paragraph(
                    &crate::report::vm::describe_kernel_line(line),
                    &format!("guest kernel (vCPU {}): ", instance.vcpu),
                    "  ",
                ));
            }
        }
    }
    if let Some(container) = &report.container {
        out.push_str(&width::table(&mut container_table(container)));
        out.push('\n');
        for note in &container.notes {
            out.push_str(&width::paragraph(note, "note: ", "      "));
        }
    }
    // The program's own output, unless it was printed live above already.
    if !report.output_echoed {
        for (name, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
            if !text.trim().is_empty() {
                out.push_str(&format!("{name}:\n{}\n", text.trim_end()));
            }
        }
    }
    out
}

/// One row per figure of each result.
pub fn results_table(report: &RunReport) -> Table {
    let mut table = table(&["task", "figure", "value"]);
    if report.results.is_empty() {
        table.add_row(vec![
            Cell::new("—"),
            Cell::new("no result lines"),
            Cell::new("—"),
        ]);
    }
    // A VM with several workload instances labels each result with its vCPU.
    let labelled: Vec<(String, &TaskResult)> = match &report.vm {
        Some(vm) if vm.instances.len() > 1 => vm
            .instances
            .iter()
            .flat_map(|instance| {
                instance
                    .results
                    .iter()
                    .map(move |r| (format!("{} (vCPU {})", r.task_name(), instance.vcpu), r))
            })
            .collect(),
        _ => report
            .results
            .iter()
            .map(|r| (r.task_name().to_string(), r))
            .collect(),
    };
    for (label, result) in labelled {
        for (index, (figure, value)) in result_rows(result).into_iter().enumerate() {
            let task = if index == 0 { label.as_str() } else { "" };
            let numeric = value.starts_with(|c: char| c.is_ascii_digit());
            let mut value = Cell::new(width::glue(&value)).set_alignment(if numeric {
                CellAlignment::Right
            } else {
                CellAlignment::Left
            });
            if matches!(result, TaskResult::Failed { .. }) {
                value = value.fg(Color::Red);
            }
            table.add_row(vec![Cell::new(task), Cell::new(figure), value]);
        }
    }
    table
}

/// The figures of one result, each as (name, formatted value).
pub fn result_rows(result: &TaskResult) -> Vec<(String, String)> {
    let row = |name: &str, value: String| (name.to_string(), value);
    match result {
        TaskResult::Startup => vec![row("started", "yes".into())],
        TaskResult::Getpid {
            iters,
            ns_per_op,
            total_ns,
            pid,
        } => vec![
            row("per call", fmt::duration_f64(*ns_per_op)),
            row("calls", group_digits(*iters)),
            row("total", fmt::duration(*total_ns)),
            row("pid", pid.to_string()),
        ],
        TaskResult::Compute {
            iters,
            ns_per_op,
            total_ns,
            checksum,
        } => vec![
            row("per round", fmt::duration_f64(*ns_per_op)),
            row("rounds", group_digits(*iters)),
            row("total", fmt::duration(*total_ns)),
            row("checksum", format!("{checksum:016x}")),
        ],
        TaskResult::Memtouch {
            mib,
            pages,
            ns_per_page,
            total_ns,
        } => vec![
            row("per page", fmt::duration_f64(*ns_per_page)),
            row("mapped", fmt::bytes(mib << 20)),
            row("pages", group_digits(*pages)),
            row("total", fmt::duration(*total_ns)),
        ],
        TaskResult::Write {
            iters,
            bytes,
            ns_per_op,
            total_ns,
            fd,
        } => vec![
            row("per write", fmt::duration_f64(*ns_per_op)),
            row("writes", group_digits(*iters)),
            row("size each", fmt::bytes(*bytes)),
            row("total", fmt::duration(*total_ns)),
            row("fd", fd.to_string()),
        ],
        TaskResult::Uname {
            sysname,
            nodename,
            release,
            version,
            machine,
        } => vec![
            row("sysname", sysname.clone()),
            row("release", release.clone()),
            row("version", version.clone()),
            row("machine", machine.clone()),
            row("nodename", nodename.clone()),
        ],
        TaskResult::Ids {
            pid,
            ppid,
            uid,
            gid,
            hostname,
        } => vec![
            row("pid", pid.to_string()),
            row("ppid", ppid.to_string()),
            row("uid", uid.to_string()),
            row("gid", gid.to_string()),
            row("hostname", hostname.clone()),
        ],
        TaskResult::Status(ProcStatus::Unavailable { errno }) => {
            vec![row("/proc/self/status", format!("unavailable ({errno})"))]
        }
        TaskResult::Status(ProcStatus::Available {
            cap_eff,
            cap_prm,
            cap_bnd,
            no_new_privs,
            seccomp,
            seccomp_filters,
        }) => {
            let known = |value: &Option<String>| value.clone().unwrap_or_else(|| "unknown".into());
            vec![
                row("CapEff", known(cap_eff)),
                row("CapPrm", known(cap_prm)),
                row("CapBnd", known(cap_bnd)),
                row("NoNewPrivs", known(no_new_privs)),
                row("Seccomp", seccomp_mode(seccomp.as_deref())),
                row("Seccomp filters", known(seccomp_filters)),
            ]
        }
        TaskResult::Probe { outcomes } => outcomes
            .iter()
            .map(|(call, outcome)| row(call, outcome.clone()))
            .collect(),
        TaskResult::Spawn {
            requested,
            spawned,
            errno,
            total_ns,
            ns_per_op,
        } => vec![
            row("spawned", format!("{spawned} of {requested}")),
            row(
                "first error",
                errno.clone().unwrap_or_else(|| "none".into()),
            ),
            row("per child", fmt::duration_f64(*ns_per_op)),
            row("total", fmt::duration(*total_ns)),
        ],
        TaskResult::Suite { completed } => vec![row("tasks completed", completed.to_string())],
        TaskResult::Fuzz {
            seed,
            calls,
            succeeded,
            failed,
            enosys,
        } => vec![
            row("seed", seed.to_string()),
            row("calls", calls.to_string()),
            row("returned a result", succeeded.to_string()),
            row("returned an errno", failed.to_string()),
            row("not implemented (ENOSYS)", enosys.to_string()),
        ],
        TaskResult::Failed { error, .. } => vec![row("failed", error.clone())],
        TaskResult::Other { fields, .. } => fields
            .iter()
            .map(|(key, value)| row(key, value.clone()))
            .collect(),
    }
}

fn seccomp_mode(mode: Option<&str>) -> String {
    match mode {
        Some("0") => "0 (none)".into(),
        Some("1") => "1 (strict)".into(),
        Some("2") => "2 (filter)".into(),
        Some(other) => other.into(),
        None => "unknown".into(),
    }
}

/// The phases of the run, each with its share of the total.
pub fn phases_table(report: &RunReport) -> Table {
    let mut table = table(&["phase", "time", "share"]);
    let total: u64 = report.phases.iter().map(|p| p.ns).sum();
    for phase in &report.phases {
        let share = if total == 0 {
            0.0
        } else {
            phase.ns as f64 * 100.0 / total as f64
        };
        table.add_row(vec![
            Cell::new(&phase.name),
            Cell::new(width::glue(&fmt::duration(phase.ns))).set_alignment(CellAlignment::Right),
            Cell::new(format!("{share:.1}%")).set_alignment(CellAlignment::Right),
        ]);
    }
    if let Some(startup) = report.startup_ns {
        table.add_row(vec![
            Cell::new("startup (launch → start marker)").add_attribute(Attribute::Bold),
            Cell::new(width::glue(&fmt::duration(startup)))
                .set_alignment(CellAlignment::Right)
                .add_attribute(Attribute::Bold),
            Cell::new(""),
        ]);
    }
    if let Some(process) = &report.process {
        table.add_row(vec![
            Cell::new("whole process (process start → run end)"),
            Cell::new(width::glue(&fmt::duration(process.total_ns())))
                .set_alignment(CellAlignment::Right),
            Cell::new(""),
        ]);
    }
    table
}

/// Exit status and memory.
pub fn outcome_table(report: &RunReport) -> Table {
    let mut table = table(&["outcome", "value"]);
    let status = Cell::new(report.exit.describe()).fg(if report.exit.success() {
        Color::Green
    } else {
        Color::Red
    });
    table.add_row(vec![Cell::new("exit"), status]);
    if let ExitOutcome::TimedOut { .. } = report.exit {
        table.add_row(vec![
            Cell::new("note"),
            Cell::new("the workload did not finish in time; raise --timeout"),
        ]);
    }
    let memory = &report.memory;
    let memory_rows = [
        (
            "peak RSS (ru_maxrss: counts versus' pages up to the exec)",
            memory.workload_peak_rss_bytes,
        ),
        ("guest memory touched", memory.guest_touched_bytes),
        ("VMM overhead RSS", memory.vmm_overhead_rss_bytes),
        ("cgroup memory peak", memory.cgroup_memory_peak_bytes),
        ("launcher peak RSS", memory.launcher_rss_bytes),
        ("image size", memory.image_bytes),
    ];
    for (label, value) in memory_rows {
        if let Some(value) = value {
            table.add_row(vec![
                Cell::new(label),
                Cell::new(width::glue(&fmt::bytes(value))).set_alignment(CellAlignment::Right),
            ]);
        }
    }
    if report.output_echoed {
        if !report.stdout.is_empty() || !report.stderr.is_empty() {
            table.add_row(vec![
                Cell::new("program output (stdout, stderr)"),
                Cell::new("printed above"),
            ]);
        }
    } else if report.other_output_lines > 0 {
        // Shown below the tables as far as the report kept it.
        table.add_row(vec![
            Cell::new("other output lines"),
            Cell::new(group_digits(report.other_output_lines)),
        ]);
    }
    table
}

/// What fenced the container in: namespaces, cgroup and what it counted,
/// capabilities, seccomp, no_new_privs, LSM, root filesystem.
pub fn container_table(report: &container::Report) -> Table {
    let mut table = table(&["mechanism", "in this run"]);
    let names = |list: &[container::Namespace]| {
        if list.is_empty() {
            "none".to_string()
        } else {
            list.iter().map(|n| n.name()).collect::<Vec<_>>().join(" ")
        }
    };
    table.add_row(vec![
        "namespaces (own)".to_string(),
        names(&report.namespaces),
    ]);
    table.add_row(vec![
        "namespaces (shared with the host)".to_string(),
        names(&report.shared_namespaces),
    ]);
    if let Some(userns) = &report.user_namespace {
        table.add_row(vec![
            "uid/gid map".to_string(),
            format!(
                "uid {} / gid {}",
                userns.uid_map.line().trim(),
                userns.gid_map.line().trim()
            ),
        ]);
    }
    match &report.cgroup {
        Some(cgroup) => {
            let paths = cgroup
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            table.add_row(vec![
                format!("cgroup ({}, host layout {})", cgroup.version, cgroup.layout),
                format!("{paths} (removed)"),
            ]);
            let limits = limits_text(&report.limits);
            table.add_row(vec!["limits".to_string(), limits]);
            let stats = &cgroup.stats;
            let or_dash = |value: Option<String>| value.unwrap_or_else(|| "—".to_string());
            table.add_row(vec![
                "memory peak / at exit".to_string(),
                width::glue(&format!(
                    "{} / {}",
                    or_dash(stats.memory_peak_bytes.map(fmt::bytes)),
                    or_dash(stats.memory_current_bytes.map(fmt::bytes))
                )),
            ]);
            table.add_row(vec![
                "CPU time".to_string(),
                width::glue(&or_dash(stats.cpu_usage_ns.map(fmt::duration))),
            ]);
            table.add_row(vec![
                "pids peak".to_string(),
                or_dash(stats.pids_peak.map(group_digits)),
            ]);
            if let Some(kills) = stats.oom_kills {
                table.add_row(vec!["OOM kills".to_string(), group_digits(kills)]);
            }
        }
        None => {
            table.add_row(vec!["cgroup".to_string(), "none".to_string()]);
        }
    }
    table.add_row(vec![
        "capabilities".to_string(),
        format!(
            "{} kept (mask {}): {}",
            report.capabilities.len(),
            report.capability_mask,
            report.capabilities.join(" ")
        ),
    ]);
    table.add_row(vec![
        "seccomp".to_string(),
        match report.seccomp_instructions {
            Some(n) => format!("{} ({n} BPF instructions)", report.seccomp),
            None => report.seccomp.to_string(),
        },
    ]);
    table.add_row(vec![
        "no_new_privs".to_string(),
        if report.no_new_privs {
            "set"
        } else {
            "not set"
        }
        .to_string(),
    ]);
    table.add_row(vec!["LSM".to_string(), report.lsm.summary()]);
    table.add_row(vec![
        "root filesystem".to_string(),
        format!(
            "{}{}",
            report.rootfs,
            if report.read_only { " (read-only)" } else { "" }
        ),
    ]);
    if let Some(hostname) = &report.hostname {
        table.add_row(vec!["hostname".to_string(), hostname.clone()]);
    }
    table
}

/// The container's limits as the flags that set them, sizes in binary
/// units (`--memory 32 MiB --pids-limit 64`).
fn limits_text(limits: &container::Limits) -> String {
    let mut parts = Vec::new();
    if let Some(memory) = limits.memory {
        parts.push(format!("--memory {}", fmt::exact_bytes(memory)));
    }
    if let Some(pids) = limits.pids {
        parts.push(format!("--pids-limit {pids}"));
    }
    if let Some(cpus) = limits.cpus {
        parts.push(format!("--cpus {cpus}"));
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        width::glue(&parts.join(" "))
    }
}

/// VM exits by vCPU and reason, with the host time spent handling them.
pub fn vm_exits_table(vm: &crate::report::vm::VmDetails) -> Table {
    let mut table = table(&["vCPU", "exit reason", "count", "host time", "per exit"]);
    if vm.exits.is_empty() {
        table.add_row(vec!["—", "no exits", "0", "—", "—"]);
    }
    for row in &vm.exits {
        let per_exit = if row.count == 0 {
            "—".to_string()
        } else {
            fmt::duration_f64(row.host_ns as f64 / row.count as f64)
        };
        table.add_row(vec![
            Cell::new(row.vcpu).set_alignment(CellAlignment::Right),
            Cell::new(describe_exit_reason(&row.reason)),
            Cell::new(group_digits(row.count)).set_alignment(CellAlignment::Right),
            Cell::new(width::glue(&fmt::duration(row.host_ns))).set_alignment(CellAlignment::Right),
            Cell::new(width::glue(&per_exit)).set_alignment(CellAlignment::Right),
        ]);
    }
    table
}

/// Names the versus ports in an exit reason (`io_out 0x608` → `… (console)`).
pub fn describe_exit_reason(reason: &str) -> String {
    use hypervisor::abi::port;
    let names = [
        (port::MARKER, "boot marker"),
        (port::EXIT, "exit port"),
        (port::CONSOLE, "paravirtual console"),
        (port::CONSOLE_STDERR, "stderr console"),
        (port::PING, "ping"),
    ];
    for (number, name) in names {
        if reason.ends_with(&format!(" {number:#x}")) {
            return format!("{reason} ({name})");
        }
    }
    let uart = port::COM1..port::COM1 + port::COM1_LEN;
    if let Some(number) = reason
        .rsplit_once(" 0x")
        .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok())
        .filter(|number| uart.contains(number))
    {
        return format!("{reason} (UART +{})", number - port::COM1);
    }
    reason.to_string()
}

/// `1234567` → `1,234,567`.
pub fn group_digits(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{MemoryFigures, Phase};
    use crate::workload::WorkloadSource;

    #[test]
    fn exit_reasons_name_the_versus_ports() {
        assert_eq!(
            describe_exit_reason("io_out 0x608"),
            "io_out 0x608 (paravirtual console)"
        );
        assert_eq!(
            describe_exit_reason("io_out 0x618"),
            "io_out 0x618 (stderr console)"
        );
        assert_eq!(
            describe_exit_reason("io_out 0x3f8"),
            "io_out 0x3f8 (UART +0)"
        );
        assert_eq!(describe_exit_reason("io_in 0x3fd"), "io_in 0x3fd (UART +5)");
        assert_eq!(describe_exit_reason("hlt"), "hlt");
        assert_eq!(describe_exit_reason("io_out 0x80"), "io_out 0x80");
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[test]
    fn a_report_renders_every_part() {
        let report = RunReport {
            backend: "host".into(),
            workload: WorkloadSource::Embedded,
            argv: vec!["getpid".into(), "1000".into()],
            rootfs_command: false,
            startup_ns: Some(600_000),
            phases: vec![
                Phase {
                    name: "spawn".into(),
                    ns: 400_000,
                },
                Phase {
                    name: "exec→marker".into(),
                    ns: 200_000,
                },
            ],
            start: None,
            results: vec![TaskResult::Getpid {
                iters: 1000,
                ns_per_op: 193.5,
                total_ns: 193_500,
                pid: 4242,
            }],
            exit: ExitOutcome::Exited { code: 0 },
            memory: MemoryFigures {
                workload_peak_rss_bytes: Some(540 * 1024),
                image_bytes: Some(9000),
                ..MemoryFigures::default()
            },
            other_output_lines: 0,
            stdout: String::new(),
            output_echoed: false,
            stderr: String::new(),
            vm: None,
            linux: None,
            container: None,
            process: None,
        };
        let text = run_report(&report);
        for expected in [
            "host · getpid 1000",
            "per call",
            "194 ns",
            "1,000",
            "4242",
            "exec→marker",
            "66.7%",
            "600 µs",
            "exited with status 0",
            "540 KiB",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}

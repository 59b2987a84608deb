//! From run records to figures: series, phases, ratios, identity rows and
//! the conclusions — one pure function, [`build`].

use std::collections::BTreeMap;

use super::model::{
    Comparison, Failure, HostHeader, IdentityRow, PhaseRow, Probe, RatioRow, RunRecord, Sample,
    Section, Series, Stage, SubjectKind, Unit, figure,
};
use crate::fmt;
use crate::report::RunReport;
use crate::stats::{Ratio, Summary};
use crate::workload::{ProcStatus, TaskResult};

/// What [`build`] needs besides the records.
#[derive(Debug, Clone)]
pub struct Context {
    /// The command line.
    pub command: String,
    /// The host header.
    pub host: HostHeader,
    /// Measured rounds asked for.
    pub runs: usize,
    /// Warm-up rounds.
    pub warmup: usize,
    /// Sections included.
    pub sections: Vec<Section>,
    /// Why the VM subjects were left out, if they were.
    pub without_vm: Option<String>,
}

/// Which stage a phase of a backend belongs to (design.md's definition of
/// startup: *prepare* · *boot/exec* · *run* · *teardown*).
pub fn stage_of(kind: SubjectKind, phase: &str) -> Stage {
    match (kind, phase) {
        (_, "run") => Stage::Run,
        (_, "teardown") => Stage::Teardown,
        (SubjectKind::Host, "spawn" | "exec→marker") => Stage::Boot,
        (SubjectKind::Container, "exec" | "exec→marker") => Stage::Boot,
        (SubjectKind::Vm, "boot→marker") => Stage::Boot,
        _ => Stage::Prepare,
    }
}

/// Accumulates samples per (section, subject, figure), in insertion order.
#[derive(Default)]
struct SeriesSet {
    order: Vec<(Section, String, String)>,
    by_key: BTreeMap<(Section, String, String), Series>,
}

impl SeriesSet {
    fn entry(&mut self, section: Section, subject: &str, name: &str, unit: Unit) -> &mut Series {
        let key = (section, subject.to_string(), name.to_string());
        if !self.by_key.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.by_key.entry(key).or_insert_with(|| Series {
            section,
            subject: subject.to_string(),
            figure: name.to_string(),
            unit,
            samples: Vec::new(),
            failures: Vec::new(),
            summary: None,
        })
    }

    /// A sample of the series `(section, subject, figure, unit)` in
    /// `round`, or — when `value` is missing — a failure saying `missing`.
    fn sample(
        &mut self,
        (section, subject, name, unit): (Section, &str, &str, Unit),
        round: usize,
        value: Option<f64>,
        missing: &str,
    ) {
        let series = self.entry(section, subject, name, unit);
        match value {
            Some(value) if value.is_finite() => series.samples.push(Sample { round, value }),
            _ => series.failures.push(Failure {
                round,
                reason: missing.to_string(),
            }),
        }
    }

    fn fail(&mut self, section: Section, subject: &str, name: &str, unit: Unit, failure: Failure) {
        self.entry(section, subject, name, unit)
            .failures
            .push(failure);
    }

    fn into_vec(mut self) -> Vec<Series> {
        self.order
            .iter()
            .filter_map(|key| self.by_key.remove(key))
            .map(|mut series| {
                series.summary = Summary::of(&series.values()).ok();
                series
            })
            .collect()
    }
}

/// Every VM exit of a run (all vCPUs, all reasons).
fn total_exits(report: &RunReport) -> Option<f64> {
    report
        .vm
        .as_ref()
        .map(|vm| vm.exits.iter().map(|row| row.count).sum::<u64>() as f64)
}

fn ns_per_op(report: &RunReport, task: &str) -> Option<f64> {
    report.results.iter().find_map(|result| match result {
        TaskResult::Getpid { ns_per_op, .. } if task == "getpid" => Some(*ns_per_op),
        TaskResult::Write { ns_per_op, .. } if task == "write" => Some(*ns_per_op),
        _ => None,
    })
}

/// Builds the comparison from the records made so far.
pub fn build(records: &[RunRecord], context: &Context) -> Comparison {
    let measured: Vec<&RunRecord> = records.iter().filter(|r| !r.warmup).collect();
    let mut set = SeriesSet::default();
    let mut phases: BTreeMap<(String, usize), (String, Stage, Vec<f64>)> = BTreeMap::new();
    let mut subject_order: Vec<String> = Vec::new();
    let mut identity: BTreeMap<String, IdentityRow> = BTreeMap::new();
    let mut identity_order: Vec<String> = Vec::new();
    let mut memory_failures: Vec<(String, Failure)> = Vec::new();

    // Baselines of the same round, for exits a loop causes.
    let baseline = |round: usize, subject: &str, probe: &Probe| -> Option<&RunReport> {
        measured
            .iter()
            .find(|r| {
                r.round.saturating_sub(context.warmup) == round
                    && r.subject.label == subject
                    && &r.probe == probe
            })
            .and_then(|r| r.outcome.as_ref().ok())
    };

    for record in &measured {
        let subject = record.subject.label.as_str();
        if !subject_order.iter().any(|s| s == subject) {
            subject_order.push(subject.to_string());
        }
        // Rounds are numbered from the first measured one.
        let round = record.round.saturating_sub(context.warmup);
        let is_vm = record.subject.kind == SubjectKind::Vm;
        match (&record.probe, &record.outcome) {
            (Probe::Startup, Err(reason)) => {
                let failure = Failure {
                    round,
                    reason: reason.clone(),
                };
                set.fail(
                    Section::Startup,
                    subject,
                    figure::STARTUP,
                    Unit::Nanoseconds,
                    failure,
                );
            }
            (Probe::Startup, Ok(report)) => {
                set.sample(
                    (
                        Section::Startup,
                        subject,
                        figure::STARTUP,
                        Unit::Nanoseconds,
                    ),
                    round,
                    report.startup_ns.map(|ns| ns as f64),
                    "no start marker was seen",
                );
                for (index, phase) in report.phases.iter().enumerate() {
                    let key = (subject.to_string(), index);
                    let entry = phases.entry(key).or_insert_with(|| {
                        (
                            phase.name.clone(),
                            stage_of(record.subject.kind, &phase.name),
                            Vec::new(),
                        )
                    });
                    if entry.0 == phase.name {
                        entry.2.push(phase.ns as f64);
                    }
                }
            }
            // Which memory figures the run would have given is known only
            // from the runs that worked: filed below, once all are seen.
            (Probe::Memory, Err(reason)) => memory_failures.push((
                subject.to_string(),
                Failure {
                    round,
                    reason: reason.clone(),
                },
            )),
            (Probe::Memory, Ok(report)) => {
                let memory = &report.memory;
                let figures = [
                    (figure::LAUNCHER_RSS, memory.launcher_rss_bytes),
                    (figure::CGROUP_PEAK, memory.cgroup_memory_peak_bytes),
                    (figure::VMM_OVERHEAD, memory.vmm_overhead_rss_bytes),
                    (figure::GUEST_TOUCHED, memory.guest_touched_bytes),
                    (figure::IMAGE, memory.image_bytes),
                ];
                for (name, value) in figures {
                    if let Some(value) = value {
                        set.sample(
                            (Section::Memory, subject, name, Unit::Bytes),
                            round,
                            Some(value as f64),
                            "",
                        );
                    }
                }
            }
            (Probe::Getpid { .. }, Err(reason)) => {
                let failure = Failure {
                    round,
                    reason: reason.clone(),
                };
                if is_vm {
                    set.fail(
                        Section::Syscall,
                        subject,
                        figure::EXITS_PER_1000_CALLS,
                        Unit::Count,
                        failure.clone(),
                    );
                }
                set.fail(
                    Section::Syscall,
                    subject,
                    figure::GETPID,
                    Unit::Nanoseconds,
                    failure,
                );
            }
            (Probe::Getpid { iters }, Ok(report)) => {
                set.sample(
                    (Section::Syscall, subject, figure::GETPID, Unit::Nanoseconds),
                    round,
                    ns_per_op(report, "getpid"),
                    "the workload printed no getpid result",
                );
                if is_vm {
                    let exits = baseline(round, subject, &Probe::GetpidBaseline)
                        .and_then(total_exits)
                        .zip(total_exits(report))
                        .map(|(base, all)| {
                            (all - base).max(0.0) * 1000.0 / (iters.saturating_sub(1).max(1) as f64)
                        });
                    set.sample(
                        (
                            Section::Syscall,
                            subject,
                            figure::EXITS_PER_1000_CALLS,
                            Unit::Count,
                        ),
                        round,
                        exits,
                        "the baseline run (getpid 1) of this round failed",
                    );
                }
            }
            (Probe::Write { .. }, Err(reason)) => {
                let failure = Failure {
                    round,
                    reason: reason.clone(),
                };
                if is_vm {
                    set.fail(
                        Section::Io,
                        subject,
                        figure::EXITS_PER_WRITE,
                        Unit::Count,
                        failure.clone(),
                    );
                }
                set.fail(
                    Section::Io,
                    subject,
                    figure::WRITE,
                    Unit::Nanoseconds,
                    failure,
                );
            }
            (Probe::Write { iters, bytes }, Ok(report)) => {
                set.sample(
                    (Section::Io, subject, figure::WRITE, Unit::Nanoseconds),
                    round,
                    ns_per_op(report, "write"),
                    "the workload printed no write result",
                );
                if is_vm {
                    let exits = baseline(round, subject, &Probe::WriteBaseline { bytes: *bytes })
                        .and_then(total_exits)
                        .zip(total_exits(report))
                        .map(|(base, all)| {
                            (all - base).max(0.0) / (iters.saturating_sub(1).max(1) as f64)
                        });
                    set.sample(
                        (Section::Io, subject, figure::EXITS_PER_WRITE, Unit::Count),
                        round,
                        exits,
                        "the baseline run (write 1) of this round failed",
                    );
                }
            }
            (Probe::ExitProbe { .. }, Err(reason)) => set.fail(
                Section::Io,
                subject,
                figure::EXIT_GUEST,
                Unit::Nanoseconds,
                Failure {
                    round,
                    reason: reason.clone(),
                },
            ),
            (Probe::ExitProbe { .. }, Ok(report)) => {
                let probe = report.vm.as_ref().and_then(|vm| vm.exit_probe.as_ref());
                let missing = "the guest reported no exit probe";
                set.sample(
                    (Section::Io, subject, figure::EXIT_GUEST, Unit::Nanoseconds),
                    round,
                    probe.and_then(|p| p.guest_ns_per_exit),
                    missing,
                );
                set.sample(
                    (Section::Io, subject, figure::EXIT_HOST, Unit::Nanoseconds),
                    round,
                    probe.and_then(|p| p.host_ns_per_exit),
                    missing,
                );
                set.sample(
                    (
                        Section::Io,
                        subject,
                        figure::EXIT_HANDLER,
                        Unit::Nanoseconds,
                    ),
                    round,
                    probe.and_then(|p| p.handler_ns_per_exit),
                    missing,
                );
            }
            (Probe::GetpidBaseline | Probe::WriteBaseline { .. }, _) => {}
            (Probe::Identity { task }, outcome) => {
                if !identity_order.iter().any(|s| s == subject) {
                    identity_order.push(subject.to_string());
                }
                let row = identity
                    .entry(subject.to_string())
                    .or_insert_with(|| IdentityRow {
                        subject: subject.to_string(),
                        kernel: None,
                        ids: None,
                        status: None,
                        failures: Vec::new(),
                    });
                match outcome {
                    Ok(report) => fill_identity(row, report),
                    Err(reason) => row.failures.push(format!("{task}: {reason}")),
                }
            }
        }
    }

    for (subject, failure) in memory_failures {
        let names: Vec<String> = set
            .order
            .iter()
            .filter(|(section, s, _)| *section == Section::Memory && *s == subject)
            .map(|(_, _, name)| name.clone())
            .collect();
        if names.is_empty() {
            set.fail(
                Section::Memory,
                &subject,
                figure::IMAGE,
                Unit::Bytes,
                failure,
            );
        } else {
            for name in names {
                set.fail(
                    Section::Memory,
                    &subject,
                    &name,
                    Unit::Bytes,
                    failure.clone(),
                );
            }
        }
    }

    // A fixed order whatever order the rounds ran in (they rotate): by
    // kind (host, container, VM), then by label.
    let kinds: BTreeMap<String, SubjectKind> = measured
        .iter()
        .map(|r| (r.subject.label.clone(), r.subject.kind))
        .collect();
    let rank = |subject: &str| {
        let kind = match kinds.get(subject) {
            Some(SubjectKind::Host) => 0,
            Some(SubjectKind::Container) => 1,
            Some(SubjectKind::Vm) => 2,
            None => 3,
        };
        (kind, subject.to_string())
    };
    subject_order.sort_by_key(|s| rank(s));
    identity_order.sort_by_key(|s| rank(s));
    let mut series = set.into_vec();
    // Figures in the order the sections set them beside each other
    // (launcher RSS next to VMM overhead, cgroup peak next to guest memory…).
    let mut figure_order: Vec<(Section, String)> = FIGURE_ORDER
        .iter()
        .map(|(section, name)| (*section, name.to_string()))
        .collect();
    for s in &series {
        if !figure_order.contains(&(s.section, s.figure.clone())) {
            figure_order.push((s.section, s.figure.clone()));
        }
    }
    series.sort_by_key(|s| {
        let figure = figure_order
            .iter()
            .position(|f| f.0 == s.section && f.1 == s.figure);
        (s.section, figure, rank(&s.subject))
    });
    let phase_rows = subject_order
        .iter()
        .flat_map(|subject| {
            phases
                .iter()
                .filter(move |((s, _), _)| s == subject)
                .filter_map(|((s, _), (name, stage, values))| {
                    Some(PhaseRow {
                        subject: s.clone(),
                        phase: name.clone(),
                        stage: *stage,
                        summary: Summary::of(values).ok()?,
                    })
                })
        })
        .collect();
    let identity: Vec<IdentityRow> = identity_order
        .iter()
        .filter_map(|s| identity.remove(s))
        .collect();
    let ratios = ratios(&series);
    let rounds_done = measured
        .iter()
        .filter(|r| !matches!(r.probe, Probe::Identity { .. }))
        .map(|r| r.round + 1)
        .max()
        .unwrap_or(0);
    let mut comparison = Comparison {
        command: context.command.clone(),
        host: context.host.clone(),
        runs: context.runs,
        warmup: context.warmup,
        rounds_done: rounds_done.saturating_sub(context.warmup),
        sections: context.sections.clone(),
        without_vm: context.without_vm.clone(),
        series,
        phases: phase_rows,
        ratios,
        identity,
        conclusions: Vec::new(),
    };
    comparison.conclusions = conclusions(&comparison);
    comparison
}

fn fill_identity(row: &mut IdentityRow, report: &RunReport) {
    for result in &report.results {
        match result {
            TaskResult::Uname {
                sysname,
                release,
                version,
                ..
            } => row.kernel = Some(format!("{sysname} {release} {version}")),
            TaskResult::Ids {
                pid, uid, hostname, ..
            } => row.ids = Some(format!("pid {pid} · uid {uid} · host {hostname}")),
            TaskResult::Status(ProcStatus::Available {
                cap_eff,
                no_new_privs,
                seccomp,
                ..
            }) => {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
                row.status = Some(format!(
                    "CapEff {} · NoNewPrivs {} · Seccomp {}",
                    show(cap_eff),
                    show(no_new_privs),
                    show(seccomp)
                ));
            }
            TaskResult::Status(ProcStatus::Unavailable { errno }) => {
                row.status = Some(format!("no /proc/self/status ({errno})"));
            }
            _ => {}
        }
    }
}

/// The order of the figures within each section's table.
const FIGURE_ORDER: &[(Section, &str)] = &[
    (Section::Startup, figure::STARTUP),
    (Section::Memory, figure::LAUNCHER_RSS),
    (Section::Memory, figure::VMM_OVERHEAD),
    (Section::Memory, figure::CGROUP_PEAK),
    (Section::Memory, figure::GUEST_TOUCHED),
    (Section::Memory, figure::IMAGE),
    (Section::Syscall, figure::GETPID),
    (Section::Syscall, figure::EXITS_PER_1000_CALLS),
    (Section::Io, figure::EXIT_GUEST),
    (Section::Io, figure::EXIT_HOST),
    (Section::Io, figure::EXIT_HANDLER),
    (Section::Io, figure::WRITE),
    (Section::Io, figure::EXITS_PER_WRITE),
];

/// Which subjects to set beside which, per figure: (section, figure,
/// numerator, denominator).
const RATIO_PAIRS: &[(Section, &str, &str, &str)] = &[
    (Section::Startup, figure::STARTUP, "vm", "container"),
    (Section::Startup, figure::STARTUP, "container", "host"),
    (Section::Startup, figure::STARTUP, "vm", "host"),
    (Section::Syscall, figure::GETPID, "container", "host"),
    (
        Section::Syscall,
        figure::GETPID,
        "container",
        "container (no seccomp)",
    ),
    (
        Section::Syscall,
        figure::GETPID,
        "container (no seccomp)",
        "host",
    ),
    (Section::Syscall, figure::GETPID, "vm", "host"),
    (Section::Io, figure::WRITE, "vm (UART)", "vm"),
    (Section::Io, figure::WRITE, "vm", "container"),
    (Section::Io, figure::WRITE, "container", "host"),
];

/// Pairs the samples of two series by round and takes their ratio.
pub fn paired_ratio(numerator: &Series, denominator: &Series) -> Option<Ratio> {
    let (mut top, mut bottom) = (Vec::new(), Vec::new());
    for sample in &numerator.samples {
        if let Some(other) = denominator.samples.iter().find(|s| s.round == sample.round) {
            top.push(sample.value);
            bottom.push(other.value);
        }
    }
    Ratio::paired(&top, &bottom).ok()
}

fn ratios(series: &[Series]) -> Vec<RatioRow> {
    let find = |section: Section, name: &str, subject: &str| {
        series
            .iter()
            .find(|s| s.section == section && s.figure == name && s.subject == subject)
    };
    RATIO_PAIRS
        .iter()
        .filter_map(|&(section, name, top, bottom)| {
            let ratio = paired_ratio(find(section, name, top)?, find(section, name, bottom)?)?;
            Some(RatioRow {
                section,
                figure: name.to_string(),
                numerator: top.to_string(),
                denominator: bottom.to_string(),
                ratio,
            })
        })
        .collect()
}

fn median_of(comparison: &Comparison, section: Section, name: &str, subject: &str) -> Option<f64> {
    comparison
        .series
        .iter()
        .find(|s| s.section == section && s.figure == name && s.subject == subject)
        .and_then(|s| s.summary.as_ref())
        .map(|s| s.median)
}

fn ratio_of<'a>(
    comparison: &'a Comparison,
    name: &str,
    top: &str,
    bottom: &str,
) -> Option<&'a Ratio> {
    comparison
        .ratios
        .iter()
        .find(|r| r.figure == name && r.numerator == top && r.denominator == bottom)
        .map(|r| &r.ratio)
}

/// "3.1× (±0.2)" for a ratio above one, and which way round.
fn times(ratio: &Ratio) -> String {
    format!("{:.1}× (±{:.1})", ratio.pairs.median, ratio.pairs.iqr / 2.0)
}

/// "The VM took 3.1× (±0.2) as long as the container to reach its
/// workload", whichever way round the ratio `slow / fast` falls.
fn took_as_long(ratio: &Ratio, slow: &str, fast: &str, what: &str) -> String {
    if ratio.pairs.median >= 1.0 {
        format!(
            "The {slow} took {} as long as the {fast} {what}.",
            times(ratio)
        )
    } else {
        // Invert each pair's ratio: the spread of 1/x is not 1/spread.
        let inverse = Summary {
            median: 1.0 / ratio.pairs.median,
            iqr: ratio.pairs.iqr / (ratio.pairs.median * ratio.pairs.median),
            ..ratio.pairs.clone()
        };
        format!(
            "The {fast} took {} as long as the {slow} {what}.",
            times(&Ratio { pairs: inverse })
        )
    }
}

/// Sentences computed from the figures; each one only when its figures exist.
fn conclusions(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = ratio_of(c, figure::STARTUP, "vm", "container") {
        out.push(took_as_long(r, "VM", "container", "to reach its workload"));
    }
    if let Some(r) = ratio_of(c, figure::STARTUP, "container", "host") {
        out.push(format!(
            "Fencing a process in (namespaces, cgroup, pivot_root, capabilities, seccomp): the \
             container took {} as long as a plain host process to reach its workload.",
            times(r)
        ));
    }
    if let (Some(host), Some(vm)) = (
        median_of(c, Section::Syscall, figure::GETPID, "host"),
        median_of(c, Section::Syscall, figure::GETPID, "vm"),
    ) {
        let ratio = ratio_of(c, figure::GETPID, "vm", "host")
            .map(|r| format!(" — {} the host's", times(r)))
            .unwrap_or_default();
        out.push(format!(
            "A getpid cost {} on the host and {} in the VM{ratio}.",
            fmt::duration_f64(host),
            fmt::duration_f64(vm)
        ));
    }
    if let (Some(with), Some(without)) = (
        median_of(c, Section::Syscall, figure::GETPID, "container"),
        median_of(
            c,
            Section::Syscall,
            figure::GETPID,
            "container (no seccomp)",
        ),
    ) {
        let paired = ratio_of(c, figure::GETPID, "container", "container (no seccomp)")
            .map(|r| format!("; paired by round, {}", times(r)))
            .unwrap_or_default();
        out.push(format!(
            "In the container the seccomp filter changed a getpid by {} ({} with it, {} \
             without{paired}).",
            signed_duration(with - without),
            fmt::duration_f64(with),
            fmt::duration_f64(without)
        ));
    }
    if let Some(exits) = median_of(c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm") {
        if exits == 0.0 {
            out.push(
                "The VM's getpid loop caused no VM exits: a system call is answered by the \
                 guest's own kernel, the host never sees it."
                    .to_string(),
            );
        } else {
            out.push(format!(
                "The VM's getpid loop caused {exits:.1} exits per 1,000 calls (expected 0: \
                 something other than the guest kernel answered)."
            ));
        }
    }
    if let Some(r) = ratio_of(c, figure::WRITE, "vm (UART)", "vm") {
        let per_write = median_of(c, Section::Io, figure::EXITS_PER_WRITE, "vm (UART)")
            .zip(median_of(c, Section::Io, figure::EXITS_PER_WRITE, "vm"))
            .map(|(uart, paravirt)| format!(" ({uart:.0} exits per write against {paravirt:.0})"))
            .unwrap_or_default();
        out.push(format!(
            "Through the emulated UART every byte is an exit: a console write cost {} the \
             paravirtual console's{per_write}.",
            times(r)
        ));
    }
    if let Some(exit) = median_of(c, Section::Io, figure::EXIT_HOST, "vm") {
        let getpid = median_of(c, Section::Syscall, figure::GETPID, "host")
            .map(|g| {
                format!(
                    ", {:.0}× a host getpid",
                    if g > 0.0 { exit / g } else { 0.0 }
                )
            })
            .unwrap_or_default();
        out.push(format!(
            "One VM exit round trip (guest → VMM → guest) cost {}{getpid}.",
            fmt::duration_f64(exit)
        ));
    }
    let kernel = |subject: &str| {
        c.identity
            .iter()
            .find(|row| row.subject == subject)
            .and_then(|row| row.kernel.clone())
    };
    if let (Some(host), Some(container)) = (kernel("host"), kernel("container")) {
        if host == container {
            out.push(
                "The container's uname is the host's own kernel: one kernel serves both."
                    .to_string(),
            );
        } else {
            out.push(format!(
                "The container's uname ({container}) differs from the host's ({host}) — \
                 unexpected for a container."
            ));
        }
    }
    if let (Some(container), Some(vm)) = (kernel("container"), kernel("vm"))
        && container != vm
    {
        out.push(format!(
            "The VM's uname names its own guest kernel ({vm}), not the host's."
        ));
    }
    out
}

fn signed_duration(ns: f64) -> String {
    if ns >= 0.0 {
        format!("+{}", fmt::duration_f64(ns))
    } else {
        format!("−{}", fmt::duration_f64(-ns))
    }
}

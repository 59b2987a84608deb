//! From run records to figures: series, phases, ratios and identity rows,
//! section by section, then the conclusions (`super::conclusions`) — one
//! pure function, [`build`].

use std::collections::BTreeMap;

use super::model::{
    Comparison, Failure, HostHeader, IdentityRow, PhaseRow, Probe, RatioRow, RunRecord, Sample,
    Section, Series, Stage, SubjectKind, Unit, figure,
};
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

/// Names a series: (section, subject, figure, unit).
type SeriesKey<'a> = (Section, &'a str, &'a str, Unit);

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
        (section, subject, name, unit): SeriesKey,
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

    /// A failure of the series `(section, subject, figure, unit)`.
    fn fail(&mut self, (section, subject, name, unit): SeriesKey, failure: Failure) {
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

/// Builds the comparison from the records made so far: each measured record
/// filed under its section, then the figures ordered, the phases, ratios and
/// identity rows gathered and the conclusions drawn.
pub fn build(records: &[RunRecord], context: &Context) -> Comparison {
    let measured: Vec<&RunRecord> = records.iter().filter(|r| !r.warmup).collect();
    let mut gathered = Gathered::default();
    for record in &measured {
        gathered.add(record, &measured, context.warmup);
    }
    gathered.file_memory_failures();
    let rank = subject_rank(&measured);
    let Gathered {
        set,
        phases,
        mut subject_order,
        mut identity,
        mut identity_order,
        ..
    } = gathered;
    subject_order.sort_by_key(|s| rank(s));
    identity_order.sort_by_key(|s| rank(s));
    let series = ordered_series(set, &rank);
    let phase_rows = phase_rows(&phases, &subject_order);
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
    comparison.conclusions = super::conclusions::conclusions(&comparison);
    comparison
}

/// The phase durations of the startup runs, by subject and position:
/// (subject, index) → (phase name, stage, durations).
type PhaseSamples = BTreeMap<(String, usize), (String, Stage, Vec<f64>)>;

/// What the measured records give, section by section, before ordering.
#[derive(Default)]
struct Gathered {
    set: SeriesSet,
    phases: PhaseSamples,
    subject_order: Vec<String>,
    identity: BTreeMap<String, IdentityRow>,
    identity_order: Vec<String>,
    /// Memory runs that failed: filed once the working runs have said which
    /// figures there are ([`Gathered::file_memory_failures`]).
    memory_failures: Vec<(String, Failure)>,
}

/// Where a record belongs: its subject, its round (from the first measured
/// one) and whether the subject is a VM.
#[derive(Clone, Copy)]
struct Place<'a> {
    subject: &'a str,
    round: usize,
    is_vm: bool,
}

impl Place<'_> {
    fn failure(&self, reason: &str) -> Failure {
        Failure {
            round: self.round,
            reason: reason.to_string(),
        }
    }
}

impl Gathered {
    /// Files one measured record under its section.
    fn add(&mut self, record: &RunRecord, measured: &[&RunRecord], warmup: usize) {
        let subject = record.subject.label.as_str();
        if !self.subject_order.iter().any(|s| s == subject) {
            self.subject_order.push(subject.to_string());
        }
        let at = Place {
            subject,
            round: record.round.saturating_sub(warmup),
            is_vm: record.subject.kind == SubjectKind::Vm,
        };
        // The baseline of the same round, for exits a loop causes.
        let baseline = |probe: &Probe| baseline(measured, warmup, at, probe);
        match (&record.probe, &record.outcome) {
            (Probe::Startup, outcome) => self.startup(at, record.subject.kind, outcome),
            (Probe::Memory, outcome) => self.memory(at, outcome),
            (Probe::Getpid { iters }, outcome) => {
                let base = baseline(&Probe::GetpidBaseline);
                self.timed_loop(at, &GETPID_LOOP, *iters, outcome, base);
            }
            (Probe::Write { iters, bytes }, outcome) => {
                let base = baseline(&Probe::WriteBaseline { bytes: *bytes });
                self.timed_loop(at, &WRITE_LOOP, *iters, outcome, base);
            }
            (Probe::ExitProbe { .. }, outcome) => self.exit_probe(at, outcome),
            (Probe::GetpidBaseline | Probe::WriteBaseline { .. }, _) => {}
            (Probe::Identity { task }, outcome) => self.identity(at, task, outcome),
        }
    }

    /// Startup: launch → marker, and each phase's duration.
    fn startup(&mut self, at: Place, kind: SubjectKind, outcome: &Result<RunReport, String>) {
        let key = (
            Section::Startup,
            at.subject,
            figure::STARTUP,
            Unit::Nanoseconds,
        );
        let report = match outcome {
            Err(reason) => {
                self.set.fail(key, at.failure(reason));
                return;
            }
            Ok(report) => report,
        };
        self.set.sample(
            key,
            at.round,
            report.startup_ns.map(|ns| ns as f64),
            "no start marker was seen",
        );
        for (index, phase) in report.phases.iter().enumerate() {
            let entry = self
                .phases
                .entry((at.subject.to_string(), index))
                .or_insert_with(|| (phase.name.clone(), stage_of(kind, &phase.name), Vec::new()));
            if entry.0 == phase.name {
                entry.2.push(phase.ns as f64);
            }
        }
    }

    /// Memory: whichever figures the backend gives.
    fn memory(&mut self, at: Place, outcome: &Result<RunReport, String>) {
        let report = match outcome {
            // Which memory figures the run would have given is known only
            // from the runs that worked: filed once all are seen.
            Err(reason) => {
                let failure = at.failure(reason);
                self.memory_failures.push((at.subject.to_string(), failure));
                return;
            }
            Ok(report) => report,
        };
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
                self.set.sample(
                    (Section::Memory, at.subject, name, Unit::Bytes),
                    at.round,
                    Some(value as f64),
                    "",
                );
            }
        }
    }

    /// System calls ([`GETPID_LOOP`]) and I/O ([`WRITE_LOOP`]): a loop's
    /// `ns_per_op` and, on a VM, the exits it caused per `spec.exits_per`
    /// iterations beyond those of its one-iteration `baseline` run of the
    /// same round.
    fn timed_loop(
        &mut self,
        at: Place,
        spec: &Loop,
        iters: u64,
        outcome: &Result<RunReport, String>,
        baseline: Option<&RunReport>,
    ) {
        let cost = (spec.section, at.subject, spec.figure, Unit::Nanoseconds);
        let exit_count = (spec.section, at.subject, spec.exits_figure, Unit::Count);
        match outcome {
            Err(reason) => {
                let failure = at.failure(reason);
                if at.is_vm {
                    self.set.fail(exit_count, failure.clone());
                }
                self.set.fail(cost, failure);
            }
            Ok(report) => {
                let missing = format!("the workload printed no {} result", spec.task);
                self.set
                    .sample(cost, at.round, ns_per_op(report, spec.task), &missing);
                if at.is_vm {
                    let exits = baseline.and_then(total_exits).zip(total_exits(report)).map(
                        |(base, all)| {
                            (all - base).max(0.0) * spec.exits_per
                                / (iters.saturating_sub(1).max(1) as f64)
                        },
                    );
                    self.set
                        .sample(exit_count, at.round, exits, spec.no_baseline);
                }
            }
        }
    }

    /// I/O: the VM exit round trip as the guest, the host and the VMM's
    /// handler measured it.
    fn exit_probe(&mut self, at: Place, outcome: &Result<RunReport, String>) {
        let report = match outcome {
            Err(reason) => {
                let key = (
                    Section::Io,
                    at.subject,
                    figure::EXIT_GUEST,
                    Unit::Nanoseconds,
                );
                self.set.fail(key, at.failure(reason));
                return;
            }
            Ok(report) => report,
        };
        let probe = report.vm.as_ref().and_then(|vm| vm.exit_probe.as_ref());
        let figures = [
            (figure::EXIT_GUEST, probe.and_then(|p| p.guest_ns_per_exit)),
            (figure::EXIT_HOST, probe.and_then(|p| p.host_ns_per_exit)),
            (
                figure::EXIT_HANDLER,
                probe.and_then(|p| p.handler_ns_per_exit),
            ),
        ];
        for (name, value) in figures {
            self.set.sample(
                (Section::Io, at.subject, name, Unit::Nanoseconds),
                at.round,
                value,
                "the guest reported no exit probe",
            );
        }
    }

    /// Identity: which kernel answers, the ids and the privileges seen.
    fn identity(&mut self, at: Place, task: &str, outcome: &Result<RunReport, String>) {
        if !self.identity_order.iter().any(|s| s == at.subject) {
            self.identity_order.push(at.subject.to_string());
        }
        let row = self
            .identity
            .entry(at.subject.to_string())
            .or_insert_with(|| IdentityRow {
                subject: at.subject.to_string(),
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

    /// A failed memory run counts against every memory figure its subject
    /// gave in other rounds (the image size if it gave none).
    fn file_memory_failures(&mut self) {
        for (subject, failure) in std::mem::take(&mut self.memory_failures) {
            let names: Vec<String> = self
                .set
                .order
                .iter()
                .filter(|(section, s, _)| *section == Section::Memory && *s == subject)
                .map(|(_, _, name)| name.clone())
                .collect();
            if names.is_empty() {
                let key = (
                    Section::Memory,
                    subject.as_str(),
                    figure::IMAGE,
                    Unit::Bytes,
                );
                self.set.fail(key, failure);
            } else {
                for name in names {
                    let key = (
                        Section::Memory,
                        subject.as_str(),
                        name.as_str(),
                        Unit::Bytes,
                    );
                    self.set.fail(key, failure.clone());
                }
            }
        }
    }
}

/// A timed loop of one section: its task, its figures and what the exits it
/// caused are counted per.
struct Loop {
    section: Section,
    task: &'static str,
    figure: &'static str,
    exits_figure: &'static str,
    exits_per: f64,
    no_baseline: &'static str,
}

/// System calls: a getpid's cost, and on a VM the exits per 1,000 calls
/// (over the `getpid 1` baseline).
const GETPID_LOOP: Loop = Loop {
    section: Section::Syscall,
    task: "getpid",
    figure: figure::GETPID,
    exits_figure: figure::EXITS_PER_1000_CALLS,
    exits_per: 1000.0,
    no_baseline: "the baseline run (getpid 1) of this round failed",
};

/// I/O: a console write's cost, and on a VM the exits per write (over the
/// `write 1` baseline).
const WRITE_LOOP: Loop = Loop {
    section: Section::Io,
    task: "write",
    figure: figure::WRITE,
    exits_figure: figure::EXITS_PER_WRITE,
    exits_per: 1.0,
    no_baseline: "the baseline run (write 1) of this round failed",
};

/// The report of `probe` run on `at.subject` in `at.round`, if it worked.
fn baseline<'r>(
    measured: &[&'r RunRecord],
    warmup: usize,
    at: Place,
    probe: &Probe,
) -> Option<&'r RunReport> {
    measured
        .iter()
        .find(|r| {
            r.round.saturating_sub(warmup) == at.round
                && r.subject.label == at.subject
                && &r.probe == probe
        })
        .and_then(|r| r.outcome.as_ref().ok())
}

/// A fixed order whatever order the rounds ran in (they rotate): by kind
/// (host, container, VM), then by label.
fn subject_rank(measured: &[&RunRecord]) -> impl Fn(&str) -> (u8, String) + use<> {
    let kinds: BTreeMap<String, SubjectKind> = measured
        .iter()
        .map(|r| (r.subject.label.clone(), r.subject.kind))
        .collect();
    move |subject: &str| {
        let kind = match kinds.get(subject) {
            Some(SubjectKind::Host) => 0,
            Some(SubjectKind::Container) => 1,
            Some(SubjectKind::Vm) => 2,
            None => 3,
        };
        (kind, subject.to_string())
    }
}

/// The series, summarised, by section, then figure in the order the
/// sections set them beside each other (launcher RSS next to VMM overhead,
/// cgroup peak next to guest memory…), then subject.
fn ordered_series(set: SeriesSet, rank: &impl Fn(&str) -> (u8, String)) -> Vec<Series> {
    let mut series = set.into_vec();
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
    series
}

/// One row per subject and phase, summarised, subjects in order.
fn phase_rows(phases: &PhaseSamples, subject_order: &[String]) -> Vec<PhaseRow> {
    subject_order
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
        .collect()
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

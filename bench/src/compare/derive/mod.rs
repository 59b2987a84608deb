//! From run records to figures: series, phases, ratios and identity rows,
//! section by section, then the conclusions (`super::conclusions`) — one
//! pure function, [`build`].
//!
//! The parts: `gather.rs` files each measured record under its section
//! (startup, memory, the exit probe), `loops.rs` the timed loops of the
//! system-call and I/O sections, `identity.rs` the identity rows,
//! `series.rs` accumulates and orders the series, `ratios.rs` sets
//! subjects beside each other.

use std::collections::BTreeMap;

use super::model::{
    Comparison, HostHeader, IdentityRow, PhaseRow, Probe, RunRecord, Section, Stage, SubjectKind,
};
use crate::stats::Summary;

mod gather;
mod identity;
mod loops;
mod ratios;
mod series;

use gather::{Gathered, PhaseSamples};
pub use ratios::paired_ratio;

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
    /// The Linux subject, when `--linux` asked for it.
    pub linux: Option<super::model::LinuxSubject>,
}

/// Which stage a phase of a backend belongs to (the four stages of a run:
/// startup: *prepare* · *boot/exec* · *run* · *teardown*).
pub fn stage_of(kind: SubjectKind, phase: &str) -> Stage {
    match (kind, phase) {
        (_, "run") => Stage::Run,
        (_, "teardown") => Stage::Teardown,
        (SubjectKind::Host, "spawn" | "exec→marker") => Stage::Boot,
        (SubjectKind::Container, "exec" | "exec→marker") => Stage::Boot,
        // The tiny kernel's boot to its workload, Linux's to "Run /init".
        (SubjectKind::Vm, "boot→marker" | "boot→/init") => Stage::Boot,
        _ => Stage::Prepare,
    }
}

/// Builds the comparison from the records made so far: each measured record
/// filed under its section, then the figures ordered, the phases, ratios and
/// identity rows gathered and the conclusions drawn.
pub fn build(records: &[RunRecord], context: &Context) -> Comparison {
    let measured: Vec<&RunRecord> = records.iter().filter(|r| !r.warmup).collect();
    let mut gathered = Gathered::default();
    for record in &measured {
        gathered.add(record, &measured, context.warmup, &context.sections);
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
    let series = series::ordered_series(set, &rank);
    let phase_rows = phase_rows(&phases, &subject_order);
    let identity: Vec<IdentityRow> = identity_order
        .iter()
        .filter_map(|s| identity.remove(s))
        .collect();
    let ratios = ratios::ratios(&series);
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
        linux: context.linux.clone(),
        series,
        phases: phase_rows,
        ratios,
        identity,
        conclusions: Vec::new(),
    };
    comparison.conclusions = super::conclusions::conclusions(&comparison);
    comparison
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

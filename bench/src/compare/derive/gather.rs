//! Filing each measured record under its section: the startup figure and
//! phases, the memory figures, the exit probe — and, through `loops.rs` and
//! `identity.rs`, the timed loops and identity rows.

use std::collections::BTreeMap;

use super::super::model::{
    Failure, IdentityRow, Probe, RunRecord, Section, Stage, SubjectKind, Unit, figure,
};
use super::loops::{GETPID_LOOP, WRITE_LOOP};
use super::series::SeriesSet;
use super::stage_of;
use crate::report::RunReport;

/// The phase durations of the startup runs, by subject and position:
/// (subject, index) → (phase name, stage, durations).
pub(super) type PhaseSamples = BTreeMap<(String, usize), (String, Stage, Vec<f64>)>;

/// What the measured records give, section by section, before ordering.
#[derive(Default)]
pub(super) struct Gathered {
    pub(super) set: SeriesSet,
    pub(super) phases: PhaseSamples,
    pub(super) subject_order: Vec<String>,
    pub(super) identity: BTreeMap<String, IdentityRow>,
    pub(super) identity_order: Vec<String>,
    /// Memory runs that failed: filed once the working runs have said which
    /// figures there are ([`Gathered::file_memory_failures`]).
    pub(super) memory_failures: Vec<(String, Failure)>,
}

/// Where a record belongs: its subject, its round (from the first measured
/// one) and whether the subject is a VM.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    pub(super) subject: &'a str,
    pub(super) round: usize,
    pub(super) is_vm: bool,
}

impl Place<'_> {
    pub(super) fn failure(&self, reason: &str) -> Failure {
        Failure {
            round: self.round,
            reason: reason.to_string(),
        }
    }
}

impl Gathered {
    /// Files one measured record under its section.
    pub(super) fn add(
        &mut self,
        record: &RunRecord,
        measured: &[&RunRecord],
        warmup: usize,
        sections: &[Section],
    ) {
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
            // One Linux boot gives both sections' figures.
            (Probe::LinuxBoot, outcome) => {
                if sections.contains(&Section::Startup) {
                    self.startup(at, record.subject.kind, outcome);
                }
                if sections.contains(&Section::Memory) {
                    self.memory(at, outcome);
                }
            }
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

    /// A failed memory run counts against every memory figure its subject
    /// gave in other rounds (the image size if it gave none).
    pub(super) fn file_memory_failures(&mut self) {
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

//! The timed loops of the system-call and I/O sections: a loop's cost per
//! iteration and, on a VM, the exits it caused beyond its baseline run.

use super::super::model::{Section, Unit, figure};
use super::gather::{Gathered, Place};
use crate::report::RunReport;
use crate::workload::TaskResult;

/// A timed loop of one section: its task, its figures and what the exits it
/// caused are counted per.
pub(super) struct Loop {
    section: Section,
    task: &'static str,
    figure: &'static str,
    exits_figure: &'static str,
    exits_per: f64,
    no_baseline: &'static str,
}

/// System calls: a getpid's cost, and on a VM the exits per 1,000 calls
/// (over the `getpid 1` baseline).
pub(super) const GETPID_LOOP: Loop = Loop {
    section: Section::Syscall,
    task: "getpid",
    figure: figure::GETPID,
    exits_figure: figure::EXITS_PER_1000_CALLS,
    exits_per: 1000.0,
    no_baseline: "the baseline run (getpid 1) of this round failed",
};

/// I/O: a console write's cost, and on a VM the exits per write (over the
/// `write 1` baseline).
pub(super) const WRITE_LOOP: Loop = Loop {
    section: Section::Io,
    task: "write",
    figure: figure::WRITE,
    exits_figure: figure::EXITS_PER_WRITE,
    exits_per: 1.0,
    no_baseline: "the baseline run (write 1) of this round failed",
};

impl Gathered {
    /// System calls ([`GETPID_LOOP`]) and I/O ([`WRITE_LOOP`]): a loop's
    /// `ns_per_op` and, on a VM, the exits it caused per `spec.exits_per`
    /// iterations beyond those of its one-iteration `baseline` run of the
    /// same round.
    pub(super) fn timed_loop(
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
                    // Not clamped at zero: a loop run with fewer exits than
                    // its baseline says the exits vary from run to run by
                    // more than the loop adds, and the conclusions say so
                    // instead of showing a reassuring 0.
                    let exits = baseline.and_then(total_exits).zip(total_exits(report)).map(
                        |(base, all)| {
                            (all - base) * spec.exits_per / (iters.saturating_sub(1).max(1) as f64)
                        },
                    );
                    self.set
                        .sample(exit_count, at.round, exits, spec.no_baseline);
                }
            }
        }
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

//! The identity section: which kernel answers, the ids and the privileges
//! each subject's workload sees.

use super::super::model::IdentityRow;
use super::gather::{Gathered, Place};
use crate::report::RunReport;
use crate::workload::{ProcStatus, TaskResult};

impl Gathered {
    /// Identity: which kernel answers, the ids and the privileges seen.
    pub(super) fn identity(&mut self, at: Place, task: &str, outcome: &Result<RunReport, String>) {
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
                status_unavailable: None,
                failures: Vec::new(),
            });
        match outcome {
            Ok(report) => fill_identity(row, report),
            Err(reason) => row.failures.push(format!("{task}: {reason}")),
        }
    }
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
                row.status_unavailable = Some(errno.to_string());
            }
            _ => {}
        }
    }
}

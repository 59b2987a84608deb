//! A backend run in a fresh `versus` process: `versus <backend> run --json
//! -- TASK…`, whose report is read back.
//!
//! Memory figures need this. A launcher's or VMM's RSS is a property of
//! its whole process, and a process's peak RSS only grows: measured inside
//! a long `versus compare`, it would include everything that process did
//! before. A fresh process for each measurement reports what a user
//! running that one backend would see.

use std::path::PathBuf;
use std::process::Command;

use super::{Backend, BackendError, Launch};
use crate::report::RunReport;
use crate::workload::WorkloadSource;

/// Runs `program ARGS --json [--workload PATH] -- ARGV` and parses its report.
#[derive(Debug, Clone)]
pub struct FreshProcessBackend {
    /// The label in tables.
    pub label: String,
    /// The `versus` executable.
    pub program: PathBuf,
    /// The subcommand and its options, e.g. `["vm", "run", "--vcpus", "2"]`.
    pub args: Vec<String>,
}

impl Backend for FreshProcessBackend {
    fn name(&self) -> &str {
        &self.label
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).arg("--json");
        if let Some(timeout) = launch.timeout {
            command
                .arg("--timeout")
                .arg(format!("{}ms", timeout.as_millis()));
        }
        if let WorkloadSource::File(path) = launch.workload.source() {
            command.arg("--workload").arg(path);
        }
        let output = command
            .arg("--")
            .args(&launch.argv)
            .output()
            .map_err(BackendError::Spawn)?;
        // The exit status is the workload's; the report says how it ended.
        let mut report: RunReport = serde_json::from_slice(&output.stdout).map_err(|error| {
            let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
            BackendError::Subprocess {
                command: format!("{} {}", self.program.display(), self.args.join(" ")),
                // What it said on stderr explains more than a JSON error.
                problem: if said.is_empty() {
                    format!("no report ({error}), {}", output.status)
                } else {
                    said
                },
            }
        })?;
        report.backend = self.label.clone();
        Ok(report)
    }
}

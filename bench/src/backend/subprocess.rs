//! A backend run in a fresh `versus` process: `versus __run-request`, given
//! a [`RunRequest`] as JSON on stdin, whose JSON report is read back.
//!
//! Memory figures need this. A launcher's or VMM's RSS is a property of
//! its whole process, and a process's peak RSS only grows: measured inside
//! a long `versus compare`, it would include everything that process did
//! before. A fresh process for each measurement reports what a user
//! running that one backend would see.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Backend, BackendError, Launch};
use crate::report::RunReport;
use crate::request::{BackendSettings, RunRequest, SUBCOMMAND};
use crate::workload::WorkloadSource;

/// Runs `program __run-request` with the launch on `backend` and parses
/// its report.
#[derive(Debug, Clone)]
pub struct FreshProcessBackend {
    /// The label in tables.
    pub label: String,
    /// The `versus` executable.
    pub program: PathBuf,
    /// Where the fresh process runs the launch.
    pub backend: BackendSettings,
}

impl Backend for FreshProcessBackend {
    fn name(&self) -> &str {
        &self.label
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        let request = RunRequest {
            backend: self.backend.clone(),
            workload: match launch.workload.source() {
                WorkloadSource::File(path) => Some(path.clone()),
                WorkloadSource::Embedded => None,
            },
            argv: launch.argv.clone(),
            timeout: launch.timeout,
        };
        let command_line = format!("{} {SUBCOMMAND}", self.program.display());
        let failed = |problem: String| BackendError::Subprocess {
            command: command_line.clone(),
            problem,
        };
        let json = serde_json::to_vec(&request)
            .map_err(|error| failed(format!("cannot encode the request: {error}")))?;
        let mut child = Command::new(&self.program)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(BackendError::Spawn)?;
        // The request is small (well under a pipe's buffer) and the child
        // reads all of it before it writes anything, so writing it before
        // collecting the output cannot deadlock. A failed write shows up
        // as the child's own complaint below.
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&json);
        }
        let output = child.wait_with_output().map_err(BackendError::Wait)?;
        // The exit status is the workload's; the report says how it ended.
        let mut report: RunReport = serde_json::from_slice(&output.stdout).map_err(|error| {
            let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
            // What it said on stderr explains more than a JSON error.
            failed(if said.is_empty() {
                format!("no report ({error}), {}", output.status)
            } else {
                said
            })
        })?;
        report.backend = self.label.clone();
        Ok(report)
    }
}

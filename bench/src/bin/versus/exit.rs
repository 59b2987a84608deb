//! How versus ends: an error's text on one line, writing to stdout, the
//! usage-error status and the status after a run.

use std::process::ExitCode;

use anyhow::{Context, Result};

use bench::output;

/// An error and its causes in one line, each cause once: a message that
/// already quotes its cause (`failed to create …: File exists`) is not
/// followed by the same cause again.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// Prints `text` on stdout; a closed pipe is not an error (see
/// [`bench::output`]), anything else is.
pub(crate) fn emit(text: &str) -> Result<()> {
    output::write_stdout(text.as_bytes()).context("cannot write to standard output")
}

/// The exit status after a run: the signal that interrupted versus
/// (130/143), or the workload's own status as a shell would show it.
pub(crate) fn run_status(report: &bench::report::RunReport) -> ExitCode {
    if let Some(status) = bench::interrupt::exit_status() {
        return ExitCode::from(status);
    }
    let status = report.exit.shell_status().clamp(0, 255);
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// The status versus ends with after `error`: 127 when the program to run
/// does not exist, 126 when it exists but cannot be executed — as `sh` and
/// `docker run` tell these launch failures from the program's own `exit 1`
/// — otherwise 1.
pub(crate) fn error_status(error: &anyhow::Error) -> u8 {
    const GENERIC_FAILURE: u8 = 1;
    error
        .chain()
        .find_map(|cause| {
            // The container backend boxes the crate's error.
            let container_error = cause
                .downcast_ref::<container::Error>()
                .or_else(|| cause.downcast_ref::<Box<container::Error>>().map(|e| &**e));
            if let Some(container::Error::Command { problem, .. }) = container_error {
                return Some(problem.shell_status());
            }
            if let Some(bench::backend::BackendError::Spawn(io)) = cause.downcast_ref() {
                return match io.raw_os_error() {
                    Some(libc::ENOENT) => Some(container::CommandProblem::NotFound.shell_status()),
                    Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR) => {
                        Some(container::CommandProblem::NotExecutable.shell_status())
                    }
                    _ => None,
                };
            }
            None
        })
        .unwrap_or(GENERIC_FAILURE)
}

/// A usage error: the message on stderr, status 2 (as clap's own).
pub(crate) fn usage_error(message: &str) -> Result<ExitCode> {
    output::stderr_line(&format!("versus: error: {message}"));
    Ok(ExitCode::from(2))
}

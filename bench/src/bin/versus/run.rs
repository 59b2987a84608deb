//! `versus host|container|vm run` and the hidden `__run-request`: one
//! launch on one backend, its report printed, the workload's status
//! returned.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};

use bench::backend::container::ContainerBackend;
use bench::backend::{Backend, Launch};
use bench::output;
use bench::render;
use bench::request::RunRequest;

use crate::args::{ContainerRunArgs, Network, RunArgs};
use crate::exit::{emit, error_text, run_status, usage_error};

/// `versus container run`: the container backend configured from the flags.
pub(crate) fn run_container(args: &ContainerRunArgs) -> Result<ExitCode> {
    if args.userns && args.share.contains(&container::Namespace::User) {
        return usage_error(
            "--userns asks for a new user namespace and --share user for none: give one of them",
        );
    }
    if args.network == Network::None && args.share.contains(&container::Namespace::Net) {
        return usage_error(
            "--network none asks for the container's own network namespace and --share net \
             for the host's: give --network host instead",
        );
    }
    if args.interactive && args.tty && !std::io::stdin().is_terminal() {
        // As docker run: keys typed on a terminal go through a terminal; a
        // pipe's end of file could not reach the command through one.
        return usage_error(
            "-i with -t needs a terminal on standard input, and this one is not a \
             terminal: drop -t to pipe input into the command (-i alone)",
        );
    }
    let settings = args.settings()?;
    // A task for the workload, unless the arguments name a command of the
    // root filesystem.
    let is_command = settings.runs_command(&args.run.task);
    let backend = ContainerBackend::with_settings(settings);
    let launch = match args.run.launch(!is_command) {
        Ok(launch) => launch,
        Err(error) => return usage_error(&error_text(&error)),
    };
    report_run(&backend, &launch, args.run.json)
}

/// Runs one launch on `backend`, prints the report and exits as the
/// workload did (a shell sees the workload's status, 128+signal, or 124 on
/// timeout).
pub(crate) fn run_backend(backend: &dyn Backend, args: &RunArgs) -> Result<ExitCode> {
    let launch = match args.launch(true) {
        Ok(launch) => launch,
        Err(error) => return usage_error(&error_text(&error)),
    };
    report_run(backend, &launch, args.json)
}

/// `versus __run-request`: one run described by the JSON request on stdin
/// (see [`bench::request`]), its report printed as JSON.
pub(crate) fn run_request() -> Result<ExitCode> {
    let request: RunRequest = serde_json::from_reader(std::io::stdin().lock())
        .context("cannot read the run request on standard input")?;
    let backend = request.backend.backend()?;
    let launch = request.launch()?;
    report_run(backend.as_ref(), &launch, true)
}

/// Runs `launch` on `backend` and prints the report (table or JSON).
fn report_run(backend: &dyn Backend, launch: &Launch, json: bool) -> Result<ExitCode> {
    let report = backend
        .run(launch)
        .with_context(|| format!("running on the {} backend", backend.name()))?;
    if let Some(problem) = output::stdout_failure() {
        anyhow::bail!("cannot write to standard output: {problem}");
    }
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&render::run_report(&report))?;
    }
    Ok(run_status(&report))
}

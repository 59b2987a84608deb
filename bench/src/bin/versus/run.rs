//! `versus host|container|vm run` and the hidden `__run-request`: one
//! launch on one backend, its report printed, the workload's status
//! returned.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{Context, Result};

use bench::backend::container::ContainerBackend;
use bench::backend::{Backend, Launch};
use bench::output;
use bench::render;
use bench::report::{Nanos, Phase, ProcessPhases, RunReport};
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
    if let Some(problem) = args.rootfs_problem() {
        return usage_error(&problem);
    }
    let settings = args.settings()?;
    // A task for the workload, unless the arguments name a command of the
    // root filesystem.
    let is_command = settings.runs_command(&args.run.task);
    let backend = ContainerBackend::with_settings(settings);
    let launch = match args.run.launch(!is_command) {
        Ok(launch) => launch,
        Err(error) => return usage_error(&with_hint(&error, CONTAINER_PROGRAM_HINT)),
    };
    report_run(&backend, &launch, args.run.json, args.trace)
}

/// Runs one launch on `backend`, prints the report and exits as the
/// workload did (a shell sees the workload's status, 128+signal, or 124 on
/// timeout).
/// With `trace`, the whole process' phases follow on stderr.
pub(crate) fn run_backend(backend: &dyn Backend, args: &RunArgs, trace: bool) -> Result<ExitCode> {
    let launch = match args.launch(true) {
        Ok(launch) => launch,
        Err(error) => return usage_error(&with_hint(&error, PROGRAM_HINT)),
    };
    report_run(backend, &launch, args.json, trace)
}

/// What `versus host|vm run ls` should have been: a word that is not a task
/// is most often a program the user meant to run.
pub(crate) const PROGRAM_HINT: &str =
    "to run a program of your own, give --workload PATH (a static x86-64 executable)";

/// What `versus container run alpine sh` should have been: a Docker user
/// names an image, or a command, where versus expects a task.
const CONTAINER_PROGRAM_HINT: &str = "versus pulls no images: to run a command, give --busybox \
     (the host's busybox) or --rootfs DIR (a root filesystem, e.g. an unpacked image); for a \
     static program of your own, --workload PATH";

/// The error's text, and `hint` after it when the word given is no task of
/// the embedded workload.
fn with_hint(error: &anyhow::Error, hint: &str) -> String {
    let unknown_task = matches!(
        error.downcast_ref::<bench::request::RequestError>(),
        Some(bench::request::RequestError::Task(
            bench::workload::TaskError::UnknownTask(_)
        ))
    );
    if unknown_task {
        format!("{}; {hint}", error_text(error))
    } else {
        error_text(error)
    }
}

/// `versus __run-request`: one run described by the JSON request on stdin
/// (see [`bench::request`]), its report printed as JSON.
pub(crate) fn run_request() -> Result<ExitCode> {
    let request: RunRequest = serde_json::from_reader(std::io::stdin().lock())
        .context("cannot read the run request on standard input")?;
    let backend = request.backend.backend()?;
    let launch = request.launch()?;
    report_run(backend.as_ref(), &launch, true, false)
}

/// Runs `launch` on `backend` and prints the report (table or JSON), with
/// the whole process' phases in it; with `trace` they follow on stderr,
/// printing the report included.
fn report_run(backend: &dyn Backend, launch: &Launch, json: bool, trace: bool) -> Result<ExitCode> {
    let run_start = Instant::now();
    let mut report = backend
        .run(launch)
        .with_context(|| format!("running on the {} backend", backend.name()))?;
    let run_end = Instant::now();
    report.process = Some(process_phases(run_start, run_end));
    if let Some(problem) = output::stdout_failure() {
        anyhow::bail!("cannot write to standard output: {problem}");
    }
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&render::run_report(&report))?;
    }
    if trace {
        trace_process(&report, run_end);
    }
    Ok(run_status(&report))
}

/// When `main` began, with the boot-time clock and the CPU time this
/// process had used by then; and when the command line had been parsed:
/// the first boundaries of the process' phases.
static MAIN_AT: OnceLock<MainStarted> = OnceLock::new();

#[derive(Clone, Copy)]
struct MainStarted {
    at: Instant,
    boottime_ns: Option<Nanos>,
    cpu_ns: Option<Nanos>,
}
static PARSED_AT: OnceLock<Instant> = OnceLock::new();

/// Notes that `main` has begun; called first thing.
pub(crate) fn main_started() {
    let _ = MAIN_AT.set(MainStarted {
        at: Instant::now(),
        boottime_ns: boottime_ns(),
        cpu_ns: cpu_ns(),
    });
}

/// Notes that the command line has been parsed.
pub(crate) fn arguments_parsed() {
    let _ = PARSED_AT.set(Instant::now());
}

/// The phases of this process up to `run_end`: its start (the kernel's
/// record) → `main` → arguments parsed → the launch (`run_start`) → the
/// run's end.
fn process_phases(run_start: Instant, run_end: Instant) -> ProcessPhases {
    let between =
        |from: Instant, to: Instant| to.saturating_duration_since(from).as_nanos() as Nanos;
    let mut phases = Vec::new();
    let main_at = MAIN_AT.get().copied();
    // Before `main` a process computes (exec, the loader, relocations) and
    // hardly ever waits: the CPU time it used is, to the microsecond, the
    // time it took. The kernel's start time is the cross-check, in ticks.
    if let Some(cpu_ns) = main_at.and_then(|main| main.cpu_ns) {
        phases.push(Phase::new("process start → main", cpu_ns));
    }
    let by_clock = main_at
        .and_then(|main| main.boottime_ns)
        .zip(process_start_boottime())
        .map(|(main, (started, tick))| (main.saturating_sub(started), tick));
    let main = main_at.map_or(run_start, |main| main.at);
    let parsed = PARSED_AT.get().copied().unwrap_or(main);
    phases.push(Phase::new("arguments", between(main, parsed)));
    phases.push(Phase::new("prepare image", between(parsed, run_start)));
    phases.push(Phase::new("run", between(run_start, run_end)));
    ProcessPhases {
        phases,
        start_to_main_by_clock_ns: by_clock.map(|(ns, _)| ns),
        start_resolution_ns: by_clock.map_or(0, |(_, tick)| tick),
    }
}

/// `--trace`: the process' phases on stderr, then printing the report and
/// the whole process to here (what `time` shows, but for the exit itself).
fn trace_process(report: &RunReport, run_end: Instant) {
    let Some(process) = &report.process else {
        return;
    };
    for phase in &process.phases {
        output::stderr_line(&format!(
            "[process] {:<22} {}",
            phase.name,
            bench::fmt::duration(phase.ns)
        ));
    }
    let report_ns = run_end.elapsed().as_nanos() as Nanos;
    output::stderr_line(&format!(
        "[process] {:<22} {}",
        "report",
        bench::fmt::duration(report_ns)
    ));
    let mut whole = format!(
        "[process] {:<22} {}",
        "whole process",
        bench::fmt::duration(process.total_ns() + report_ns)
    );
    if let Some(by_clock) = process.start_to_main_by_clock_ns {
        whole.push_str(&format!(
            "; process start → main by the kernel's start time: {} (counted in {} ticks)",
            bench::fmt::duration(by_clock),
            bench::fmt::duration(process.start_resolution_ns)
        ));
    }
    output::stderr_line(&whole);
}

/// The CPU time (user + system) this process has used so far.
fn cpu_ns() -> Option<Nanos> {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CLOCK_BOOTTIME now, the clock the kernel's process start times count on.
fn boottime_ns() -> Option<Nanos> {
    clock_ns(libc::CLOCK_BOOTTIME)
}

/// `clock` now, in nanoseconds.
fn clock_ns(clock: libc::clockid_t) -> Option<Nanos> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is valid for writes for the call.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return None;
    }
    Some(u64::try_from(now.tv_sec).ok()? * 1_000_000_000 + u64::try_from(now.tv_nsec).ok()?)
}

/// This process' start on CLOCK_BOOTTIME and the clock tick it is counted
/// in: `/proc/self/stat` field 22 (`starttime`, in ticks since boot).
fn process_start_boottime() -> Option<(Nanos, Nanos)> {
    let ticks = container::host::process_start_ticks(std::process::id())?;
    // SAFETY: sysconf has no memory effects.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
    if per_second == 0 {
        return None;
    }
    let tick = 1_000_000_000 / per_second;
    Some((ticks * tick, tick))
}

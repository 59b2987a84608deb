//! The command line of every subcommand except `compare`'s driver: clap's
//! argument types, the value parsers of sizes and durations, and the
//! conversions of the flags to backend settings (the one place each flag is
//! read). One file per subcommand's arguments; what every `run` shares is
//! here.

mod compare;
mod container;
mod vm;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use bench::backend::Launch;

pub(crate) use compare::{COMPARE_EXAMPLES, CompareArgs};
pub(crate) use container::{CONTAINER_EXAMPLES, ContainerAction, ContainerRunArgs, Network};
pub(crate) use vm::{VM_EXAMPLES, VmAction, VmRunArgs};

/// Examples of `versus doctor`.
pub(crate) const DOCTOR_EXAMPLES: &str = "\
Examples:
  versus doctor          what this machine offers, each missing piece with its fix
  versus doctor --json   the same as JSON";

/// Examples of `versus host`.
pub(crate) const HOST_EXAMPLES: &str = "\
Examples:
  versus host run -- getpid 1000000   time a million getpid calls as a host process
  versus host run --help              every option of `host run` and the tasks";

/// Examples of `versus host run`.
const HOST_RUN_EXAMPLES: &str = "\
Examples:
  versus host run -- getpid 1000000              the cost of a system call on the host
  versus host run -- memtouch 64                 page-fault cost of 64 MiB
  versus host run --timeout 2s -- compute 1000000000
  versus host run --json -- startup              the full report as JSON
  versus host run --workload ./hello -- world    any static x86-64 program; its output is printed live";

/// `versus host`: its one action.
#[derive(Debug, Subcommand)]
pub(crate) enum HostAction {
    /// Run one task and print its results, phases and exit.
    #[command(after_help = HOST_RUN_EXAMPLES)]
    Run(RunArgs),
}

/// Every size flag reads sizes the same way (`512M`, `1.5G`, `64mib`).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    bench::units::parse_size(text).map_err(|err| err.to_string())
}

/// Options shared by every `run` subcommand.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Run this static x86-64 ELF instead of the embedded workload; the
    /// arguments are passed to it unchecked, and its output is printed as
    /// it runs.
    #[arg(long, value_name = "PATH")]
    pub(crate) workload: Option<PathBuf>,

    /// Stop the workload after this long (e.g. `500ms`, `10s`, `2m`).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,

    /// Print the full report as JSON instead of tables; the program's own
    /// output goes into the report (`stdout`, `stderr`), not to the terminal.
    #[arg(long)]
    pub(crate) json: bool,

    /// The task and its arguments (`getpid 1000000`), or a program's
    /// arguments (`--workload`), or a command (container `--rootfs`/`--busybox`).
    #[arg(
        long_help = task_long_help(),
        trailing_var_arg = true,
        required_unless_present = "workload",
        value_name = "TASK|COMMAND"
    )]
    pub(crate) task: Vec<String>,
}

/// The `--help` text of the task argument: what it can be, where versus'
/// own options end, and the tasks.
fn task_long_help() -> String {
    format!(
        "What to run, and its arguments:\n\
         - a task of the embedded workload, e.g. `getpid 1000000` (tasks below);\n\
         - with --workload PATH, the arguments of that program;\n\
         - in a container with --rootfs DIR or --busybox, a command of the root \
         filesystem, by its path or a name found on the container's PATH, e.g. \
         `sh -c 'ls /'` (with --busybox, a word that is not a task is a command).\n\
         versus' options come before it; everything from the task on (or after `--`) \
         belongs to the task, even words that start with `-`.\n\n{}",
        bench::workload::task_help().trim_end()
    )
}

/// The one duration grammar of versus' flags (humantime's: `500ms`, `10s`,
/// `2m`, `1h 30m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    // A word such as `--json` is an option forgotten after --timeout, not a
    // negative duration: humantime names it as "expected number".
    let negative = text
        .trim_start()
        .strip_prefix('-')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'));
    if negative {
        return Err(format!(
            "'{text}' is negative; give a duration above zero, like 500ms, 10s or 2m"
        ));
    }
    let duration = humantime::parse_duration(text)
        .map_err(|err| format!("{err} (write it like 500ms, 10s or 2m)"))?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

impl RunArgs {
    /// Checks the workload and, with `check_task`, the task (false: the
    /// arguments are a command of their own, an external root
    /// filesystem's), and turns them into a [`Launch`]. Every `run`
    /// subcommand comes through here: the program's own output is printed
    /// live, as `docker run` prints it, unless `--json` asks for nothing
    /// but JSON on stdout (the report then holds the output).
    pub(crate) fn launch(&self, check_task: bool) -> Result<Launch> {
        let launch = bench::request::launch(
            self.workload.as_deref(),
            &self.task,
            self.timeout,
            check_task,
        )?;
        Ok(Launch {
            echo: !self.json,
            ..launch
        })
    }
}

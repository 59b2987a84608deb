//! The task table: each task's name, its numeric parameters (with defaults
//! and allowed ranges) and the function that runs it.

mod bench;
mod fuzz;
mod info;
mod probe;
mod spawn;
mod suite;

use crate::out::{Line, STDOUT};
use crate::sys::{self, Errno};

/// The most parameters any task takes (`write N BYTES`).
pub const MAX_PARAMS: usize = 2;

/// One decimal parameter of a task.
pub struct Param {
    /// As shown in usage and error messages (`N`, `MIB`, `BYTES`).
    pub name: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
}

/// Why a task did not complete.
pub enum Failure {
    /// A system call failed; the caller reports `error=<ERRNO>`.
    Sys(Errno),
    /// The task has already written what went wrong (the suite does).
    Reported,
}

impl From<Errno> for Failure {
    fn from(errno: Errno) -> Self {
        Self::Sys(errno)
    }
}

pub type Outcome = Result<(), Failure>;

pub struct Task {
    pub name: &'static str,
    pub params: &'static [Param],
    /// Receives the parameter values in `params` order; unused slots are 0.
    pub run: fn(&[u64; MAX_PARAMS]) -> Outcome,
}

/// Every task, in the order the usage message lists them.
pub static TASKS: [&Task; 12] = [
    &STARTUP,
    &bench::GETPID,
    &bench::COMPUTE,
    &bench::MEMTOUCH,
    &bench::WRITE,
    &info::UNAME,
    &info::IDS,
    &info::STATUS,
    &probe::PROBE,
    &spawn::SPAWN,
    &fuzz::FUZZ,
    &suite::SUITE,
];

pub fn find(name: &[u8]) -> Option<&'static Task> {
    TASKS
        .iter()
        .copied()
        .find(|task| task.name.as_bytes() == name)
}

/// Runs `task` and, if it failed with an errno, writes
/// `@versus task=<name> error=<ERRNO>`.
pub fn run_and_report(task: &Task, values: &[u64; MAX_PARAMS]) -> Outcome {
    let outcome = (task.run)(values);
    if let Err(Failure::Sys(errno)) = outcome {
        // Nothing more can be done if stdout itself is what failed; the
        // exit status still says so.
        let _ = Line::result(task.name)
            .field_errno("error", errno)
            .emit(STDOUT);
    }
    outcome
}

/// CLOCK_MONOTONIC in nanoseconds, the clock every timed task uses.
fn now() -> Result<u64, Errno> {
    sys::monotonic_ns()
}

pub static STARTUP: Task = Task {
    name: "startup",
    params: &[],
    run: startup,
};

/// Does nothing beyond the start marker and this line: it measures what it
/// costs to get a process (container, VM) to its first instruction.
fn startup(_: &[u64; MAX_PARAMS]) -> Outcome {
    Line::result("startup").emit(STDOUT)?;
    Ok(())
}

//! The task table: each entry of the shared catalog
//! (`versus_protocol::catalog`: name, parameters, defaults, ranges) paired
//! with the function that runs it.

mod bench;
mod fuzz;
mod info;
mod park;
mod probe;
mod spawn;
mod suite;

use versus_protocol::catalog::{self, TaskSpec};
pub use versus_protocol::catalog::{MAX_PARAMS, Param};

use crate::out::{Line, STDOUT};
use crate::sys::{self, Errno};

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
    /// Name and parameters, from the catalog the harness checks against.
    pub spec: &'static TaskSpec,
    /// Receives the parameter values in `params` order; unused slots are 0.
    pub run: fn(&[u64; MAX_PARAMS]) -> Outcome,
}

/// Every task, in the catalog's order (the usage message lists them so).
pub static TASKS: [&Task; catalog::TASKS.len()] = [
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
    &park::PARK,
    &suite::SUITE,
];

// The table runs exactly the catalog's tasks, in its order: a task the
// harness accepts is one the workload knows, checked when this builds.
const _: () = {
    let mut i = 0;
    while i < TASKS.len() {
        assert!(catalog::same_name(
            TASKS[i].spec.name,
            catalog::TASKS[i].name
        ));
        i += 1;
    }
};

pub fn find(name: &[u8]) -> Option<&'static Task> {
    TASKS
        .iter()
        .copied()
        .find(|task| task.spec.name.as_bytes() == name)
}

/// Runs `task` and, if it failed with an errno, writes
/// `@versus task=<name> error=<ERRNO>`.
pub fn run_and_report(task: &Task, values: &[u64; MAX_PARAMS]) -> Outcome {
    let outcome = (task.run)(values);
    if let Err(Failure::Sys(errno)) = outcome {
        // Nothing more can be done if stdout itself is what failed; the
        // exit status still says so.
        let _ = Line::result(task.spec.name)
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
    spec: &catalog::STARTUP,
    run: startup,
};

/// Does nothing beyond the start marker and this line: it measures what it
/// costs to get a process (container, VM) to its first instruction.
fn startup(_: &[u64; MAX_PARAMS]) -> Outcome {
    Line::result("startup").emit(STDOUT)?;
    Ok(())
}

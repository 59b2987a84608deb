//! Every task once, with arguments small enough for a quick overview.

use versus_protocol::catalog;

use super::{Failure, MAX_PARAMS, Outcome, Task, bench, info, probe, run_and_report, spawn};
use crate::out::{Line, STDOUT};

pub static SUITE: Task = Task {
    spec: &catalog::SUITE,
    run: suite,
};

/// The tasks and the arguments the suite runs them with, in order.
static STEPS: [(&Task, [u64; MAX_PARAMS]); 10] = [
    (&super::STARTUP, [0, 0]),
    (&bench::GETPID, [100_000, 0]),
    (&bench::COMPUTE, [1_000_000, 0]),
    (&bench::MEMTOUCH, [16, 0]),
    (&bench::WRITE, [100, 64]),
    (&info::UNAME, [0, 0]),
    (&info::IDS, [0, 0]),
    (&info::STATUS, [0, 0]),
    (&probe::PROBE, [0, 0]),
    (&spawn::SPAWN, [8, 0]),
];

/// Runs each step even after one fails, then reports how many completed.
fn suite(_: &[u64; MAX_PARAMS]) -> Outcome {
    let completed = STEPS
        .iter()
        .filter(|(task, values)| run_and_report(task, values).is_ok())
        .count();
    Line::result("suite")
        .field_dec("completed", completed as u64)
        .emit(STDOUT)?;
    if completed == STEPS.len() {
        Ok(())
    } else {
        Err(Failure::Reported)
    }
}

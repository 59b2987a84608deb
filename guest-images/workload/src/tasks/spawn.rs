//! Process creation under a limit: N children alive at once, so that a
//! cgroup `pids` limit (or a kernel without fork) stops the loop and the
//! count shows where.

use versus_protocol::catalog;

use super::{MAX_PARAMS, Outcome, Task, now};
use crate::out::{Line, STDOUT};
use crate::sys::{self, Errno, O_CLOEXEC};

pub static SPAWN: Task = Task {
    spec: &catalog::SPAWN,
    run: spawn,
};

/// Forks up to N children that all wait on one pipe, then releases and
/// reaps them. total_ns spans the first fork to the last reap, so
/// ns_per_op is the whole life of one child: create, exit, reap.
fn spawn(values: &[u64; MAX_PARAMS]) -> Outcome {
    let requested = values[0];
    let [read_end, write_end] = match sys::pipe2(O_CLOEXEC) {
        Ok(fds) => fds,
        // A kernel without pipes has no processes to spawn either: that is
        // the same answer as clone failing with ENOSYS, not a failure.
        Err(Errno::ENOSYS) => return report(requested, 0, Some(Errno::ENOSYS), 0),
        Err(errno) => return Err(errno.into()),
    };
    let start = now();

    let mut spawned: u64 = 0;
    let mut failure = None;
    while spawned < requested {
        // SAFETY: the workload is single-threaded; the child only makes raw
        // system calls on its copy of memory and then exits.
        match unsafe { sys::fork() } {
            Ok(0) => child(read_end, write_end),
            Ok(_) => spawned += 1,
            Err(errno) => {
                failure = Some(errno);
                break;
            }
        }
    }

    // Closing the last write end gives every child end-of-file.
    let _ = sys::close(write_end);
    let mut reaped = 0;
    while reaped < spawned {
        match sys::wait_any() {
            Ok(_) => reaped += 1,
            Err(Errno::EINTR) => {}
            // ECHILD: nothing left to wait for (should not happen).
            Err(_) => break,
        }
    }
    let end = now();
    let _ = sys::close(read_end);

    // The clock is checked only now, so that children are reaped either way.
    let total = end?.saturating_sub(start?);
    report(requested, spawned, failure, total)
}

fn report(requested: u64, spawned: u64, failure: Option<Errno>, total: u64) -> Outcome {
    let mut line = Line::result("spawn");
    line.field_dec("requested", requested)
        .field_dec("spawned", spawned);
    match failure {
        Some(errno) => line.field_errno("errno", errno),
        None => line.field("errno", b"none"),
    };
    line.field_dec("total_ns", total)
        .field_per_op("ns_per_op", total, spawned)
        .emit(STDOUT)?;
    Ok(())
}

/// A child: drop its copy of the write end, block until the parent closes
/// its own (end-of-file), exit. Never returns into the parent's code.
fn child(read_end: i32, write_end: i32) -> ! {
    let _ = sys::close(write_end);
    let mut byte = [0u8; 1];
    loop {
        match sys::read(read_end, &mut byte) {
            Ok(0) => break,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    sys::exit_group(0)
}

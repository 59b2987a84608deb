//! The up-front refusal: what one instance holds, measured on one probe
//! instance, and how many of them this host can hold at once by each limit
//! (open descriptors, tasks, versus' pids cgroup, memory).

use super::measure::{START_LIMIT, error_chain, park_launch};
use super::procfs;
use super::{Capacity, ScaleBackend, ScaleError};
use crate::backend::HeldBackend;

/// The share of `MemAvailable` scale lets a plan take: the rest is left
/// for the host and the other work on it.
const MEMORY_SHARE: f64 = 0.8;

/// What one instance holds, measured on one probe instance.
#[derive(Debug, Clone, Copy)]
pub(super) struct InstanceCost {
    /// Descriptors versus holds for it.
    fds: u64,
    /// Tasks it adds: versus' threads for it and its own process.
    tasks: u64,
    /// Memory: its own PSS, the growth of versus' own, and the kernel's.
    memory: u64,
}

/// Starts one instance, measures what it holds, and finishes it.
pub(super) fn probe<B: HeldBackend>(
    backend: &B,
    which: ScaleBackend,
) -> Result<InstanceCost, ScaleError> {
    let problem = |problem: String| ScaleError::Probe {
        backend: which.name(),
        problem,
    };
    let fds_before = procfs::own_entries("fd");
    let tasks_before = procfs::own_entries("task");
    let pss_before = procfs::anon_pss_bytes("self").unwrap_or(0);
    let kernel_before = procfs::MemInfo::read()
        .map_err(ScaleError::MemInfo)?
        .kernel();
    let mut started = backend
        .start(&park_launch())
        .map_err(|error| problem(error_chain(&error)))?;
    let marker = started.wait_started(START_LIMIT);
    let fds = procfs::own_entries("fd").saturating_sub(fds_before) as u64;
    let own_pid = started.process().and_then(|process| process.pid);
    let tasks = procfs::own_entries("task").saturating_sub(tasks_before) as u64
        + u64::from(own_pid.is_some());
    let own_pss = own_pid
        .and_then(|pid| procfs::pss_bytes(&pid.to_string()))
        .unwrap_or(0);
    let growth = procfs::anon_pss_bytes("self")
        .unwrap_or(0)
        .saturating_sub(pss_before);
    // One instance's kernel growth is within the host's noise; it is
    // counted when it shows (KVM's vmalloc'd structures do), never below 0.
    let kernel = procfs::MemInfo::read()
        .map_err(ScaleError::MemInfo)?
        .kernel()
        .saturating_sub(kernel_before);
    let report = started.wait();
    if marker.is_none() {
        return Err(problem(match report {
            Ok(report) => format!("no start marker; it ended with {:?}", report.exit),
            Err(error) => error_chain(&error),
        }));
    }
    Ok(InstanceCost {
        fds: fds.max(1),
        tasks: tasks.max(1),
        memory: own_pss + growth + kernel,
    })
}

/// The most instances this host can hold, by each limit in turn: open
/// descriptors, tasks (pid_max, threads-max), versus' pids cgroup, memory.
pub(super) fn capacity(which: ScaleBackend, cost: &InstanceCost) -> Result<Capacity, ScaleError> {
    let mut limits: Vec<(u64, String)> = Vec::new();
    let open_now = procfs::own_entries("fd") as u64;
    let limit = procfs::open_files_limit();
    limits.push((
        limit.saturating_sub(open_now) / cost.fds,
        format!(
            "each holds {} file descriptors in versus and the open-file limit \
             (RLIMIT_NOFILE) is {limit} with {open_now} open; raise it with `ulimit -n`",
            cost.fds
        ),
    ));
    if let Some((free, source)) = procfs::free_task_slots() {
        limits.push((
            free / cost.tasks,
            format!(
                "each needs {} tasks (threads and processes) and {source} leaves {free} free",
                cost.tasks
            ),
        ));
    }
    if let Some((free, file)) = procfs::free_pids_in_own_cgroup() {
        limits.push((
            free / cost.tasks,
            format!(
                "each needs {} tasks and versus' pids cgroup admits {free} more ({})",
                cost.tasks,
                file.display()
            ),
        ));
    }
    let available = procfs::MemInfo::read()
        .map_err(ScaleError::MemInfo)?
        .available;
    let budget = (available as f64 * MEMORY_SHARE) as u64;
    limits.push((
        budget / cost.memory.max(1),
        format!(
            "each costs about {} (measured on one) and {:.0} % of MemAvailable is {}",
            crate::fmt::bytes(cost.memory),
            MEMORY_SHARE * 100.0,
            crate::fmt::bytes(budget)
        ),
    ));
    let (can_hold, limited_by) = limits
        .into_iter()
        .min_by_key(|(room, _)| *room)
        .unwrap_or((u64::MAX, String::new()));
    Ok(Capacity {
        backend: which,
        fds_per_instance: cost.fds,
        tasks_per_instance: cost.tasks,
        memory_per_instance_bytes: cost.memory,
        can_hold,
        limited_by,
    })
}

//! One backend at one count: start N `park` instances, a bounded number at
//! a time, measure what they cost while all are alive, finish them, time the
//! teardown and check nothing was left behind.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::procfs;
use super::{ScaleBackend, ScaleError, ScalePoint};
use crate::backend::{BackendError, HeldBackend, Launch, Started};
use crate::stats::Summary;
use crate::workload::Workload;

/// How long one instance may take to reach its start marker before scale
/// calls it failed: generous, since a VM boots under an emulated ring 0
/// here and hundreds start on a couple of cores.
pub(super) const START_LIMIT: Duration = Duration::from_secs(120);

/// How long the teardown check waits for versus' reader threads to end
/// after the last instance was reaped (they end as their pipes close).
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// How often the teardown check looks again while it waits.
const SETTLE_POLL: Duration = Duration::from_millis(20);
/// While holding parked instances (`--hold`), how often versus looks for
/// Ctrl-C: 10 wake-ups a second, next to nothing beside what is measured.
const HOLD_POLL: Duration = Duration::from_millis(100);

/// The `park` launch every instance runs: no timeout, since scale
/// finishes it; no echo, since hundreds print nothing useful.
pub(super) fn park_launch() -> Launch {
    Launch {
        workload: Workload::embedded(),
        argv: vec!["park".to_string()],
        timeout: None,
        echo: false,
    }
}

/// An error and its causes on one line.
pub(super) fn error_chain(error: &BackendError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// What versus holds before the instances start, to check the teardown
/// against.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    fds: usize,
    tasks: usize,
    mounts: usize,
}

impl Baseline {
    fn now() -> Self {
        Self {
            fds: procfs::own_entries("fd"),
            tasks: procfs::own_entries("task"),
            mounts: procfs::own_mounts(),
        }
    }

    /// What is still held beyond the baseline, waiting up to
    /// [`SETTLE_LIMIT`] for reader threads to end as their pipes close.
    fn leftovers(&self, cgroups: &[std::path::PathBuf]) -> Vec<String> {
        let deadline = Instant::now() + SETTLE_LIMIT;
        loop {
            let mut left = Vec::new();
            let children = procfs::own_children();
            if !children.is_empty() {
                left.push(format!("child processes {children:?}"));
            }
            for dir in cgroups.iter().filter(|dir| dir.exists()) {
                left.push(format!("cgroup {}", dir.display()));
            }
            let Baseline { fds, tasks, mounts } = Baseline::now();
            if fds > self.fds {
                left.push(format!("{} more open descriptors", fds - self.fds));
            }
            if tasks > self.tasks {
                left.push(format!("{} more threads", tasks - self.tasks));
            }
            if mounts != self.mounts {
                left.push(format!("{mounts} mounts instead of {}", self.mounts));
            }
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(SETTLE_POLL);
        }
    }
}

/// Why starting stopped early.
enum StartStop {
    Failed { at: usize, problem: String },
    Interrupted,
}

/// Starts `count` instances, `parallelism` at a time, measures them while
/// all are alive, finishes them and checks the teardown.
pub(super) fn measure<B: HeldBackend + Sync>(
    backend: &B,
    which: ScaleBackend,
    count: usize,
    parallelism: usize,
    hold: Duration,
) -> Result<ScalePoint, ScaleError> {
    let baseline = Baseline::now();
    let memory_before = procfs::MemInfo::read().map_err(ScaleError::MemInfo)?;
    let pss_before = procfs::anon_pss_bytes("self").unwrap_or(0);
    let launch = park_launch();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let stopped: Mutex<Option<StartStop>> = Mutex::new(None);
    let held: Mutex<Vec<(Started, Option<Instant>)>> = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..parallelism.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if crate::interrupt::requested() {
                        stop.store(true, Ordering::SeqCst);
                        stopped
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .get_or_insert(StartStop::Interrupted);
                        return;
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= count {
                        return;
                    }
                    let fail = |problem: String| {
                        stop.store(true, Ordering::SeqCst);
                        // An instance that Ctrl-C stopped before its marker
                        // did not fail: the interrupt is the reason.
                        let why = if crate::interrupt::requested() {
                            StartStop::Interrupted
                        } else {
                            StartStop::Failed {
                                at: index + 1,
                                problem,
                            }
                        };
                        stopped
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .get_or_insert(why);
                    };
                    match backend.start(&launch) {
                        Ok(mut started) => {
                            let marker = started.wait_started(START_LIMIT);
                            if marker.is_none() {
                                fail(format!(
                                    "no start marker within {}",
                                    humantime::format_duration(START_LIMIT)
                                ));
                            }
                            held.lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push((started, marker));
                        }
                        Err(error) => fail(error_chain(&error)),
                    }
                }
            });
        }
    });
    let mut held = held.into_inner().unwrap_or_else(PoisonError::into_inner);
    let last_marker = held.iter().filter_map(|(_, marker)| *marker).max();
    let first_launch = held.iter().map(|(started, _)| started.launched_at()).min();
    let started_count = held.iter().filter(|(_, marker)| marker.is_some()).count();
    let cgroups: Vec<std::path::PathBuf> = held
        .iter()
        .filter_map(|(started, _)| started.process())
        .flat_map(|process| process.cgroup_paths.clone())
        .collect();

    if let Some(why) = stopped.into_inner().unwrap_or_else(PoisonError::into_inner) {
        for (started, _) in held {
            let _ = started.wait();
        }
        let left = baseline.leftovers(&cgroups);
        return Err(match why {
            StartStop::Failed { at, problem } => ScaleError::InstanceFailed {
                backend: which.name(),
                count,
                started: started_count,
                failed_at: at,
                problem,
                left,
            },
            StartStop::Interrupted => ScaleError::Interrupted {
                backend: which.name(),
                count,
                started: started_count,
                left,
            },
        });
    }

    // All alive: measure.
    let memory_alive = procfs::MemInfo::read().map_err(ScaleError::MemInfo)?;
    let pss_alive = procfs::anon_pss_bytes("self").unwrap_or(0);
    let mut own_pss = Vec::new();
    let mut cgroup_memory = Vec::new();
    for (started, _) in &mut held {
        if let Some(process) = started.process() {
            if let Some(pid) = process.pid {
                own_pss.push(procfs::pss_bytes(&pid.to_string()).unwrap_or(0));
            }
            if let Some(bytes) = procfs::cgroup_memory_bytes(&process.cgroup_paths) {
                cgroup_memory.push(bytes);
            }
        }
    }
    let latencies: Vec<f64> = held
        .iter_mut()
        .filter_map(|(started, marker)| {
            marker.map(|at| {
                at.saturating_duration_since(started.launched_at())
                    .as_nanos() as f64
            })
        })
        .collect();

    hold_parked(hold);

    // Tear down: finish every one, then wait for every report.
    let teardown_from = Instant::now();
    for (started, _) in &mut held {
        started.finish();
    }
    let reports: Vec<_> = held
        .into_iter()
        .map(|(started, _)| started.wait())
        .collect();
    let teardown_ns = teardown_from.elapsed().as_nanos() as u64;
    let leftovers = baseline.leftovers(&cgroups);
    let guest_touched: Vec<u64> = reports
        .iter()
        .flatten()
        .filter_map(|report| report.memory.guest_touched_bytes)
        .collect();
    if let Some((at, error)) = reports
        .iter()
        .enumerate()
        .find_map(|(index, report)| report.as_ref().err().map(|error| (index, error)))
    {
        return Err(ScaleError::InstanceFailed {
            backend: which.name(),
            count,
            started: started_count,
            failed_at: at + 1,
            problem: error_chain(error),
            left: leftovers,
        });
    }

    let start_all_ns = match (first_launch, last_marker) {
        (Some(first), Some(last)) => last.saturating_duration_since(first).as_nanos() as u64,
        _ => 0,
    };
    let versus_growth = pss_alive as i64 - pss_before as i64;
    let own_mean = mean(&own_pss);
    Ok(ScalePoint {
        backend: which,
        count,
        started: started_count,
        start_all_ns,
        starts_per_second: if start_all_ns == 0 {
            0.0
        } else {
            started_count as f64 / (start_all_ns as f64 / 1e9)
        },
        // Every instance reached its marker here, so there is one latency per
        // instance; an empty summary only for a count of 0, which the CLI refuses.
        start_latency: Summary::of(&latencies).unwrap_or(Summary {
            n: 0,
            median: 0.0,
            p95: None,
            min: 0.0,
            max: 0.0,
            mean: 0.0,
            stddev: None,
            iqr: 0.0,
        }),
        own_pss_bytes: own_mean.unwrap_or(0),
        versus_pss_growth_bytes: versus_growth,
        pss_per_instance_bytes: own_mean.unwrap_or(0) as i64 + versus_growth / count.max(1) as i64,
        guest_touched_bytes: mean(&guest_touched),
        cgroup_memory_bytes: mean(&cgroup_memory),
        kernel_growth_bytes: memory_alive.kernel() as i64 - memory_before.kernel() as i64,
        host_memory_bytes: memory_before.available as i64 - memory_alive.available as i64,
        teardown_ns,
        leftovers,
    })
}

/// Keeps the parked instances alive for `hold`, or until Ctrl-C/SIGTERM
/// (the teardown that follows then stops them as usual).
fn hold_parked(hold: Duration) {
    let until = Instant::now() + hold;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || crate::interrupt::requested() {
            return;
        }
        std::thread::sleep(left.min(HOLD_POLL));
    }
}

/// The mean of `values`, `None` for none.
fn mean(values: &[u64]) -> Option<u64> {
    (!values.is_empty()).then(|| values.iter().sum::<u64>() / values.len() as u64)
}

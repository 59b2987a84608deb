//! `versus scale`: density. For each backend and count it starts N `park`
//! instances at once (bounded by the host's cores), measures what they
//! cost the host while all N are alive, finishes them, times the teardown
//! and checks nothing was left behind; then fits memory against N.
//!
//! Where the memory is: a host process and a container's PID 1 are
//! processes of their own, so each has its own proportional set size. A VM
//! is not: its vCPU threads and guest memory live inside versus' own
//! process (as Firecracker's would live in its VMM process). So every
//! instance is charged its own process's PSS (none for a VM) plus an equal
//! share of how much versus' own anonymous PSS grew while the instances
//! were alive — the same rule for every backend, and for a VM the whole of
//! its cost. (Anonymous: versus' file pages are its binary, whose share
//! moves with every other versus process on the host, not with the
//! instances; see `procfs::anon_pss_bytes`.)
//! What no process shows (namespaces, cgroups, page tables, kernel stacks,
//! KVM's structures) is the growth of `Slab`, `PageTables`,
//! `SecPageTables`, `KernelStack` and `VmallocUsed`; the drop in `MemAvailable` is the whole set's cost.

mod fit;
mod procfs;
mod render;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::backend::container::ContainerBackend;
use crate::backend::host::HostBackend;
use crate::backend::vm::{VmBackend, VmSettings};
use crate::backend::{BackendError, HeldBackend, Launch, Started};
use crate::stats::Summary;
use crate::workload::Workload;

pub use fit::{Fit, least_squares};
pub use render::{ScalePlotError, csv, render, write_plot};

/// How long one instance may take to reach its start marker before scale
/// calls it failed: generous, since a VM boots under an emulated ring 0
/// here and hundreds start on a couple of cores.
const START_LIMIT: Duration = Duration::from_secs(120);

/// How long the teardown check waits for versus' reader threads to end
/// after the last instance was reaped (they end as their pipes close).
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// How often the teardown check looks again while it waits.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// The share of `MemAvailable` scale lets a plan take: the rest is left
/// for the host and the other work on it.
const MEMORY_SHARE: f64 = 0.8;

/// The backends scale can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScaleBackend {
    /// Plain host processes.
    Host,
    /// Containers (every namespace, a cgroup, seccomp).
    Container,
    /// VMs on versus' tiny kernel.
    Vm,
}

impl ScaleBackend {
    /// The name in tables and exports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Container => "container",
            Self::Vm => "vm",
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct ScalePlan {
    /// The backends, in order.
    pub backends: Vec<ScaleBackend>,
    /// The instance counts, in order.
    pub counts: Vec<usize>,
    /// How every VM is configured (`--vcpus`, `--mem`).
    pub vm: VmSettings,
    /// How many instances start at once (the host's cores).
    pub parallelism: usize,
}

/// One backend at one count, measured while all its instances were alive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalePoint {
    /// The backend.
    pub backend: ScaleBackend,
    /// Instances asked for.
    pub count: usize,
    /// Instances that reached their start marker.
    pub started: usize,
    /// From the first instance's launch to the last start marker, in
    /// nanoseconds.
    pub start_all_ns: u64,
    /// Instances started per second (`started / start_all`).
    pub starts_per_second: f64,
    /// Launch → start marker of each instance, in nanoseconds.
    pub start_latency: Summary,
    /// Per instance: its own process's PSS (mean; 0 for a VM, which has
    /// no process of its own).
    pub own_pss_bytes: u64,
    /// Growth of versus' own anonymous PSS while the instances were alive
    /// (the VMs' guest memory and vCPU threads, the launchers' threads and
    /// buffers).
    pub versus_pss_growth_bytes: i64,
    /// Per instance: own PSS plus an equal share of versus' growth.
    pub pss_per_instance_bytes: i64,
    /// Per VM: guest memory the guest touched (mean).
    pub guest_touched_bytes: Option<u64>,
    /// Per container: memory charged to its cgroup (mean).
    pub cgroup_memory_bytes: Option<u64>,
    /// Growth of Slab + PageTables + SecPageTables + KernelStack + VmallocUsed over the whole set.
    pub kernel_growth_bytes: i64,
    /// Drop in MemAvailable over the whole set: what the N cost the host.
    pub host_memory_bytes: i64,
    /// Finishing all N until the last was reaped, in nanoseconds.
    pub teardown_ns: u64,
    /// What was left after the teardown (empty: nothing).
    pub leftovers: Vec<String>,
}

/// The memory fits of one backend over its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendFit {
    /// The backend.
    pub backend: ScaleBackend,
    /// Host memory (MemAvailable drop) against N: the slope is the marginal
    /// bytes per extra instance.
    pub host_memory: Option<Fit>,
    /// The instances' summed PSS against N.
    pub pss: Option<Fit>,
    /// Summed PSS plus the kernel's growth against N: the memory versus
    /// can account for, steadier than MemAvailable on a shared host, where
    /// page cache and other work move MemAvailable by more than a parked
    /// instance costs.
    pub accounted: Option<Fit>,
}

/// Everything one `versus scale` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleReport {
    /// How many instances started at once.
    pub parallelism: usize,
    /// Per backend: what one instance holds and how many the host can hold.
    pub capacities: Vec<Capacity>,
    /// One point per backend and count, in the order measured.
    pub points: Vec<ScalePoint>,
    /// One fit per backend measured at two counts or more.
    pub fits: Vec<BackendFit>,
}

/// Why scale stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The host cannot hold the count asked for.
    #[error(
        "this host can hold at most {can_hold} {backend} instances at once, not {asked}: {why}"
    )]
    TooMany {
        /// The backend.
        backend: &'static str,
        /// The count asked for.
        asked: usize,
        /// The most it can hold.
        can_hold: u64,
        /// Which limit, and how to raise it.
        why: String,
    },
    /// The probe instance that measures an instance's cost failed.
    #[error("the {backend} probe instance failed: {problem}")]
    Probe {
        /// The backend.
        backend: &'static str,
        /// What happened.
        problem: String,
    },
    /// An instance failed; everything was torn down.
    #[error(
        "{backend} instance {failed_at} of {count} failed ({problem}); {started} had started; {}",
        torn_down(.left)
    )]
    InstanceFailed {
        /// The backend.
        backend: &'static str,
        /// The count being measured.
        count: usize,
        /// How many had reached their start marker.
        started: usize,
        /// Which one failed (1-based).
        failed_at: usize,
        /// What happened.
        problem: String,
        /// What the teardown left (empty: nothing).
        left: Vec<String>,
    },
    /// Ctrl-C or SIGTERM: everything was torn down.
    #[error(
        "interrupted after {started} of {count} {backend} instances had started; {}",
        torn_down(.left)
    )]
    Interrupted {
        /// The backend.
        backend: &'static str,
        /// The count being measured.
        count: usize,
        /// How many had started.
        started: usize,
        /// What the teardown left (empty: nothing).
        left: Vec<String>,
    },
    /// Reading /proc failed.
    #[error("cannot read the host's memory counters")]
    MemInfo(#[source] std::io::Error),
}

/// How a stop after a failure ended: all torn down, or what was left.
fn torn_down(left: &[String]) -> String {
    if left.is_empty() {
        "all were torn down, nothing left behind".to_string()
    } else {
        format!("the teardown left {}", left.join("; "))
    }
}

/// Runs the whole plan; `progress` hears a line per point.
pub fn run(plan: &ScalePlan, mut progress: impl FnMut(&str)) -> Result<ScaleReport, ScaleError> {
    let mut points = Vec::new();
    let mut capacities = Vec::new();
    for &backend in &plan.backends {
        let max = plan.counts.iter().copied().max().unwrap_or(0);
        match backend {
            ScaleBackend::Host => measure_backend(
                &HostBackend,
                backend,
                plan,
                max,
                &mut capacities,
                &mut points,
                &mut progress,
            )?,
            ScaleBackend::Container => measure_backend(
                &ContainerBackend::new(),
                backend,
                plan,
                max,
                &mut capacities,
                &mut points,
                &mut progress,
            )?,
            ScaleBackend::Vm => measure_backend(
                &VmBackend::with_settings(plan.vm.clone()),
                backend,
                plan,
                max,
                &mut capacities,
                &mut points,
                &mut progress,
            )?,
        }
    }
    let fits = plan
        .backends
        .iter()
        .filter_map(|&backend| {
            let mine: Vec<&ScalePoint> = points.iter().filter(|p| p.backend == backend).collect();
            let counts: Vec<f64> = mine.iter().map(|p| p.count as f64).collect();
            let host: Vec<f64> = mine.iter().map(|p| p.host_memory_bytes as f64).collect();
            let pss: Vec<f64> = mine
                .iter()
                .map(|p| (p.pss_per_instance_bytes * p.count as i64) as f64)
                .collect();
            let accounted: Vec<f64> = mine
                .iter()
                .zip(&pss)
                .map(|(p, pss)| pss + p.kernel_growth_bytes as f64)
                .collect();
            (mine.len() >= 2).then(|| BackendFit {
                backend,
                host_memory: least_squares(&counts, &host),
                pss: least_squares(&counts, &pss),
                accounted: least_squares(&counts, &accounted),
            })
        })
        .collect();
    Ok(ScaleReport {
        parallelism: plan.parallelism,
        capacities,
        points,
        fits,
    })
}

/// Probes one instance, refuses a count the host cannot hold, then
/// measures every count.
fn measure_backend<B: HeldBackend + Sync>(
    backend: &B,
    which: ScaleBackend,
    plan: &ScalePlan,
    max: usize,
    capacities: &mut Vec<Capacity>,
    points: &mut Vec<ScalePoint>,
    progress: &mut impl FnMut(&str),
) -> Result<(), ScaleError> {
    let cost = probe(backend, which)?;
    let capacity = capacity(which, &cost)?;
    if max as u64 > capacity.can_hold {
        return Err(ScaleError::TooMany {
            backend: which.name(),
            asked: max,
            can_hold: capacity.can_hold,
            why: capacity.limited_by,
        });
    }
    capacities.push(capacity);
    for &count in &plan.counts {
        let point = measure(backend, which, count, plan.parallelism)?;
        // The instances stop themselves on Ctrl-C too; the point measured
        // them, but no further count starts.
        if crate::interrupt::requested() {
            return Err(ScaleError::Interrupted {
                backend: which.name(),
                count,
                started: point.started,
                left: point.leftovers,
            });
        }
        progress(&format!(
            "{}: {} instances started and torn down",
            which.name(),
            point.started
        ));
        points.push(point);
    }
    Ok(())
}

/// What one instance holds, measured on one probe instance.
#[derive(Debug, Clone, Copy)]
struct InstanceCost {
    /// Descriptors versus holds for it.
    fds: u64,
    /// Tasks it adds: versus' threads for it and its own process.
    tasks: u64,
    /// Memory: its own PSS, the growth of versus' own, and the kernel's.
    memory: u64,
}

/// Starts one instance, measures what it holds, and finishes it.
fn probe<B: HeldBackend>(backend: &B, which: ScaleBackend) -> Result<InstanceCost, ScaleError> {
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

/// The most instances of one backend this host can hold at once and the
/// limit that sets it, from what one probe instance held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// The backend.
    pub backend: ScaleBackend,
    /// Descriptors versus holds per instance (measured on the probe).
    pub fds_per_instance: u64,
    /// Tasks (threads and processes) per instance (measured on the probe).
    pub tasks_per_instance: u64,
    /// Memory per instance (the probe's PSS, its own and versus' growth,
    /// and the kernel's growth).
    pub memory_per_instance_bytes: u64,
    /// The most this host can hold at once, by the tightest limit.
    pub can_hold: u64,
    /// That limit, and how to raise it.
    pub limited_by: String,
}

/// The most instances this host can hold, by each limit in turn: open
/// descriptors, tasks (pid_max, threads-max), versus' pids cgroup, memory.
fn capacity(which: ScaleBackend, cost: &InstanceCost) -> Result<Capacity, ScaleError> {
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

/// The `park` launch every instance runs: no timeout, since scale
/// finishes it; no echo, since hundreds print nothing useful.
fn park_launch() -> Launch {
    Launch {
        workload: Workload::embedded(),
        argv: vec!["park".to_string()],
        timeout: None,
        echo: false,
    }
}

/// An error and its causes on one line.
fn error_chain(error: &BackendError) -> String {
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
            let (fds, tasks, mounts) = (
                procfs::own_entries("fd"),
                procfs::own_entries("task"),
                procfs::own_mounts(),
            );
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
fn measure<B: HeldBackend + Sync>(
    backend: &B,
    which: ScaleBackend,
    count: usize,
    parallelism: usize,
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

/// The mean of `values`, `None` for none.
fn mean(values: &[u64]) -> Option<u64> {
    (!values.is_empty()).then(|| values.iter().sum::<u64>() / values.len() as u64)
}

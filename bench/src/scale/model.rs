//! The types of `versus scale`: what to measure ([`ScalePlan`]), what one
//! backend at one count measured ([`ScalePoint`]), what a backend can hold
//! ([`Capacity`]), the memory fits ([`BackendFit`]), the whole report
//! ([`ScaleReport`]) and why scale stopped ([`ScaleError`]).

use serde::{Deserialize, Serialize};

use super::Fit;
use crate::backend::vm::VmSettings;
use crate::stats::Summary;

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
    /// How long every count's instances stay alive (parked) after they were
    /// measured, before they are finished: a window in which to watch what
    /// idle instances cost the host (`--hold`; zero: finish at once).
    pub hold: std::time::Duration,
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

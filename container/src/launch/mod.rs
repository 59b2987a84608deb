//! Launch and wait (the parent side of steps 1, 2 and 5); the
//! [`Report`](crate::report::Report) it fills in is described in [`crate::report`].
//!
//! [`ContainerSpec::spawn`](crate::spec::ContainerSpec::spawn) creates the cgroup,
//! clones the child into its namespaces (and, with `clone3`, straight into its cgroup
//! v2 directory), writes the id maps, lets it go, moves it into the rest of its cgroup
//! while it mounts its root, tells it so (`joined`), and returns once the child has
//! executed the command (or with an error, after cleaning up).
//! [`Running::wait`] waits for the end (or a timeout, or the caller's interrupt flag),
//! reaps, reads the cgroup statistics and removes the cgroup.
//!
//! Cleanup is structural: a guard owns the child and the cgroup from the moment they
//! exist, and its `Drop` kills and reaps the child and removes the cgroup, on every
//! path — success, setup error, timeout, interrupt, panic, or a dropped [`Running`].
//!
//! The parts: `spawn` (steps 1–5 up to `execve`), `clone3` (the fork into the
//! cgroup), `running` (wait, kill, teardown and
//! the report), `guard` (the owner of the child and the cgroup), `io` (the parent's
//! descriptors and the child's report pipe) and `messages` (what a failed setup stage
//! or a failed `clone` tells the user).

mod clone3;
mod guard;
mod io;
mod messages;
mod running;
mod spawn;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::capabilities::CapabilitySet;
use crate::cgroup::Limits;
use crate::lsm::LsmInfo;
use crate::report::{Nanos, Phases};
use crate::seccomp::SeccompMode;
use crate::spec::{IdMap, Namespace};
use guard::Guard;

pub use crate::report::signal_name;
pub use running::{launcher_peak_rss, wake_waiters};

/// How long the child may take to report that its setup is done before it is killed.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the report needs from the spec, kept while the container runs.
#[derive(Debug)]
struct Info {
    id: String,
    limits: Limits,
    namespaces: Vec<Namespace>,
    shared: Vec<Namespace>,
    id_maps: Option<(IdMap, IdMap)>,
    rootless: bool,
    kept: CapabilitySet,
    seccomp: SeccompMode,
    seccomp_instructions: Option<usize>,
    lsm: LsmInfo,
    rootfs: String,
    read_only: bool,
    hostname: Option<String>,
    layout: &'static str,
    notes: Vec<String>,
    stop_signal: Signal,
    stop_grace: Duration,
}

/// A container whose command is running. Dropping it kills the container and cleans up.
#[derive(Debug)]
pub struct Running {
    guard: Guard,
    info: Info,
    phases: Phases,
    launched_at: Instant,
    exec_started_at: Instant,
    spawned_at: Instant,
}

fn nanos(from: Instant, to: Instant) -> Nanos {
    to.saturating_duration_since(from).as_nanos() as Nanos
}

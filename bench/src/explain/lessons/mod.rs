//! The lessons: each runs the real thing through the library's backends
//! and returns the figures it measured, as lines for the "on this machine"
//! part. Every verdict printed is computed from those figures.
//!
//! This file holds the topics' names and what every lesson shares: running
//! a task on a backend (`run`, `run_any`), reading its results
//! (`uname_in`, `missing`) and looking at a running container from the
//! host (`watched_container`). The lessons themselves are grouped by what
//! they show:
//!
//! - `stacks`: `two-stacks`, `windows-and-mac`, `images` — the kernel each
//!   place runs on, and what a container image or a VM carries;
//! - `isolation`: `no-translation`, `namespaces`, `chroot-vs-pivot_root` —
//!   the container as a host process in its own namespaces and root;
//! - `privileges`: `capabilities`, `seccomp`, `lsm` — what root in a
//!   container may still do;
//! - `resources`: `cgroups` — limits the kernel enforces;
//! - `vm`: `exits` — what makes a VM exit;
//! - `history`: `lxc-docker-history` — chroot to OCI, checked on this host.

use std::time::Duration;

use super::ExplainError;
use super::observe::{self, Look, Watcher};
use crate::backend::container::ContainerBackend;
use crate::backend::{Backend, Launch};
use crate::report::RunReport;
use crate::workload::{TaskResult, Workload};

mod history;
mod isolation;
mod privileges;
mod resources;
mod stacks;
mod vm;

pub(crate) use history::history;
pub(crate) use isolation::{chroot_vs_pivot_root, namespaces, no_translation};
pub(crate) use privileges::{capabilities, lsm, seccomp};
pub(crate) use resources::cgroups;
pub(crate) use stacks::{images, read_linux_kernel, two_stacks, two_stacks_linux, windows_and_mac};
pub(crate) use vm::exits;

/// `two-stacks`: uname in the VM, the container and on the host.
pub const TWO_STACKS: &str = "two-stacks";
/// `no-translation`: the container's getpid costs the host's.
pub const NO_TRANSLATION: &str = "no-translation";
/// `namespaces`: each kind of namespace shown live.
pub const NAMESPACES: &str = "namespaces";

/// `chroot-vs-pivot_root`: the classic chroot escape, tried live.
pub const CHROOT_VS_PIVOT_ROOT: &str = "chroot-vs-pivot_root";

/// `capabilities`: what root in a container may still do.
pub const CAPABILITIES: &str = "capabilities";

/// `seccomp`: a call only the filter refuses.
pub const SECCOMP: &str = "seccomp";

/// `cgroups`: limits that the kernel enforces, measured.
pub const CGROUPS: &str = "cgroups";

/// `lsm`: the security modules of the host, and the container's label.
pub const LSM: &str = "lsm";

/// `images`: what a container image holds next to a VM's.
pub const IMAGES: &str = "images";

/// `lxc-docker-history`: chroot to OCI, each step checked on this host.
pub const HISTORY: &str = "lxc-docker-history";

/// `windows-and-mac`: why Docker Desktop runs a Linux VM.
pub const WINDOWS_AND_MAC: &str = "windows-and-mac";

/// `exits`: what makes a VM exit.
pub const EXITS: &str = "exits";

/// The getpid calls of a container run that versus looks at from the host
/// while it runs: long enough (a fraction of a second even on a fast
/// machine) for the watcher to find the process and read /proc after its
/// exec, short enough not to make the class wait.
const WATCHED_GETPID: &str = "5000000";

/// The longest a lesson waits for one run: far more than any lesson's
/// task takes, even on software KVM, so that only a stuck run hits it.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `argv` on `backend`, which the lesson calls `place`; it must
/// succeed.
fn run(backend: &dyn Backend, place: &str, argv: &[&str]) -> Result<RunReport, ExplainError> {
    let report = run_any(backend, place, argv)?;
    if !report.exit.success() {
        return Err(ExplainError::Workload {
            place: place.to_string(),
            what: format!("{} ({})", report.exit.describe(), report.stderr.trim()),
        });
    }
    Ok(report)
}

/// Runs `argv` on `backend` however the program ends: for a lesson whose
/// figure is a refusal.
fn run_any(backend: &dyn Backend, place: &str, argv: &[&str]) -> Result<RunReport, ExplainError> {
    let launch = Launch {
        workload: Workload::embedded(),
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        timeout: Some(RUN_TIMEOUT),
        echo: false,
    };
    let report = backend
        .run(&launch)
        .map_err(|source| ExplainError::Backend {
            place: place.to_string(),
            source,
        })?;
    Ok(report)
}

/// The kernel name and release the workload's `uname` printed in `report`
/// (run at `place`).
fn uname_in(report: &RunReport, place: &str) -> Result<(String, String), ExplainError> {
    report
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Uname {
                sysname, release, ..
            } => Some((sysname.clone(), release.clone())),
            _ => None,
        })
        .ok_or_else(|| missing(place, "uname"))
}

/// The figure a run must have produced, or the error saying it did not.
fn missing(place: &str, task: &str) -> ExplainError {
    ExplainError::Workload {
        place: place.to_string(),
        what: format!("printed no {task} result"),
    }
}

/// Runs a watched container (`getpid` long enough to be looked at) and
/// returns what the host saw, or the error saying the process was missed.
fn watched_container(
    backend: &ContainerBackend,
    place: &str,
    look: Look,
) -> Result<observe::Seen, ExplainError> {
    let watcher = Watcher::start(look);
    let report = run(backend, place, &["getpid", WATCHED_GETPID]);
    let seen = watcher.finish();
    report?;
    seen.ok_or_else(|| ExplainError::Workload {
        place: place.to_string(),
        what: "ended before versus could look at it in /proc (run the lesson again)".to_string(),
    })
}

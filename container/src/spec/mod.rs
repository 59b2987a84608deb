//! The container description: [`ContainerBuilder`] → [`ContainerSpec`].
//!
//! `build()` checks everything that can be checked before launch — names, sizes,
//! limits, capability and namespace names, the root filesystem and the command inside
//! it, cgroup controllers, rootless prerequisites — and prepares everything the child
//! will need (the mount steps, the capability plan, the compiled seccomp filter), so
//! that `spawn()` only has to act.
//!
//! The parts: `namespace` (the namespace kinds and id maps), `builder` (the builder and
//! the order of the checks in `build`), `checks` (one function per concern: namespaces,
//! command and hostname, root filesystem, security, cgroups, user-namespace maps,
//! environment, notes) and `host_facts` (what the checks need to know about the host).

mod builder;
mod checks;
mod host_facts;
mod namespace;

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use seccompiler::BpfProgram;

use crate::capabilities::{CapPlan, CapabilitySet};
use crate::cgroup::CgroupPlan;
use crate::lsm::LsmInfo;
use crate::rootfs::{PlannedRootfs, Step};
use crate::seccomp::SeccompMode;

pub use crate::cgroup::Limits;
pub use builder::ContainerBuilder;
pub(crate) use host_facts::HostFacts;
pub use namespace::{IdMap, Namespace};

/// The smallest memory limit accepted (Docker's minimum is 6 MiB).
pub const MIN_MEMORY: u64 = 6 << 20;

/// The host uid/gid that container uid/gid 0 maps to when root asks for a user
/// namespace (a range of 65536 ids, as a `/etc/subuid` entry would give).
pub const ROOT_USERNS_BASE: u32 = 100_000;

/// The length of that range.
pub const ROOT_USERNS_SIZE: u32 = 65_536;

/// A validated container, ready to [`spawn`](ContainerSpec::spawn).
#[derive(Debug)]
pub struct ContainerSpec {
    pub(crate) id: String,
    pub(crate) argv: Vec<CString>,
    /// The path given to `execve` (`argv[0]`, or where it was found on `PATH`).
    pub(crate) exec_path: CString,
    /// The uid and gid the command runs as (`None`: root of the container).
    pub(crate) user: Option<(u32, u32)>,
    pub(crate) env: Vec<CString>,
    pub(crate) hostname: Option<String>,
    pub(crate) limits: Limits,
    pub(crate) namespaces: Vec<Namespace>,
    pub(crate) shared: Vec<Namespace>,
    pub(crate) id_maps: Option<(IdMap, IdMap)>,
    pub(crate) rootless: bool,
    pub(crate) kept: CapabilitySet,
    pub(crate) cap_plan: CapPlan,
    pub(crate) seccomp: SeccompMode,
    pub(crate) seccomp_program: Option<Arc<BpfProgram>>,
    pub(crate) read_only: bool,
    pub(crate) rootfs_desc: String,
    /// Holds the host files (open descriptors) the steps bind from.
    #[allow(dead_code)]
    pub(crate) planned: PlannedRootfs,
    pub(crate) steps: Vec<Step>,
    pub(crate) cgroup: Option<CgroupPlan>,
    pub(crate) cgroup_layout: &'static str,
    pub(crate) lsm: LsmInfo,
    pub(crate) stdin: Option<OwnedFd>,
    /// A pty slave: stdin, stdout, stderr and the controlling terminal of PID 1.
    pub(crate) terminal: Option<OwnedFd>,
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
    pub(crate) stop_signal: Signal,
    pub(crate) stop_grace: Duration,
    pub(crate) notes: Vec<String>,
}

impl ContainerSpec {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespaces that will be created (the others are shared with the launcher).
    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }

    /// Whether the container runs without root (in a user namespace mapping the caller to 0).
    pub fn rootless(&self) -> bool {
        self.rootless
    }

    /// The kept capabilities.
    pub fn capabilities(&self) -> &CapabilitySet {
        &self.kept
    }

    /// The child's setup steps, in order, described in words (for `--dry-run`-style output).
    pub fn setup_steps(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.what.clone()).collect()
    }

    /// The number of instructions of the seccomp filter (`None` when unconfined).
    pub fn seccomp_instructions(&self) -> Option<usize> {
        self.seccomp_program.as_ref().map(|p| p.len())
    }
}

//! `container`: the versus container launcher — one program as PID 1 of a Linux
//! container built from namespaces, cgroups, capabilities, seccomp and `pivot_root`,
//! on the host's own kernel.
//!
//! A container is an ordinary host process that the host kernel fences in:
//! **namespaces** decide what it can see, **cgroups** what it can use, **capabilities,
//! seccomp and no_new_privs** what it may do, and **`pivot_root`** which filesystem is
//! its root. This crate makes each of those steps explicit, numbered the same way in
//! the code, the report's phases and `docs/en/container.md`:
//!
//! 1. **cgroup** ([`cgroup`]): detect cgroup v2, v1 or hybrid; create `versus/<id>`;
//!    write the memory (no swap), pids and cpu limits.
//! 2. **clone** ([`launch`]): `clone` with `CLONE_NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET`
//!    (+ `NEWUSER` when rootless or asked; each one can be shared instead); the parent
//!    writes the uid/gid maps and moves the child into the cgroup while the child waits
//!    on a pipe; then the child unshares its cgroup namespace.
//! 3. **in the child** ([`rootfs`]): make mounts private; build the root (a tmpfs with
//!    the given files, or bind an external directory); mount `/proc`, `/sys`, a minimal
//!    `/dev`, `/tmp`; mask and write-protect the OCI paths; `pivot_root`; detach the
//!    old root; read-only root if asked; set the hostname; bring `lo` up.
//! 4. **security** ([`capabilities`], [`seccomp`]): drop to Docker's capability set,
//!    set `no_new_privs`, install Docker's seccomp profile (x86-64). LSMs are detected
//!    and reported ([`lsm`]).
//!
//! Host facts (cgroup layout, user namespaces, LSMs, seccomp) are detected once, in
//! [`host`]; `versus doctor` asks the same functions.
//! 5. **exec**: `execve` the command as PID 1 with a minimal environment; the parent
//!    waits (exit, signal, OOM kill, timeout, interrupt), reads the cgroup statistics
//!    and removes the cgroup. Nothing is left behind on any path: a guard owns the
//!    child and the cgroup, and all mounts live in the child's mount namespace.
//!
//! Every step of the child goes through the [`syscall::Syscall`] seam, so the exact
//! sequence is unit-tested with a recording fake, without root.
//!
//! # Example
//!
//! ```no_run
//! use std::io::{BufRead, BufReader};
//! use std::sync::atomic::AtomicBool;
//! use container::{ContainerBuilder, Limits, RootfsSpec, SeccompMode, rootfs::WORKLOAD_PATH};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let workload = std::fs::read("versus-workload")?;
//! let (out_r, out_w) = std::io::pipe()?;
//! let spec = ContainerBuilder::new("example")
//!     .rootfs(RootfsSpec::workload(workload))          // 3. a tmpfs root with one file
//!     .command([WORKLOAD_PATH, "ids"])
//!     .hostname("versus")
//!     .limits(Limits { memory: Some(32 << 20), pids: Some(8), cpus: None }) // 1.
//!     .seccomp(SeccompMode::Default)                    // 4.
//!     .stdout(out_w.into())
//!     .build()?;                                        // checks everything first
//! let running = spec.spawn()?;                          // 1.–5.: returns after execve
//! for line in BufReader::new(out_r).lines() {
//!     println!("{}", line?);                            // "@versus task=ids pid=1 …"
//! }
//! let report = running.wait(None, &AtomicBool::new(false))?;
//! println!("{} in {:?}", report.outcome.describe(), report.phases);
//! # Ok(()) }
//! ```

pub mod capabilities;
pub mod cgroup;
mod child;
mod error;
pub mod host;
pub mod launch;
pub mod lsm;
pub mod mountinfo;
pub mod report;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod syscall;
pub mod tty;

pub use capabilities::{CapabilitySet, DOCKER_DEFAULT, DOCKER_DEFAULT_MASK};
pub use cgroup::{CgroupStats, CgroupVersion, Limits};
pub use error::{CommandProblem, Error, Result};
pub use host::{SeccompInfo, UsernsStatus};
pub use launch::Running;
pub use lsm::LsmInfo;
pub use report::{CgroupReport, ExitStatus, JoinWay, Nanos, Outcome, Phases, Report, UserNsReport};
pub use rootfs::{FileSource, RootfsFile, RootfsSpec, Volume};
pub use seccomp::SeccompMode;
pub use spec::{ContainerBuilder, ContainerSpec, IdMap, Namespace};

#[cfg(test)]
mod tests {
    fn assert_send<T: Send>() {}

    #[test]
    fn specs_and_running_containers_can_move_between_threads() {
        assert_send::<super::ContainerSpec>();
        assert_send::<super::Running>();
        assert_send::<super::Report>();
        assert_send::<super::Error>();
    }
}

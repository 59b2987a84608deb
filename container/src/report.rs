//! What a container run leaves behind: one plain serde struct, [`Report`], with its
//! parts ([`Outcome`], [`ExitStatus`], [`Phases`], [`CgroupReport`], [`UserNsReport`]).
//! All durations are host monotonic nanoseconds; the launch path that fills them in is
//! [`crate::launch`].

use std::path::PathBuf;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::cgroup::{CgroupStats, CgroupVersion, Limits};
use crate::lsm::LsmInfo;
use crate::seccomp::SeccompMode;
use crate::spec::{IdMap, Namespace};

/// Nanoseconds.
pub type Nanos = u64;

/// How the container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// PID 1 exited with this status.
    Exited(i32),
    /// PID 1 was killed by this signal (not by the OOM killer, not by versus).
    Signaled(i32),
    /// The kernel's OOM killer killed PID 1: the memory limit was reached.
    OomKilled,
    /// The timeout passed; versus killed the container.
    TimedOut,
    /// The caller's interrupt flag was set; versus stopped the container.
    Interrupted,
}

impl Outcome {
    /// In words: `exited with status 0`, `killed by SIGSEGV`, `killed by the OOM killer`, …
    pub fn describe(&self) -> String {
        match self {
            Outcome::Exited(c) => format!("exited with status {c}"),
            Outcome::Signaled(s) => format!("killed by {}", signal_name(*s)),
            Outcome::OomKilled => "killed by the OOM killer (memory limit reached)".into(),
            Outcome::TimedOut => "timed out (killed)".into(),
            Outcome::Interrupted => "interrupted".into(),
        }
    }
}

/// The raw end of PID 1, as `wait` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

/// Phase durations, measured with the host's monotonic clock. `None`: not reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    /// 1. Creating the cgroup and writing its limits.
    pub cgroup_ns: Nanos,
    /// 2. `clone` into the namespaces, and the id maps of a user namespace.
    pub clone_ns: Nanos,
    /// 2. How the child was moved into its cgroup (`None`: no cgroup).
    pub join: Option<JoinWay>,
    /// 2. The launcher's part of the join, from the go-ahead to the second go-ahead
    ///    (`joined`): the `cgroup.procs` writes left after `clone` (every v1 hierarchy,
    ///    and the unified one when the child was not cloned into it). It overlaps the
    ///    child's mounts, so it is not part of the sum in `spawn_ns`.
    pub join_ns: Nanos,
    /// 3. Of the setup: how long the child, its mounts done, waited for `joined`
    ///    (0 when the join ended first): what the join still cost the launch.
    pub join_wait_ns: Option<Nanos>,
    /// 3.–4. The child's setup, from the go-ahead to just before `execve`
    /// (its own `CLOCK_MONOTONIC` timestamps).
    pub setup_ns: Option<Nanos>,
    /// 3. Of which: mounts, `pivot_root`, hostname, `lo`.
    pub setup_mounts_ns: Option<Nanos>,
    /// 4. Of which: the cgroup namespace, groups, capabilities, no_new_privs, seccomp,
    ///    stdio (from `joined`).
    pub setup_security_ns: Option<Nanos>,
    /// 5. From just before `execve` until the launcher saw it succeed (the error pipe
    ///    closing). The rest, exec → the workload's first line, is the caller's to measure.
    pub exec_ns: Option<Nanos>,
    /// Launch call → `spawn` returned (the sum of the above).
    pub spawn_ns: Nanos,
    /// `spawn` returned → PID 1's exit seen.
    pub run_ns: Option<Nanos>,
    /// Exit seen → reaped, statistics read, cgroup removed.
    pub teardown_ns: Option<Nanos>,
}

/// How the container's first process got into its cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinWay {
    /// `clone3` with `CLONE_INTO_CGROUP` placed it in the unified (v2) directory at
    /// fork, under the read side of the kernel's `cgroup_threadgroup_rwsem`: no RCU
    /// grace period. Any v1 hierarchies of a hybrid host were still joined by writing
    /// `cgroup.procs`, overlapping the child's mounts.
    CloneIntoCgroup,
    /// Its pid was written to `cgroup.procs` of every hierarchy, overlapping the
    /// child's mounts (a v1-only host, or a kernel or sandbox where `clone3` into the
    /// cgroup was refused).
    CgroupProcs,
}

impl JoinWay {
    /// In words, for `--trace`.
    pub fn describe(self) -> &'static str {
        match self {
            JoinWay::CloneIntoCgroup => "cloned into the cgroup (clone3 CLONE_INTO_CGROUP)",
            JoinWay::CgroupProcs => "pid written to cgroup.procs",
        }
    }
}

/// The container's cgroup, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupReport {
    /// The API used.
    pub version: CgroupVersion,
    /// The host's layout: `v1`, `v2` or `hybrid`.
    pub layout: String,
    /// The directories (removed by now).
    pub paths: Vec<PathBuf>,
    /// What the container used.
    pub stats: CgroupStats,
}

/// The user namespace's id maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserNsReport {
    /// `uid_map`.
    pub uid_map: IdMap,
    /// `gid_map`.
    pub gid_map: IdMap,
}

/// Everything about one container run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The container id.
    pub id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// PID 1's raw exit, if it was reaped normally.
    pub exit: Option<ExitStatus>,
    /// Phase durations.
    pub phases: Phases,
    /// The cgroup and its statistics (`None`: no cgroup, e.g. rootless without limits).
    pub cgroup: Option<CgroupReport>,
    /// The limits applied.
    pub limits: Limits,
    /// Namespaces created for the container.
    pub namespaces: Vec<Namespace>,
    /// Namespaces shared with the launcher.
    pub shared_namespaces: Vec<Namespace>,
    /// The user namespace's maps, if one was created.
    pub user_namespace: Option<UserNsReport>,
    /// Launched without root.
    pub rootless: bool,
    /// Capabilities kept: the bounding set, which is also the permitted and
    /// effective set when PID 1 runs as uid 0 (a `--user` other than 0 has
    /// none effective; the notes say so).
    pub capabilities: Vec<String>,
    /// The kept set as the hex mask `/proc/self/status` shows (`00000000a80425fb`).
    pub capability_mask: String,
    /// Seccomp filter.
    pub seccomp: SeccompMode,
    /// Instructions in the seccomp filter.
    pub seccomp_instructions: Option<usize>,
    /// `no_new_privs` was set (always).
    pub no_new_privs: bool,
    /// Active security modules (detected, not configured).
    pub lsm: LsmInfo,
    /// The root filesystem.
    pub rootfs: String,
    /// The root was remounted read-only.
    pub read_only: bool,
    /// The hostname set inside, if any.
    pub hostname: Option<String>,
    /// Peak RSS of the launcher process (`VmHWM` of `/proc/self/status`), bytes.
    pub launcher_peak_rss_bytes: Option<u64>,
    /// Remarks (what was not available, and why).
    pub notes: Vec<String>,
}

/// `SIGKILL`, `SIGSEGV`, … or `signal N`.
pub fn signal_name(s: i32) -> String {
    Signal::try_from(s).map_or_else(|_| format!("signal {s}"), |sig| sig.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_well_and_serialise() {
        assert_eq!(Outcome::Signaled(9).describe(), "killed by SIGKILL");
        assert_eq!(Outcome::Exited(2).describe(), "exited with status 2");
        let j = serde_json::to_string(&Outcome::Exited(0)).unwrap();
        assert_eq!(j, r#"{"exited":0}"#);
        assert_eq!(
            serde_json::to_string(&Outcome::OomKilled).unwrap(),
            r#""oom_killed""#
        );
        let back: Outcome = serde_json::from_str(&j).unwrap();
        assert_eq!(back, Outcome::Exited(0));
    }
}

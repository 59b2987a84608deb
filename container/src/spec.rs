//! The container description: [`ContainerBuilder`] → [`ContainerSpec`].
//!
//! `build()` checks everything that can be checked before launch — names, sizes,
//! limits, capability and namespace names, the root filesystem and the command inside
//! it, cgroup controllers, rootless prerequisites — and prepares everything the child
//! will need (the mount steps, the capability plan, the compiled seccomp filter), so
//! that `spawn()` only has to act.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use seccompiler::BpfProgram;
use serde::{Deserialize, Serialize};

use crate::capabilities::{self, CapPlan, CapabilitySet, compute_kept, kernel_last_cap};
pub use crate::cgroup::Limits;
use crate::cgroup::{self, CgroupPlan, Launcher, Layout};
use crate::error::{Error, Result};
use crate::host::UsernsStatus;
use crate::lsm::LsmInfo;
use crate::rootfs::{self, MountContext, PlannedRootfs, RealHost, RootfsSpec, Step};
use crate::seccomp::{self, SeccompMode};

/// The smallest memory limit accepted (Docker's minimum is 6 MiB).
pub const MIN_MEMORY: u64 = 6 << 20;

/// The host uid/gid that container uid/gid 0 maps to when root asks for a user
/// namespace (a range of 65536 ids, as a `/etc/subuid` entry would give).
pub const ROOT_USERNS_BASE: u32 = 100_000;

/// The length of that range.
pub const ROOT_USERNS_SIZE: u32 = 65_536;

/// A Linux namespace kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    /// Process ids: the container's first process is PID 1.
    Pid,
    /// Mounts: the container's own mount table (needed for its own root and /proc).
    Mnt,
    /// Hostname and domain name.
    Uts,
    /// System V IPC and POSIX message queues.
    Ipc,
    /// Network devices, addresses, routes, ports: only `lo` inside.
    Net,
    /// The cgroup tree: the container sees its own cgroup as `/`.
    Cgroup,
    /// User and group ids: uid 0 inside maps to another uid outside (rootless).
    User,
}

impl Namespace {
    /// Every kind, in the order of `/proc/self/ns`.
    pub const ALL: [Namespace; 7] = [
        Namespace::Pid,
        Namespace::Mnt,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Cgroup,
        Namespace::User,
    ];

    /// The short name (`pid`, `mnt`, …), as in `/proc/self/ns`.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Pid => "pid",
            Namespace::Mnt => "mnt",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Cgroup => "cgroup",
            Namespace::User => "user",
        }
    }

    /// The `CLONE_NEW*` flag.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Mnt => CloneFlags::CLONE_NEWNS,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
        }
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Namespace {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pid" => Ok(Namespace::Pid),
            "mnt" | "mount" | "ns" => Ok(Namespace::Mnt),
            "uts" => Ok(Namespace::Uts),
            "ipc" => Ok(Namespace::Ipc),
            "net" | "network" => Ok(Namespace::Net),
            "cgroup" => Ok(Namespace::Cgroup),
            "user" | "userns" => Ok(Namespace::User),
            other => Err(Error::invalid(
                "--share",
                format!(
                    "unknown namespace '{other}'; namespaces are: pid mnt uts ipc net cgroup user"
                ),
            )),
        }
    }
}

/// How the container's user namespace maps ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// The first id inside (always 0).
    pub inside: u32,
    /// The first id outside.
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

impl IdMap {
    /// The line written to `/proc/<pid>/uid_map` / `gid_map`.
    pub fn line(&self) -> String {
        format!("{} {} {}\n", self.inside, self.outside, self.count)
    }
}

/// Describes a container; [`ContainerBuilder::build`] validates it.
///
/// # Example
///
/// ```no_run
/// use container::{ContainerBuilder, Limits, RootfsSpec, rootfs::WORKLOAD_PATH};
/// use std::sync::atomic::AtomicBool;
///
/// let (read, write) = std::io::pipe().unwrap();
/// let spec = ContainerBuilder::new("demo-1")
///     .rootfs(RootfsSpec::workload(std::fs::read("versus-workload").unwrap()))
///     .command([WORKLOAD_PATH, "ids"])
///     .hostname("versus")
///     .limits(Limits { memory: Some(64 << 20), pids: Some(16), cpus: None })
///     .stdout(write.into())
///     .build()?;
/// let running = spec.spawn()?;
/// // … read `read` until the workload's start marker …
/// # drop(read);
/// let report = running.wait(None, &AtomicBool::new(false))?;
/// println!("{:?} after {:?}", report.outcome, report.phases);
/// # Ok::<(), container::Error>(())
/// ```
#[derive(Debug)]
pub struct ContainerBuilder {
    id: String,
    rootfs: Option<RootfsSpec>,
    command: Vec<String>,
    env: Vec<(String, String)>,
    hostname: Option<String>,
    limits: Limits,
    share: Vec<Namespace>,
    force_userns: bool,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    seccomp: SeccompMode,
    read_only: bool,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    stop_signal: Signal,
    stop_grace: Duration,
}

impl ContainerBuilder {
    /// A container named `id` (letters, digits, `_`, `-`, `.`; at most 64; unique among
    /// running containers: it names the cgroup `versus/<id>`).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            rootfs: None,
            command: Vec::new(),
            env: Vec::new(),
            hostname: None,
            limits: Limits::default(),
            share: Vec::new(),
            force_userns: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            seccomp: SeccompMode::Default,
            read_only: false,
            stdout: None,
            stderr: None,
            stop_signal: Signal::SIGTERM,
            stop_grace: Duration::from_secs(2),
        }
    }

    /// The root filesystem (required).
    pub fn rootfs(mut self, rootfs: RootfsSpec) -> Self {
        self.rootfs = Some(rootfs);
        self
    }

    /// The command: `argv[0]` is an absolute path inside the root filesystem.
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = argv.into_iter().map(Into::into).collect();
        self
    }

    /// An extra environment variable (besides `PATH`, `HOME=/`, `TERM` if set, `container=versus`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The hostname inside (needs its own UTS namespace); default `versus`.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }

    /// Memory, pids and CPU limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Namespaces to share with the launcher instead of creating new ones.
    pub fn share(mut self, namespaces: &[Namespace]) -> Self {
        self.share.extend_from_slice(namespaces);
        self
    }

    /// Creates a user namespace even as root (always created when not root).
    pub fn user_namespace(mut self, force: bool) -> Self {
        self.force_userns = force;
        self
    }

    /// Capabilities to keep in addition to Docker's default set (`SYS_ADMIN`, `ALL`, …).
    pub fn caps_add<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cap_add.extend(names.into_iter().map(Into::into));
        self
    }

    /// Capabilities to drop from Docker's default set (`NET_RAW`, `ALL`, …).
    pub fn caps_drop<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cap_drop.extend(names.into_iter().map(Into::into));
        self
    }

    /// The seccomp filter: Docker's default profile or none.
    pub fn seccomp(mut self, mode: SeccompMode) -> Self {
        self.seccomp = mode;
        self
    }

    /// Remounts the root read-only (`/tmp`, `/dev/shm` stay writable tmpfs).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The write end that becomes PID 1's stdout (default: `/dev/null`). The launcher's
    /// copy is closed by `spawn`, so the reader sees end-of-file when the container ends.
    pub fn stdout(mut self, fd: OwnedFd) -> Self {
        self.stdout = Some(fd);
        self
    }

    /// The write end that becomes PID 1's stderr (default: `/dev/null`).
    pub fn stderr(mut self, fd: OwnedFd) -> Self {
        self.stderr = Some(fd);
        self
    }

    /// The signal sent to PID 1 when the caller's interrupt flag is set (default SIGTERM).
    pub fn stop_signal(mut self, signal: Signal) -> Self {
        self.stop_signal = signal;
        self
    }

    /// How long PID 1 may take to exit after the stop signal before SIGKILL (default 2 s).
    /// PID 1 ignores every signal it has no handler for, so a program without one is
    /// always killed after this grace period.
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    /// Validates everything that can be checked before launch and prepares the launch.
    pub fn build(self) -> Result<ContainerSpec> {
        self.build_with(&HostFacts::real())
    }

    pub(crate) fn build_with(self, host: &HostFacts) -> Result<ContainerSpec> {
        validate_id(&self.id)?;
        validate_limits(&self.limits, host.cpus)?;

        // Namespaces.
        let rootless = host.euid != 0;
        if rootless && self.share.contains(&Namespace::User) {
            return Err(Error::Conflict(
                "without root a user namespace is required; it cannot be shared (--share user)"
                    .into(),
            ));
        }
        if rootless && let Some(reason) = host.userns.unavailable_reason() {
            return Err(Error::RootlessUnavailable {
                uid: host.euid,
                reason,
            });
        }
        let userns = rootless || (self.force_userns && !self.share.contains(&Namespace::User));
        let namespaces: Vec<Namespace> = Namespace::ALL
            .into_iter()
            .filter(|n| match n {
                Namespace::User => userns,
                n => !self.share.contains(n),
            })
            .collect();
        let has = |n: Namespace| namespaces.contains(&n);
        let shared: Vec<Namespace> = Namespace::ALL
            .into_iter()
            .filter(|n| !namespaces.contains(n))
            .collect();

        // Command and hostname.
        if self.command.is_empty() {
            return Err(Error::invalid(
                "command",
                "no command given; argv[0] is a path inside the rootfs, e.g. /bin/versus-workload",
            ));
        }
        let argv: Vec<CString> = self
            .command
            .iter()
            .map(|a| {
                CString::new(a.as_bytes()).map_err(|_| {
                    Error::invalid("command", format!("argument {a:?} contains a NUL byte"))
                })
            })
            .collect::<Result<_>>()?;
        let hostname = match (&self.hostname, has(Namespace::Uts)) {
            (Some(_), false) => {
                return Err(Error::Conflict(
                    "--hostname needs the container's own UTS namespace, but --share uts was given"
                        .into(),
                ));
            }
            (Some(h), true) => {
                validate_hostname(h)?;
                Some(h.clone())
            }
            (None, true) => Some("versus".to_string()),
            (None, false) => None,
        };

        // Root filesystem.
        let rootfs_spec = self
            .rootfs
            .ok_or_else(|| Error::invalid("rootfs", "no root filesystem given"))?;
        if !has(Namespace::Mnt) {
            if rootfs_spec != RootfsSpec::Host {
                return Err(Error::Conflict(format!(
                    "a {} needs the container's own mount namespace, but --share mnt was given \
                     (only the host's root works without one)",
                    rootfs_spec.describe()
                )));
            }
            if self.read_only {
                return Err(Error::Conflict(
                    "--read-only needs the container's own mount namespace (--share mnt was given)"
                        .into(),
                ));
            }
        }
        let planned = rootfs::validate(&rootfs_spec, &self.command[0])?;
        let steps = rootfs::plan_steps(&MountContext {
            rootfs: &planned,
            new_mount: has(Namespace::Mnt),
            new_pid: has(Namespace::Pid),
            new_net: has(Namespace::Net),
            new_uts: has(Namespace::Uts),
            hostname: hostname.as_deref(),
            read_only: self.read_only,
            host: &RealHost,
        });

        // Security.
        let mut kept = compute_kept(&self.cap_add, &self.cap_drop)?;
        // What versus itself does not hold it cannot give: a capability named
        // in --cap-add is then an error; ALL means all that can be given.
        let mut withheld = CapabilitySet::empty();
        if let Some(grantable) = capabilities::launcher_grantable(rootless) {
            withheld = kept.difference(&grantable);
            let named: Vec<String> = withheld
                .names()
                .into_iter()
                .filter(|name| {
                    self.cap_add.iter().any(|added| {
                        let added = added.to_ascii_uppercase();
                        *name == added || name.strip_prefix("CAP_") == Some(added.as_str())
                    })
                })
                .collect();
            if !named.is_empty() {
                return Err(Error::invalid(
                    "--cap-add",
                    format!(
                        "versus itself does not hold {} (its own capability sets lack it), so it \
                         cannot give it to the container; run versus with it, or drop the flag",
                        named.join(", ")
                    ),
                ));
            }
            kept = kept.intersection(&grantable);
        }
        let cap_plan = CapPlan::new(&kept, host.last_cap);
        let seccomp_program = match self.seccomp {
            SeccompMode::Default => Some(seccomp::cached(&kept)?),
            SeccompMode::Unconfined => None,
        };

        // cgroups.
        let launcher = if rootless {
            Launcher::Rootless {
                own_v2_path: host.own_v2_path.clone(),
            }
        } else {
            Launcher::Root
        };
        let cgroup = cgroup::plan(&host.layout, &host.root, &self.limits, &launcher)?;

        // User namespace maps.
        let id_maps = userns.then(|| {
            if rootless {
                (
                    IdMap {
                        inside: 0,
                        outside: host.euid,
                        count: 1,
                    },
                    IdMap {
                        inside: 0,
                        outside: host.egid,
                        count: 1,
                    },
                )
            } else {
                let m = IdMap {
                    inside: 0,
                    outside: ROOT_USERNS_BASE,
                    count: ROOT_USERNS_SIZE,
                };
                (m.clone(), m)
            }
        });

        // Environment.
        let mut env = vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            "HOME=/".to_string(),
        ];
        if let Ok(term) = std::env::var("TERM") {
            env.push(format!("TERM={term}"));
        }
        env.push("container=versus".to_string());
        for (k, v) in &self.env {
            if k.is_empty() || k.contains('=') {
                return Err(Error::invalid("env", format!("bad variable name {k:?}")));
            }
            env.retain(|e| !e.starts_with(&format!("{k}=")));
            env.push(format!("{k}={v}"));
        }
        let env: Vec<CString> = env
            .into_iter()
            .map(|e| {
                CString::new(e).map_err(|_| Error::invalid("env", "a value contains a NUL byte"))
            })
            .collect::<Result<_>>()?;

        let mut notes = Vec::new();
        if !withheld.is_empty() {
            notes.push(format!(
                "not given (versus itself does not hold them): {}",
                withheld.names().join(", ")
            ));
        }
        // Only rootless runs without a cgroup: as root, a host without a cgroup
        // filesystem is refused (the device allow-list lives in the cgroup).
        if cgroup.is_none() {
            notes.push(
                "rootless without limits: no cgroup, so no cgroup statistics and no device \
                 allow-list (in the user namespace the kernel refuses mknod of a device)"
                    .to_string(),
            );
        }

        Ok(ContainerSpec {
            id: self.id,
            argv,
            env,
            hostname,
            limits: self.limits,
            namespaces,
            shared,
            id_maps,
            rootless,
            kept,
            cap_plan,
            seccomp: self.seccomp,
            seccomp_program,
            read_only: self.read_only,
            rootfs_desc: rootfs_spec.describe(),
            planned,
            steps,
            cgroup,
            cgroup_layout: host.layout.label(),
            lsm: host.lsm.clone(),
            stdout: self.stdout,
            stderr: self.stderr,
            stop_signal: self.stop_signal,
            stop_grace: self.stop_grace,
            notes,
        })
    }
}

fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "id",
            format!(
                "{id:?} is not a usable container id: use 1 to 64 letters, digits, '_', '-' or '.', \
                 not starting with '.' (it names the cgroup versus/<id>)"
            ),
        ))
    }
}

fn validate_hostname(h: &str) -> Result<()> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--hostname",
            format!("{h:?} is not a hostname: use 1 to 64 letters, digits, '-' and '.' (RFC 1123)"),
        ))
    }
}

fn validate_limits(l: &Limits, cpus_online: usize) -> Result<()> {
    if let Some(m) = l.memory
        && m < MIN_MEMORY
    {
        return Err(Error::invalid(
            "--memory",
            format!("{m} bytes is too little; the minimum is 6m ({MIN_MEMORY} bytes)"),
        ));
    }
    if l.pids == Some(0) {
        return Err(Error::invalid(
            "--pids-limit",
            "must be at least 1 (the container's own first process counts)",
        ));
    }
    if let Some(c) = l.cpus
        && !(c.is_finite() && c >= 0.01 && c <= cpus_online as f64)
    {
        return Err(Error::invalid(
            "--cpus",
            format!("{c} is out of range: the range is 0.01 to {cpus_online}.00 on this machine"),
        ));
    }
    Ok(())
}

/// The facts about the launching host that validation depends on (fixtures in tests).
#[derive(Debug, Clone)]
pub(crate) struct HostFacts {
    pub(crate) euid: u32,
    pub(crate) egid: u32,
    pub(crate) cpus: usize,
    pub(crate) last_cap: u8,
    pub(crate) root: PathBuf,
    pub(crate) layout: Layout,
    pub(crate) own_v2_path: Option<PathBuf>,
    /// Whether unprivileged user namespaces can be used, and which knobs block them.
    pub(crate) userns: UsernsStatus,
    pub(crate) lsm: LsmInfo,
}

impl HostFacts {
    pub(crate) fn real() -> Self {
        let root = PathBuf::from("/");
        Self {
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            last_cap: kernel_last_cap(),
            layout: Layout::detect(&root),
            own_v2_path: std::fs::read_to_string("/proc/self/cgroup")
                .ok()
                .and_then(|t| cgroup::layout::own_v2_path(&t)),
            userns: UsernsStatus::detect(Path::new("/")),
            lsm: LsmInfo::detect(Path::new("/")),
            root,
        }
    }
}

/// A validated container, ready to [`spawn`](ContainerSpec::spawn).
#[derive(Debug)]
pub struct ContainerSpec {
    pub(crate) id: String,
    pub(crate) argv: Vec<CString>,
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cgroup::layout::tests::{HYBRID_MOUNTINFO, V1_MOUNTINFO};
    use crate::rootfs::WORKLOAD_PATH;

    pub(crate) fn facts(euid: u32, mountinfo: &str) -> HostFacts {
        HostFacts {
            euid,
            egid: euid,
            cpus: 2,
            last_cap: 40,
            root: PathBuf::from("/nonexistent-root"),
            layout: Layout::from_mountinfo(mountinfo, Path::new("/nonexistent-root")),
            own_v2_path: Some("/user.slice/x.scope".into()),
            userns: UsernsStatus::Allowed {
                max_user_namespaces: None,
            },
            lsm: LsmInfo::default(),
        }
    }

    fn base() -> ContainerBuilder {
        ContainerBuilder::new("t-1")
            .rootfs(RootfsSpec::workload(b"\x7fELF".to_vec()))
            .command([WORKLOAD_PATH, "ids"])
    }

    fn err(b: ContainerBuilder) -> String {
        b.build_with(&facts(0, HYBRID_MOUNTINFO))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_plain_spec_builds_with_every_namespace_and_docker_defaults() {
        let s = base().build_with(&facts(0, HYBRID_MOUNTINFO)).unwrap();
        assert_eq!(
            s.namespaces(),
            &[
                Namespace::Pid,
                Namespace::Mnt,
                Namespace::Uts,
                Namespace::Ipc,
                Namespace::Net,
                Namespace::Cgroup
            ]
        );
        assert!(!s.rootless());
        assert_eq!(s.capabilities().mask(), 0xa80425fb);
        assert_eq!(s.hostname.as_deref(), Some("versus"));
        assert!(s.seccomp_instructions().unwrap() > 50);
        let env: Vec<_> = s
            .env
            .iter()
            .map(|e| e.to_str().unwrap().to_owned())
            .collect();
        assert!(env.contains(&"container=versus".to_string()));
        assert!(env.contains(&"HOME=/".to_string()));
        assert!(s.setup_steps().iter().any(|w| w == "pivot_root into /tmp"));
        assert!(s.cgroup.is_some());
    }

    #[test]
    fn bad_ids_sizes_and_limits_are_rejected() {
        for id in ["", "a/b", "../x", ".hidden", &"x".repeat(65), "sp ace"] {
            assert!(
                err(ContainerBuilder::new(id)
                    .rootfs(RootfsSpec::workload(b"x".to_vec()))
                    .command([WORKLOAD_PATH]))
                .contains("invalid id")
            );
        }
        let lim = |l: Limits| err(base().limits(l));
        assert!(
            lim(Limits {
                memory: Some(1 << 20),
                ..Default::default()
            })
            .contains("minimum is 6m")
        );
        assert!(
            lim(Limits {
                pids: Some(0),
                ..Default::default()
            })
            .contains("--pids-limit")
        );
        assert!(
            lim(Limits {
                cpus: Some(0.0),
                ..Default::default()
            })
            .contains("0.01 to 2.00")
        );
        assert!(
            lim(Limits {
                cpus: Some(3.0),
                ..Default::default()
            })
            .contains("0.01 to 2.00")
        );
        assert!(
            lim(Limits {
                cpus: Some(f64::NAN),
                ..Default::default()
            })
            .contains("--cpus")
        );
        assert!(err(base().hostname("bad_name!")).contains("--hostname"));
        assert!(err(base().hostname("-x")).contains("--hostname"));
    }

    #[test]
    fn unknown_names_are_rejected_with_hints() {
        assert!(err(base().caps_add(["CAP_FOO"])).contains("unknown capability 'CAP_FOO'"));
        assert!(err(base().caps_drop(["net_rawx"])).contains("did you mean CAP_NET_RAW?"));
        let e = "netns".parse::<Namespace>().unwrap_err().to_string();
        assert!(e.contains("pid mnt uts ipc net cgroup user"), "{e}");
        assert_eq!("mount".parse::<Namespace>().unwrap(), Namespace::Mnt);
        assert_eq!("NET".parse::<Namespace>().unwrap(), Namespace::Net);
    }

    #[test]
    fn missing_rootfs_and_commands_are_caught_early() {
        let e = err(ContainerBuilder::new("x").command(["/bin/sh"]));
        assert!(e.contains("no root filesystem"), "{e}");
        let e = err(ContainerBuilder::new("x")
            .rootfs(RootfsSpec::Dir("/nonexistent/r".into()))
            .command(["/bin/sh"]));
        assert!(e.contains("rootfs /nonexistent/r"), "{e}");
        let e = err(base().command(Vec::<String>::new()));
        assert!(e.contains("no command"), "{e}");
        let e = err(base().command(["/bin/sh", "-c", "true"]));
        assert!(
            e.contains("command /bin/sh: not found in the built rootfs"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        for sub in ["proc", "dev", "bin"] {
            std::fs::create_dir(d.path().join(sub)).unwrap();
        }
        let e = err(ContainerBuilder::new("x")
            .rootfs(RootfsSpec::Dir(d.path().into()))
            .command(["/bin/sh"]));
        assert!(e.contains("command /bin/sh: not found in rootfs"), "{e}");
    }

    #[test]
    fn contradictions_are_errors() {
        let e = err(base().share(&[Namespace::Uts]).hostname("h"));
        assert!(
            e.contains("--hostname needs the container's own UTS namespace"),
            "{e}"
        );
        let e = err(base().share(&[Namespace::Mnt]));
        assert!(
            e.contains("needs the container's own mount namespace"),
            "{e}"
        );
        let e = err(ContainerBuilder::new("x")
            .rootfs(RootfsSpec::Host)
            .command(["/bin/true"])
            .share(&[Namespace::Mnt])
            .read_only(true));
        assert!(e.contains("--read-only"), "{e}");
        let shared = base()
            .share(&[Namespace::Net, Namespace::Uts])
            .build_with(&facts(0, HYBRID_MOUNTINFO))
            .unwrap();
        assert!(!shared.namespaces().contains(&Namespace::Net));
        assert_eq!(shared.hostname, None);
        assert!(
            !shared
                .setup_steps()
                .iter()
                .any(|w| w.starts_with("bringing up lo"))
        );
    }

    #[test]
    fn rootless_uses_a_user_namespace_and_refuses_limits_without_a_delegated_cgroup() {
        let s = base().build_with(&facts(1000, HYBRID_MOUNTINFO)).unwrap();
        assert!(s.rootless());
        assert!(s.namespaces().contains(&Namespace::User));
        assert_eq!(s.id_maps.as_ref().unwrap().0.line(), "0 1000 1\n");
        assert!(s.cgroup.is_none());
        let e = base()
            .limits(Limits {
                memory: Some(64 << 20),
                ..Default::default()
            })
            .build_with(&facts(1000, V1_MOUNTINFO))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot apply --memory 67108864"), "{e}");
        let e = base()
            .share(&[Namespace::User])
            .build_with(&facts(1000, HYBRID_MOUNTINFO))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be shared"), "{e}");
        let mut no_userns = facts(1000, HYBRID_MOUNTINFO);
        no_userns.userns = UsernsStatus::Disabled {
            blocks: vec![crate::host::UsernsBlock {
                knob: crate::host::UsernsKnob::MaxUserNamespaces,
                reason: "disabled".into(),
            }],
        };
        let e = base().build_with(&no_userns).unwrap_err().to_string();
        assert!(
            e.contains("cannot run a container as uid 1000: disabled"),
            "{e}"
        );
        // Root asking for a user namespace gets a subordinate-style range.
        let s = base()
            .user_namespace(true)
            .build_with(&facts(0, HYBRID_MOUNTINFO))
            .unwrap();
        assert_eq!(s.id_maps.as_ref().unwrap().0.line(), "0 100000 65536\n");
    }

    #[test]
    fn userns_availability_comes_from_host() {
        let d = tempfile::tempdir().unwrap();
        let mut f = facts(1000, HYBRID_MOUNTINFO);
        f.userns = UsernsStatus::detect(d.path());
        let e = base().build_with(&f).unwrap_err().to_string();
        assert!(e.contains("CONFIG_USER_NS"), "{e}");
        std::fs::create_dir_all(d.path().join("proc/self/ns")).unwrap();
        std::fs::write(d.path().join("proc/self/ns/user"), "").unwrap();
        std::fs::create_dir_all(d.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(
            d.path()
                .join("proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            "1\n",
        )
        .unwrap();
        f.userns = UsernsStatus::detect(d.path());
        let e = base().build_with(&f).unwrap_err().to_string();
        assert!(e.contains("apparmor_restrict_unprivileged_userns"), "{e}");
    }
}

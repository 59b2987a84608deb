//! Step 1 — cgroups: what the container may use (memory, processes, CPU time), and
//! what it did use.
//!
//! One [`Cgroup`] trait (`create` / `apply` / `add_task` / `unified_dir`, the
//! directory a child can be cloned into / `stats` / `kill_all` / `remove`) with a
//! cgroup v1 implementation ([`v1::V1Cgroup`]: one directory per controller hierarchy)
//! and a cgroup v2 implementation ([`v2::V2Cgroup`]: one directory in the unified
//! hierarchy). On a hybrid host [`CgroupSet`] combines both: each controller is used
//! where the host has it, and the unified hierarchy holds the process.
//!
//! Every container of a root launcher also gets the device allow-list of [`devices`]
//! (the v1 `devices` controller, or a BPF device program on v2); a host where neither
//! works is refused at planning or launch with the fix.
//!
//! The container's cgroup is always `versus/<id>` below the hierarchy's root (or, when
//! rootless, below the launcher's delegated cgroup v2 subtree). versus writes only to
//! directories it created itself: the system's own cgroups (this machine's processes may
//! sit in a memory cgroup that the system created) are never touched.
//!
//! Every path is resolved under a root prefix (`/` on the host), so that all of this
//! runs against temp-dir fixture trees in the unit tests.

pub mod devices;
pub mod join_probe;
pub mod layout;
mod limits;
pub mod stale;
pub mod v1;
pub mod v2;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use layout::{Layout, Place, V1Hierarchy};
pub use limits::Limits;

use crate::error::{Error, Result};

/// The parent directory of every versus cgroup, below the hierarchy root.
pub const PARENT: &str = "versus";

/// The CFS period used for `--cpus` (100 ms, as Docker).
pub const CPU_PERIOD_US: u64 = 100_000;

/// Which cgroup API a container's cgroup uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// Per-controller v1 hierarchies.
    V1,
    /// The unified v2 hierarchy.
    V2,
    /// v1 for some controllers, v2 for others.
    Hybrid,
}

impl std::fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
            CgroupVersion::Hybrid => "hybrid",
        })
    }
}

/// What the container used, read from its cgroup after it exited. A figure the host's
/// cgroup API does not offer is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// Highest memory use (v2 `memory.peak`, v1 `memory.max_usage_in_bytes`), bytes.
    pub memory_peak_bytes: Option<u64>,
    /// Memory still charged when read (v2 `memory.current`, v1 `memory.usage_in_bytes`), bytes.
    pub memory_current_bytes: Option<u64>,
    /// CPU time used (v2 `cpu.stat` `usage_usec` × 1000, v1 `cpuacct.usage`), nanoseconds.
    pub cpu_usage_ns: Option<u64>,
    /// Most processes at once (`pids.peak`: v2, and v1 on kernels that have it).
    pub pids_peak: Option<u64>,
    /// Processes the OOM killer killed (v2 `memory.events` `oom_kill`, v1 `memory.oom_control` `oom_kill`).
    pub oom_kills: Option<u64>,
}

impl CgroupStats {
    /// Fills every `None` of `self` from `other`.
    pub fn or(self, other: CgroupStats) -> CgroupStats {
        CgroupStats {
            memory_peak_bytes: self.memory_peak_bytes.or(other.memory_peak_bytes),
            memory_current_bytes: self.memory_current_bytes.or(other.memory_current_bytes),
            cpu_usage_ns: self.cpu_usage_ns.or(other.cpu_usage_ns),
            pids_peak: self.pids_peak.or(other.pids_peak),
            oom_kills: self.oom_kills.or(other.oom_kills),
        }
    }
}

/// A container's cgroup, across however many hierarchies it spans.
pub trait Cgroup: std::fmt::Debug + Send {
    /// Creates the directories (`versus/<id>`), enabling controllers where v2 needs it,
    /// and installs the device allow-list where the plan has one.
    fn create(&mut self) -> Result<()>;
    /// Writes the limits (memory, swap, pids, cpu) that are set.
    fn apply(&self, limits: &Limits) -> Result<()>;
    /// Moves process `pid` into the cgroup (`cgroup.procs`).
    fn add_task(&self, pid: i32) -> Result<()>;
    /// The created directory in the unified (v2) hierarchy, which a child can be
    /// cloned straight into (`clone3` with `CLONE_INTO_CGROUP`); `None` where the
    /// cgroup has no v2 part.
    fn unified_dir(&self) -> Option<&Path>;
    /// Moves process `pid` into every part of the cgroup except the unified one: what
    /// is left to join for a child that `clone3` already placed in [`Self::unified_dir`].
    fn add_task_outside_unified(&self, pid: i32) -> Result<()>;
    /// Reads the statistics; figures that cannot be read are `None`.
    fn stats(&self) -> CgroupStats;
    /// SIGKILLs every process still in the cgroup and waits (briefly) until it is empty.
    fn kill_all(&self) -> Result<()>;
    /// Removes the directories created by `create` (idempotent), retrying while the
    /// kernel finishes releasing exited processes.
    fn remove(&mut self) -> Result<()>;
    /// The host paths of the cgroup directories.
    fn paths(&self) -> Vec<PathBuf>;
    /// Which API is used.
    fn version(&self) -> CgroupVersion;
}

/// A v1 part and/or a v2 part: the cgroup of one container on any layout.
#[derive(Debug)]
pub struct CgroupSet {
    /// Controllers in v1 hierarchies.
    pub v1: Option<v1::V1Cgroup>,
    /// Controllers (or just the process container) in the unified hierarchy.
    pub v2: Option<v2::V2Cgroup>,
}

impl Cgroup for CgroupSet {
    fn create(&mut self) -> Result<()> {
        if let Some(c) = &mut self.v1 {
            c.create()?;
        }
        if let Some(c) = &mut self.v2 {
            c.create()?;
        }
        Ok(())
    }

    fn apply(&self, limits: &Limits) -> Result<()> {
        if let Some(c) = &self.v1 {
            c.apply(limits)?;
        }
        if let Some(c) = &self.v2 {
            c.apply(limits)?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        if let Some(c) = &self.v1 {
            c.add_task(pid)?;
        }
        if let Some(c) = &self.v2 {
            c.add_task(pid)?;
        }
        Ok(())
    }

    fn unified_dir(&self) -> Option<&Path> {
        self.v2.as_ref().and_then(|c| c.unified_dir())
    }

    fn add_task_outside_unified(&self, pid: i32) -> Result<()> {
        match &self.v1 {
            Some(c) => c.add_task(pid),
            None => Ok(()),
        }
    }

    fn stats(&self) -> CgroupStats {
        let a = self.v1.as_ref().map(|c| c.stats()).unwrap_or_default();
        let b = self.v2.as_ref().map(|c| c.stats()).unwrap_or_default();
        a.or(b)
    }

    fn kill_all(&self) -> Result<()> {
        let a = self.v1.as_ref().map(|c| c.kill_all()).unwrap_or(Ok(()));
        let b = self.v2.as_ref().map(|c| c.kill_all()).unwrap_or(Ok(()));
        a.and(b)
    }

    fn remove(&mut self) -> Result<()> {
        let a = self.v1.as_mut().map(|c| c.remove()).unwrap_or(Ok(()));
        let b = self.v2.as_mut().map(|c| c.remove()).unwrap_or(Ok(()));
        a.and(b)
    }

    fn paths(&self) -> Vec<PathBuf> {
        let mut p = self.v1.as_ref().map(|c| c.paths()).unwrap_or_default();
        p.extend(self.v2.as_ref().map(|c| c.paths()).unwrap_or_default());
        p
    }

    fn version(&self) -> CgroupVersion {
        match (&self.v1, &self.v2) {
            (Some(_), Some(v2)) if !v2.controllers.is_empty() || v2.device_program() => {
                CgroupVersion::Hybrid
            }
            (Some(_), _) => CgroupVersion::V1,
            _ => CgroupVersion::V2,
        }
    }
}

/// Where a container's cgroup will go, decided by `build()` before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupPlan {
    /// Root prefix of every path (`/` on the host, a fixture directory in tests).
    pub root: PathBuf,
    /// v1 hierarchies to use: (mount point, controllers used there).
    pub v1: Vec<(PathBuf, Vec<String>)>,
    /// The unified hierarchy: mount point, directory of the `versus` parent relative to
    /// the mount (`versus`, or `<delegated subtree>/versus` when rootless), controllers.
    pub v2: Option<(PathBuf, PathBuf, Vec<String>)>,
    /// How the device allow-list is enforced (`None`: rootless, no allow-list).
    pub devices: Option<devices::Enforcement>,
}

impl CgroupPlan {
    /// Creates the (not yet existing) cgroup object for container `id`.
    pub fn instantiate(&self, id: &str) -> CgroupSet {
        let v1 = (!self.v1.is_empty()).then(|| {
            v1::V1Cgroup::new(
                self.v1
                    .iter()
                    .map(|(m, cs)| (under(&self.root, m).join(PARENT), cs.clone()))
                    .collect(),
                id,
            )
        });
        let v2 = self.v2.as_ref().map(|(m, parent, cs)| {
            let cg = v2::V2Cgroup::new(under(&self.root, m).join(parent), cs.clone(), id);
            if self.devices == Some(devices::Enforcement::V2Program) {
                cg.with_device_program()
            } else {
                cg
            }
        });
        CgroupSet { v1, v2 }
    }
}

/// The controllers versus uses, with the limit flag that requires each.
const WANTED: [(&str, &str); 4] = [
    ("memory", "--memory"),
    ("pids", "--pids-limit"),
    ("cpu", "--cpus"),
    ("cpuacct", ""),
];

/// Who launches the container, as far as cgroups care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// Root: the cgroup goes to `<hierarchy root>/versus/<id>`.
    Root,
    /// Not root: only a writable (delegated) cgroup v2 subtree can be used; this is the
    /// launcher's own cgroup v2 path (from `/proc/self/cgroup`).
    Rootless {
        /// `0::<path>` of the launcher.
        own_v2_path: Option<PathBuf>,
    },
}

/// Decides where the cgroup goes. `Ok(None)`: no cgroup (rootless without limits). A
/// limit that cannot be applied is an error that names the controller and the fix; so
/// is, for root, a host whose cgroups cannot hold the device allow-list.
pub fn plan(
    layout: &Layout,
    root: &Path,
    limits: &Limits,
    launcher: &Launcher,
) -> Result<Option<CgroupPlan>> {
    let required = |c: &str| match c {
        "memory" => limits.memory.is_some(),
        "pids" => limits.pids.is_some(),
        "cpu" => limits.cpus.is_some(),
        _ => false,
    };
    if let Launcher::Rootless { own_v2_path } = launcher {
        return plan_rootless(layout, root, limits, own_v2_path.as_deref(), &required);
    }
    if *layout == Layout::None {
        if let Some((c, flag)) = WANTED.iter().find(|(c, _)| required(c)) {
            return Err(Error::ControllerMissing {
                controller: c,
                limit: flag,
                reason: layout.describe(),
                fix: "mount cgroup v2: `mount -t cgroup2 none /sys/fs/cgroup`".into(),
            });
        }
        return Err(Error::Devices {
            reason: format!(
                "it lives in the container's cgroup, and {}",
                layout.describe()
            ),
            fix: "mount cgroup v2: `mount -t cgroup2 none /sys/fs/cgroup`".into(),
        });
    }
    let mut v1: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut v2_controllers: Vec<String> = Vec::new();
    for (c, flag) in WANTED {
        match layout.locate(c) {
            Some(Place::V1(mount)) => match v1.iter_mut().find(|(m, _)| *m == mount) {
                Some((_, cs)) => cs.push(c.to_owned()),
                None => v1.push((mount, vec![c.to_owned()])),
            },
            Some(Place::V2(mount)) => {
                let enabled = read_words(&under(root, &mount).join("cgroup.subtree_control"));
                if enabled.iter().any(|e| e == c) {
                    v2_controllers.push(c.to_owned());
                } else if required(c) {
                    return Err(Error::ControllerMissing {
                        controller: c_static(c),
                        limit: flag,
                        reason: format!(
                            "the root of the cgroup v2 hierarchy at {} offers it but does not \
                             enable it for child cgroups",
                            mount.display()
                        ),
                        fix: format!("`echo +{c} > {}/cgroup.subtree_control`", mount.display()),
                    });
                }
            }
            None if required(c) => {
                let fix = match layout {
                    Layout::V2 { mount, .. } => format!(
                        "the kernel does not offer it at {}: boot with `cgroup_enable={c}` \
                         or use a kernel built with the controller",
                        mount.display()
                    ),
                    _ => format!(
                        "mount it: `mkdir -p /sys/fs/cgroup/{c} && mount -t cgroup -o {c} cgroup /sys/fs/cgroup/{c}`"
                    ),
                };
                return Err(Error::ControllerMissing {
                    controller: c_static(c),
                    limit: flag,
                    reason: layout.describe(),
                    fix,
                });
            }
            None => {}
        }
    }
    // The device allow-list: the v1 controller where the host binds one, else (v2 has
    // no such controller) a BPF program on the v2 directory.
    let devices = match (layout.locate("devices"), layout.unified_mount()) {
        (Some(Place::V1(mount)), _) => {
            match v1.iter_mut().find(|(m, _)| *m == mount) {
                Some((_, cs)) => cs.push("devices".to_owned()),
                None => v1.push((mount, vec!["devices".to_owned()])),
            }
            devices::Enforcement::V1
        }
        (_, Some(_)) => devices::Enforcement::V2Program,
        (_, None) => {
            return Err(Error::Devices {
                reason: format!(
                    "the host's cgroup v1 hierarchies have no `devices` controller ({})",
                    layout.describe()
                ),
                fix: "mount it: `mkdir -p /sys/fs/cgroup/devices && mount -t cgroup -o devices \
                      cgroup /sys/fs/cgroup/devices`"
                    .into(),
            });
        }
    };
    // Wherever a unified hierarchy is mounted the cgroup gets a directory there, even
    // without controllers: it holds the processes (for `cgroup.kill`), `cpu.stat` is
    // always there, and the child is cloned straight into it (`CLONE_INTO_CGROUP`),
    // which on a hybrid host also keeps the container's PID 1 out of the launcher's
    // own unified cgroup from its first instruction.
    let v2 = match layout {
        Layout::V2 { mount, .. } | Layout::Hybrid { unified: mount, .. } => {
            Some((mount.clone(), PathBuf::from(PARENT), v2_controllers))
        }
        _ => None,
    };
    Ok(Some(CgroupPlan {
        root: root.to_path_buf(),
        v1,
        v2,
        devices: Some(devices),
    }))
}

fn plan_rootless(
    layout: &Layout,
    root: &Path,
    limits: &Limits,
    own: Option<&Path>,
    required: &dyn Fn(&str) -> bool,
) -> Result<Option<CgroupPlan>> {
    let wanted: Vec<&str> = WANTED
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| required(c))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let flags = limits.flags();
    let fail = |reason: String| Error::NoCgroup {
        limits: flags.clone(),
        reason,
    };
    let Some(mount) = layout.unified_mount() else {
        return Err(fail(format!(
            "running without root, limits need a delegated cgroup v2 subtree, and this host has \
             no cgroup v2 hierarchy ({}); run as root, or without limits",
            layout.describe()
        )));
    };
    let Some(own) = own else {
        return Err(fail(
            "running without root, and this process is in no cgroup v2 cgroup (/proc/self/cgroup \
             has no `0::` line); run as root, or without limits"
                .into(),
        ));
    };
    // The launcher's own cgroup holds processes, so (the "no internal processes" rule)
    // it cannot enable controllers for children; use its parent, which must be
    // delegated to us (writable) and enable the controllers.
    let parent_rel = own
        .parent()
        .unwrap_or(Path::new("/"))
        .strip_prefix("/")
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let parent_dir = under(root, mount).join(&parent_rel);
    let writable = nix::unistd::access(&parent_dir, nix::unistd::AccessFlags::W_OK).is_ok()
        && nix::unistd::access(
            &parent_dir.join("cgroup.procs"),
            nix::unistd::AccessFlags::W_OK,
        )
        .is_ok();
    if !writable {
        return Err(fail(format!(
            "running without root, limits need a cgroup v2 subtree delegated to this user, and \
             {} is not writable (with systemd: `systemd-run --user --scope -p Delegate=yes versus …`); \
             run as root, or without limits",
            parent_dir.display()
        )));
    }
    let enabled = read_words(&parent_dir.join("cgroup.subtree_control"));
    for c in &wanted {
        if !enabled.iter().any(|e| e == c) {
            return Err(fail(format!(
                "the delegated cgroup {} does not enable the `{c}` controller for its children \
                 (cgroup.subtree_control: {:?})",
                parent_dir.display(),
                enabled.join(" ")
            )));
        }
    }
    Ok(Some(CgroupPlan {
        root: root.to_path_buf(),
        v1: Vec::new(),
        v2: Some((
            mount.to_path_buf(),
            parent_rel.join(PARENT),
            wanted.iter().map(|c| c.to_string()).collect(),
        )),
        // No device allow-list without root: there is no cgroup of ours to hold it when
        // no limit is set, and in the user namespace the kernel refuses mknod of a
        // device anyway.
        devices: None,
    }))
}

fn c_static(c: &str) -> &'static str {
    WANTED
        .iter()
        .map(|(n, _)| *n)
        .find(|n| *n == c)
        .unwrap_or("?")
}

/// The CFS quota for `cpus` CPUs per [`CPU_PERIOD_US`] (at least 1000 µs, the kernel's minimum).
pub fn cpu_quota_us(cpus: f64) -> u64 {
    ((cpus * CPU_PERIOD_US as f64).round() as u64).max(1000)
}

/// `root` joined with the absolute host path `abs`.
pub(crate) fn under(root: &Path, abs: &Path) -> PathBuf {
    root.join(abs.strip_prefix("/").unwrap_or(abs))
}

pub(crate) fn read_words(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Writes `value` to a cgroup file, as `echo value > file` does.
pub(crate) fn write_file(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|source| Error::Cgroup {
        action: format!("write {value:?} to"),
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file holding one number.
pub(crate) fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reads `key` from a flat-keyed file (`key value` lines, e.g. `memory.events`).
pub(crate) fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    parse_keyed(&fs::read_to_string(path).ok()?, key)
}

pub(crate) fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

/// Creates `dir`; an existing directory of that name is an error (it is not ours).
pub(crate) fn create_own_dir(dir: &Path) -> Result<()> {
    fs::create_dir(dir).map_err(|source| {
        let action = if source.kind() == io::ErrorKind::AlreadyExists {
            "create (a cgroup of this id already exists: another container with the same id is \
             running, or one was killed before it could clean up; choose another id or rmdir it)"
                .to_string()
        } else {
            "create".to_string()
        };
        Error::Cgroup {
            action,
            path: dir.to_path_buf(),
            source,
        }
    })
}

/// Creates the shared `versus` parent if it is missing.
pub(crate) fn ensure_parent(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::Cgroup {
            action: "create".into(),
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// How long [`remove_dir_retrying`] keeps retrying `EBUSY`.
const REMOVE_BUSY_FOR: Duration = Duration::from_secs(2);

/// Removes a cgroup directory, retrying `EBUSY` for up to [`REMOVE_BUSY_FOR`] while
/// the kernel finishes releasing exited tasks. A missing directory counts as removed.
pub(crate) fn remove_dir_retrying(dir: &Path) -> Result<()> {
    remove_dir_retrying_with(dir, |d| fs::remove_dir(d))
}

/// [`remove_dir_retrying`] with the `rmdir` as a parameter, so that the tests can make
/// the kernel's `EBUSY` happen when they choose.
fn remove_dir_retrying_with(
    dir: &Path,
    mut rmdir: impl FnMut(&Path) -> io::Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + REMOVE_BUSY_FOR;
    let mut pause = Duration::from_micros(200);
    loop {
        match rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(source) => {
                return Err(Error::Cgroup {
                    action: "remove".into(),
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Removes the shared `versus` parent if no other container uses it (best effort).
pub(crate) fn remove_parent_if_empty(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

/// The pids listed in a `cgroup.procs` file.
pub(crate) fn read_pids(path: &Path) -> Vec<i32> {
    fs::read_to_string(path)
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// SIGKILLs every pid in `procs` until the file is empty (at most ~1 s).
pub(crate) fn kill_procs_until_empty(procs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let pids = read_pids(procs);
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
pub(crate) mod tests;

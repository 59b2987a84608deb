//! Which cgroup hierarchies this host has, read from `/proc/self/mountinfo`.
//!
//! Three layouts occur in the field: cgroup v2 only (the unified hierarchy at
//! `/sys/fs/cgroup`; every current distribution), cgroup v1 only (one hierarchy per
//! controller, `/sys/fs/cgroup/<controller>`), and systemd's *hybrid* layout (v1
//! controller hierarchies plus a cgroup2 mount at `/sys/fs/cgroup/unified`). Detection
//! reads files under a root prefix so that fixture trees can stand in for the host.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mountinfo::{MountInfoEntry, is_v1_non_controller_option, parse_mountinfo};

/// One v1 hierarchy: where it is mounted and which controllers it binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Hierarchy {
    /// Mount point on the host, e.g. `/sys/fs/cgroup/memory`.
    pub mount: PathBuf,
    /// Controllers bound to it, e.g. `["cpu", "cpuacct"]`.
    pub controllers: Vec<String>,
}

/// The cgroup layout of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// The unified hierarchy only.
    V2 {
        /// Its mount point, normally `/sys/fs/cgroup`.
        mount: PathBuf,
        /// The controllers its root offers (`cgroup.controllers`).
        controllers: Vec<String>,
    },
    /// Per-controller v1 hierarchies only.
    V1 {
        /// The controller hierarchies (named ones such as `name=systemd` left out).
        hierarchies: Vec<V1Hierarchy>,
    },
    /// v1 controller hierarchies plus a cgroup2 mount (systemd's hybrid layout).
    Hybrid {
        /// The v1 controller hierarchies.
        hierarchies: Vec<V1Hierarchy>,
        /// The cgroup2 mount, e.g. `/sys/fs/cgroup/unified`.
        unified: PathBuf,
        /// The controllers the cgroup2 root offers (often none, or `hugetlb`).
        unified_controllers: Vec<String>,
    },
    /// No cgroup filesystem is mounted.
    None,
}

/// A named v1 hierarchy (`name=systemd`): no controllers, used only for grouping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedHierarchy {
    /// The `name=` option, e.g. `systemd`.
    pub name: String,
    /// Mount point on the host, e.g. `/sys/fs/cgroup/systemd`.
    pub mount: PathBuf,
}

/// Everything one pass over mountinfo finds: the [`Layout`] plus the named v1
/// hierarchies, which do not decide the layout (cgroup2 plus only `name=systemd`
/// is v2) but which a host report lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    /// The layout.
    pub layout: Layout,
    /// Named v1 hierarchies, in mount order.
    pub named: Vec<NamedHierarchy>,
}

/// Where one controller can be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// In the v1 hierarchy mounted here.
    V1(PathBuf),
    /// In the unified hierarchy mounted here.
    V2(PathBuf),
}

impl std::fmt::Display for Place {
    /// `v1 at /sys/fs/cgroup/memory`, `v2 at /sys/fs/cgroup`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::V1(m) => write!(f, "v1 at {}", m.display()),
            Place::V2(m) => write!(f, "v2 at {}", m.display()),
        }
    }
}

impl Scan {
    /// Scans the host whose files are under `root` (`/` for the real host).
    pub fn detect(root: &Path) -> Self {
        let text = fs::read_to_string(root.join("proc/self/mountinfo")).unwrap_or_default();
        Self::from_mountinfo(&text, root)
    }

    /// Scans mountinfo text, reading `cgroup.controllers` under `root`: the one
    /// algorithm behind [`Layout::from_mountinfo`] and `versus doctor`.
    ///
    /// A later mount on the same mount point hides an earlier one; a v1 hierarchy
    /// mounted twice is listed once; named v1 hierarchies (no controllers) go to
    /// [`Scan::named`] and do not count as v1 controller hierarchies.
    pub fn from_mountinfo(text: &str, root: &Path) -> Self {
        let mut named: Vec<NamedHierarchy> = Vec::new();
        let mut visible: Vec<MountInfoEntry> = Vec::new();
        for m in parse_mountinfo(text) {
            visible.retain(|v| v.mount_point != m.mount_point);
            visible.push(m);
        }
        let mut hierarchies: Vec<V1Hierarchy> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut unified: Vec<PathBuf> = Vec::new();
        for m in visible {
            match m.fs_type.as_str() {
                "cgroup2" => unified.push(PathBuf::from(&m.mount_point)),
                "cgroup" => {
                    if seen.contains(&m.device) {
                        continue;
                    }
                    seen.push(m.device.clone());
                    let controllers: Vec<String> = m
                        .super_options
                        .iter()
                        .filter(|o| !is_v1_non_controller_option(o))
                        .cloned()
                        .collect();
                    if !controllers.is_empty() {
                        hierarchies.push(V1Hierarchy {
                            mount: PathBuf::from(&m.mount_point),
                            controllers,
                        });
                    } else if let Some(name) =
                        m.super_options.iter().find_map(|o| o.strip_prefix("name="))
                    {
                        named.push(NamedHierarchy {
                            name: name.to_owned(),
                            mount: PathBuf::from(&m.mount_point),
                        });
                    }
                }
                _ => {}
            }
        }
        let unified = unified
            .iter()
            .find(|p| *p == Path::new("/sys/fs/cgroup"))
            .or_else(|| {
                unified
                    .iter()
                    .find(|p| *p == Path::new("/sys/fs/cgroup/unified"))
            })
            .or(unified.first())
            .cloned();
        let layout = match (unified, hierarchies.is_empty()) {
            (Some(u), true) => Layout::V2 {
                controllers: read_controllers(root, &u),
                mount: u,
            },
            (Some(u), false) => Layout::Hybrid {
                hierarchies,
                unified_controllers: read_controllers(root, &u),
                unified: u,
            },
            (None, false) => Layout::V1 { hierarchies },
            (None, true) => Layout::None,
        };
        Scan { layout, named }
    }
}

impl Layout {
    /// Detects the layout of the host whose files are under `root` (`/` for the real host).
    pub fn detect(root: &Path) -> Self {
        Scan::detect(root).layout
    }

    /// Builds the layout from mountinfo text, reading `cgroup.controllers` under `root`
    /// ([`Scan::from_mountinfo`] without the named hierarchies).
    pub fn from_mountinfo(text: &str, root: &Path) -> Self {
        Scan::from_mountinfo(text, root).layout
    }

    /// Where `controller` is usable: the v1 hierarchy that binds it (preferred in the
    /// hybrid layout, since a controller bound to v1 cannot also be in v2), or the
    /// unified hierarchy whose root offers it.
    pub fn locate(&self, controller: &str) -> Option<Place> {
        let in_v1 = |hs: &[V1Hierarchy]| {
            hs.iter()
                .find(|h| h.controllers.iter().any(|c| c == controller))
                .map(|h| Place::V1(h.mount.clone()))
        };
        let in_v2 = |mount: &Path, cs: &[String]| {
            cs.iter()
                .any(|c| c == controller)
                .then(|| Place::V2(mount.to_path_buf()))
        };
        match self {
            Layout::V2 { mount, controllers } => in_v2(mount, controllers),
            Layout::V1 { hierarchies } => in_v1(hierarchies),
            Layout::Hybrid {
                hierarchies,
                unified,
                unified_controllers,
            } => in_v1(hierarchies).or_else(|| in_v2(unified, unified_controllers)),
            Layout::None => None,
        }
    }

    /// `"v2"`, `"v1"`, `"hybrid"` or `"none"`.
    pub fn label(&self) -> &'static str {
        match self {
            Layout::V2 { .. } => "v2",
            Layout::V1 { .. } => "v1",
            Layout::Hybrid { .. } => "hybrid",
            Layout::None => "none",
        }
    }

    /// The unified mount, if any.
    pub fn unified_mount(&self) -> Option<&Path> {
        match self {
            Layout::V2 { mount, .. } => Some(mount),
            Layout::Hybrid { unified, .. } => Some(unified),
            _ => None,
        }
    }

    /// A one-line description of the controllers on offer, for error messages.
    pub fn describe(&self) -> String {
        let v1 = |hs: &[V1Hierarchy]| {
            hs.iter()
                .map(|h| h.controllers.join(","))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Layout::V2 { mount, controllers } => format!(
                "cgroup v2 at {} offers: {}",
                mount.display(),
                or_none(&controllers.join(" "))
            ),
            Layout::V1 { hierarchies } => {
                format!("cgroup v1 hierarchies: {}", or_none(&v1(hierarchies)))
            }
            Layout::Hybrid {
                hierarchies,
                unified,
                unified_controllers,
            } => format!(
                "hybrid: cgroup v1 hierarchies {} plus cgroup v2 at {} offering: {}",
                or_none(&v1(hierarchies)),
                unified.display(),
                or_none(&unified_controllers.join(" "))
            ),
            Layout::None => "no cgroup filesystem is mounted".into(),
        }
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

/// The cgroup v2 path of the process whose `/proc/<pid>/cgroup` text this is (`0::/path`).
pub fn own_v2_path(proc_cgroup: &str) -> Option<PathBuf> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| PathBuf::from(p.trim()))
}

fn read_controllers(root: &Path, mount: &Path) -> Vec<String> {
    let rel = mount.strip_prefix("/").unwrap_or(mount);
    fs::read_to_string(root.join(rel).join("cgroup.controllers"))
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The project machines' layout (docs/en/platforms.md): v1 plus cgroup2 at /unified.
    pub(crate) const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    pub(crate) const V2_MOUNTINFO: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    pub(crate) const V1_MOUNTINFO: &str = "\
25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid shared:13 - cgroup cgroup rw,pids
33 25 0:29 / /sys/fs/cgroup/devices rw,nosuid shared:14 - cgroup cgroup rw,devices
";

    fn fixture_with_controllers(mount: &str, controllers: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(mount.trim_start_matches('/'));
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("cgroup.controllers"), controllers).unwrap();
        d
    }

    #[test]
    fn detects_the_hybrid_layout_of_this_machine() {
        let d = fixture_with_controllers("/sys/fs/cgroup/unified", "hugetlb\n");
        let l = Layout::from_mountinfo(HYBRID_MOUNTINFO, d.path());
        assert_eq!(l.label(), "hybrid");
        assert_eq!(
            l.locate("memory"),
            Some(Place::V1("/sys/fs/cgroup/memory".into()))
        );
        assert_eq!(
            l.locate("cpuacct"),
            Some(Place::V1("/sys/fs/cgroup/cpuacct".into()))
        );
        assert_eq!(
            l.locate("hugetlb"),
            Some(Place::V2("/sys/fs/cgroup/unified".into()))
        );
        assert_eq!(l.locate("io"), None);
        assert!(l.describe().contains("hybrid"), "{}", l.describe());
        let scan = Scan::from_mountinfo(HYBRID_MOUNTINFO, d.path());
        assert_eq!(scan.layout, l);
        assert_eq!(
            scan.named,
            [NamedHierarchy {
                name: "systemd".into(),
                mount: "/sys/fs/cgroup/systemd".into()
            }]
        );
        assert_eq!(
            l.locate("memory").unwrap().to_string(),
            "v1 at /sys/fs/cgroup/memory"
        );
    }

    #[test]
    fn detects_v2_and_v1() {
        let d = fixture_with_controllers("/sys/fs/cgroup", "cpuset cpu io memory pids\n");
        let l = Layout::from_mountinfo(V2_MOUNTINFO, d.path());
        assert_eq!(
            l,
            Layout::V2 {
                mount: "/sys/fs/cgroup".into(),
                controllers: ["cpuset", "cpu", "io", "memory", "pids"]
                    .map(String::from)
                    .to_vec()
            }
        );
        let l = Layout::from_mountinfo(V1_MOUNTINFO, Path::new("/nonexistent"));
        assert_eq!(l.label(), "v1");
        assert_eq!(
            l.locate("cpuacct"),
            Some(Place::V1("/sys/fs/cgroup/cpu,cpuacct".into()))
        );
        assert_eq!(Layout::from_mountinfo("", Path::new("/")), Layout::None);
    }

    #[test]
    fn own_path_is_read_from_proc_cgroup() {
        assert_eq!(
            own_v2_path("0::/user.slice/user-1000.slice/session-2.scope\n"),
            Some("/user.slice/user-1000.slice/session-2.scope".into())
        );
        assert_eq!(own_v2_path("4:memory:/x\n0::/\n"), Some(PathBuf::from("/")));
        assert_eq!(own_v2_path("4:memory:/x\n"), None);
    }
}

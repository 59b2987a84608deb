//! The host facts the container launcher depends on, detected in one place (youki's
//! `info` model): the cgroup layout, unprivileged user namespaces, Linux security
//! modules and seccomp.
//!
//! `container run` ([`crate::spec`]) and `versus doctor` call these same functions, so
//! a blocker doctor names is the one a launch meets. Every function reads files under
//! a root prefix (`/` for the real host, a fixture tree in tests); nothing here fails:
//! what cannot be read is reported as absent.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::cgroup::layout::{Layout, NamedHierarchy, Place, Scan, V1Hierarchy};
pub use crate::lsm::{AppArmorState, LsmInfo, SelinuxState};

/// A knob that can disable unprivileged user namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernsKnob {
    /// The kernel has no user namespaces at all (no `/proc/self/ns/user`).
    KernelConfig,
    /// `/proc/sys/user/max_user_namespaces` = 0 (disables them even for root).
    MaxUserNamespaces,
    /// Debian's `/proc/sys/kernel/unprivileged_userns_clone` = 0.
    DebianUnprivilegedClone,
    /// Ubuntu's `/proc/sys/kernel/apparmor_restrict_unprivileged_userns` = 1: the
    /// namespace is created without capabilities, so the uid/gid maps cannot be set up.
    UbuntuAppArmorRestrict,
}

impl UsernsKnob {
    /// The one-line fix for this knob.
    pub fn fix(self) -> &'static str {
        match self {
            UsernsKnob::KernelConfig => "use a kernel built with CONFIG_USER_NS=y",
            UsernsKnob::MaxUserNamespaces => "sysctl -w user.max_user_namespaces=15000",
            UsernsKnob::DebianUnprivilegedClone => "sysctl -w kernel.unprivileged_userns_clone=1",
            UsernsKnob::UbuntuAppArmorRestrict => {
                "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or give versus an AppArmor profile with `userns,`)"
            }
        }
    }
}

/// Field `n` (1-based, as `proc(5)` numbers them; 3 or more) of a
/// `/proc/<pid>/stat` line. The command name (field 2) is in parentheses
/// and may itself hold spaces and parentheses, so counting starts after the
/// last `)`, where field 3 begins.
pub fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n.checked_sub(3)?)
}

/// When process `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`); `None` if there is no such process.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_field(&stat, 22)?.parse().ok()
}

/// The parent of process `pid` (field 4 of `/proc/<pid>/stat`).
pub fn parent_pid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_field(&stat, 4)?.parse().ok()
}

/// One reason unprivileged user namespaces are unavailable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsernsBlock {
    /// The knob responsible.
    pub knob: UsernsKnob,
    /// What was read, e.g. `"user.max_user_namespaces = 0"`.
    pub reason: String,
}

/// Whether unprivileged processes can create user namespaces (the rootless path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernsStatus {
    /// Allowed.
    Allowed {
        /// `user.max_user_namespaces`, if readable.
        max_user_namespaces: Option<u64>,
    },
    /// Disabled, by every knob listed (in the order of [`UsernsKnob`]).
    Disabled {
        /// All the knobs that block them.
        blocks: Vec<UsernsBlock>,
    },
}

impl UsernsStatus {
    /// Reads every knob of the host under `root`.
    pub fn detect(root: &Path) -> Self {
        let read = |p: &str| {
            fs::read_to_string(root.join(p))
                .ok()
                .map(|s| s.trim().to_owned())
        };
        let mut blocks = Vec::new();
        // symlink_metadata: /proc/self/ns/user is a magic link.
        if fs::symlink_metadata(root.join("proc/self/ns/user")).is_err() {
            blocks.push(UsernsBlock {
                knob: UsernsKnob::KernelConfig,
                reason: "no /proc/self/ns/user: the kernel has no user namespaces (CONFIG_USER_NS)"
                    .to_owned(),
            });
        }
        let max = read("proc/sys/user/max_user_namespaces").and_then(|s| s.parse::<u64>().ok());
        if max == Some(0) {
            blocks.push(UsernsBlock {
                knob: UsernsKnob::MaxUserNamespaces,
                reason: "user namespaces are disabled (user.max_user_namespaces = 0)".to_owned(),
            });
        }
        if read("proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
            blocks.push(UsernsBlock {
                knob: UsernsKnob::DebianUnprivilegedClone,
                reason: "unprivileged user namespaces are disabled \
                         (kernel.unprivileged_userns_clone = 0, Debian)"
                    .to_owned(),
            });
        }
        if read("proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
            blocks.push(UsernsBlock {
                knob: UsernsKnob::UbuntuAppArmorRestrict,
                reason: "unprivileged user namespaces are restricted by AppArmor \
                         (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu)"
                    .to_owned(),
            });
        }
        if blocks.is_empty() {
            UsernsStatus::Allowed {
                max_user_namespaces: max,
            }
        } else {
            UsernsStatus::Disabled { blocks }
        }
    }

    /// The knobs that block unprivileged user namespaces (empty when allowed).
    pub fn blocks(&self) -> &[UsernsBlock] {
        match self {
            UsernsStatus::Allowed { .. } => &[],
            UsernsStatus::Disabled { blocks } => blocks,
        }
    }

    /// Why a rootless launch cannot work, naming every blocking knob and its fix
    /// (`None` when allowed): the reason of [`crate::Error::RootlessUnavailable`].
    pub fn unavailable_reason(&self) -> Option<String> {
        let blocks = self.blocks();
        if blocks.is_empty() {
            return None;
        }
        let what: Vec<String> = blocks
            .iter()
            .map(|b| format!("{}; fix: `{}`", b.reason, b.knob.fix()))
            .collect();
        Some(format!("{}; or run as root", what.join("; ")))
    }
}

/// Seccomp support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompInfo {
    /// The kernel has seccomp (`Seccomp:` line in `/proc/self/status`).
    pub supported: bool,
    /// The kernel has seccomp filters (BPF): `actions_avail` lists actions, or
    /// `Seccomp_filters:` appears in `/proc/self/status`.
    pub filter_supported: bool,
    /// Filter actions from `/proc/sys/kernel/seccomp/actions_avail`.
    pub actions: Vec<String>,
    /// This process's mode: 0 none, 1 strict, 2 filter.
    pub current_mode: Option<u8>,
}

impl SeccompInfo {
    /// Reads the host under `root`.
    pub fn detect(root: &Path) -> Self {
        let status = fs::read_to_string(root.join("proc/self/status")).unwrap_or_default();
        let field = |name: &str| {
            status.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(|v| v.trim().to_owned())
            })
        };
        let mode = field("Seccomp");
        let filters_line = field("Seccomp_filters").is_some();
        let actions: Vec<String> =
            fs::read_to_string(root.join("proc/sys/kernel/seccomp/actions_avail"))
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
        let current_mode = mode.as_deref().and_then(|m| m.parse::<u8>().ok());
        SeccompInfo {
            supported: mode.is_some(),
            filter_supported: !actions.is_empty() || filters_line || current_mode == Some(2),
            actions,
            current_mode,
        }
    }
}

/// All the host facts of this module at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// The cgroup layout and named v1 hierarchies.
    pub cgroup: Scan,
    /// Unprivileged user namespaces.
    pub userns: UsernsStatus,
    /// Active security modules.
    pub lsm: LsmInfo,
    /// Seccomp support.
    pub seccomp: SeccompInfo,
}

impl HostInfo {
    /// Detects everything for the host under `root` (`/` for the real host).
    pub fn detect(root: &Path) -> Self {
        Self {
            cgroup: Scan::detect(root),
            userns: UsernsStatus::detect(root),
            lsm: LsmInfo::detect(root),
            seccomp: SeccompInfo::detect(root),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 \
                    987654 1000 10 18446744073709551615";
        assert_eq!(stat_field(stat, 22), Some("987654"));
        assert_eq!(stat_field(stat, 4), Some("1"));
        assert_eq!(stat_field(stat, 3), Some("S"));
        assert_eq!(stat_field(stat, 2), None, "the name is not a counted field");
        assert_eq!(stat_field("garbage", 22), None);
        assert_eq!(
            parent_pid(std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
        assert!(process_start_ticks(std::process::id()).is_some());
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn knobs(s: &UsernsStatus) -> Vec<UsernsKnob> {
        s.blocks().iter().map(|b| b.knob).collect()
    }

    #[test]
    fn every_userns_knob_is_read_and_named_with_its_fix() {
        let d = tempfile::tempdir().unwrap();
        let s = UsernsStatus::detect(d.path());
        assert_eq!(knobs(&s), [UsernsKnob::KernelConfig]);
        assert!(s.unavailable_reason().unwrap().contains("CONFIG_USER_NS"));
        write(d.path(), "proc/self/ns/user", "");
        write(d.path(), "proc/sys/user/max_user_namespaces", "63482\n");
        assert_eq!(
            UsernsStatus::detect(d.path()),
            UsernsStatus::Allowed {
                max_user_namespaces: Some(63482)
            }
        );
        assert_eq!(UsernsStatus::detect(d.path()).unavailable_reason(), None);
        write(
            d.path(),
            "proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1\n",
        );
        let s = UsernsStatus::detect(d.path());
        assert_eq!(knobs(&s), [UsernsKnob::UbuntuAppArmorRestrict]);
        let why = s.unavailable_reason().unwrap();
        assert!(
            why.contains("kernel.apparmor_restrict_unprivileged_userns=0"),
            "{why}"
        );
        write(d.path(), "proc/sys/kernel/unprivileged_userns_clone", "0\n");
        write(d.path(), "proc/sys/user/max_user_namespaces", "0\n");
        let s = UsernsStatus::detect(d.path());
        assert_eq!(
            knobs(&s),
            [
                UsernsKnob::MaxUserNamespaces,
                UsernsKnob::DebianUnprivilegedClone,
                UsernsKnob::UbuntuAppArmorRestrict
            ]
        );
        let why = s.unavailable_reason().unwrap();
        assert!(why.contains("unprivileged_userns_clone"), "{why}");
        assert!(why.contains("run as root"), "{why}");
    }

    #[test]
    fn seccomp_from_status_and_actions() {
        let d = tempfile::tempdir().unwrap();
        assert!(!SeccompInfo::detect(d.path()).supported);
        write(
            d.path(),
            "proc/self/status",
            "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n",
        );
        let s = SeccompInfo::detect(d.path());
        assert!(s.supported && s.filter_supported);
        assert_eq!(s.current_mode, Some(2));
    }

    #[test]
    fn the_real_host_answers() {
        let h = HostInfo::detect(Path::new("/"));
        assert!(h.seccomp.supported);
        assert_eq!(h.cgroup.layout, Layout::detect(Path::new("/")));
    }
}

//! Linux security modules (AppArmor, SELinux, …): detected and reported, not configured.
//!
//! Docker additionally confines a container with an AppArmor profile (`docker-default`)
//! or an SELinux label where those are active; versus does not load profiles, but the
//! report says which modules are active, so a reader knows what else could apply.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Which security modules are active.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LsmInfo {
    /// The kernel's LSM list (`/sys/kernel/security/lsm`), e.g. `["lockdown", "capability",
    /// "yama", "apparmor"]`; empty if securityfs is not mounted.
    pub modules: Vec<String>,
    /// AppArmor is enabled (`/sys/module/apparmor/parameters/enabled` = `Y`).
    pub apparmor: bool,
    /// SELinux mode: `enforcing` or `permissive` (`/sys/fs/selinux/enforce`), if active.
    pub selinux: Option<String>,
    /// The launcher's own security label (`/proc/self/attr/current`), if any.
    pub launcher_label: Option<String>,
    /// The LSM list could be read (securityfs is mounted at `/sys/kernel/security`).
    #[serde(default)]
    pub securityfs: bool,
    /// The AppArmor module is in the kernel (`/sys/module/apparmor` exists), enabled or not.
    #[serde(default)]
    pub apparmor_in_kernel: bool,
}

/// AppArmor state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppArmorState {
    /// Enabled (`/sys/module/apparmor/parameters/enabled` = Y, or listed as active).
    Enabled,
    /// The module is there but disabled.
    Disabled,
    /// Not in the kernel.
    Absent,
}

/// SELinux state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelinuxState {
    /// `/sys/fs/selinux/enforce` = 1.
    Enforcing,
    /// `/sys/fs/selinux/enforce` = 0.
    Permissive,
    /// No selinuxfs: not in the kernel or disabled.
    Absent,
}

impl LsmInfo {
    /// Reads the host under `root` (`/` for the real host).
    pub fn detect(root: &Path) -> Self {
        let read = |p: &str| {
            fs::read_to_string(root.join(p)).ok().map(|s| {
                s.trim_matches(|c: char| c.is_whitespace() || c == '\0')
                    .to_owned()
            })
        };
        let list = read("sys/kernel/security/lsm");
        let securityfs = list.is_some();
        let modules: Vec<String> = list
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        // The module parameter decides when it is there; otherwise the active list.
        let apparmor = match read("sys/module/apparmor/parameters/enabled").as_deref() {
            Some("Y" | "y" | "1") => true,
            Some(_) => false,
            None => modules.iter().any(|m| m == "apparmor"),
        };
        let apparmor_in_kernel = root.join("sys/module/apparmor").exists();
        let selinux = read("sys/fs/selinux/enforce")
            .map(|v| if v == "1" { "enforcing" } else { "permissive" }.to_owned());
        let launcher_label = read("proc/self/attr/current").filter(|l| !l.is_empty());
        Self {
            modules,
            apparmor,
            selinux,
            launcher_label,
            securityfs,
            apparmor_in_kernel,
        }
    }

    /// AppArmor: enabled, in the kernel but disabled, or absent.
    pub fn apparmor_state(&self) -> AppArmorState {
        if self.apparmor {
            AppArmorState::Enabled
        } else if self.apparmor_in_kernel {
            AppArmorState::Disabled
        } else {
            AppArmorState::Absent
        }
    }

    /// SELinux: enforcing, permissive, or absent.
    pub fn selinux_state(&self) -> SelinuxState {
        match self.selinux.as_deref() {
            Some("enforcing") => SelinuxState::Enforcing,
            Some(_) => SelinuxState::Permissive,
            None => SelinuxState::Absent,
        }
    }

    /// One line for a report: `apparmor`, `selinux (enforcing)`, or `none`.
    pub fn summary(&self) -> String {
        let mut v = Vec::new();
        if self.apparmor {
            v.push("apparmor".to_string());
        }
        if let Some(mode) = &self.selinux {
            v.push(format!("selinux ({mode})"));
        }
        for m in &self.modules {
            if matches!(m.as_str(), "smack" | "tomoyo" | "landlock") {
                v.push(m.clone());
            }
        }
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_apparmor_and_selinux_from_files() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(LsmInfo::detect(d.path()).summary(), "none");
        fs::create_dir_all(d.path().join("sys/kernel/security")).unwrap();
        fs::write(
            d.path().join("sys/kernel/security/lsm"),
            "lockdown,capability,landlock,yama,apparmor",
        )
        .unwrap();
        let i = LsmInfo::detect(d.path());
        assert!(i.apparmor);
        assert_eq!(i.summary(), "apparmor, landlock");
        fs::create_dir_all(d.path().join("sys/fs/selinux")).unwrap();
        fs::write(d.path().join("sys/fs/selinux/enforce"), "1").unwrap();
        assert_eq!(
            LsmInfo::detect(d.path()).selinux.as_deref(),
            Some("enforcing")
        );
        assert_eq!(
            LsmInfo::detect(d.path()).selinux_state(),
            SelinuxState::Enforcing
        );
        assert!(i.securityfs);
        assert_eq!(i.apparmor_state(), AppArmorState::Enabled);
        fs::create_dir_all(d.path().join("sys/module/apparmor/parameters")).unwrap();
        fs::write(d.path().join("sys/module/apparmor/parameters/enabled"), "N").unwrap();
        assert_eq!(
            LsmInfo::detect(d.path()).apparmor_state(),
            AppArmorState::Disabled
        );
    }
}

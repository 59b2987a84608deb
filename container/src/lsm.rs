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
        let modules: Vec<String> = read("sys/kernel/security/lsm")
            .map(|s| {
                s.split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let apparmor = read("sys/module/apparmor/parameters/enabled").as_deref() == Some("Y")
            || modules.iter().any(|m| m == "apparmor");
        let selinux = read("sys/fs/selinux/enforce")
            .map(|v| if v == "1" { "enforcing" } else { "permissive" }.to_owned());
        let launcher_label = read("proc/self/attr/current").filter(|l| !l.is_empty());
        Self {
            modules,
            apparmor,
            selinux,
            launcher_label,
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
    }
}

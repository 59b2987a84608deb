//! The facts about the launching host that the checks depend on, detected once per
//! build (and replaced by fixtures in tests, so that every check runs without root).

use std::path::{Path, PathBuf};

use crate::capabilities::kernel_last_cap;
use crate::cgroup::{self, Layout};
use crate::host::UsernsStatus;
use crate::lsm::LsmInfo;

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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A host running versus as `euid`, with the cgroup layout of `mountinfo`.
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
}

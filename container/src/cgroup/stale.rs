//! Container ids that name the process that owns them, and the sweep of
//! cgroups whose owner died without cleaning up.
//!
//! A launcher killed with SIGKILL runs no cleanup: its container dies with it
//! (PID 1 has the parent-death signal), but the empty `versus/<id>` cgroup
//! directories stay. An id made by [`unique_id`] records the launcher's pid
//! and the time that process started, so any later launch can tell — even
//! after the pid was reused by another process — that the owner is gone, and
//! remove the leftovers ([`CgroupPlan::sweep_stale`]). `versus doctor` lists
//! them with [`CgroupPlan::stale`].

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{CgroupPlan, kill_procs_until_empty, remove_dir_retrying, under};

/// Every id made by [`unique_id`] starts with this.
pub const RUN_PREFIX: &str = "run-";

/// A container id unique on this host for as long as it can matter:
/// `run-<launcher pid>-<launcher start time in clock ticks>-<n>`.
pub fn unique_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // This process's start time does not change: read /proc once (keyed by
    // pid, so that a forked child does not reuse its parent's).
    static STARTED: OnceLock<(u32, u64)> = OnceLock::new();
    let pid = std::process::id();
    let started =
        match STARTED.get_or_init(|| (pid, crate::host::process_start_ticks(pid).unwrap_or(0))) {
            &(cached_pid, started) if cached_pid == pid => started,
            _ => crate::host::process_start_ticks(pid).unwrap_or(0),
        };
    format!(
        "{RUN_PREFIX}{pid}-{started}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The owner recorded in an id made by [`unique_id`]: (pid, start time).
fn owner_of(id: &str) -> Option<(u32, u64)> {
    let mut parts = id.strip_prefix(RUN_PREFIX)?.split('-');
    let pid = parts.next()?.parse().ok()?;
    let started = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u64>().ok()?;
    parts.next().is_none().then_some((pid, started))
}

/// True when `id` was made by [`unique_id`] for a process that no longer
/// runs (its pid is gone, or now belongs to a process that started later).
fn owner_is_dead(id: &str) -> bool {
    owner_of(id)
        .is_some_and(|(pid, started)| crate::host::process_start_ticks(pid) != Some(started))
}

impl CgroupPlan {
    /// The `versus` parent directories this plan would create cgroups in.
    fn parents(&self) -> Vec<PathBuf> {
        let v1 = self
            .v1
            .iter()
            .map(|(mount, _)| under(&self.root, mount).join(super::PARENT));
        let v2 = self
            .v2
            .iter()
            .map(|(mount, parent, _)| under(&self.root, mount).join(parent));
        v1.chain(v2).collect()
    }

    /// Cgroups left behind by launchers that died (see the module docs).
    pub fn stale(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for parent in self.parents() {
            let Ok(entries) = fs::read_dir(&parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_dir && name.to_str().is_some_and(owner_is_dead) {
                    found.push(entry.path());
                }
            }
        }
        found.sort();
        found
    }

    /// Removes the cgroups of launchers that died: any process still in one
    /// is killed first (it belongs to a container nobody watches). Returns
    /// what was removed; what cannot be removed is left for the next sweep.
    pub fn sweep_stale(&self) -> Vec<PathBuf> {
        self.stale()
            .into_iter()
            .filter(|dir| remove_stale(dir))
            .collect()
    }
}

/// Stale cgroups on this host, where a root launcher would make its own:
/// what `versus doctor` reports (the next container launch removes them).
pub fn on_this_host() -> Vec<PathBuf> {
    let root = Path::new("/");
    let layout = super::Layout::detect(root);
    match super::plan(
        &layout,
        root,
        &super::Limits::default(),
        &super::Launcher::Root,
    ) {
        Ok(Some(plan)) => plan.stale(),
        _ => Vec::new(),
    }
}

fn remove_stale(dir: &Path) -> bool {
    kill_procs_until_empty(&dir.join("cgroup.procs"));
    remove_dir_retrying(dir).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_this_process_and_are_never_repeated() {
        let (a, b) = (unique_id(), unique_id());
        assert_ne!(a, b);
        let (pid, started) = owner_of(&a).expect("an id of ours");
        assert_eq!(pid, std::process::id());
        assert_eq!(Some(started), crate::host::process_start_ticks(pid));
        assert!(!owner_is_dead(&a));
    }

    #[test]
    fn only_ids_whose_owner_is_gone_are_stale() {
        let me = std::process::id();
        let started = crate::host::process_start_ticks(me).unwrap();
        assert!(!owner_is_dead(&format!("run-{me}-{started}-0")));
        // Same pid, another start time: the pid was reused.
        assert!(owner_is_dead(&format!("run-{me}-{}-0", started + 1)));
        // No such process (beyond the default pid_max).
        assert!(owner_is_dead("run-4194304000-5-0"));
        // Not ours, or a user's own id: never touched.
        assert!(!owner_is_dead("run-1-2"));
        assert!(!owner_is_dead("my-container"));
        assert!(!owner_is_dead("run-x-1-2"));
    }

    #[test]
    fn the_sweep_removes_dead_owners_cgroups_and_keeps_the_rest() {
        let root = tempfile::tempdir().unwrap();
        let plan = CgroupPlan {
            root: root.path().to_path_buf(),
            v1: vec![(
                PathBuf::from("/sys/fs/cgroup/memory"),
                vec!["memory".into()],
            )],
            v2: Some((
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("versus"),
                vec![],
            )),
            devices: None,
        };
        let me = std::process::id();
        let started = crate::host::process_start_ticks(me).unwrap();
        let live = format!("run-{me}-{started}-0");
        let dead = "run-4194304000-5-0";
        for parent in plan.parents() {
            for name in [live.as_str(), dead, "someone-else"] {
                fs::create_dir_all(parent.join(name)).unwrap();
            }
        }
        assert_eq!(plan.stale().len(), 2);
        let removed = plan.sweep_stale();
        assert_eq!(removed.len(), 2);
        for parent in plan.parents() {
            assert!(!parent.join(dead).exists());
            assert!(parent.join(&live).exists());
            assert!(parent.join("someone-else").exists());
        }
        assert!(plan.stale().is_empty());
    }
}

//! One timed migration into a fresh cgroup, so that `versus doctor` can say what a
//! container launch pays to join its cgroup on this host.
//!
//! Moving a task between cgroups takes the write side of the kernel's
//! `cgroup_threadgroup_rwsem`, a per-CPU rwsem: unless a migration happened moments
//! ago (or a hierarchy is mounted with `favordynmods`), its writer first waits an RCU
//! grace period, several milliseconds. A container launch on a v1 or hybrid host
//! pays it in its `cgroup.procs` writes, less what the child's mounts overlap (the
//! `cgroup join` step of `versus container run --trace`); on cgroup v2 the child is
//! cloned into its cgroup and pays nothing. The probe repeats it once on a throwaway thread
//! of this process: the thread's id goes into the `tasks` file of a new v1 cgroup
//! (v1 moves single threads; v2 would need a threaded cgroup, so only v1 is probed),
//! the thread exits, and the cgroup is removed. Its id comes from
//! [`super::stale::unique_id`], so a doctor killed in between leaves a directory the
//! next launch removes.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{PARENT, create_own_dir, ensure_parent, remove_dir_retrying, remove_parent_if_empty};
use crate::error::{Error, Result};

/// How long one migration of a thread into a new cgroup of the v1 hierarchy mounted
/// at `hierarchy` takes. Needs root; leaves nothing behind.
pub fn time_v1_join(hierarchy: &Path) -> Result<Duration> {
    let parent = hierarchy.join(PARENT);
    ensure_parent(&parent)?;
    let dir = parent.join(super::stale::unique_id());
    create_own_dir(&dir)?;
    let timed = move_a_thread_into(&dir);
    // The thread has exited: the cgroup is empty once the kernel has released it,
    // which `remove_dir_retrying` waits for.
    let removed = remove_dir_retrying(&dir);
    remove_parent_if_empty(&parent);
    let took = timed?;
    removed?;
    Ok(took)
}

/// Starts a thread that waits, writes its id into `dir/tasks` (timed), lets it go.
fn move_a_thread_into(dir: &Path) -> Result<Duration> {
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let waiter = std::thread::spawn(move || {
        // SAFETY: gettid has no arguments and cannot fail.
        let tid = unsafe { libc::gettid() };
        // The receiver lives until this thread is joined below.
        let _ = tid_tx.send(tid);
        // Ends when the sender is dropped, whatever the probe's outcome.
        let _ = done_rx.recv();
    });
    let tid = tid_rx.recv().map_err(|_| Error::Cgroup {
        action: "start the probe thread for".to_owned(),
        path: dir.to_owned(),
        source: std::io::Error::other("the probe thread ended before reporting its id"),
    })?;
    let tasks = dir.join("tasks");
    let started = Instant::now();
    // Opened without O_CREAT: where `dir` is not in a cgroup file system, the write
    // fails instead of leaving a file that would keep the directory from going.
    let written = OpenOptions::new()
        .write(true)
        .open(&tasks)
        .and_then(|mut file| file.write_all(tid.to_string().as_bytes()))
        .map_err(|source| Error::Cgroup {
            action: format!("write {tid} to"),
            path: tasks.clone(),
            source,
        });
    let took = started.elapsed();
    drop(done_tx);
    let _ = waiter.join();
    written.map(|()| took)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{Layout, Place};

    #[testkit::needs(root)]
    #[test]
    fn a_probe_join_is_timed_and_leaves_no_cgroup() {
        const TEST: &str = "a_probe_join_is_timed_and_leaves_no_cgroup";
        if !testkit::require_root(TEST) {
            return;
        }
        let Some(Place::V1(hierarchy)) = Layout::detect(Path::new("/")).locate("pids") else {
            // Not a skip: on a cgroup v2 host there is nothing of this kind to probe.
            eprintln!("{TEST}: no v1 pids hierarchy, the probe is for cgroup v1 hosts");
            return;
        };
        let took = time_v1_join(&hierarchy).expect("probe");
        assert!(took > Duration::ZERO);
        // Other launchers may be running: only this process's cgroups must be gone.
        let ours = format!("{}{}-", super::super::stale::RUN_PREFIX, std::process::id());
        let left: Vec<String> = list(&hierarchy.join(PARENT))
            .into_iter()
            .filter(|name| name.starts_with(&ours))
            .collect();
        assert!(left.is_empty(), "probe cgroup left behind: {left:?}");
    }

    #[test]
    fn a_probe_outside_a_cgroup_file_system_fails_and_leaves_nothing() {
        let not_a_hierarchy = tempfile::tempdir().unwrap();
        let err = time_v1_join(not_a_hierarchy.path()).unwrap_err();
        assert!(err.to_string().contains("tasks"), "{err}");
        assert!(
            list(not_a_hierarchy.path()).is_empty(),
            "left behind: {:?}",
            list(not_a_hierarchy.path())
        );
    }

    fn list(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

//! Helpers shared by the container crate's integration tests: skipping
//! (with the reason printed) where root or busybox is missing — a failure
//! instead under `VERSUS_REQUIRE_ROOT=1` — unique ids, and what the host
//! looked like before a container, to prove nothing leaked.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use container::rootfs::host_busybox;

#[allow(unused_imports)]
pub use testkit::require_root;

pub fn busybox(test: &str) -> Option<PathBuf> {
    match host_busybox() {
        Some(b) => Some(b),
        None => {
            testkit::skip(
                test,
                testkit::Need::Root,
                "needs a static busybox (apt-get install busybox-static)",
            );
            None
        }
    }
}

pub fn unique_id(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The host's mount ids, to prove no mount leaked out of a container.
pub fn host_mounts() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(|l| l.split(' ').take(5).collect::<Vec<_>>().join(" "))
        .collect()
}

pub fn cgroup_mounts() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - cgroup ") || l.contains(" - cgroup2 "))
        .map(|l| PathBuf::from(l.split(' ').nth(4).unwrap()))
        .collect()
}

/// Copies `from` to `to` in a `cp` process, so that this test process never
/// holds the new executable open for writing: a fork by a test running in
/// parallel would inherit that descriptor until its exec, and an `execve` of
/// the file meanwhile fails with ETXTBSY.
pub fn copy_executable(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success(), "cp {} {}", from.display(), to.display());
}

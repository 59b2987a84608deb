//! `make soak`: many launches per backend, then a check that nothing
//! accumulated — open descriptors, threads, child processes, `versus`
//! cgroups, mounts — and how versus' own memory and the host's available
//! memory moved. Not part of `make test` (it takes minutes); run it after
//! changing a launch or teardown path.
//!
//! ```sh
//! cargo run --release --example soak -- [LAUNCHES]   # default 1000 per backend
//! ```
//!
//! Exits non-zero if anything was left behind.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::backend::container::ContainerBackend;
use bench::backend::host::HostBackend;
use bench::backend::vm::VmBackend;
use bench::backend::{Backend, Launch};
use bench::workload::{TaskInvocation, Workload};
use comfy_table::Cell;

/// What can accumulate, read from this process and the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    fds: usize,
    threads: usize,
    children: usize,
    cgroups: usize,
    mounts: usize,
    rss_kib: u64,
    mem_available_kib: u64,
}

impl Snapshot {
    fn take() -> Result<Self> {
        Ok(Self {
            fds: std::fs::read_dir("/proc/self/fd")?.count(),
            threads: status_field("/proc/self/status", "Threads:").unwrap_or(0) as usize,
            children: children_of(std::process::id()),
            cgroups: versus_cgroups(),
            mounts: std::fs::read_to_string("/proc/self/mountinfo")?
                .lines()
                .count(),
            rss_kib: status_field("/proc/self/status", "VmRSS:").unwrap_or(0),
            mem_available_kib: status_field("/proc/meminfo", "MemAvailable:").unwrap_or(0),
        })
    }
}

/// The number after `key` in a `/proc` key-value file.
fn status_field(path: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| container::host::parent_pid(child) == Some(pid))
        .count()
}

/// Directories under any `versus` cgroup parent.
fn versus_cgroups() -> usize {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return 0;
    };
    let mut parents: Vec<_> = hierarchies
        .flatten()
        .map(|h| h.path().join("versus"))
        .collect();
    parents.push(Path::new("/sys/fs/cgroup/versus").to_path_buf());
    parents
        .iter()
        .filter_map(|p| std::fs::read_dir(p).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .count()
}

fn main() -> Result<()> {
    let launches: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("LAUNCHES must be a number")?,
        None => 1000,
    };
    let launch = Launch {
        workload: Workload::embedded(),
        argv: TaskInvocation::parse(&["startup"])?.argv(),
        timeout: Some(Duration::from_secs(30)),
        echo: false,
    };
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(HostBackend)];
    if nix::unistd::geteuid().is_root() {
        backends.push(Box::new(ContainerBackend::new()));
    } else {
        eprintln!("soak: not root, so no container launches");
    }
    if hypervisor::kvm::open().is_ok() {
        backends.push(Box::new(VmBackend::new()));
    } else {
        eprintln!("soak: /dev/kvm is not usable, so no VM launches");
    }

    let mut table = bench::render::table(&[
        "backend",
        "launches",
        "failed",
        "time",
        "fds",
        "threads",
        "children",
        "cgroups",
        "mounts",
        "versus RSS",
        "MemAvailable",
    ]);
    let mut leaks = Vec::new();
    for backend in &backends {
        // One launch first, so that one-time allocations do not count.
        backend.run(&launch)?;
        let before = Snapshot::take()?;
        let started = Instant::now();
        let mut failed = 0;
        for _ in 0..launches {
            match backend.run(&launch) {
                Ok(report) if report.exit.success() => {}
                _ => failed += 1,
            }
        }
        let took = started.elapsed();
        // Give asynchronous teardown (network namespaces) a moment.
        std::thread::sleep(Duration::from_millis(500));
        let after = Snapshot::take()?;
        let delta = |b: usize, a: usize| format!("{b} → {a}");
        let kib = |k: i64| format!("{:+.1} MiB", k as f64 / 1024.0);
        for (what, b, a) in [
            ("fds", before.fds, after.fds),
            ("threads", before.threads, after.threads),
            ("children", before.children, after.children),
            ("cgroups", before.cgroups, after.cgroups),
            ("mounts", before.mounts, after.mounts),
        ] {
            if a > b {
                leaks.push(format!("{}: {what} {b} → {a}", backend.name()));
            }
        }
        table.add_row(vec![
            Cell::new(backend.name()),
            Cell::new(launches),
            Cell::new(failed),
            Cell::new(format!("{:.1} s", took.as_secs_f64())),
            Cell::new(delta(before.fds, after.fds)),
            Cell::new(delta(before.threads, after.threads)),
            Cell::new(delta(before.children, after.children)),
            Cell::new(delta(before.cgroups, after.cgroups)),
            Cell::new(delta(before.mounts, after.mounts)),
            Cell::new(kib(after.rss_kib as i64 - before.rss_kib as i64)),
            Cell::new(kib(
                after.mem_available_kib as i64 - before.mem_available_kib as i64
            )),
        ]);
        if failed > 0 {
            leaks.push(format!("{}: {failed} launches failed", backend.name()));
        }
    }
    println!("{table}");
    if !leaks.is_empty() {
        bail!("left behind: {}", leaks.join("; "));
    }
    println!("nothing left behind");
    Ok(())
}

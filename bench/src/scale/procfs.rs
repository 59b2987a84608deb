//! What `versus scale` reads from /proc and the cgroup files: a process's
//! proportional set size, the host's memory counters, how many descriptors,
//! threads, children and mounts versus holds, and the limits that bound how
//! many instances the host can hold.

use std::path::Path;

/// Bytes in one kibibyte: /proc reports its sizes in `kB`, which are KiB.
const KIB: u64 = 1024;

/// A value line `Name:   1234 kB` of /proc/meminfo or smaps_rollup, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kib * KIB)
    })
}

/// The proportional set size of process `pid` (`self` for versus): every
/// page it maps divided by the number of processes sharing it, so shared
/// binary and library pages are split fairly. `None` once it is gone.
pub fn pss_bytes(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kib_field(&text, "Pss")
}

/// The anonymous part of process `pid`'s proportional set size
/// (`Pss_Anon`: heap, thread stacks, a VM's guest memory), or its whole PSS
/// on kernels older than 5.14 that lack the split. versus' growth is read
/// this way: its file pages are the versus binary, shared with every other
/// versus process, so their share moves whenever another one starts or ends
/// while the instances themselves do not change it.
pub fn anon_pss_bytes(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kib_field(&text, "Pss_Anon").or_else(|| kib_field(&text, "Pss"))
}

/// The host-wide memory counters the density figures are deltas of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemAvailable`: what the kernel estimates it could give new work.
    pub available: u64,
    /// `Slab`: kernel objects (namespaces, cgroups, inodes, KVM structures).
    pub slab: u64,
    /// `PageTables`: the page tables of every process.
    pub page_tables: u64,
    /// `KernelStack`: one kernel stack per thread.
    pub kernel_stack: u64,
    /// `SecPageTables`: secondary page tables, KVM's shadow or EPT/NPT
    /// tables of its guests (Linux 6.1 and later; 0 before).
    pub secondary_page_tables: u64,
    /// `VmallocUsed`: pages the kernel allocated with vmalloc, where KVM
    /// keeps each VM's large structures (measured here: over 1 MiB per VM
    /// on `kvm_pvm`, more than all the rest of a parked VM).
    pub vmalloc: u64,
}

impl MemInfo {
    /// Reads /proc/meminfo.
    pub fn read() -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string("/proc/meminfo")?))
    }

    /// Parses /proc/meminfo's text (a missing field reads as 0).
    pub fn parse(text: &str) -> Self {
        let field = |name| kib_field(text, name).unwrap_or(0);
        Self {
            available: field("MemAvailable"),
            slab: field("Slab"),
            page_tables: field("PageTables"),
            kernel_stack: field("KernelStack"),
            secondary_page_tables: field("SecPageTables"),
            vmalloc: field("VmallocUsed"),
        }
    }

    /// The kernel-side memory no process's RSS shows.
    pub fn kernel(&self) -> u64 {
        self.slab + self.page_tables + self.kernel_stack + self.secondary_page_tables + self.vmalloc
    }
}

/// The number of entries of a /proc directory of versus' own (`fd`,
/// `task`), or 0 if it cannot be read.
pub fn own_entries(dir: &str) -> usize {
    std::fs::read_dir(format!("/proc/self/{dir}")).map_or(0, |entries| entries.count())
}

/// versus' child processes, from every thread's `children` list.
pub fn own_children() -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut children: Vec<u32> = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    children.sort_unstable();
    children.dedup();
    children
}

/// The number of mounts in versus' mount namespace.
pub fn own_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo").map_or(0, |text| text.lines().count())
}

/// The memory charged to a container's cgroup: cgroup v2 `memory.current`
/// or v1 `memory.usage_in_bytes`, from whichever of its directories has it.
pub fn cgroup_memory_bytes(paths: &[std::path::PathBuf]) -> Option<u64> {
    paths.iter().find_map(|dir| {
        ["memory.current", "memory.usage_in_bytes"]
            .iter()
            .find_map(|file| read_number(&dir.join(file)))
    })
}

/// A file holding one decimal number (`None` for `max` or anything else).
fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// versus' soft limit on open descriptors (`RLIMIT_NOFILE`).
pub fn open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid, owned `limit`.
    let ret = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if ret == 0 { limit.rlim_cur } else { u64::MAX }
}

/// How many more tasks (processes and threads) the host lets exist: the
/// smaller of `kernel.pid_max` and `kernel.threads-max`, less the tasks
/// that exist now (the fourth field of /proc/loadavg, `running/total`).
pub fn free_task_slots() -> Option<(u64, &'static str)> {
    let pid_max = read_number(Path::new("/proc/sys/kernel/pid_max"))?;
    let threads_max = read_number(Path::new("/proc/sys/kernel/threads-max"))?;
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let existing: u64 = loadavg
        .split_whitespace()
        .nth(3)?
        .split_once('/')?
        .1
        .parse()
        .ok()?;
    let (limit, name) = if pid_max <= threads_max {
        (pid_max, "/proc/sys/kernel/pid_max")
    } else {
        (threads_max, "/proc/sys/kernel/threads-max")
    };
    Some((limit.saturating_sub(existing), name))
}

/// How many more tasks versus' own pids cgroup admits (`pids.max` less
/// `pids.current`), when it has a limit: v1 under the `pids` controller's
/// line of /proc/self/cgroup, v2 under the unified `0::` line.
pub fn free_pids_in_own_cgroup() -> Option<(u64, std::path::PathBuf)> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    own.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let base = if controllers.split(',').any(|c| c == "pids") {
            Path::new("/sys/fs/cgroup/pids").to_path_buf()
        } else if controllers.is_empty() {
            Path::new("/sys/fs/cgroup").to_path_buf()
        } else {
            return None;
        };
        let dir = base.join(path.trim_start_matches('/'));
        let max = read_number(&dir.join("pids.max"))?;
        let current = read_number(&dir.join("pids.current"))?;
        Some((max.saturating_sub(current), dir.join("pids.max")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_fields_are_read_in_bytes() {
        let info = MemInfo::parse(
            "MemTotal: 100 kB\nMemAvailable:    2048 kB\nSlab: 10 kB\n\
             KernelStack: 3 kB\nPageTables: 5 kB\nSecPageTables: 7 kB\n\
             VmallocTotal: 1000 kB\nVmallocUsed: 11 kB\n",
        );
        assert_eq!(info.available, 2048 * 1024);
        assert_eq!(info.page_tables, 5 * 1024, "not SecPageTables");
        assert_eq!(info.secondary_page_tables, 7 * 1024);
        assert_eq!(info.vmalloc, 11 * 1024, "not VmallocTotal");
        assert_eq!(info.kernel(), 36 * 1024);
    }

    #[test]
    fn the_own_process_has_a_pss_and_an_anonymous_part_of_it() {
        let pss = pss_bytes("self").expect("a PSS");
        let anon = anon_pss_bytes("self").expect("an anonymous PSS");
        assert!(anon > 0 && anon <= pss, "{anon} of {pss}");
    }
}

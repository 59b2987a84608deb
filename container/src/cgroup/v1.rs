//! cgroup v1: one directory per controller hierarchy
//! (`/sys/fs/cgroup/memory/versus/<id>`, `/sys/fs/cgroup/pids/versus/<id>`, …).
//!
//! | limit / figure | file |
//! |---|---|
//! | memory limit | `memory.limit_in_bytes`, then `memory.memsw.limit_in_bytes` = the same value where swap accounting exists (memory + swap = memory: the container cannot swap, so it is OOM-killed at the limit instead of slowing down); otherwise `memory.swappiness` = 0 |
//! | pids limit | `pids.max` |
//! | cpu limit | `cpu.cfs_period_us` = 100000, `cpu.cfs_quota_us` = cpus × 100000 |
//! | memory peak / current | `memory.max_usage_in_bytes` / `memory.usage_in_bytes` |
//! | CPU time | `cpuacct.usage` (ns) |
//! | pids peak | `pids.peak` (only on kernels that added it to v1; else none) |
//! | OOM kills | `oom_kill` in `memory.oom_control` (Linux ≥ 4.13) |
//! | device allow-list | `devices.deny` = `a`, then `devices.allow` per allowed device (see [`super::devices`]) |

use std::path::{Path, PathBuf};

use super::{
    CPU_PERIOD_US, CgroupStats, CgroupVersion, create_own_dir, ensure_parent,
    kill_procs_until_empty, read_keyed, read_u64, remove_dir_retrying, remove_parent_if_empty,
    write_file,
};
use crate::cgroup::Limits;
use crate::error::Result;

/// A container's directories in the v1 hierarchies.
#[derive(Debug)]
pub struct V1Cgroup {
    /// (the `versus` parent in one hierarchy, controllers used there).
    parents: Vec<(PathBuf, Vec<String>)>,
    id: String,
    created: Vec<PathBuf>,
}

impl V1Cgroup {
    /// A cgroup `<parent>/<id>` in each hierarchy; nothing is created yet.
    pub fn new(parents: Vec<(PathBuf, Vec<String>)>, id: &str) -> Self {
        Self {
            parents,
            id: id.to_owned(),
            created: Vec::new(),
        }
    }

    fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        self.parents
            .iter()
            .find(|(_, cs)| cs.iter().any(|c| c == controller))
            .map(|(p, _)| p.join(&self.id))
    }
}

impl super::Cgroup for V1Cgroup {
    fn create(&mut self) -> Result<()> {
        for (parent, _) in &self.parents {
            let dir = parent.join(&self.id);
            // Another container's teardown may remove the shared parent between our two
            // mkdirs; try again then.
            let mut attempt = 0;
            loop {
                ensure_parent(parent)?;
                match create_own_dir(&dir) {
                    Err(crate::Error::Cgroup { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound && attempt < 3 =>
                    {
                        attempt += 1;
                    }
                    other => break other?,
                }
            }
            self.created.push(dir);
        }
        // Before any process joins: from the first instruction on, only the listed
        // devices can be made or opened.
        if let Some(dir) = self.dir_of("devices") {
            super::devices::apply_v1(&dir)?;
        }
        Ok(())
    }

    fn apply(&self, limits: &Limits) -> Result<()> {
        if let Some(bytes) = limits.memory
            && let Some(dir) = self.dir_of("memory")
        {
            write_file(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
            let memsw = dir.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                write_file(&memsw, &bytes.to_string())?;
            } else if dir.join("memory.swappiness").exists() {
                write_file(&dir.join("memory.swappiness"), "0")?;
            }
        }
        if let Some(max) = limits.pids
            && let Some(dir) = self.dir_of("pids")
        {
            write_file(&dir.join("pids.max"), &max.to_string())?;
        }
        if let Some(cpus) = limits.cpus
            && let Some(dir) = self.dir_of("cpu")
        {
            write_file(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
            write_file(
                &dir.join("cpu.cfs_quota_us"),
                &super::cpu_quota_us(cpus).to_string(),
            )?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        for dir in &self.created {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn unified_dir(&self) -> Option<&Path> {
        None
    }

    fn add_task_outside_unified(&self, pid: i32) -> Result<()> {
        self.add_task(pid)
    }

    fn stats(&self) -> CgroupStats {
        let file = |c: &str, f: &str| self.dir_of(c).map(|d| d.join(f));
        let num = |c: &str, f: &str| file(c, f).as_deref().and_then(read_u64);
        CgroupStats {
            memory_peak_bytes: num("memory", "memory.max_usage_in_bytes"),
            memory_current_bytes: num("memory", "memory.usage_in_bytes"),
            cpu_usage_ns: num("cpuacct", "cpuacct.usage"),
            pids_peak: num("pids", "pids.peak"),
            oom_kills: file("memory", "memory.oom_control")
                .as_deref()
                .and_then(|p| read_keyed(p, "oom_kill")),
        }
    }

    fn kill_all(&self) -> Result<()> {
        for dir in &self.created {
            kill_procs_until_empty(&dir.join("cgroup.procs"));
        }
        Ok(())
    }

    fn remove(&mut self) -> Result<()> {
        let mut first_err = None;
        for dir in std::mem::take(&mut self.created) {
            if let Err(e) = remove_dir_retrying(&dir) {
                first_err.get_or_insert(e);
                continue;
            }
            remove_parent_if_empty(dir.parent().unwrap_or(Path::new("/")));
        }
        first_err.map_or(Ok(()), Err)
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.parents.iter().map(|(p, _)| p.join(&self.id)).collect()
    }

    fn version(&self) -> CgroupVersion {
        CgroupVersion::V1
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::tests::HYBRID_MOUNTINFO;
    use super::super::tests::fixture;
    use super::super::{Cgroup, Launcher, plan};
    use super::*;
    use std::fs;

    #[test]
    fn writes_limits_and_reads_stats_in_a_fixture_tree() {
        let (d, l) = fixture(HYBRID_MOUNTINFO, "hugetlb");
        let limits = Limits {
            memory: Some(32 << 20),
            pids: Some(5),
            cpus: Some(1.5),
        };
        let p = plan(&l, d.path(), &limits, &Launcher::Root)
            .unwrap()
            .unwrap();
        let mut cg = p.instantiate("t1");
        cg.create().unwrap();
        let mem = d.path().join("sys/fs/cgroup/memory/versus/t1");
        assert!(mem.is_dir());
        // The kernel would populate the directory; the fixture says swap accounting exists.
        fs::write(mem.join("memory.memsw.limit_in_bytes"), "").unwrap();
        cg.apply(&limits).unwrap();
        cg.add_task(4242).unwrap();
        let root = d.path().join("sys/fs/cgroup");
        let read = |p: &str| fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(read("memory/versus/t1/memory.limit_in_bytes"), "33554432");
        assert_eq!(
            read("memory/versus/t1/memory.memsw.limit_in_bytes"),
            "33554432"
        );
        assert_eq!(read("pids/versus/t1/pids.max"), "5");
        assert_eq!(read("cpu/versus/t1/cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpu/versus/t1/cpu.cfs_quota_us"), "150000");
        for c in ["memory", "pids", "cpu", "cpuacct", "devices"] {
            assert_eq!(read(&format!("{c}/versus/t1/cgroup.procs")), "4242");
        }
        // The device allow-list was written at creation; the fixture file keeps only the
        // last write (on cgroupfs each write adds a rule).
        assert_eq!(read("devices/versus/t1/devices.deny"), "a");
        assert_eq!(read("devices/versus/t1/devices.allow"), "c 136:* rwm");
        assert!(
            !root.join("cpuset/versus").exists(),
            "cpuset is never joined"
        );

        fs::write(mem.join("memory.max_usage_in_bytes"), "1048576\n").unwrap();
        fs::write(mem.join("memory.usage_in_bytes"), "4096\n").unwrap();
        fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        fs::write(root.join("cpuacct/versus/t1/cpuacct.usage"), "1234567\n").unwrap();
        assert_eq!(
            cg.stats(),
            CgroupStats {
                memory_peak_bytes: Some(1 << 20),
                memory_current_bytes: Some(4096),
                cpu_usage_ns: Some(1234567),
                pids_peak: None,
                oom_kills: Some(1),
            }
        );
        fs::write(root.join("pids/versus/t1/pids.peak"), "3\n").unwrap();
        assert_eq!(cg.stats().pids_peak, Some(3));

        // The fixture's directories hold plain files, which a real cgroupfs would not;
        // empty them so that rmdir can work as on the real thing.
        for c in ["memory", "pids", "cpu", "cpuacct", "devices", "unified"] {
            let dir = root.join(format!("{c}/versus/t1"));
            for e in fs::read_dir(&dir).unwrap() {
                fs::remove_file(e.unwrap().path()).unwrap();
            }
        }
        cg.remove().unwrap();
        for c in ["memory", "pids", "cpu", "cpuacct", "devices", "unified"] {
            assert!(!root.join(format!("{c}/versus")).exists(), "{c}");
        }
        cg.remove().unwrap(); // idempotent
    }

    #[test]
    fn without_swap_accounting_swappiness_is_zeroed() {
        let (d, l) = fixture(HYBRID_MOUNTINFO, "");
        let limits = Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        };
        let mut cg = plan(&l, d.path(), &limits, &Launcher::Root)
            .unwrap()
            .unwrap()
            .instantiate("t2");
        cg.create().unwrap();
        let mem = d.path().join("sys/fs/cgroup/memory/versus/t2");
        fs::write(mem.join("memory.swappiness"), "60").unwrap();
        cg.apply(&limits).unwrap();
        assert_eq!(
            fs::read_to_string(mem.join("memory.swappiness")).unwrap(),
            "0"
        );
        assert!(!mem.join("memory.memsw.limit_in_bytes").exists());
    }

    #[test]
    fn an_existing_cgroup_of_the_same_id_is_not_reused() {
        let (d, l) = fixture(HYBRID_MOUNTINFO, "");
        fs::create_dir_all(d.path().join("sys/fs/cgroup/memory/versus/dup")).unwrap();
        let mut cg = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
            .unwrap()
            .unwrap()
            .instantiate("dup");
        let e = cg.create().unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
    }
}

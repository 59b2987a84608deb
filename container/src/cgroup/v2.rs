//! cgroup v2: one directory in the unified hierarchy (`/sys/fs/cgroup/versus/<id>`).
//!
//! The shared parent `versus` enables the controllers for its children
//! (`+memory +pids +cpu` in `versus/cgroup.subtree_control`); the hierarchy root must
//! already enable them for `versus` (systemd does), else planning fails with the fix.
//!
//! | limit / figure | file |
//! |---|---|
//! | memory limit | `memory.max`, and `memory.swap.max` = 0 where it exists (no swap: OOM at the limit) |
//! | pids limit | `pids.max` |
//! | cpu limit | `cpu.max` = `"<cpus × 100000> 100000"` |
//! | memory peak / current | `memory.peak` (Linux ≥ 5.19) / `memory.current` |
//! | CPU time | `usage_usec` in `cpu.stat` (× 1000) |
//! | pids peak | `pids.peak` (Linux ≥ 6.1) |
//! | OOM kills | `oom_kill` in `memory.events` |
//! | kill everything | `cgroup.kill` (Linux ≥ 5.14), else SIGKILL each pid in `cgroup.procs` |
//! | device allow-list | a `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the directory (see [`super::devices`]) |

use std::path::{Path, PathBuf};

use super::{
    CPU_PERIOD_US, CgroupStats, CgroupVersion, create_own_dir, ensure_parent,
    kill_procs_until_empty, read_keyed, read_u64, read_words, remove_dir_retrying,
    remove_parent_if_empty, write_file,
};
use crate::cgroup::Limits;
use crate::error::Result;

/// A container's directory in the unified hierarchy.
#[derive(Debug)]
pub struct V2Cgroup {
    parent: PathBuf,
    /// Controllers enabled for it.
    pub controllers: Vec<String>,
    dir: PathBuf,
    created: bool,
    /// Attaches the device allow-list to the new directory (`None`: no allow-list). A
    /// function, so that the fixture tests can stand in for `bpf(2)`.
    device_program: Option<fn(&Path) -> Result<()>>,
}

impl V2Cgroup {
    /// `<parent>/<id>` with `controllers`; nothing is created yet.
    pub fn new(parent: PathBuf, controllers: Vec<String>, id: &str) -> Self {
        let dir = parent.join(id);
        Self {
            parent,
            controllers,
            dir,
            created: false,
            device_program: None,
        }
    }

    /// Also attaches the device allow-list program when the directory is created.
    pub fn with_device_program(mut self) -> Self {
        self.device_program = Some(super::devices::attach_program);
        self
    }

    /// Whether the device allow-list program is attached on creation.
    pub fn device_program(&self) -> bool {
        self.device_program.is_some()
    }

    fn has(&self, c: &str) -> bool {
        self.controllers.iter().any(|x| x == c)
    }
}

impl super::Cgroup for V2Cgroup {
    fn create(&mut self) -> Result<()> {
        let mut attempt = 0;
        loop {
            ensure_parent(&self.parent)?;
            let enabled = read_words(&self.parent.join("cgroup.subtree_control"));
            for c in &self.controllers {
                // `cpuacct` is v1 only; v2 reports CPU time in `cpu.stat` always.
                if c != "cpuacct" && !enabled.contains(c) {
                    write_file(
                        &self.parent.join("cgroup.subtree_control"),
                        &format!("+{c}"),
                    )?;
                }
            }
            match create_own_dir(&self.dir) {
                Err(crate::Error::Cgroup { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && attempt < 3 =>
                {
                    attempt += 1;
                }
                other => break other?,
            }
        }
        // Marked created first, so that a failed attach still removes the directory.
        self.created = true;
        if let Some(attach) = self.device_program {
            attach(&self.dir)?;
        }
        Ok(())
    }

    fn apply(&self, limits: &Limits) -> Result<()> {
        if let Some(bytes) = limits.memory
            && self.has("memory")
        {
            write_file(&self.dir.join("memory.max"), &bytes.to_string())?;
            let swap = self.dir.join("memory.swap.max");
            if swap.exists() {
                write_file(&swap, "0")?;
            }
        }
        if let Some(max) = limits.pids
            && self.has("pids")
        {
            write_file(&self.dir.join("pids.max"), &max.to_string())?;
        }
        if let Some(cpus) = limits.cpus
            && self.has("cpu")
        {
            write_file(
                &self.dir.join("cpu.max"),
                &format!("{} {CPU_PERIOD_US}", super::cpu_quota_us(cpus)),
            )?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        write_file(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    fn unified_dir(&self) -> Option<&Path> {
        self.created.then_some(self.dir.as_path())
    }

    fn add_task_outside_unified(&self, _pid: i32) -> Result<()> {
        // All of this cgroup is the unified directory.
        Ok(())
    }

    fn stats(&self) -> CgroupStats {
        let f = |name: &str| self.dir.join(name);
        CgroupStats {
            memory_peak_bytes: read_u64(&f("memory.peak")),
            memory_current_bytes: read_u64(&f("memory.current")),
            cpu_usage_ns: read_keyed(&f("cpu.stat"), "usage_usec").map(|us| us * 1000),
            pids_peak: read_u64(&f("pids.peak")),
            oom_kills: read_keyed(&f("memory.events"), "oom_kill"),
        }
    }

    fn kill_all(&self) -> Result<()> {
        if !self.created {
            return Ok(());
        }
        let kill = self.dir.join("cgroup.kill");
        if kill.exists() {
            // Best effort: fall through to the per-pid loop, which also waits.
            let _ = write_file(&kill, "1");
        }
        kill_procs_until_empty(&self.dir.join("cgroup.procs"));
        Ok(())
    }

    fn remove(&mut self) -> Result<()> {
        if !self.created {
            return Ok(());
        }
        remove_dir_retrying(&self.dir)?;
        self.created = false;
        remove_parent_if_empty(&self.parent);
        Ok(())
    }

    fn paths(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }

    fn version(&self) -> CgroupVersion {
        CgroupVersion::V2
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::tests::V2_MOUNTINFO;
    use super::super::tests::fixture;
    use super::super::{Cgroup, Launcher, plan};
    use super::*;
    use std::cell::RefCell;
    use std::fs;

    thread_local! {
        static ATTACHED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    }

    /// Stands in for `bpf(2)`, which needs a real cgroup: records the directory.
    fn record_attach(dir: &Path) -> Result<()> {
        ATTACHED.with(|a| a.borrow_mut().push(dir.to_path_buf()));
        Ok(())
    }

    fn failing_attach(dir: &Path) -> Result<()> {
        Err(crate::Error::Devices {
            reason: format!("no BPF here ({})", dir.display()),
            fix: "none".into(),
        })
    }

    /// The planned cgroup, with the device program attach faked.
    fn instantiate(p: &crate::cgroup::CgroupPlan, id: &str) -> V2Cgroup {
        let mut cg = p.instantiate(id).v2.unwrap();
        assert!(
            cg.device_program(),
            "root containers get the device program"
        );
        cg.device_program = Some(record_attach);
        cg
    }

    #[test]
    fn writes_limits_and_reads_stats_in_a_fixture_tree() {
        let (d, l) = fixture(V2_MOUNTINFO, "cpuset cpu io memory pids");
        let limits = Limits {
            memory: Some(32 << 20),
            pids: Some(5),
            cpus: Some(0.25),
        };
        let mut cg = instantiate(
            &plan(&l, d.path(), &limits, &Launcher::Root)
                .unwrap()
                .unwrap(),
            "t1",
        );
        assert_eq!(cg.version(), CgroupVersion::V2);
        cg.create().unwrap();
        let root = d.path().join("sys/fs/cgroup");
        let dir = root.join("versus/t1");
        assert!(dir.is_dir());
        assert_eq!(ATTACHED.with(|a| a.borrow().clone()), vec![dir.clone()]);
        // The fixture file keeps only the last write ("+cpu"); on cgroupfs the three
        // writes accumulate.
        assert_eq!(
            fs::read_to_string(root.join("versus/cgroup.subtree_control")).unwrap(),
            "+cpu"
        );
        fs::write(dir.join("memory.swap.max"), "max").unwrap();
        cg.apply(&limits).unwrap();
        cg.add_task(77).unwrap();
        let read = |n: &str| fs::read_to_string(dir.join(n)).unwrap();
        assert_eq!(read("memory.max"), "33554432");
        assert_eq!(read("memory.swap.max"), "0");
        assert_eq!(read("pids.max"), "5");
        assert_eq!(read("cpu.max"), "25000 100000");
        assert_eq!(read("cgroup.procs"), "77");

        fs::write(dir.join("memory.peak"), "2097152\n").unwrap();
        fs::write(dir.join("memory.current"), "0\n").unwrap();
        fs::write(
            dir.join("cpu.stat"),
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
        )
        .unwrap();
        fs::write(dir.join("pids.peak"), "4\n").unwrap();
        fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(
            cg.stats(),
            CgroupStats {
                memory_peak_bytes: Some(2 << 20),
                memory_current_bytes: Some(0),
                cpu_usage_ns: Some(1_500_000),
                pids_peak: Some(4),
                oom_kills: Some(1),
            }
        );
        for e in fs::read_dir(&dir).unwrap() {
            fs::remove_file(e.unwrap().path()).unwrap();
        }
        cg.remove().unwrap();
        assert!(!dir.exists());
        assert!(
            root.join("versus").exists(),
            "the parent still holds subtree_control"
        );
    }

    #[test]
    fn older_kernels_give_fewer_figures() {
        let (d, l) = fixture(V2_MOUNTINFO, "memory pids");
        let mut cg = instantiate(
            &plan(&l, d.path(), &Limits::default(), &Launcher::Root)
                .unwrap()
                .unwrap(),
            "old",
        );
        cg.create().unwrap();
        let dir = d.path().join("sys/fs/cgroup/versus/old");
        fs::write(dir.join("memory.current"), "8192\n").unwrap();
        let s = cg.stats();
        assert_eq!(s.memory_current_bytes, Some(8192));
        assert_eq!(s.memory_peak_bytes, None);
        assert_eq!(s.pids_peak, None);
        assert_eq!(s.oom_kills, None);
    }

    /// The cgroup v2 mount of this host (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified`
    /// in the hybrid layout), if any.
    fn host_unified_mount() -> Option<PathBuf> {
        let scan = crate::cgroup::layout::Scan::detect(Path::new("/"));
        scan.layout.unified_mount().map(Path::to_path_buf)
    }

    #[testkit::needs(root)]
    #[test]
    fn kill_all_empties_a_live_cgroup_and_remove_leaves_nothing() {
        let test = "kill_all_empties_a_live_cgroup_and_remove_leaves_nothing";
        if !testkit::require_root(test) {
            return;
        }
        let Some(mount) = host_unified_mount() else {
            testkit::skip(test, testkit::Need::Root, "no cgroup v2 mount on this host");
            return;
        };
        // A parent of this test's own, so that nothing else's cgroups are touched.
        let parent = mount.join(format!("versus-killtest-{}", std::process::id()));
        let mut cg = V2Cgroup::new(parent.clone(), Vec::new(), "c");
        cg.create().unwrap();
        let dir = cg.paths().remove(0);
        // Two processes in it, the second a child of the first, as a container's
        // PID 1 and a daemon it left would be: the shell joins before it forks.
        let script = format!(
            "echo $$ > {}/cgroup.procs || exit 9; sleep 1000 & wait",
            dir.display()
        );
        let mut sleeper = std::process::Command::new("sh")
            .args(["-c", &script])
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let populated = loop {
            let pids = super::super::read_pids(&dir.join("cgroup.procs"));
            if pids.len() >= 2 || std::time::Instant::now() > deadline {
                break pids;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        cg.kill_all().unwrap();
        let left = super::super::read_pids(&dir.join("cgroup.procs"));
        // Should kill_all have missed anyone, end them here, so that a failure does not
        // leave a sleeping process (and the wait below does not hang).
        for pid in &left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let status = sleeper.wait().unwrap();
        cg.remove().unwrap();
        assert_eq!(populated.len(), 2, "shell and sleep in {}", dir.display());
        assert!(left.is_empty(), "still in the cgroup: {left:?}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(!dir.exists() && !parent.exists());
    }

    #[test]
    fn a_failed_device_program_fails_creation_and_leaves_nothing() {
        let (d, l) = fixture(V2_MOUNTINFO, "memory");
        let p = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
            .unwrap()
            .unwrap();
        let mut cg = instantiate(&p, "nobpf");
        cg.device_program = Some(failing_attach);
        let e = cg.create().unwrap_err().to_string();
        assert!(
            e.contains("device allow-list cannot be enforced: no BPF here"),
            "{e}"
        );
        cg.remove().unwrap();
        assert!(!d.path().join("sys/fs/cgroup/versus/nobpf").exists());
    }
}

//! Tests of `versus doctor`: host fixtures and fake probes here, the checks by
//! area in the files beside it.

mod cgroups;
mod features;
mod kvm;
mod report;

use super::*;
use tempfile::TempDir;

/// A fixture host tree in a temporary directory.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Writes `contents` at the host path `rel` (leading `/` optional).
    fn file(&self, rel: &str, contents: &str) -> &Self {
        let p = self.dir.path().join(rel.trim_start_matches('/'));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, contents).expect("write");
        self
    }

    fn dir(&self, rel: &str) -> &Self {
        fs::create_dir_all(self.dir.path().join(rel.trim_start_matches('/'))).expect("mkdir");
        self
    }

    fn remove(&self, rel: &str) -> &Self {
        let p = self.dir.path().join(rel.trim_start_matches('/'));
        if p.is_dir() {
            fs::remove_dir_all(p).expect("rmdir");
        } else {
            fs::remove_file(p).expect("rm");
        }
        self
    }

    fn modules(&self, mods: &[&str]) -> &Self {
        for m in mods {
            self.dir(&format!("/sys/module/{m}/parameters"));
        }
        self
    }

    fn mountinfo(&self, text: &str) -> &Self {
        self.file("/proc/self/mountinfo", text)
    }

    fn view(&self) -> HostView {
        HostView::at(self.dir.path())
    }

    /// A sane host: Intel CPU with `flags`, all namespaces, cgroup v2 with
    /// memory/pids/cpu, userns allowed, seccomp filters, no LSM files.
    fn host(flags: &str) -> Self {
        let f = Self::empty();
        f.file("/proc/sys/kernel/osrelease", "6.1.0-test\n")
            .file(
                "/proc/cpuinfo",
                &format!(
                    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.0GHz\nflags\t\t: {flags}\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.0GHz\nflags\t\t: {flags}\n"
                ),
            )
            .mountinfo(V2_MOUNTINFO)
            .file(
                "/sys/fs/cgroup/cgroup.controllers",
                "cpuset cpu io memory hugetlb pids rdma misc\n",
            )
            .file("/proc/sys/user/max_user_namespaces", "63482\n")
            .file(
                "/proc/self/status",
                "Name:\tversus\nSeccomp:\t0\nSeccomp_filters:\t0\n",
            )
            .file(
                "/proc/sys/kernel/seccomp/actions_avail",
                "kill_process kill_thread trap errno user_notif trace log allow\n",
            );
        for ns in NAMESPACES {
            f.file(&format!("/proc/self/ns/{ns}"), "");
        }
        f
    }

    fn with_kvm(self, mods: &[&str]) -> Self {
        self.file("/dev/kvm", "").modules(mods);
        self
    }
}

const BASE_FLAGS: &str = "fpu vme de pse tsc msr pae cx8 apic sep lm nx";
const V2_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";
/// The machine versus is developed on: v1 controllers + cgroup2 with only hugetlb.
const HYBRID_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
const V1_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/sda1 rw
25 23 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,pids
31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
32 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset,clone_children
";

#[derive(Debug, Clone)]
struct FakeProbes {
    kvm: KvmOpen,
    euid: u32,
    hypervisor: Option<String>,
    stale: Vec<String>,
    /// What the join probe answers, and the hierarchy it was asked about.
    join_us: Option<u64>,
    join_asked: std::cell::RefCell<Option<PathBuf>>,
}

impl FakeProbes {
    fn root() -> Self {
        Self {
            kvm: KvmOpen::Ok { api_version: 12 },
            euid: 0,
            hypervisor: None,
            stale: Vec::new(),
            join_us: None,
            join_asked: Default::default(),
        }
    }

    fn in_vm(sig: &str) -> Self {
        Self {
            hypervisor: Some(sig.to_owned()),
            ..Self::root()
        }
    }
}

impl LiveProbes for FakeProbes {
    fn kvm_open(&self) -> KvmOpen {
        self.kvm.clone()
    }
    fn euid(&self) -> u32 {
        self.euid
    }
    fn cpuid_hypervisor(&self) -> Option<String> {
        self.hypervisor.clone()
    }
    fn stale_cgroups(&self) -> Vec<String> {
        self.stale.clone()
    }
    fn cgroup_join_us(&self, hierarchy: &Path) -> Option<u64> {
        *self.join_asked.borrow_mut() = Some(hierarchy.to_owned());
        self.join_us
    }
}

fn status_of(r: &DoctorReport, id: &str) -> Status {
    r.check(id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status
}

fn fix_of<'a>(r: &'a DoctorReport, id: &str) -> &'a str {
    r.check(id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .fix
        .as_deref()
        .unwrap_or_else(|| panic!("check {id} has no fix"))
}

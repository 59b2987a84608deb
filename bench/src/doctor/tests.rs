//! Tests of the parent module, kept in their own file.

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

// --- KVM backends ---------------------------------------------------------------

#[test]
fn hardware_intel() {
    let f = Fixture::host(&format!("{BASE_FLAGS} vmx ept")).with_kvm(&["kvm", "kvm_intel"]);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        r.kvm.backend,
        KvmBackend::Hardware {
            vendor: CpuVendor::Intel
        }
    );
    assert!(!r.host_is_virtual_machine);
    assert_eq!(r.hypervisor_vendor, None);
    assert_eq!(r.kvm.modules, ["kvm", "kvm_intel"]);
    assert_eq!(r.kvm.cpu_virt_flags, ["vmx"]);
    assert_eq!(r.kvm.open, KvmOpen::Ok { api_version: 12 });
    assert_eq!(status_of(&r, "kvm.device"), Status::Pass);
    assert_eq!(status_of(&r, "kvm.open"), Status::Pass);
    assert_eq!(status_of(&r, "kvm.backend"), Status::Pass);
    assert_eq!(status_of(&r, "host.virtual"), Status::Info);
    assert_eq!(r.kernel_release.as_deref(), Some("6.1.0-test"));
    assert_eq!(r.cpu_model.as_deref(), Some("Test CPU @ 2.0GHz"));
    assert_eq!(r.cpu_vendor.as_deref(), Some("GenuineIntel"));
    assert_eq!(r.worst(), Status::Pass);
    assert!(r.kvm.backend.explanation().contains("natively"));
}

#[test]
fn hardware_amd() {
    let f = Fixture::host(&format!("{BASE_FLAGS} svm npt")).with_kvm(&["kvm", "kvm_amd"]);
    f.file(
        "/proc/cpuinfo",
        &format!("vendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: {BASE_FLAGS} svm npt\n"),
    );
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        r.kvm.backend,
        KvmBackend::Hardware {
            vendor: CpuVendor::Amd
        }
    );
    assert_eq!(r.kvm.cpu_virt_flags, ["svm"]);
    assert_eq!(r.cpu_model.as_deref(), Some("AMD EPYC 7B13"));
    assert_eq!(status_of(&r, "kvm.backend"), Status::Pass);
    assert_eq!(r.kvm.backend.label(), "hardware (AMD-V)");
}

#[test]
fn builtin_vendor_module_without_cpu_flag_is_not_hardware() {
    // kvm_intel built in (listed under /sys/module) on a CPU without vmx.
    let f = Fixture::host(BASE_FLAGS).with_kvm(&["kvm", "kvm_intel"]);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        r.kvm.backend,
        KvmBackend::Unknown {
            modules: vec!["kvm".into(), "kvm_intel".into()]
        }
    );
    assert_eq!(status_of(&r, "kvm.backend"), Status::Warn);
    assert!(fix_of(&r, "kvm.backend").contains("lsmod"));
}

#[test]
fn nested_from_cpu_flag() {
    let f = Fixture::host(&format!("{BASE_FLAGS} vmx hypervisor")).with_kvm(&["kvm", "kvm_intel"]);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert!(r.host_is_virtual_machine);
    assert_eq!(
        r.kvm.backend,
        KvmBackend::Nested {
            vendor: CpuVendor::Intel
        }
    );
    assert_eq!(status_of(&r, "kvm.backend"), Status::Warn);
    assert_eq!(status_of(&r, "host.virtual"), Status::Warn);
    let detail = &r.check("kvm.backend").unwrap().detail;
    assert!(detail.contains("outer hypervisor"), "{detail}");
    assert!(r.check("kvm.backend").unwrap().fix.is_some());
}

#[test]
fn nested_from_cpuid_probe_only() {
    // No `hypervisor` flag in cpuinfo, but CPUID says Hyper-V.
    let f = Fixture::host(&format!("{BASE_FLAGS} svm")).with_kvm(&["kvm", "kvm_amd"]);
    let r = diagnose(&f.view(), &FakeProbes::in_vm("Microsoft Hv"));
    assert!(r.host_is_virtual_machine);
    assert_eq!(r.hypervisor_vendor.as_deref(), Some("Microsoft Hyper-V"));
    assert_eq!(
        r.kvm.backend,
        KvmBackend::Nested {
            vendor: CpuVendor::Amd
        }
    );
    assert!(r.check("host.virtual").unwrap().detail.contains("Hyper-V"));
}

#[test]
fn pvm_like_the_development_machine() {
    let f = Fixture::host(&format!("{BASE_FLAGS} hypervisor avx2")).with_kvm(&["kvm", "kvm_pvm"]);
    f.mountinfo(HYBRID_MOUNTINFO)
        .file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
    let r = diagnose(&f.view(), &FakeProbes::in_vm("KVMKVMKVM"));
    assert_eq!(
        r.kvm.backend,
        KvmBackend::Software {
            module: "kvm_pvm".into()
        }
    );
    assert!(r.kvm.cpu_virt_flags.is_empty());
    assert_eq!(r.kvm.modules, ["kvm", "kvm_pvm"]);
    assert!(r.host_is_virtual_machine);
    assert_eq!(r.hypervisor_vendor.as_deref(), Some("KVM"));
    let c = r.check("kvm.backend").unwrap();
    assert_eq!(c.status, Status::Warn);
    assert!(c.detail.contains("emulated"), "{}", c.detail);
    assert!(c.detail.contains("NOT those of hardware virtualization"));
    assert!(c.fix.as_deref().unwrap().contains("vmx or svm"));
    assert_eq!(status_of(&r, "kvm.open"), Status::Pass);
    assert!(!r.kvm.backend.is_hardware());
    assert_eq!(r.kvm.backend.label(), "software (kvm_pvm)");
}

#[test]
fn no_dev_kvm() {
    let f = Fixture::host(&format!("{BASE_FLAGS} hypervisor"));
    f.modules(&["kvm"]);
    // Probe would succeed, but the view has no /dev/kvm: the view wins.
    let r = diagnose(&f.view(), &FakeProbes::in_vm("KVMKVMKVM"));
    assert!(!r.kvm.device_present);
    assert_eq!(r.kvm.backend, KvmBackend::Unavailable);
    assert_eq!(r.kvm.open, KvmOpen::NotFound);
    assert_eq!(status_of(&r, "kvm.device"), Status::Fail);
    assert_eq!(status_of(&r, "kvm.open"), Status::Fail);
    assert_eq!(status_of(&r, "kvm.backend"), Status::Fail);
    let fix = fix_of(&r, "kvm.device");
    assert!(fix.contains("modprobe kvm_intel"), "{fix}");
    assert!(fix.contains("nested virtualization"), "{fix}");
    assert_eq!(r.worst(), Status::Fail);
}

#[test]
fn no_dev_kvm_bare_metal_amd_fix() {
    let f = Fixture::host(BASE_FLAGS);
    f.file(
        "/proc/cpuinfo",
        &format!("vendor_id\t: AuthenticAMD\nflags\t\t: {BASE_FLAGS}\n"),
    );
    let r = diagnose(&f.view(), &FakeProbes::root());
    let fix = fix_of(&r, "kvm.device");
    assert!(fix.contains("modprobe kvm_amd"), "{fix}");
    assert!(fix.contains("firmware"), "{fix}");
    // No model name: the CPU check falls back to the vendor.
    assert_eq!(r.check("host.cpu").unwrap().detail, "AuthenticAMD");
}

#[test]
fn cgroup_join_cost_is_measured_on_the_pids_hierarchy_of_a_v1_host() {
    let f = Fixture::host(BASE_FLAGS);
    f.mountinfo(HYBRID_MOUNTINFO);
    let probes = FakeProbes {
        join_us: Some(8_700),
        ..FakeProbes::root()
    };
    let r = diagnose(&f.view(), &probes);
    assert_eq!(
        probes.join_asked.borrow().as_deref(),
        Some(f.view().path("/sys/fs/cgroup/pids").as_path())
    );
    assert_eq!(r.cgroup_join_us, Some(8_700));
    assert_eq!(status_of(&r, "cgroup.join"), Status::Warn);
    let detail = &r.check("cgroup.join").unwrap().detail;
    assert!(detail.contains("8.70 ms"), "{detail}");
    assert!(detail.contains("grace period"), "{detail}");
    assert!(fix_of(&r, "cgroup.join").contains("favordynmods"));

    let fast = FakeProbes {
        join_us: Some(100),
        ..FakeProbes::root()
    };
    let r = diagnose(&f.view(), &fast);
    assert_eq!(status_of(&r, "cgroup.join"), Status::Pass);

    let unmeasured = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(status_of(&unmeasured, "cgroup.join"), Status::Info);
    assert!(fix_of(&unmeasured, "cgroup.join").contains("cgroup v2"));
}

#[test]
fn cgroup_join_is_not_probed_on_a_v2_host_where_versus_clones_into_the_cgroup() {
    let f = Fixture::host(BASE_FLAGS);
    f.mountinfo(V2_MOUNTINFO);
    let probes = FakeProbes {
        join_us: Some(8_700),
        ..FakeProbes::root()
    };
    let r = diagnose(&f.view(), &probes);
    assert_eq!(*probes.join_asked.borrow(), None);
    assert_eq!(r.cgroup_join_us, None);
    // Linux ≥ 5.7 (the fixture's 6.1): versus clones into the cgroup, no wait.
    assert_eq!(status_of(&r, "cgroup.join"), Status::Pass);
    let detail = &r.check("cgroup.join").unwrap().detail;
    assert!(detail.contains("CLONE_INTO_CGROUP"), "{detail}");

    f.file("/proc/sys/kernel/osrelease", "5.4.0-old\n");
    let old = diagnose(&f.view(), &probes);
    assert_eq!(status_of(&old, "cgroup.join"), Status::Info);
    assert!(fix_of(&old, "cgroup.join").contains("5.7"));
}

#[test]
fn stale_cgroups_are_a_warning_that_says_what_removes_them() {
    let f = Fixture::host(BASE_FLAGS);
    let clean = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(status_of(&clean, "cgroup.stale"), Status::Pass);
    let probes = FakeProbes {
        stale: vec!["/sys/fs/cgroup/pids/versus/run-4242-17-0".into()],
        ..FakeProbes::root()
    };
    let r = diagnose(&f.view(), &probes);
    assert_eq!(status_of(&r, "cgroup.stale"), Status::Warn);
    assert!(
        r.check("cgroup.stale")
            .unwrap()
            .detail
            .contains("run-4242-17-0")
    );
    assert!(fix_of(&r, "cgroup.stale").contains("versus container run"));
}

#[test]
fn kvm_permission_denied() {
    let f = Fixture::host(&format!("{BASE_FLAGS} vmx")).with_kvm(&["kvm", "kvm_intel"]);
    let probes = FakeProbes {
        kvm: KvmOpen::PermissionDenied,
        euid: 1000,
        hypervisor: None,
        stale: Vec::new(),
        join_us: None,
        join_asked: Default::default(),
    };
    let r = diagnose(&f.view(), &probes);
    assert!(r.kvm.device_present);
    assert_eq!(r.kvm.open, KvmOpen::PermissionDenied);
    assert_eq!(status_of(&r, "kvm.device"), Status::Pass);
    assert_eq!(status_of(&r, "kvm.open"), Status::Fail);
    assert!(fix_of(&r, "kvm.open").contains("sudo usermod -aG kvm $USER"));
    // Backend still identified from modules and flags.
    assert_eq!(
        r.kvm.backend,
        KvmBackend::Hardware {
            vendor: CpuVendor::Intel
        }
    );
    // Not root: warned, with the rootless hint.
    assert!(!r.is_root);
    assert_eq!(status_of(&r, "user.root"), Status::Warn);
    assert!(
        r.check("user.root")
            .unwrap()
            .detail
            .contains("container launches need root or the rootless path (user namespaces)")
    );
}

#[test]
fn kvm_permission_denied_as_root_points_at_policy() {
    let f = Fixture::host(&format!("{BASE_FLAGS} vmx")).with_kvm(&["kvm", "kvm_intel"]);
    let probes = FakeProbes {
        kvm: KvmOpen::PermissionDenied,
        ..FakeProbes::root()
    };
    let r = diagnose(&f.view(), &probes);
    assert!(fix_of(&r, "kvm.open").contains("--device /dev/kvm"));
}

#[test]
fn kvm_wrong_api_version_fails() {
    let f = Fixture::host(&format!("{BASE_FLAGS} vmx")).with_kvm(&["kvm", "kvm_intel"]);
    let probes = FakeProbes {
        kvm: KvmOpen::Ok { api_version: 11 },
        ..FakeProbes::root()
    };
    let r = diagnose(&f.view(), &probes);
    let c = r.check("kvm.open").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.contains("11"));
}

// --- cgroups ----------------------------------------------------------------------

#[test]
fn cgroup_v1_with_combined_cpu_cpuacct() {
    let f = Fixture::host(BASE_FLAGS);
    f.mountinfo(V1_MOUNTINFO);
    let r = diagnose(&f.view(), &FakeProbes::root());
    let Layout::V1 { hierarchies } = &r.cgroup.layout else {
        panic!("expected v1, got {:?}", r.cgroup);
    };
    assert_eq!(hierarchies.len(), 5);
    assert_eq!(r.cgroup.named.len(), 1);
    assert_eq!(r.cgroup.named[0].name, "systemd");
    assert_eq!(r.cgroup.named[0].mount, Path::new("/sys/fs/cgroup/systemd"));
    let cpu = hierarchies
        .iter()
        .find(|h| h.mount == Path::new("/sys/fs/cgroup/cpu,cpuacct"))
        .expect("cpu,cpuacct hierarchy");
    assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
    let cpuset = hierarchies
        .iter()
        .find(|h| h.mount == Path::new("/sys/fs/cgroup/cpuset"))
        .unwrap();
    assert_eq!(
        cpuset.controllers,
        ["cpuset"],
        "clone_children is not a controller"
    );
    assert_eq!(
        r.cgroup_limits.cpu,
        Some(Place::V1("/sys/fs/cgroup/cpu,cpuacct".into()))
    );
    assert_eq!(
        r.cgroup_limits.memory,
        Some(Place::V1("/sys/fs/cgroup/memory".into()))
    );
    assert_eq!(
        r.cgroup.layout.locate("net_prio"),
        Some(Place::V1("/sys/fs/cgroup/net_cls,net_prio".into()))
    );
    assert_eq!(r.cgroup.layout.locate("hugetlb"), None);
    assert!(
        r.check("cgroup.layout")
            .unwrap()
            .detail
            .contains("name=systemd")
    );
    assert_eq!(status_of(&r, "cgroup.layout"), Status::Pass);
    for c in ["cgroup.memory", "cgroup.pids", "cgroup.cpu"] {
        assert_eq!(status_of(&r, c), Status::Pass, "{c}");
    }
    assert_eq!(
        r.check("cgroup.cpu").unwrap().detail,
        "v1 at /sys/fs/cgroup/cpu,cpuacct"
    );
}

#[test]
fn cgroup_v1_missing_pids_has_mount_fix() {
    let f = Fixture::host(BASE_FLAGS);
    let without_pids: String = V1_MOUNTINFO
        .lines()
        .filter(|l| !l.contains("/pids"))
        .map(|l| format!("{l}\n"))
        .collect();
    f.mountinfo(&without_pids);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.cgroup_limits.pids, None);
    assert_eq!(status_of(&r, "cgroup.pids"), Status::Fail);
    assert!(fix_of(&r, "cgroup.pids").contains("mount -t cgroup -o pids"));
}

#[test]
fn cgroup_v2_reads_controllers() {
    let f = Fixture::host(BASE_FLAGS);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        r.cgroup.layout,
        Layout::V2 {
            mount: "/sys/fs/cgroup".into(),
            controllers: [
                "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"
            ]
            .map(String::from)
            .to_vec(),
        }
    );
    let v2 = |m: &str| Place::V2(m.into());
    assert_eq!(
        r.cgroup_limits,
        CgroupLimits {
            memory: Some(v2("/sys/fs/cgroup")),
            pids: Some(v2("/sys/fs/cgroup")),
            cpu: Some(v2("/sys/fs/cgroup")),
        }
    );
    assert_eq!(status_of(&r, "cgroup.layout"), Status::Pass);
    assert_eq!(r.cgroup.layout.label(), "v2");
}

#[test]
fn cgroup_v2_without_memory_controller() {
    let f = Fixture::host(BASE_FLAGS);
    f.file("/sys/fs/cgroup/cgroup.controllers", "cpu pids\n");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.cgroup_limits.memory, None);
    assert_eq!(status_of(&r, "cgroup.memory"), Status::Fail);
    assert!(fix_of(&r, "cgroup.memory").contains("cgroup_enable=memory"));
    assert_eq!(status_of(&r, "cgroup.pids"), Status::Pass);
}

#[test]
fn cgroup_hybrid_with_hugetlb_only_unified() {
    let f = Fixture::host(BASE_FLAGS);
    f.mountinfo(HYBRID_MOUNTINFO)
        .file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
    let r = diagnose(&f.view(), &FakeProbes::root());
    let Layout::Hybrid {
        hierarchies,
        unified,
        unified_controllers,
    } = &r.cgroup.layout
    else {
        panic!("expected hybrid, got {:?}", r.cgroup);
    };
    assert_eq!(unified, Path::new("/sys/fs/cgroup/unified"));
    assert_eq!(unified_controllers, &["hugetlb"]);
    assert_eq!(hierarchies.len(), 8);
    assert_eq!(r.cgroup.named.len(), 1);
    // tmpfs at /sys/fs/cgroup is not a hierarchy.
    assert!(
        hierarchies
            .iter()
            .all(|h| h.mount != Path::new("/sys/fs/cgroup"))
    );
    assert_eq!(
        r.cgroup.layout.locate("hugetlb"),
        Some(Place::V2("/sys/fs/cgroup/unified".into()))
    );
    assert_eq!(
        r.cgroup_limits.memory,
        Some(Place::V1("/sys/fs/cgroup/memory".into()))
    );
    assert_eq!(
        r.cgroup_limits.cpu,
        Some(Place::V1("/sys/fs/cgroup/cpu".into()))
    );
    let c = r.check("cgroup.layout").unwrap();
    // versus uses the v1 controllers here: nothing to fix for it.
    assert_eq!(c.status, Status::Info);
    assert!(c.detail.contains("versus sets memory, pids and cpu limits"));
    assert!(c.detail.contains("hugetlb"));
    // crun's trouble stays as a side note.
    let fix = c.fix.as_deref().unwrap();
    assert!(fix.starts_with("nothing for versus"), "{fix}");
    assert!(fix.contains("umount /sys/fs/cgroup/unified"), "{fix}");
}

#[test]
fn cgroup_none() {
    let f = Fixture::host(BASE_FLAGS);
    f.mountinfo(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n22 27 0:21 / /proc rw - proc proc rw\n",
    );
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.cgroup.layout, Layout::None);
    assert_eq!(
        r.cgroup_limits,
        CgroupLimits {
            memory: None,
            pids: None,
            cpu: None
        }
    );
    assert_eq!(status_of(&r, "cgroup.layout"), Status::Fail);
    assert!(fix_of(&r, "cgroup.layout").contains("mount -t cgroup2 none /sys/fs/cgroup"));
    assert_eq!(status_of(&r, "cgroup.cpu"), Status::Fail);
}

#[test]
fn cgroup_none_without_mountinfo() {
    let f = Fixture::host(BASE_FLAGS);
    f.remove("/proc/self/mountinfo");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.cgroup.layout, Layout::None);
    assert!(
        r.check("cgroup.layout")
            .unwrap()
            .detail
            .contains("cannot read")
    );
}

#[test]
fn v2_with_named_v1_hierarchy_counts_as_v2() {
    let f = Fixture::host(BASE_FLAGS);
    f.mountinfo(&format!(
        "{V2_MOUNTINFO}50 31 0:40 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
    ));
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.cgroup.layout.label(), "v2");
}

#[test]
fn shadowed_and_duplicate_mounts() {
    let text = "\
1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
2 1 0:2 / /sys/fs/cgroup rw - tmpfs tmpfs rw
3 2 0:3 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
4 2 0:3 / /mnt/memory-again rw - cgroup cgroup rw,memory
";
    let f = Fixture::empty();
    f.mountinfo(text);
    let layout = Layout::detect(f.view().root());
    assert_eq!(
        layout,
        Layout::V1 {
            hierarchies: vec![V1Hierarchy {
                mount: "/sys/fs/cgroup/memory".into(),
                controllers: vec!["memory".into()],
            }]
        }
    );
}

// --- mountinfo parsing ----------------------------------------------------------

#[test]
fn mountinfo_escaped_mount_point_reads_controllers_through_view() {
    let f = Fixture::host(BASE_FLAGS);
    f.mountinfo("31 23 0:28 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n")
        .file("/sys/fs/my cgroup/cgroup.controllers", "memory pids\n");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        r.cgroup.layout,
        Layout::V2 {
            mount: "/sys/fs/my cgroup".into(),
            controllers: vec!["memory".into(), "pids".into()],
        }
    );
    assert_eq!(r.cgroup_limits.cpu, None);
}

// --- user namespaces ------------------------------------------------------------

fn userns_blocks(r: &DoctorReport) -> Vec<UsernsKnob> {
    match &r.unprivileged_userns {
        UsernsStatus::Disabled { blocks } => blocks.iter().map(|b| b.knob).collect(),
        other => panic!("expected disabled, got {other:?}"),
    }
}

#[test]
fn userns_allowed() {
    let f = Fixture::host(BASE_FLAGS);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        r.unprivileged_userns,
        UsernsStatus::Allowed {
            max_user_namespaces: Some(63482)
        }
    );
    assert_eq!(status_of(&r, "userns.unprivileged"), Status::Pass);
}

#[test]
fn userns_disabled_by_max_user_namespaces() {
    let f = Fixture::host(BASE_FLAGS);
    f.file("/proc/sys/user/max_user_namespaces", "0\n");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(userns_blocks(&r), [UsernsKnob::MaxUserNamespaces]);
    assert_eq!(status_of(&r, "userns.unprivileged"), Status::Warn);
    assert!(fix_of(&r, "userns.unprivileged").contains("sysctl -w user.max_user_namespaces="));
}

#[test]
fn userns_disabled_by_debian_knob() {
    let f = Fixture::host(BASE_FLAGS);
    f.file("/proc/sys/kernel/unprivileged_userns_clone", "0\n");
    let probes = FakeProbes {
        euid: 1000,
        ..FakeProbes::root()
    };
    let r = diagnose(&f.view(), &probes);
    assert_eq!(userns_blocks(&r), [UsernsKnob::DebianUnprivilegedClone]);
    // Not root and no rootless path: a failure.
    assert_eq!(status_of(&r, "userns.unprivileged"), Status::Fail);
    assert!(fix_of(&r, "userns.unprivileged").contains("kernel.unprivileged_userns_clone=1"));
}

#[test]
fn userns_disabled_by_ubuntu_apparmor_knob() {
    let f = Fixture::host(BASE_FLAGS);
    f.file(
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1\n",
    )
    .file("/proc/sys/kernel/unprivileged_userns_clone", "1\n");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(userns_blocks(&r), [UsernsKnob::UbuntuAppArmorRestrict]);
    assert!(
        fix_of(&r, "userns.unprivileged")
            .contains("kernel.apparmor_restrict_unprivileged_userns=0")
    );
}

#[test]
fn userns_all_knobs_are_reported() {
    let f = Fixture::host(BASE_FLAGS);
    f.file("/proc/sys/user/max_user_namespaces", "0")
        .file("/proc/sys/kernel/unprivileged_userns_clone", "0")
        .file(
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1",
        )
        .remove("/proc/self/ns/user");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        userns_blocks(&r),
        [
            UsernsKnob::KernelConfig,
            UsernsKnob::MaxUserNamespaces,
            UsernsKnob::DebianUnprivilegedClone,
            UsernsKnob::UbuntuAppArmorRestrict
        ]
    );
    assert_eq!(status_of(&r, "ns.user"), Status::Fail);
}

// --- namespaces -----------------------------------------------------------------

#[test]
fn namespaces_missing() {
    let f = Fixture::host(BASE_FLAGS);
    f.remove("/proc/self/ns/time").remove("/proc/self/ns/net");
    f.file("/proc/self/ns/pid_for_children", "");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.namespaces, ["cgroup", "ipc", "mnt", "pid", "user", "uts"]);
    assert_eq!(status_of(&r, "ns.pid"), Status::Pass);
    assert_eq!(status_of(&r, "ns.time"), Status::Warn);
    assert_eq!(status_of(&r, "ns.net"), Status::Fail);
    assert!(fix_of(&r, "ns.net").contains("CONFIG_NET_NS=y"));
    assert_eq!(r.check("ns.net").unwrap().detail, "no /proc/self/ns/net");
}

// --- seccomp --------------------------------------------------------------------

#[test]
fn seccomp_supported() {
    let f = Fixture::host(BASE_FLAGS);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert!(r.seccomp.supported);
    assert!(r.seccomp.filter_supported);
    assert_eq!(r.seccomp.current_mode, Some(0));
    assert!(r.seccomp.actions.iter().any(|a| a == "errno"));
    assert_eq!(status_of(&r, "seccomp"), Status::Pass);
}

#[test]
fn seccomp_absent_and_under_filter() {
    let f = Fixture::host(BASE_FLAGS);
    f.file("/proc/self/status", "Name:\tx\n")
        .remove("/proc/sys/kernel/seccomp/actions_avail");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert!(!r.seccomp.supported);
    assert_eq!(status_of(&r, "seccomp"), Status::Fail);
    assert!(fix_of(&r, "seccomp").contains("CONFIG_SECCOMP_FILTER=y"));

    f.file(
        "/proc/self/status",
        "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n",
    );
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.seccomp.current_mode, Some(2));
    assert_eq!(status_of(&r, "seccomp"), Status::Warn);
}

// --- LSMs -----------------------------------------------------------------------

#[test]
fn lsm_apparmor() {
    let f = Fixture::host(BASE_FLAGS);
    f.file(
        "/sys/kernel/security/lsm",
        "lockdown,capability,landlock,yama,apparmor",
    )
    .file("/sys/module/apparmor/parameters/enabled", "Y\n");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(
        r.lsm.modules,
        ["lockdown", "capability", "landlock", "yama", "apparmor"]
    );
    assert_eq!(r.lsm.apparmor_state(), AppArmorState::Enabled);
    assert_eq!(r.lsm.selinux_state(), SelinuxState::Absent);
    let c = r.check("lsm").unwrap();
    assert_eq!(c.status, Status::Info);
    assert!(c.detail.contains("AppArmor enabled"), "{}", c.detail);
}

#[test]
fn lsm_selinux_enforcing_and_permissive() {
    let f = Fixture::host(BASE_FLAGS);
    f.file("/sys/kernel/security/lsm", "capability,selinux\n")
        .file("/sys/fs/selinux/enforce", "1");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.lsm.selinux_state(), SelinuxState::Enforcing);
    assert_eq!(r.lsm.apparmor_state(), AppArmorState::Absent);
    assert_eq!(status_of(&r, "lsm"), Status::Warn);
    assert!(fix_of(&r, "lsm").contains("ausearch -m avc"));

    f.file("/sys/fs/selinux/enforce", "0");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.lsm.selinux_state(), SelinuxState::Permissive);
    assert_eq!(status_of(&r, "lsm"), Status::Info);
}

#[test]
fn lsm_none() {
    let f = Fixture::host(BASE_FLAGS);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert!(!r.lsm.securityfs && r.lsm.modules.is_empty());
    assert_eq!(r.lsm.apparmor_state(), AppArmorState::Absent);
    assert_eq!(r.lsm.selinux_state(), SelinuxState::Absent);
    let c = r.check("lsm").unwrap();
    assert!(c.detail.contains("securityfs not mounted"), "{}", c.detail);

    f.file("/sys/kernel/security/lsm", "capability\n")
        .file("/sys/module/apparmor/parameters/enabled", "N\n");
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(r.lsm.modules, ["capability"]);
    assert_eq!(r.lsm.apparmor_state(), AppArmorState::Disabled);
}

#[test]
fn lsm_list_unknown_says_how_to_mount_securityfs() {
    let f = Fixture::host(BASE_FLAGS);
    let r = diagnose(&f.view(), &FakeProbes::root());
    assert_eq!(status_of(&r, "lsm"), Status::Info);
    assert!(
        fix_of(&r, "lsm").contains("mount -t securityfs securityfs /sys/kernel/security"),
        "{}",
        fix_of(&r, "lsm")
    );
}

// --- tools --------------------------------------------------------------------

#[test]
fn tools_name_the_feature_that_needs_them() {
    let f = Fixture::host(BASE_FLAGS);
    let r = diagnose(&f.view(), &FakeProbes::root());
    // Nothing in the fixture: both are missing, each with its package.
    assert_eq!(status_of(&r, "tools.busybox"), Status::Info);
    assert!(fix_of(&r, "tools.busybox").contains("busybox-static"));
    assert!(fix_of(&r, "tools.busybox").contains("--busybox"));

    // A script is not a static ELF: found, but refused by --busybox.
    f.file("/bin/busybox", "#!/bin/sh\n");
    let tools = Tools::detect(&f.view(), "/usr/bin");
    let busybox = tools.busybox.as_ref().unwrap();
    assert_eq!(busybox.path, "/bin/busybox");
    assert!(!busybox.statically_linked);
    assert_eq!(tools.c_compiler, None);

    // A compiler on PATH without a static libc cannot link `cc -static`.
    f.file("/usr/bin/gcc", "");
    let tools = Tools::detect(&f.view(), "relative:/usr/bin");
    assert_eq!(tools.c_compiler.as_deref(), Some("/usr/bin/gcc"));
    assert_eq!(tools.static_libc, None);
    f.file("/usr/lib/x86_64-linux-gnu/libc.a", "");
    let tools = Tools::detect(&f.view(), "/usr/bin/");
    assert_eq!(
        tools.static_libc.as_deref(),
        Some("/usr/lib/x86_64-linux-gnu/libc.a")
    );
}

// --- empty view, serde, render --------------------------------------------------

#[test]
fn empty_view_degrades_to_unknown() {
    let f = Fixture::empty();
    let probes = FakeProbes {
        kvm: KvmOpen::Other("boom".into()),
        euid: 1000,
        hypervisor: None,
        stale: Vec::new(),
        join_us: None,
        join_asked: Default::default(),
    };
    let r = diagnose(&f.view(), &probes);
    assert_eq!(r.kernel_release, None);
    assert_eq!(r.cpu_model, None);
    assert!(r.namespaces.is_empty());
    assert_eq!(r.cgroup.layout, Layout::None);
    assert!(
        r.check("host.kernel")
            .unwrap()
            .detail
            .starts_with("unknown")
    );
    // Every check has a title and every failure a fix.
    for c in &r.checks {
        assert!(!c.title.is_empty());
        if c.status == Status::Fail {
            assert!(c.fix.is_some(), "{} fails without a fix", c.id);
        }
    }
}

#[test]
fn report_round_trips_through_json() {
    let f = Fixture::host(&format!("{BASE_FLAGS} hypervisor")).with_kvm(&["kvm", "kvm_pvm"]);
    f.mountinfo(HYBRID_MOUNTINFO)
        .file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
    let r = diagnose(&f.view(), &FakeProbes::in_vm("KVMKVMKVM"));
    let json = serde_json::to_string(&r).expect("serialize");
    let back: DoctorReport = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["kvm"]["backend"]["software"]["module"], "kvm_pvm");
    assert_eq!(v["kvm"]["open"]["ok"]["api_version"], 12);
    assert_eq!(v["checks"][0]["id"], "host.kernel");
    assert_eq!(v["checks"][0]["status"], "info");
}

fn failing_report() -> DoctorReport {
    let f = Fixture::host(BASE_FLAGS);
    f.modules(&["kvm"]);
    diagnose(&f.view(), &FakeProbes::root())
}

#[test]
fn render_shows_titles_failures_and_fixes() {
    let r = failing_report();
    // Wide enough that nothing wraps: each row is one line.
    let out = render_with_width(&r, false, Some(1000));
    for c in &r.checks {
        assert!(
            out.contains(&c.title),
            "missing title {:?} in\n{out}",
            c.title
        );
    }
    let dev = r.check("kvm.device").unwrap();
    assert_eq!(dev.status, Status::Fail);
    let line = out
        .lines()
        .find(|l| l.contains("/dev/kvm present"))
        .expect("kvm.device row");
    assert!(line.contains('✗'), "{line}");
    assert!(line.contains(dev.fix.as_deref().unwrap()), "{line}");
    assert!(line.contains("modprobe kvm_intel"), "{line}");
    let backend = out
        .lines()
        .find(|l| l.contains("KVM backend") && l.contains('✗'))
        .expect("kvm.backend row");
    assert!(backend.contains("unavailable (no /dev/kvm)"), "{backend}");
    assert!(out.contains(&format!("{} failed", r.counts().fail)));
    assert!(out.contains("only host and container numbers"));
    assert!(!out.contains('\x1b'), "no ANSI codes without color");
}

#[test]
fn render_wraps_details_but_not_titles() {
    let r = failing_report();
    let out = render_with_width(&r, false, Some(90));
    for c in &r.checks {
        assert!(out.contains(&c.title), "missing title {:?}", c.title);
    }
    assert!(out.contains('✗') && out.contains('✓') && out.contains('·'));
    // Table rows stay within the requested width.
    for l in out.lines().filter(|l| l.starts_with('│')) {
        assert!(l.chars().count() <= 90, "too wide: {l}");
    }
}

#[test]
fn render_keeps_each_number_with_its_unit_at_every_width() {
    let mut r = failing_report();
    r.checks[0].detail = "joining a new cgroup took 286 µs here, without an RCU grace-period \
                          wait (a migration moments before)"
        .to_owned();
    r.checks[0].fix = Some("it took 12.5 ms and 3 runs of 4 KiB".to_owned());
    for width in 20..=120 {
        let out = render_with_width(&r, false, Some(width));
        for line in out.lines() {
            for segment in line.split(['│', '┆']) {
                let first = segment.split_whitespace().next().unwrap_or("");
                assert!(
                    !["µs", "ms", "runs", "KiB"].contains(&first),
                    "width {width}: a unit starts a line:\n{line}\nin\n{out}"
                );
            }
        }
    }
}

#[test]
fn render_default_and_colored() {
    let r = failing_report();
    let out = render(&r, false);
    for c in &r.checks {
        assert!(out.contains(&c.title), "missing title {:?}", c.title);
    }
    let colored = render_with_width(&r, true, Some(200));
    assert!(colored.contains('\x1b'), "color adds ANSI codes");
    assert!(colored.contains('✗'));
}

// --- the real machine -----------------------------------------------------------

fn uname_release() -> String {
    // SAFETY: utsname is plain old data (arrays of c_char); all zeroes is valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname for uname to fill.
    let rc = unsafe { libc::uname(&mut u) };
    assert_eq!(rc, 0, "uname failed");
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn real_machine_invariants() {
    let r = diagnose(&HostView::real(), &RealProbes);
    assert_eq!(r.kernel_release.as_deref(), Some(uname_release().as_str()));
    assert!(
        r.namespaces.iter().any(|n| n == "pid"),
        "{:?}",
        r.namespaces
    );
    assert!(r.namespaces.iter().any(|n| n == "mnt"));
    assert!(r.seccomp.supported);
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(r.euid, euid);
    assert_eq!(r.is_root, euid == 0);
    assert_eq!(r.kvm.device_present, Path::new("/dev/kvm").exists());
    if !r.kvm.device_present {
        assert_eq!(r.kvm.backend, KvmBackend::Unavailable);
    }
    if let KvmOpen::Ok { api_version } = r.kvm.open {
        assert_eq!(api_version, 12);
    }
    // kvm_pvm without vmx/svm is software (a nested host with kvm_intel + vmx
    // is hardware, even with kvm_pvm loaded: `hypervisor::kvm::classify`).
    if r.kvm.modules.iter().any(|m| m == "kvm_pvm")
        && r.kvm.cpu_virt_flags.is_empty()
        && r.kvm.device_present
    {
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Software {
                module: "kvm_pvm".into()
            }
        );
    }
    // Check ids are unique, and all namespace checks are present.
    let mut ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate check ids");
    for ns in NAMESPACES {
        assert!(r.check(&format!("ns.{ns}")).is_some());
    }
    // A cgroup layout was found wherever /proc and /sys are mounted normally.
    if Path::new("/sys/fs/cgroup").exists() {
        assert_ne!(r.cgroup.layout, Layout::None);
    }
    let out = render(&r, false);
    assert!(out.contains("KVM backend"));
    println!("{out}");
}

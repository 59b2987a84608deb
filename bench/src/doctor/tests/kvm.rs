//! The KVM checks: backends, /dev/kvm, its permissions and API version, and
//! the cgroup checks that probe the host (join cost, stale cgroups).

use super::*;

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

//! Cgroup layouts: v1, v2, hybrid, none, and how mountinfo is read.

use super::*;

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

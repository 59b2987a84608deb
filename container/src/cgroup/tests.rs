//! Tests of the parent module, kept in their own file.

use super::layout::tests::{HYBRID_MOUNTINFO, V1_MOUNTINFO, V2_MOUNTINFO};
use super::*;

/// A fixture host root with cgroup mount points laid out like the mountinfo text.
pub(crate) fn fixture(mountinfo: &str, v2_controllers: &str) -> (tempfile::TempDir, Layout) {
    let d = tempfile::tempdir().unwrap();
    for line in mountinfo.lines() {
        let m = crate::mountinfo::parse_line(line).unwrap();
        let p = under(d.path(), Path::new(&m.mount_point));
        fs::create_dir_all(&p).unwrap();
        if m.fs_type == "cgroup2" {
            fs::write(p.join("cgroup.controllers"), v2_controllers).unwrap();
            fs::write(p.join("cgroup.subtree_control"), v2_controllers).unwrap();
        }
    }
    let l = Layout::from_mountinfo(mountinfo, d.path());
    (d, l)
}

fn limits(memory: Option<u64>, pids: Option<u64>, cpus: Option<f64>) -> Limits {
    Limits { memory, pids, cpus }
}

#[test]
fn hybrid_uses_the_v1_hierarchies_for_everything_here() {
    let (d, l) = fixture(HYBRID_MOUNTINFO, "hugetlb");
    let p = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
        .unwrap()
        .unwrap();
    let mounts: Vec<_> = p.v1.iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(
        mounts,
        ["memory", "pids", "cpu", "cpuacct", "devices"]
            .map(|c| PathBuf::from(format!("/sys/fs/cgroup/{c}")))
    );
    assert_eq!(
        p.v2,
        Some((
            PathBuf::from("/sys/fs/cgroup/unified"),
            PathBuf::from("versus"),
            Vec::new()
        )),
        "no controller versus uses is in the unified mount, which still holds the \
         process (cloned into it)"
    );
    let cg = p.instantiate("abc");
    assert_eq!(cg.version(), CgroupVersion::V1);
    assert_eq!(
        cg.paths()[0],
        d.path().join("sys/fs/cgroup/memory/versus/abc")
    );
}

#[test]
fn a_child_cloned_into_the_unified_directory_joins_only_the_v1_hierarchies() {
    let (d, l) = fixture(HYBRID_MOUNTINFO, "hugetlb");
    let p = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
        .unwrap()
        .unwrap();
    let mut cg = p.instantiate("j");
    assert_eq!(
        cg.unified_dir(),
        None,
        "nothing to clone into before create"
    );
    cg.create().unwrap();
    let unified = d.path().join("sys/fs/cgroup/unified/versus/j");
    assert_eq!(cg.unified_dir(), Some(unified.as_path()));
    cg.add_task_outside_unified(99).unwrap();
    let procs = |dir: &Path| fs::read_to_string(dir.join("cgroup.procs")).ok();
    assert_eq!(
        procs(&d.path().join("sys/fs/cgroup/pids/versus/j")).as_deref(),
        Some("99")
    );
    assert_eq!(
        procs(&unified),
        None,
        "the unified part was joined at clone"
    );
}

#[test]
fn hybrid_uses_v2_for_a_controller_only_v2_has() {
    let mi = HYBRID_MOUNTINFO
        .lines()
        .filter(|l| !l.contains(" rw,pids"))
        .collect::<Vec<_>>()
        .join("\n");
    let (d, l) = fixture(&mi, "pids hugetlb");
    let p = plan(&l, d.path(), &limits(None, Some(5), None), &Launcher::Root)
        .unwrap()
        .unwrap();
    assert_eq!(
        p.v2,
        Some((
            PathBuf::from("/sys/fs/cgroup/unified"),
            PathBuf::from("versus"),
            vec!["pids".to_string()]
        ))
    );
    assert_eq!(p.instantiate("x").version(), CgroupVersion::Hybrid);
}

#[test]
fn v1_comounted_cpu_cpuacct_is_one_directory() {
    let (d, l) = fixture(V1_MOUNTINFO, "");
    let p = plan(
        &l,
        d.path(),
        &limits(None, None, Some(0.5)),
        &Launcher::Root,
    )
    .unwrap()
    .unwrap();
    assert_eq!(p.v1.len(), 4);
    assert_eq!(
        p.v1[2],
        (
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
            vec!["cpu".to_string(), "cpuacct".to_string()]
        )
    );
}

#[test]
fn a_missing_controller_is_a_clear_error() {
    let mi = V1_MOUNTINFO
        .lines()
        .filter(|l| !l.contains("memory"))
        .collect::<Vec<_>>()
        .join("\n");
    let (d, l) = fixture(&mi, "");
    let e = plan(
        &l,
        d.path(),
        &limits(Some(1 << 25), None, None),
        &Launcher::Root,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--memory limit needs the cgroup `memory` controller"),
        "{e}"
    );
    assert!(e.contains("mount -t cgroup -o memory"), "{e}");
    // Without the limit the same host is fine (memory statistics are just absent).
    assert!(plan(&l, d.path(), &Limits::default(), &Launcher::Root).is_ok());

    // v2: offered by the kernel but not enabled for children.
    let (d, l) = fixture(V2_MOUNTINFO, "cpu memory");
    fs::write(
        d.path().join("sys/fs/cgroup/cgroup.subtree_control"),
        "memory",
    )
    .unwrap();
    let e = plan(
        &l,
        d.path(),
        &limits(None, None, Some(1.0)),
        &Launcher::Root,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("echo +cpu > /sys/fs/cgroup/cgroup.subtree_control"),
        "{e}"
    );
    // v2: not offered at all.
    let e = plan(&l, d.path(), &limits(None, Some(3), None), &Launcher::Root)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cgroup_enable=pids"), "{e}");
    // No cgroup filesystem.
    let e = plan(
        &Layout::None,
        d.path(),
        &limits(Some(1 << 25), None, None),
        &Launcher::Root,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("mount -t cgroup2"), "{e}");
    // Without limits, root still needs a cgroup for the device allow-list.
    let e = plan(&Layout::None, d.path(), &Limits::default(), &Launcher::Root)
        .unwrap_err()
        .to_string();
    assert!(e.contains("device allow-list cannot be enforced"), "{e}");
    assert!(e.contains("no cgroup filesystem is mounted"), "{e}");
}

#[test]
fn the_device_allow_list_uses_v1_devices_or_a_v2_program() {
    // v1 (and hybrid): the devices hierarchy joins the plan.
    let (d, l) = fixture(V1_MOUNTINFO, "");
    let p = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
        .unwrap()
        .unwrap();
    assert_eq!(p.devices, Some(devices::Enforcement::V1));
    assert!(p.v1.contains(&(
        PathBuf::from("/sys/fs/cgroup/devices"),
        vec!["devices".to_string()]
    )));
    // v1 without a devices hierarchy: refused with the mount command.
    let mi = V1_MOUNTINFO
        .lines()
        .filter(|l| !l.contains("devices"))
        .collect::<Vec<_>>()
        .join("\n");
    let (d, l) = fixture(&mi, "");
    let e = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no `devices` controller"), "{e}");
    assert!(e.contains("mount -t cgroup -o devices"), "{e}");
    // Hybrid without a v1 devices hierarchy: a program on the unified directory, which
    // is then created even though no controller is used there.
    let mi = HYBRID_MOUNTINFO
        .lines()
        .filter(|l| !l.contains("devices"))
        .collect::<Vec<_>>()
        .join("\n");
    let (d, l) = fixture(&mi, "");
    let p = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
        .unwrap()
        .unwrap();
    assert_eq!(p.devices, Some(devices::Enforcement::V2Program));
    assert_eq!(p.v2.as_ref().unwrap().2, Vec::<String>::new());
    let cg = p.instantiate("h");
    assert!(cg.v2.as_ref().unwrap().device_program());
    assert_eq!(cg.version(), CgroupVersion::Hybrid);
    // v2: always the program.
    let (d, l) = fixture(V2_MOUNTINFO, "memory pids");
    let p = plan(&l, d.path(), &Limits::default(), &Launcher::Root)
        .unwrap()
        .unwrap();
    assert_eq!(p.devices, Some(devices::Enforcement::V2Program));
    // Rootless: none (no cgroup without limits, and no allow-list with them).
    let rootless = Launcher::Rootless {
        own_v2_path: Some("/user.slice/x.scope".into()),
    };
    assert_eq!(
        plan(&l, d.path(), &Limits::default(), &rootless).unwrap(),
        None
    );
}

#[test]
fn rootless_needs_a_writable_delegated_v2_subtree() {
    // No limits: no cgroup at all.
    let (d, l) = fixture(V2_MOUNTINFO, "memory pids cpu");
    let rootless = Launcher::Rootless {
        own_v2_path: Some("/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope".into()),
    };
    assert_eq!(
        plan(&l, d.path(), &Limits::default(), &rootless).unwrap(),
        None
    );
    // With a limit: the parent of the launcher's cgroup must be writable and enable it.
    let parent = d
        .path()
        .join("sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice");
    fs::create_dir_all(&parent).unwrap();
    fs::write(parent.join("cgroup.procs"), "").unwrap();
    fs::write(parent.join("cgroup.subtree_control"), "memory pids").unwrap();
    let p = plan(&l, d.path(), &limits(Some(1 << 26), None, None), &rootless)
        .unwrap()
        .unwrap();
    assert_eq!(
        p.v2.as_ref().unwrap().1,
        PathBuf::from("user.slice/user-1000.slice/user@1000.service/app.slice/versus")
    );
    let e = plan(&l, d.path(), &limits(None, None, Some(1.0)), &rootless)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not enable the `cpu` controller"), "{e}");
    // v1 only: impossible without root.
    let (d, l) = fixture(V1_MOUNTINFO, "");
    let e = plan(&l, d.path(), &limits(None, Some(4), None), &rootless)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot apply --pids-limit 4"), "{e}");
    assert!(e.contains("no cgroup v2 hierarchy"), "{e}");
}

#[test]
fn a_busy_cgroup_directory_is_removed_once_the_kernel_lets_go() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("busy");
    fs::create_dir(&dir).unwrap();
    let mut attempts = 0;
    remove_dir_retrying_with(&dir, |p| {
        attempts += 1;
        if attempts <= 2 {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        fs::remove_dir(p)
    })
    .unwrap();
    assert_eq!(attempts, 3);
    assert!(!dir.exists());
    // Any other error is not retried, and names the directory.
    let mut attempts = 0;
    let e = remove_dir_retrying_with(d.path(), |_| {
        attempts += 1;
        Err(io::Error::from_raw_os_error(libc::ENOTEMPTY))
    })
    .unwrap_err()
    .to_string();
    assert_eq!(attempts, 1);
    assert!(e.contains(&d.path().display().to_string()), "{e}");
}

#[test]
fn a_cgroup_directory_busy_for_good_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let e = remove_dir_retrying_with(d.path(), |_| Err(io::Error::from_raw_os_error(libc::EBUSY)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("remove"), "{e}");
    assert!(e.contains(&d.path().display().to_string()), "{e}");
    assert!(e.contains("busy"), "{e}");
}

#[testkit::needs(root)]
#[test]
fn the_kernels_own_ebusy_is_retried() {
    if !testkit::require_root("the_kernels_own_ebusy_is_retried") {
        return;
    }
    // rmdir of a mount point fails with EBUSY, as a cgroup that still holds a
    // dying task does; the first failed attempt unmounts, the retry succeeds.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("mounted");
    fs::create_dir(&dir).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let mut errors = Vec::new();
    let result = remove_dir_retrying_with(&dir, |p| {
        let r = fs::remove_dir(p);
        if let Err(e) = &r {
            errors.push(e.raw_os_error());
            let _ = nix::mount::umount(p);
        }
        r
    });
    let _ = nix::mount::umount(&dir);
    result.unwrap();
    assert_eq!(errors, [Some(libc::EBUSY)]);
    assert!(!dir.exists());
}

#[test]
fn a_create_that_fails_half_way_on_the_hybrid_layout_leaves_nothing() {
    let controllers = ["memory", "pids", "cpu", "cpuacct", "devices"];
    let v1_dir = |d: &Path, c: &str| d.join(format!("sys/fs/cgroup/{c}/versus"));
    let assert_nothing_left = |d: &Path, except: &str| {
        for c in controllers.iter().filter(|c| **c != except) {
            assert!(!v1_dir(d, c).exists(), "{c}: {}", v1_dir(d, c).display());
        }
    };

    // The fourth of five v1 hierarchies fails: its `versus` parent is a file.
    let (d, l) = fixture(HYBRID_MOUNTINFO, "");
    let mut cg = plan(
        &l,
        d.path(),
        &limits(Some(1 << 25), None, None),
        &Launcher::Root,
    )
    .unwrap()
    .unwrap()
    .instantiate("half");
    fs::write(v1_dir(d.path(), "cpuacct"), "not a directory").unwrap();
    let e = cg.create().unwrap_err().to_string();
    assert!(e.contains("cpuacct/versus/half"), "{e}");
    assert!(
        v1_dir(d.path(), "memory").join("half").is_dir(),
        "made before the failure"
    );
    cg.kill_all().unwrap();
    cg.remove().unwrap();
    assert_nothing_left(d.path(), "cpuacct");

    // Every v1 hierarchy done, then the v2 part (pids lives only there) fails.
    let mi = HYBRID_MOUNTINFO
        .lines()
        .filter(|l| !l.contains(" rw,pids"))
        .collect::<Vec<_>>()
        .join("\n");
    let (d, l) = fixture(&mi, "pids");
    let mut cg = plan(&l, d.path(), &limits(None, Some(5), None), &Launcher::Root)
        .unwrap()
        .unwrap()
        .instantiate("half");
    assert_eq!(cg.version(), CgroupVersion::Hybrid);
    fs::write(
        d.path().join("sys/fs/cgroup/unified/versus"),
        "not a directory",
    )
    .unwrap();
    let e = cg.create().unwrap_err().to_string();
    assert!(e.contains("unified/versus"), "{e}");
    // The device allow-list went into the v1 devices directory as plain files,
    // which cgroupfs would not hold; empty it so that rmdir works as there.
    let devices = v1_dir(d.path(), "devices").join("half");
    for entry in fs::read_dir(&devices).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    cg.kill_all().unwrap();
    cg.remove().unwrap();
    assert_nothing_left(d.path(), "pids");
}

#[test]
fn keyed_files_parse() {
    let t = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
    assert_eq!(parse_keyed(t, "oom_kill"), Some(1));
    assert_eq!(parse_keyed(t, "oom"), Some(2));
    assert_eq!(parse_keyed(t, "nope"), None);
    let t = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
    assert_eq!(parse_keyed(t, "oom_kill"), Some(3));
}

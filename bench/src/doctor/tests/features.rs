//! User namespaces, namespaces, seccomp, security modules and tools.

use super::*;

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

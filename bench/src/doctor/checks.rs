//! The checks of `versus doctor`: one function per area, each turning the facts of a
//! [`DoctorReport`] into [`Check`]s with a status and, where something can be done, a
//! one-line fix.

use super::{
    AppArmorState, Check, DoctorReport, HostView, KvmBackend, KvmOpen, Layout, NAMESPACES,
    OPTIONAL_NAMESPACES, Place, SelinuxState, Status, UsernsStatus, V1Hierarchy,
};

/// All checks, in display order.
pub(super) fn build(r: &DoctorReport, view: &HostView) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.extend(host_checks(r));
    checks.extend(kvm_checks(r));
    checks.extend(cgroup_checks(r, view));
    checks.extend(namespace_checks(r));
    checks.push(userns_check(r));
    checks.push(seccomp_check(r));
    checks.push(lsm_check(r));
    checks.push(privilege_check(r));
    checks.push(busybox_check(r));
    checks.push(c_compiler_check(r));
    checks
}

/// busybox-static, which `versus container run --busybox` copies into the
/// container's root filesystem.
fn busybox_check(r: &DoctorReport) -> Check {
    const ID: &str = "tools.busybox";
    const TITLE: &str = "busybox (static)";
    const FIX: &str =
        "`apt-get install busybox-static` (needed only for `versus container run --busybox`)";
    match &r.tools.busybox {
        Some(busybox) if busybox.statically_linked => Check::new(
            ID,
            TITLE,
            Status::Pass,
            format!("{}, statically linked", busybox.path),
        ),
        Some(busybox) => Check::new(
            ID,
            TITLE,
            Status::Info,
            format!(
                "{} is dynamically linked: alone in a container it cannot start, so --busybox refuses it",
                busybox.path
            ),
        )
        .with_fix(FIX),
        None => Check::new(ID, TITLE, Status::Info, "not installed").with_fix(FIX),
    }
}

/// A C compiler and a static libc, for static workloads of one's own
/// (`versus vm run --workload FILE`) and the test suite's probes.
fn c_compiler_check(r: &DoctorReport) -> Check {
    const ID: &str = "tools.cc";
    const TITLE: &str = "C compiler (cc -static)";
    match (&r.tools.c_compiler, &r.tools.static_libc) {
        (Some(compiler), Some(libc)) => Check::new(
            ID,
            TITLE,
            Status::Pass,
            format!("{compiler}; static libc at {libc}"),
        ),
        (Some(compiler), None) => Check::new(
            ID,
            TITLE,
            Status::Info,
            format!("{compiler}, but no static libc (libc.a): `cc -static` cannot link"),
        )
        .with_fix(
            "`apt-get install libc6-dev` (needed only to build your own static workloads \
             and for the test suite's probes)",
        ),
        (None, _) => Check::new(ID, TITLE, Status::Info, "none of cc, gcc, clang on PATH")
            .with_fix(
                "`apt-get install gcc libc6-dev` (needed only to build your own static \
                 workloads and for the test suite's probes)",
            ),
    }
}

fn modprobe_fix(report: &DoctorReport) -> String {
    let module = match report.cpu_vendor.as_deref() {
        Some("AuthenticAMD") | Some("HygonGenuine") => "`modprobe kvm_amd`",
        Some("GenuineIntel") => "`modprobe kvm_intel`",
        _ => "`modprobe kvm_intel` (or kvm_amd)",
    };
    if report.host_is_virtual_machine {
        format!(
            "load the module: {module}; this host is a VM, so enable nested virtualization in the outer hypervisor"
        )
    } else {
        format!("load the module: {module}; if it fails, enable VT-x/AMD-V in the firmware")
    }
}

/// The host: kernel, CPU, bare metal or VM.
fn host_checks(r: &DoctorReport) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(Check::new(
        "host.kernel",
        "Kernel",
        Status::Info,
        r.kernel_release
            .clone()
            .unwrap_or_else(|| "unknown (no /proc/sys/kernel/osrelease)".to_owned()),
    ));
    checks.push(Check::new(
        "host.cpu",
        "CPU",
        Status::Info,
        match (&r.cpu_model, &r.cpu_vendor) {
            (Some(m), _) => m.clone(),
            (None, Some(v)) => v.clone(),
            (None, None) => "unknown (no model name in /proc/cpuinfo)".to_owned(),
        },
    ));
    checks.push(if r.host_is_virtual_machine {
        Check::new(
            "host.virtual",
            "Host machine",
            Status::Warn,
            format!(
                "virtual machine ({}): host, container and VM timings include the outer hypervisor",
                r.hypervisor_vendor
                    .as_deref()
                    .unwrap_or("unknown hypervisor")
            ),
        )
        .with_fix(
            "for bare-metal numbers run on a physical host; compare figures only within one run",
        )
    } else {
        Check::new("host.virtual", "Host machine", Status::Info, "bare metal")
    });
    checks
}

/// `/dev/kvm`: present, openable, and which backend serves it.
fn kvm_checks(r: &DoctorReport) -> Vec<Check> {
    let mut checks = Vec::new();
    let kvm = &r.kvm;
    checks.push(if kvm.device_present {
        Check::new("kvm.device", "/dev/kvm present", Status::Pass, "yes")
    } else {
        Check::new(
            "kvm.device",
            "/dev/kvm present",
            Status::Fail,
            format!(
                "no /dev/kvm (CPU flags: {}; modules: {})",
                or_none(&kvm.cpu_virt_flags),
                or_none(&kvm.modules)
            ),
        )
        .with_fix(modprobe_fix(r))
    });
    checks.push(match &kvm.open {
        _ if !kvm.device_present => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            "not attempted: no /dev/kvm",
        )
        .with_fix(modprobe_fix(r)),
        KvmOpen::Ok { api_version: 12 } => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Pass,
            "opened read-write; KVM API version 12",
        ),
        KvmOpen::Ok { api_version } => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            format!("KVM API version {api_version}, versus needs 12"),
        )
        .with_fix("use a kernel with the stable KVM API (any Linux since 2.6.22 reports 12)"),
        KvmOpen::PermissionDenied if r.is_root => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            "permission denied even as root (device cgroup, LSM or container policy)",
        )
        .with_fix("allow the device: pass `--device /dev/kvm` to the container, or check `dmesg` for LSM denials"),
        KvmOpen::PermissionDenied => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            format!("permission denied for uid {}", r.euid),
        )
        .with_fix("run as root or add your user to the `kvm` group: `sudo usermod -aG kvm $USER` (then log in again)"),
        KvmOpen::NotFound => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            "open failed: no such file",
        )
        .with_fix(modprobe_fix(r)),
        KvmOpen::Other(e) => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            format!("open failed: {e}"),
        )
        .with_fix("check `dmesg | grep -i kvm` and that a KVM vendor module is loaded"),
    });
    let backend_detail = format!("{}. {}", kvm.backend.label(), kvm.backend.explanation());
    checks.push(match &kvm.backend {
        KvmBackend::Hardware { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Pass, backend_detail)
        }
        KvmBackend::Nested { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Warn, backend_detail)
                .with_fix("for bare-metal exit costs run on a physical host with VT-x/AMD-V")
        }
        KvmBackend::Software { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Warn, backend_detail)
                .with_fix("for hardware-virtualization numbers run on a host whose /proc/cpuinfo flags show vmx or svm")
        }
        KvmBackend::Unknown { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Warn, backend_detail).with_fix(
                "check `lsmod | grep kvm`; load the vendor module (`modprobe kvm_intel` or `kvm_amd`)",
            )
        }
        KvmBackend::Unavailable => {
            Check::new("kvm.backend", "KVM backend", Status::Fail, backend_detail)
                .with_fix(modprobe_fix(r))
        }
    });
    checks
}

/// The cgroup layout, leftovers, and where each limit controller lives.
fn cgroup_checks(r: &DoctorReport, view: &HostView) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(cgroup_layout_check(r, view));
    checks.push(stale_cgroups_check(r));
    if let Some(join) = cgroup_join_check(r) {
        checks.push(join);
    }
    for (name, place) in r.cgroup_limits.iter() {
        let id = format!("cgroup.{name}");
        let title = format!("cgroup {name} controller");
        checks.push(match place {
            Some(p) => Check::new(&id, &title, Status::Pass, p.to_string()),
            None => {
                let fix = match &r.cgroup.layout {
                    Layout::V2 { mount, .. } => format!(
                        "the kernel does not offer it at {}: boot with `cgroup_enable={name}` or use a kernel with the controller",
                        mount.display()
                    ),
                    Layout::None => cgroup_mount_fix().to_owned(),
                    Layout::V1 { .. } | Layout::Hybrid { .. } => format!(
                        "mount it: `mkdir -p /sys/fs/cgroup/{name} && mount -t cgroup -o {name} cgroup /sys/fs/cgroup/{name}`"
                    ),
                };
                Check::new(&id, &title, Status::Fail, "not available").with_fix(fix)
            }
        });
    }
    checks
}

/// A migration into a new cgroup that took at least this long waited for an RCU
/// grace period; one that did not wait takes about 0.1 ms (measured on a 2-core
/// KVM guest, cgroup v1).
const GRACE_PERIOD_WAIT_US: u64 = 1_000;

/// The first kernel with `clone3`'s `CLONE_INTO_CGROUP` (5.7): a child forked straight
/// into its cgroup v2 directory, under the read side of the lock a `cgroup.procs`
/// write takes for writing.
const CLONE_INTO_CGROUP_SINCE: (u32, u32) = (5, 7);

/// `major.minor` of a kernel release such as `6.1.0-13-amd64`.
fn kernel_major_minor(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// What joining the container's cgroup costs each launch. On cgroup v2 with Linux ≥ 5.7
/// nothing: versus clones the child into it. On a v1 (or hybrid) host, from one timed
/// join of a throwaway cgroup (as root), with the overlap versus makes of it and the
/// host-side option.
fn cgroup_join_check(r: &DoctorReport) -> Option<Check> {
    const ID: &str = "cgroup.join";
    const TITLE: &str = "cgroup join cost";
    if matches!(r.cgroup.layout, Layout::V2 { .. }) {
        let clone_into = r
            .kernel_release
            .as_deref()
            .and_then(kernel_major_minor)
            .is_some_and(|v| v >= CLONE_INTO_CGROUP_SINCE);
        return Some(if clone_into {
            Check::new(
                ID,
                TITLE,
                Status::Pass,
                "versus clones the container straight into its cgroup (clone3 \
                 CLONE_INTO_CGROUP): no RCU grace period per launch (`join: \
                 clone_into_cgroup` in --json)",
            )
        } else {
            Check::new(
                ID,
                TITLE,
                Status::Info,
                "a kernel before 5.7 cannot clone into a cgroup: versus writes `cgroup.procs` \
                 while the child mounts its root, and that write may wait an RCU grace period \
                 (`cgroup join` in --trace shows what the launch still waited)",
            )
            .with_fix("Linux ≥ 5.7 lets versus clone the container into its cgroup")
        });
    }
    if !matches!(r.cgroup.layout, Layout::V1 { .. } | Layout::Hybrid { .. }) {
        return None;
    }
    let fix = "a host-side choice, not versus': boot with cgroup v2 \
               (`systemd.unified_cgroup_hierarchy=1`), where versus clones the container \
               into its cgroup without the wait; on v1, mounting with `favordynmods` \
               (Linux ≥ 6.0) lets a join skip it at the price of slightly slower fork and \
               exit for every process";
    let check = match r.cgroup_join_us {
        Some(us) if us >= GRACE_PERIOD_WAIT_US => Check::new(
            ID,
            TITLE,
            Status::Warn,
            format!(
                "joining a new v1 cgroup waits an RCU grace period ({} here, one timed join \
                 of a throwaway cgroup): every `versus container run` pays it once, minus \
                 what its mounts overlap (the join runs while the child mounts its root; \
                 `cgroup join` in --trace is what the launch still waited)",
                crate::fmt::duration(us.saturating_mul(1_000))
            ),
        )
        .with_fix(fix),
        Some(us) => Check::new(
            ID,
            TITLE,
            Status::Pass,
            format!(
                "joining a new cgroup took {} here, without an RCU grace-period wait \
                 (a migration moments before, or a hierarchy mounted with `favordynmods`)",
                crate::fmt::duration(us.saturating_mul(1_000))
            ),
        ),
        None => Check::new(
            ID,
            TITLE,
            Status::Info,
            "not measured (needs root): on cgroup v1 joining a new cgroup usually waits an \
             RCU grace period, several ms per `versus container run` (`cgroup join` in --trace)",
        )
        .with_fix(fix),
    };
    Some(check)
}

/// One check per namespace type.
fn namespace_checks(r: &DoctorReport) -> Vec<Check> {
    let mut checks = Vec::new();
    for ns in NAMESPACES {
        let id = format!("ns.{ns}");
        let title = format!("{ns} namespace");
        let present = r.namespaces.iter().any(|n| n == ns);
        checks.push(if present {
            Check::new(&id, &title, Status::Pass, format!("/proc/self/ns/{ns}"))
        } else {
            let status = if OPTIONAL_NAMESPACES.contains(&ns) {
                Status::Warn
            } else {
                Status::Fail
            };
            let config = match ns {
                "mnt" => "CONFIG_NAMESPACES".to_owned(),
                other => format!("CONFIG_{}_NS", other.to_uppercase()),
            };
            Check::new(&id, &title, status, format!("no /proc/self/ns/{ns}"))
                .with_fix(format!("use a kernel built with {config}=y"))
        });
    }
    checks
}

/// Unprivileged user namespaces: every blocking knob, with its fix.
fn userns_check(r: &DoctorReport) -> Check {
    match &r.unprivileged_userns {
        UsernsStatus::Allowed {
            max_user_namespaces,
        } => Check::new(
            "userns.unprivileged",
            "Unprivileged user namespaces",
            Status::Pass,
            match max_user_namespaces {
                Some(n) => format!("allowed (user.max_user_namespaces = {n})"),
                None => "allowed".to_owned(),
            },
        ),
        UsernsStatus::Disabled { blocks } => {
            let reasons: Vec<&str> = blocks.iter().map(|b| b.reason.as_str()).collect();
            let fixes: Vec<&str> = blocks.iter().map(|b| b.knob.fix()).collect();
            Check::new(
                "userns.unprivileged",
                "Unprivileged user namespaces",
                if r.is_root {
                    Status::Warn
                } else {
                    Status::Fail
                },
                format!(
                    "disabled: {} (the rootless path cannot work)",
                    reasons.join("; ")
                ),
            )
            .with_fix(fixes.join("; "))
        }
    }
}

/// Seccomp and seccomp filters.
fn seccomp_check(r: &DoctorReport) -> Check {
    let sc = &r.seccomp;
    let actions = if sc.actions.is_empty() {
        "actions unknown".to_owned()
    } else {
        format!("actions: {}", sc.actions.join(" "))
    };
    if !sc.supported {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Fail,
            "no Seccomp line in /proc/self/status: kernel without seccomp",
        )
        .with_fix("use a kernel built with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y")
    } else if !sc.filter_supported {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Warn,
            "seccomp present, but no sign of filter (BPF) support",
        )
        .with_fix("use a kernel built with CONFIG_SECCOMP_FILTER=y (4.14+ for actions_avail)")
    } else if sc.current_mode == Some(2) {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Warn,
            format!("supported ({actions}); versus itself runs under a filter, so host syscalls pay for it"),
        )
        .with_fix("run versus outside the sandbox that installs the filter for clean host baselines")
    } else {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Pass,
            format!("supported ({actions})"),
        )
    }
}

/// Root or not.
fn privilege_check(r: &DoctorReport) -> Check {
    if r.is_root {
        Check::new("user.root", "Running as root", Status::Pass, "euid 0")
    } else {
        Check::new(
            "user.root",
            "Running as root",
            Status::Warn,
            format!(
                "euid {}: container launches need root or the rootless path (user namespaces)",
                r.euid
            ),
        )
        .with_fix("run `sudo versus …`, or make sure unprivileged user namespaces are allowed")
    }
}

fn cgroup_mount_fix() -> &'static str {
    "mount cgroup v2: `mount -t cgroup2 none /sys/fs/cgroup`"
}

fn cgroup_layout_check(r: &DoctorReport, view: &HostView) -> Check {
    const ID: &str = "cgroup.layout";
    const TITLE: &str = "cgroup layout";
    // Controller hierarchies, then the named ones (`name=systemd`).
    let hier_list = |hs: &[V1Hierarchy]| {
        hs.iter()
            .map(|h| h.controllers.join(","))
            .chain(r.cgroup.named.iter().map(|n| format!("name={}", n.name)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match &r.cgroup.layout {
        Layout::V2 { mount, controllers } => Check::new(
            ID,
            TITLE,
            Status::Pass,
            format!(
                "v2 at {} (controllers: {})",
                mount.display(),
                or_none(controllers)
            ),
        ),
        Layout::V1 { hierarchies } => Check::new(
            ID,
            TITLE,
            Status::Pass,
            format!(
                "v1, {} hierarchies ({})",
                hierarchies.len() + r.cgroup.named.len(),
                hier_list(hierarchies)
            ),
        ),
        Layout::Hybrid {
            hierarchies,
            unified,
            unified_controllers,
        } => {
            // What versus does here: each controller where it is found
            // (the controller rows below say where, or that it is missing).
            let all_v1 = r
                .cgroup_limits
                .iter()
                .all(|(_, place)| matches!(place, Some(Place::V1(_))));
            let use_of_it = if all_v1 {
                "versus sets memory, pids and cpu limits in the v1 hierarchies (rows below) \
                 and leaves the cgroup2 mount alone"
            } else {
                "versus sets memory, pids and cpu limits wherever the rows below find each \
                 controller"
            };
            Check::new(
                ID,
                TITLE,
                Status::Info,
                format!(
                    "hybrid: v1 ({}) plus cgroup2 at {} (controllers: {}); {use_of_it}",
                    hier_list(hierarchies),
                    unified.display(),
                    or_none(unified_controllers),
                ),
            )
            .with_fix(format!(
                "nothing for versus; side note: crun refuses this layout (runc accepts it): \
                 run crun inside `unshare --mount --propagation private` after `umount {}`",
                unified.display()
            ))
        }
        Layout::None => Check::new(
            ID,
            TITLE,
            Status::Fail,
            if view.exists("/proc/self/mountinfo") {
                "no cgroup or cgroup2 mount in /proc/self/mountinfo"
            } else {
                "cannot read /proc/self/mountinfo (is /proc mounted?)"
            },
        )
        .with_fix(cgroup_mount_fix()),
    }
}

fn stale_cgroups_check(r: &DoctorReport) -> Check {
    const ID: &str = "cgroup.stale";
    const TITLE: &str = "leftover container cgroups";
    match r.stale_cgroups.as_slice() {
        [] => Check::new(ID, TITLE, Status::Pass, "none"),
        stale => Check::new(
            ID,
            TITLE,
            Status::Warn,
            format!(
                "{} left by launchers that were killed: {}",
                stale.len(),
                stale.join(" ")
            ),
        )
        .with_fix(
            "the next `versus container run` removes them (as root); or `rmdir` each directory",
        ),
    }
}

/// Security modules: which are active, and what SELinux enforcing means for launches.
fn lsm_check(r: &DoctorReport) -> Check {
    const ID: &str = "lsm";
    const TITLE: &str = "Security modules (LSM)";
    let list = if !r.lsm.securityfs {
        "list unknown (securityfs not mounted at /sys/kernel/security)".to_owned()
    } else if r.lsm.modules.is_empty() {
        "none".to_owned()
    } else {
        r.lsm.modules.join(",")
    };
    let selinux_state = r.lsm.selinux_state();
    let apparmor = match r.lsm.apparmor_state() {
        AppArmorState::Enabled => "enabled",
        AppArmorState::Disabled => "disabled",
        AppArmorState::Absent => "absent",
    };
    let selinux = match selinux_state {
        SelinuxState::Enforcing => "enforcing",
        SelinuxState::Permissive => "permissive",
        SelinuxState::Absent => "absent",
    };
    let detail = format!("{list}; AppArmor {apparmor}; SELinux {selinux}");
    if !r.lsm.securityfs && selinux_state != SelinuxState::Enforcing {
        return Check::new(ID, TITLE, Status::Info, detail).with_fix(
            "to list the active modules: `mount -t securityfs securityfs /sys/kernel/security`",
        );
    }
    if selinux_state == SelinuxState::Enforcing {
        Check::new(ID, TITLE, Status::Warn, detail).with_fix(
            "if launches fail with EACCES, look for denials: `ausearch -m avc -ts recent` (to test: `setenforce 0`)",
        )
    } else {
        Check::new(ID, TITLE, Status::Info, detail)
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(" ")
    }
}

// ---------------------------------------------------------------------------------------

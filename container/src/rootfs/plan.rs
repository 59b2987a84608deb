//! Turning a validated root into the child's [`Step`]s, in order (see the module doc of
//! [`crate::rootfs`] and docs/en/container.md): private propagation, the root itself,
//! `/proc`, `/sys`, `/dev`, `/tmp`, `pivot_root`, read-only root, hostname and `lo` —
//! one function per part. Nothing here touches the system: what the plan needs to know
//! about the host comes through [`HostPaths`].

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::mount::{MntFlags, MsFlags};

use super::validate::{PlannedFile, PlannedKind, PlannedRootfs, PlannedVolume};
use super::{
    DEVICES, DEVPTS_OPTIONS, DEVPTS_OPTIONS_TTY_GROUP, MASKED_PATHS, Op, READONLY_PATHS,
    SYSTEM_DIRS, Step,
};

/// How the host looks, as far as the mount plan cares (a fake in tests).
pub(crate) trait HostPaths {
    /// `Some(true)` for a directory, `Some(false)` for another file, `None` if missing.
    fn kind(&self, abs: &str) -> Option<bool>;
}

/// The real host.
#[derive(Debug)]
pub(crate) struct RealHost;

impl HostPaths for RealHost {
    fn kind(&self, abs: &str) -> Option<bool> {
        fs::symlink_metadata(abs).ok().map(|m| m.is_dir())
    }
}

/// What the mount plan depends on.
pub(crate) struct MountContext<'a> {
    pub(crate) rootfs: &'a PlannedRootfs,
    pub(crate) new_mount: bool,
    pub(crate) new_pid: bool,
    pub(crate) new_net: bool,
    pub(crate) new_uts: bool,
    pub(crate) hostname: Option<&'a str>,
    pub(crate) read_only: bool,
    pub(crate) host: &'a dyn HostPaths,
    /// Bind mounts from the host (`--volume`), checked.
    pub(crate) volumes: &'a [PlannedVolume],
    /// The directory PID 1 starts in (`--workdir`), checked; default `/`.
    pub(crate) workdir: Option<&'a str>,
    /// The container gets its own user namespace (then devpts' `gid=5` may
    /// name no mapped group and is left out, as rootless runc does).
    pub(crate) new_user: bool,
    /// The host path of the pty slave PID 1 gets with `-t` (`/dev/pts/N` of
    /// the host's devpts), bound onto the container's `/dev/console`.
    pub(crate) console: Option<&'a Path>,
}

fn c(s: impl AsRef<[u8]>) -> CString {
    CString::new(s.as_ref().to_vec()).expect("paths were checked for NUL bytes")
}

fn cp(p: &Path) -> CString {
    c(p.as_os_str().as_bytes())
}

struct Plan {
    steps: Vec<Step>,
}

impl Plan {
    fn push(&mut self, op: Op, what: impl Into<String>) {
        self.steps.push(Step {
            op,
            what: what.into(),
        });
    }

    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
        what: impl Into<String>,
    ) {
        self.push(
            Op::Mount {
                source: source.map(c),
                target: cp(target),
                fstype: fstype.map(c),
                flags,
                data: data.map(c),
            },
            what,
        );
    }

    /// An empty file for a file to be bind-mounted onto.
    fn mount_point_file(&mut self, target: &Path, what: impl Into<String>) {
        self.push(
            Op::WriteFile {
                path: cp(target),
                data: Arc::from(&[][..]),
                mode: 0o644,
            },
            what,
        );
    }

    /// Creates the directory `inside` (absolute, as the container sees it)
    /// under the new root `base`, with `mode`.
    fn mkdir_in_root(&mut self, base: &Path, inside: &str, mode: u32) {
        self.push(
            Op::Mkdir {
                path: cp(&join(base, inside)),
                mode,
            },
            format!("creating {inside} in the new root"),
        );
    }

    /// Remounts the bind mount at `target` read-only (and nosuid, nodev).
    fn remount_read_only(&mut self, target: &Path, what: impl Into<String>) {
        self.push(Op::RemountReadOnly { target: cp(target) }, what);
    }
}

/// The child's mount sequence, in order (see the module doc and docs/en/container.md).
pub(crate) fn plan_steps(ctx: &MountContext<'_>) -> Vec<Step> {
    let mut p = Plan { steps: Vec::new() };
    if ctx.new_mount {
        plan_private(&mut p);
        let base = plan_root(&mut p, ctx.rootfs);
        let shape = Shape::of(ctx.rootfs);
        plan_proc(&mut p, &base, ctx.new_pid, shape.is_host, ctx.host);
        if shape.has_sys {
            plan_sys(&mut p, &base, ctx.new_net, ctx.host);
        }
        if !shape.is_host {
            plan_dev(&mut p, &base, ctx.host);
            plan_pts(&mut p, &base, ctx.new_user, ctx.console);
        }
        if shape.has_tmp {
            plan_tmp(&mut p, &base);
        }
        plan_volumes(&mut p, &base, ctx.rootfs, ctx.volumes);
        if !shape.is_host {
            plan_pivot_root(&mut p, &base);
        }
        if ctx.read_only {
            plan_read_only(&mut p);
        }
    }
    plan_hostname(&mut p, ctx);
    if ctx.new_net {
        plan_loopback(&mut p);
    }
    if let Some(dir) = ctx.workdir {
        p.push(
            Op::Chdir { path: c(dir) },
            format!("changing to the working directory {dir} (--workdir)"),
        );
    }
    p.steps
}

/// 3f'. Volumes: after `/tmp` (a volume may go below it), before `pivot_root` (the
/// host paths are reachable only from the old root). In a built root the mount point
/// and its missing parents are created; an external root already has them (checked).
/// A read-only volume is remounted `ro` and `nodev`; `nosuid` would add nothing, since
/// no_new_privs already makes set-id bits powerless.
fn plan_volumes(p: &mut Plan, base: &Path, rootfs: &PlannedRootfs, volumes: &[PlannedVolume]) {
    let mut known: Vec<PathBuf> = SYSTEM_DIRS.iter().map(PathBuf::from).collect();
    if let PlannedRootfs::Build { files, .. } = rootfs {
        for f in files {
            known.extend(f.path.ancestors().skip(1).map(Path::to_path_buf));
        }
    }
    for v in volumes {
        let target = join(base, &v.inside.to_string_lossy());
        let shown = v.inside.display();
        if let PlannedRootfs::Build { .. } = rootfs {
            let mut missing: Vec<&Path> = v
                .inside
                .ancestors()
                .skip(1)
                .filter(|a| *a != Path::new("/") && !known.iter().any(|k| k == a))
                .collect();
            missing.reverse();
            for dir in missing {
                p.mkdir_in_root(base, &dir.to_string_lossy(), 0o755);
                known.push(dir.to_path_buf());
            }
            if v.is_dir && known.contains(&v.inside) {
                // `/tmp`: already there.
            } else if v.is_dir {
                p.push(
                    Op::Mkdir {
                        path: cp(&target),
                        mode: 0o755,
                    },
                    format!("creating the mount point {shown}"),
                );
                known.push(v.inside.clone());
            } else {
                p.mount_point_file(&target, format!("creating the mount point {shown}"));
            }
        }
        p.mount(
            Some(&v.host.to_string_lossy()),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            format!("bind-mounting {} on {shown} (--volume)", v.host.display()),
        );
        if v.read_only {
            p.remount_read_only(&target, format!("making the volume {shown} read-only"));
            p.push(
                Op::RemountNoDev {
                    target: cp(&target),
                },
                format!("making the volume {shown} nodev"),
            );
        }
    }
}

/// Which of the system mount points a root has, and whether it is the host's own.
struct Shape {
    has_tmp: bool,
    has_sys: bool,
    is_host: bool,
}

impl Shape {
    fn of(rootfs: &PlannedRootfs) -> Self {
        let (has_tmp, has_sys, is_host) = match rootfs {
            PlannedRootfs::Build { .. } => (true, true, false),
            PlannedRootfs::Dir {
                has_tmp, has_sys, ..
            } => (*has_tmp, *has_sys, false),
            PlannedRootfs::Host => (false, false, true),
        };
        Self {
            has_tmp,
            has_sys,
            is_host,
        }
    }
}

/// 3a. Private propagation: nothing below is seen by the host, and pivot_root refuses
/// shared mounts.
fn plan_private(p: &mut Plan) {
    p.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
        "making every mount private (MS_REC|MS_PRIVATE on /)",
    );
}

/// 3b. The new root: a fresh tmpfs holding the files and the system directories, or
/// the external directory bound onto itself, or the host's `/`. Returns its path.
fn plan_root(p: &mut Plan, rootfs: &PlannedRootfs) -> PathBuf {
    match rootfs {
        PlannedRootfs::Build { files, base } => {
            p.mount(
                Some("tmpfs"),
                base,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=0755"),
                format!(
                    "mounting a tmpfs for the new root (on {}, in the container's mount namespace)",
                    base.display()
                ),
            );
            plan_files(p, base, files);
            for d in SYSTEM_DIRS {
                let mode = if d == "/tmp" { 0o1777 } else { 0o755 };
                p.mkdir_in_root(base, d, mode);
            }
            base.clone()
        }
        PlannedRootfs::Dir {
            path,
            overlay: Some(base),
            ..
        } => plan_overlay(p, path, base),
        PlannedRootfs::Dir { path, .. } => {
            // Bound onto itself so that it is a mount point pivot_root accepts.
            p.mount(
                Some(&path.to_string_lossy()),
                path,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                format!("bind-mounting the rootfs {} onto itself", path.display()),
            );
            // A bind mount takes its flags from the source; nodev needs a remount.
            p.push(
                Op::RemountNoDev { target: cp(path) },
                format!("making the rootfs {} nodev", path.display()),
            );
            path.clone()
        }
        PlannedRootfs::Host => PathBuf::from("/"),
    }
}

/// 3b'. `--rootfs-overlay`: a tmpfs on `base` (in the child's mount namespace, so it
/// vanishes with the container: nothing to remove on any path) holding the upper and
/// work directories, and an overlay of `lower` and that upper layer as the new root.
/// The container writes to memory, charged to its cgroup; `lower` is never written.
fn plan_overlay(p: &mut Plan, lower: &Path, base: &Path) -> PathBuf {
    p.mount(
        Some("tmpfs"),
        base,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
        format!(
            "mounting a tmpfs for the overlay's writable layer (on {}, in the container's \
             mount namespace)",
            base.display()
        ),
    );
    let [upper, work, root] = OVERLAY_DIRS.map(|d| base.join(d));
    for dir in [&upper, &work, &root] {
        p.push(
            Op::Mkdir {
                path: cp(dir),
                mode: 0o755,
            },
            format!("creating {}", dir.display()),
        );
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    p.mount(
        Some("overlay"),
        &root,
        Some("overlay"),
        MsFlags::MS_NODEV,
        Some(&options),
        format!(
            "mounting an overlay of {} (read-only lower layer) as the new root",
            lower.display()
        ),
    );
    root
}

/// The directories of the overlay's tmpfs: upper layer, overlayfs' work directory,
/// and the merged root.
const OVERLAY_DIRS: [&str; 3] = ["upper", "work", "root"];

/// 3c. /proc for the container's PID namespace (or the host's, bound, if shared), then
/// the masked and read-only paths.
fn plan_proc(p: &mut Plan, base: &Path, new_pid: bool, is_host: bool, host: &dyn HostPaths) {
    let proc_ = join(base, "/proc");
    if new_pid {
        p.mount(
            Some("proc"),
            &proc_,
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
            "mounting /proc for the new PID namespace",
        );
    } else if !is_host {
        p.mount(
            Some("/proc"),
            &proc_,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            "bind-mounting the host's /proc (PID namespace shared)",
        );
    }
    if new_pid || !is_host {
        plan_masks(p, base, "/proc", host);
    }
}

/// 3d. /sys, read-only: a sysfs of the container's network namespace, or the host's
/// bound; then its masked paths.
fn plan_sys(p: &mut Plan, base: &Path, new_net: bool, host: &dyn HostPaths) {
    let sys = join(base, "/sys");
    if new_net {
        p.mount(
            Some("sysfs"),
            &sys,
            Some("sysfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
            "mounting a read-only /sys",
        );
    } else {
        p.mount(
            Some("/sys"),
            &sys,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            "bind-mounting the host's /sys (network namespace shared)",
        );
        p.remount_read_only(&sys, "making /sys read-only");
    }
    plan_masks(p, base, "/sys", host);
}

/// 3f. A private /tmp.
fn plan_tmp(p: &mut Plan, base: &Path) {
    p.mount(
        Some("tmpfs"),
        &join(base, "/tmp"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
        "mounting a tmpfs on /tmp",
    );
}

/// 3g. pivot_root into the new root and detach the old one.
fn plan_pivot_root(p: &mut Plan, base: &Path) {
    p.push(
        Op::Chdir { path: cp(base) },
        format!("chdir into {}", base.display()),
    );
    p.push(
        Op::PivotRoot {
            new_root: c("."),
            put_old: c("."),
        },
        format!("pivot_root into {}", base.display()),
    );
    p.push(
        Op::Umount {
            target: c("."),
            flags: MntFlags::MNT_DETACH,
        },
        "detaching the old root (umount2 MNT_DETACH)",
    );
    p.push(Op::Chdir { path: c("/") }, "chdir to the new /");
}

/// 3h. --read-only.
fn plan_read_only(p: &mut Plan) {
    p.push(
        Op::RemountReadOnly { target: c("/") },
        "remounting the root read-only",
    );
}

/// 3i. The hostname, in the container's own UTS namespace.
fn plan_hostname(p: &mut Plan, ctx: &MountContext<'_>) {
    if ctx.new_uts
        && let Some(h) = ctx.hostname
    {
        p.push(Op::SetHostname { name: c(h) }, format!("sethostname {h:?}"));
    }
}

/// 3i. Loopback, in the container's own network namespace.
fn plan_loopback(p: &mut Plan) {
    p.push(Op::LoopbackUp, "bringing up lo (SIOCSIFFLAGS IFF_UP)");
}

fn join(base: &Path, abs: &str) -> PathBuf {
    base.join(abs.trim_start_matches('/'))
}

/// The files of a built root: their directories, then each file, link or bound host
/// file (made read-only).
fn plan_files(p: &mut Plan, base: &Path, files: &[PlannedFile]) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for f in files {
        let mut d = f.path.parent();
        while let Some(dir) = d {
            if dir != Path::new("/") && !dirs.iter().any(|x| x == dir) {
                dirs.push(dir.to_path_buf());
            }
            d = dir.parent();
        }
    }
    dirs.sort();
    for d in dirs {
        p.mkdir_in_root(base, &d.to_string_lossy(), 0o755);
    }
    for f in files {
        let target = join(base, &f.path.to_string_lossy());
        let shown = f.path.display();
        match &f.kind {
            PlannedKind::Bytes(data) => p.push(
                Op::WriteFile {
                    path: cp(&target),
                    data: Arc::clone(data),
                    mode: f.mode,
                },
                format!("writing {shown} into the new root"),
            ),
            PlannedKind::Symlink(t) => p.push(
                Op::Symlink {
                    target: cp(t),
                    link: cp(&target),
                },
                format!("linking {shown} -> {}", t.display()),
            ),
            PlannedKind::Bind { host } => {
                p.mount_point_file(&target, format!("creating the mount point {shown}"));
                p.mount(
                    Some(&host.to_string_lossy()),
                    &target,
                    None,
                    MsFlags::MS_BIND,
                    None,
                    format!("bind-mounting {} on {shown}", host.display()),
                );
                p.remount_read_only(&target, format!("making {shown} read-only"));
            }
        }
    }
}

/// The OCI masked and read-only paths under `under` that the host has.
fn plan_masks(p: &mut Plan, base: &Path, under: &str, host: &dyn HostPaths) {
    for m in MASKED_PATHS.iter().filter(|m| m.starts_with(under)) {
        let target = join(base, m);
        match host.kind(m) {
            Some(true) => p.mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
                format!("masking {m} with an empty read-only tmpfs"),
            ),
            Some(false) => p.mount(
                Some("/dev/null"),
                &target,
                None,
                MsFlags::MS_BIND,
                None,
                format!("masking {m} with /dev/null"),
            ),
            None => {}
        }
    }
    for r in READONLY_PATHS.iter().filter(|r| r.starts_with(under)) {
        if host.kind(r).is_none() {
            continue;
        }
        let target = join(base, r);
        p.mount(
            Some(&target.to_string_lossy()),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            format!("binding {r} onto itself"),
        );
        p.remount_read_only(&target, format!("making {r} read-only"));
    }
}

/// 3e. A minimal /dev: a nodev tmpfs, the host's allowed device nodes bound into it,
/// `/dev/shm` and the standard links.
fn plan_dev(p: &mut Plan, base: &Path, host: &dyn HostPaths) {
    let dev = join(base, "/dev");
    p.mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        // nodev: a node made here with mknod cannot be opened; the allowed nodes below
        // are bind mounts, which keep the host /dev's flags.
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
        "mounting a nodev tmpfs on /dev",
    );
    for d in DEVICES {
        let host_dev = format!("/dev/{d}");
        if host.kind(&host_dev) != Some(false) {
            continue;
        }
        let target = dev.join(d);
        p.push(
            Op::WriteFile {
                path: cp(&target),
                data: Arc::from(&[][..]),
                mode: 0o666,
            },
            format!("creating the mount point /dev/{d}"),
        );
        p.mount(
            Some(&host_dev),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
            format!("bind-mounting the host's {host_dev}"),
        );
    }
    p.push(
        Op::Mkdir {
            path: cp(&dev.join("shm")),
            mode: 0o1777,
        },
        "creating /dev/shm",
    );
    p.mount(
        Some("shm"),
        &dev.join("shm"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
        "mounting a tmpfs on /dev/shm",
    );
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        p.push(
            Op::Symlink {
                target: c(target),
                link: cp(&dev.join(link)),
            },
            format!("linking /dev/{link} -> {target}"),
        );
    }
}

/// 3f. Terminals: a devpts instance of the container's own at `/dev/pts`
/// (`newinstance`, as runc and crun mount it: a pty opened inside gets a
/// number there and is invisible to the host's), `/dev/ptmx` linked to its
/// multiplexer, and with `-t` the host pty slave PID 1 was given bound onto
/// `/dev/console`. That slave lives on the host's devpts, which the
/// container cannot see: `tty` finds it as `/dev/console` (Docker, which
/// opens the pty inside the container's devpts, shows `/dev/pts/0`).
fn plan_pts(p: &mut Plan, base: &Path, new_user: bool, console: Option<&Path>) {
    let dev = join(base, "/dev");
    let pts = dev.join("pts");
    p.push(
        Op::Mkdir {
            path: cp(&pts),
            mode: 0o755,
        },
        "creating /dev/pts",
    );
    let options = if new_user {
        DEVPTS_OPTIONS
    } else {
        DEVPTS_OPTIONS_TTY_GROUP
    };
    p.mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(options),
        "mounting a devpts instance of its own on /dev/pts",
    );
    p.push(
        Op::Symlink {
            target: c("pts/ptmx"),
            link: cp(&dev.join("ptmx")),
        },
        "linking /dev/ptmx -> pts/ptmx",
    );
    if let Some(slave) = console {
        let target = dev.join("console");
        p.mount_point_file(&target, "creating the mount point /dev/console");
        p.mount(
            Some(&slave.to_string_lossy()),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
            format!("binding the terminal {} onto /dev/console", slave.display()),
        );
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::rootfs::run_steps;
    use crate::syscall::fake::RecordingSyscall;

    /// A host with every device, masked file and directory of a typical Linux.
    struct FakeHost;
    impl HostPaths for FakeHost {
        fn kind(&self, abs: &str) -> Option<bool> {
            match abs {
                "/proc/timer_stats" | "/proc/interrupts" | "/sys/devices/virtual/powercap" => None,
                "/proc/acpi" | "/proc/scsi" | "/sys/firmware" | "/proc/asound" | "/proc/bus"
                | "/proc/fs" | "/proc/irq" | "/proc/sys" => Some(true),
                _ => Some(false),
            }
        }
    }

    pub(in crate::rootfs) fn ctx<'a>(rootfs: &'a PlannedRootfs) -> MountContext<'a> {
        MountContext {
            rootfs,
            new_mount: true,
            new_pid: true,
            new_net: true,
            new_uts: true,
            hostname: Some("versus"),
            read_only: false,
            host: &FakeHost,
            volumes: &[],
            workdir: None,
            new_user: false,
            console: None,
        }
    }

    fn record(steps: &[Step]) -> Vec<String> {
        let fake = RecordingSyscall::default();
        run_steps(steps, &fake).unwrap();
        fake.calls()
    }

    fn workload_root() -> PlannedRootfs {
        PlannedRootfs::Build {
            files: vec![PlannedFile {
                path: "/bin/versus-workload".into(),
                kind: PlannedKind::Bytes(Arc::from(&b"\x7fELF...."[..])),
                mode: 0o755,
            }],
            base: "/tmp".into(),
        }
    }

    /// The masks and read-only paths under /proc and /sys of `base`.
    fn masks(base: &str) -> Vec<String> {
        let b = base.trim_end_matches('/');
        vec![
            format!("mount tmpfs {b}/proc/acpi tmpfs MS_RDONLY -"),
            format!("mount /dev/null {b}/proc/kcore - MS_BIND -"),
            format!("mount /dev/null {b}/proc/keys - MS_BIND -"),
            format!("mount /dev/null {b}/proc/latency_stats - MS_BIND -"),
            format!("mount /dev/null {b}/proc/timer_list - MS_BIND -"),
            format!("mount /dev/null {b}/proc/sched_debug - MS_BIND -"),
            format!("mount tmpfs {b}/proc/scsi tmpfs MS_RDONLY -"),
            format!("mount {b}/proc/asound {b}/proc/asound - MS_BIND|MS_REC -"),
            format!("remount_ro {b}/proc/asound"),
            format!("mount {b}/proc/bus {b}/proc/bus - MS_BIND|MS_REC -"),
            format!("remount_ro {b}/proc/bus"),
            format!("mount {b}/proc/fs {b}/proc/fs - MS_BIND|MS_REC -"),
            format!("remount_ro {b}/proc/fs"),
            format!("mount {b}/proc/irq {b}/proc/irq - MS_BIND|MS_REC -"),
            format!("remount_ro {b}/proc/irq"),
            format!("mount {b}/proc/sys {b}/proc/sys - MS_BIND|MS_REC -"),
            format!("remount_ro {b}/proc/sys"),
            format!("mount {b}/proc/sysrq-trigger {b}/proc/sysrq-trigger - MS_BIND|MS_REC -"),
            format!("remount_ro {b}/proc/sysrq-trigger"),
        ]
    }

    fn dev(base: &str) -> Vec<String> {
        let b = base.trim_end_matches('/');
        let mut v = vec![format!(
            "mount tmpfs {b}/dev tmpfs MS_NOSUID|MS_NODEV|MS_STRICTATIME mode=755,size=65536k"
        )];
        for d in DEVICES {
            v.push(format!("write {b}/dev/{d} 0B 666"));
            v.push(format!("mount /dev/{d} {b}/dev/{d} - MS_BIND -"));
        }
        v.push(format!("mkdir {b}/dev/shm 1777"));
        v.push(format!(
            "mount shm {b}/dev/shm tmpfs MS_NOSUID|MS_NODEV|MS_NOEXEC mode=1777,size=65536k"
        ));
        v.push(format!("symlink {b}/dev/fd -> /proc/self/fd"));
        v.push(format!("symlink {b}/dev/stdin -> /proc/self/fd/0"));
        v.push(format!("symlink {b}/dev/stdout -> /proc/self/fd/1"));
        v.push(format!("symlink {b}/dev/stderr -> /proc/self/fd/2"));
        v.push(format!("mkdir {b}/dev/pts 755"));
        v.push(format!(
            "mount devpts {b}/dev/pts devpts MS_NOSUID|MS_NOEXEC {DEVPTS_OPTIONS_TTY_GROUP}"
        ));
        v.push(format!("symlink {b}/dev/ptmx -> pts/ptmx"));
        v
    }

    #[test]
    fn a_terminal_is_bound_onto_dev_console_and_a_user_namespace_drops_the_tty_group() {
        let root = workload_root();
        let console = Path::new("/dev/pts/7");
        let got = record(&plan_steps(&MountContext {
            new_user: true,
            console: Some(console),
            ..ctx(&root)
        }));
        let at = |line: &str| got.iter().position(|l| l == line);
        let devpts = at(&format!(
            "mount devpts /tmp/dev/pts devpts MS_NOSUID|MS_NOEXEC {DEVPTS_OPTIONS}"
        ));
        let console_point = at("write /tmp/dev/console 0B 644");
        let bind = at("mount /dev/pts/7 /tmp/dev/console - MS_BIND -");
        assert!(devpts.is_some(), "{got:#?}");
        assert!(console_point.is_some() && console_point < bind, "{got:#?}");
        // Both inside the new root before it becomes `/`.
        let pivot = got.iter().position(|l| l.starts_with("pivot_root"));
        assert!(bind < pivot, "{got:#?}");
    }

    #[test]
    fn default_rootfs_sequence() {
        let root = workload_root();
        let got = record(&plan_steps(&ctx(&root)));
        let mut want = vec![
            "mount - / - MS_REC|MS_PRIVATE -".to_string(),
            "mount tmpfs /tmp tmpfs MS_NOSUID|MS_NODEV mode=0755".into(),
            "mkdir /tmp/bin 755".into(),
            "write /tmp/bin/versus-workload 8B 755".into(),
            "mkdir /tmp/dev 755".into(),
            "mkdir /tmp/proc 755".into(),
            "mkdir /tmp/sys 755".into(),
            "mkdir /tmp/tmp 1777".into(),
            "mount proc /tmp/proc proc MS_NOSUID|MS_NODEV|MS_NOEXEC -".into(),
        ];
        want.extend(masks("/tmp").into_iter().take(19));
        want.push("mount sysfs /tmp/sys sysfs MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC -".into());
        want.push("mount tmpfs /tmp/sys/firmware tmpfs MS_RDONLY -".into());
        want.extend(dev("/tmp"));
        want.extend([
            "mount tmpfs /tmp/tmp tmpfs MS_NOSUID|MS_NODEV mode=1777".to_string(),
            "chdir /tmp".into(),
            "pivot_root . .".into(),
            "umount2 . MNT_DETACH".into(),
            "chdir /".into(),
            "sethostname versus".into(),
            "loopback_up".into(),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn external_dir_read_only_sequence() {
        let root = PlannedRootfs::Dir {
            path: "/srv/rootfs".into(),
            has_tmp: false,
            has_sys: false,
            overlay: None,
        };
        let mut c = ctx(&root);
        c.read_only = true;
        c.hostname = Some("box");
        let got = record(&plan_steps(&c));
        let mut want = vec![
            "mount - / - MS_REC|MS_PRIVATE -".to_string(),
            "mount /srv/rootfs /srv/rootfs - MS_BIND|MS_REC -".into(),
            "remount_nodev /srv/rootfs".into(),
            "mount proc /srv/rootfs/proc proc MS_NOSUID|MS_NODEV|MS_NOEXEC -".into(),
        ];
        want.extend(masks("/srv/rootfs"));
        want.extend(dev("/srv/rootfs"));
        want.extend([
            "chdir /srv/rootfs".to_string(),
            "pivot_root . .".into(),
            "umount2 . MNT_DETACH".into(),
            "chdir /".into(),
            "remount_ro /".into(),
            "sethostname box".into(),
            "loopback_up".into(),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn shared_namespaces_change_the_sequence() {
        let root = workload_root();
        let mut c = ctx(&root);
        c.new_pid = false;
        c.new_net = false;
        c.new_uts = false;
        let got = record(&plan_steps(&c));
        assert!(got.contains(&"mount /proc /tmp/proc - MS_BIND|MS_REC -".to_string()));
        assert!(got.contains(&"mount /sys /tmp/sys - MS_BIND|MS_REC -".to_string()));
        assert!(got.contains(&"remount_ro /tmp/sys".to_string()));
        assert!(!got.iter().any(|l| l.starts_with("sethostname")));
        assert!(!got.iter().any(|l| l == "loopback_up"));
        assert!(!got.iter().any(|l| l.contains(" proc MS_")));
    }

    #[test]
    fn shared_mount_namespace_mounts_nothing() {
        let root = PlannedRootfs::Host;
        let mut c = ctx(&root);
        c.new_mount = false;
        assert_eq!(
            record(&plan_steps(&c)),
            vec!["sethostname versus".to_string(), "loopback_up".into()]
        );
        // Host root with its own mount namespace: only a new /proc (and its masks).
        c.new_mount = true;
        let got = record(&plan_steps(&c));
        assert_eq!(got[0], "mount - / - MS_REC|MS_PRIVATE -");
        assert_eq!(
            got[1],
            "mount proc /proc proc MS_NOSUID|MS_NODEV|MS_NOEXEC -"
        );
        assert!(!got.iter().any(|l| l.starts_with("pivot_root")));
    }

    #[test]
    fn host_files_are_bound_read_only() {
        let root = PlannedRootfs::Build {
            base: "/tmp".into(),
            files: vec![
                PlannedFile {
                    path: "/bin/busybox".into(),
                    kind: PlannedKind::Bind {
                        host: "/usr/bin/busybox".into(),
                    },
                    mode: 0o755,
                },
                PlannedFile {
                    path: "/bin/sh".into(),
                    kind: PlannedKind::Symlink("busybox".into()),
                    mode: 0o777,
                },
            ],
        };
        let got = record(&plan_steps(&ctx(&root)));
        let i = got
            .iter()
            .position(|l| l == "write /tmp/bin/busybox 0B 644")
            .unwrap();
        assert_eq!(
            got[i + 1],
            "mount /usr/bin/busybox /tmp/bin/busybox - MS_BIND -"
        );
        assert_eq!(got[i + 2], "remount_ro /tmp/bin/busybox");
        assert_eq!(got[i + 3], "symlink /tmp/bin/sh -> busybox");
    }

    #[test]
    fn volumes_are_bound_before_pivot_root_and_the_workdir_is_entered_last() {
        let root = workload_root();
        let volumes = [
            PlannedVolume {
                host: "/srv/data".into(),
                inside: "/data/in".into(),
                read_only: true,
                is_dir: true,
            },
            PlannedVolume {
                host: "/srv/f".into(),
                inside: "/tmp/f".into(),
                read_only: false,
                is_dir: false,
            },
        ];
        let mut context = ctx(&root);
        context.volumes = &volumes;
        context.workdir = Some("/data/in");
        let got = record(&plan_steps(&context));
        let at = |line: &str| {
            got.iter()
                .position(|l| l == line)
                .unwrap_or_else(|| panic!("{line} not in {got:#?}"))
        };
        let bind = at("mount /srv/data /tmp/data/in - MS_BIND|MS_REC -");
        assert_eq!(got[bind - 2], "mkdir /tmp/data 755");
        assert_eq!(got[bind - 1], "mkdir /tmp/data/in 755");
        assert_eq!(got[bind + 1], "remount_ro /tmp/data/in");
        assert_eq!(got[bind + 2], "remount_nodev /tmp/data/in");
        let file = at("mount /srv/f /tmp/tmp/f - MS_BIND|MS_REC -");
        assert_eq!(got[file - 1], "write /tmp/tmp/f 0B 644");
        assert!(file > at("mount tmpfs /tmp/tmp tmpfs MS_NOSUID|MS_NODEV mode=1777"));
        assert!(file < at("pivot_root . ."));
        assert_eq!(got.last().unwrap(), "chdir /data/in");
    }

    #[test]
    fn an_overlay_root_is_a_tmpfs_upper_layer_over_the_directory() {
        let root = PlannedRootfs::Dir {
            path: "/srv/rootfs".into(),
            has_tmp: false,
            has_sys: false,
            overlay: Some("/mnt".into()),
        };
        let got = record(&plan_steps(&ctx(&root)));
        assert_eq!(
            got[1..6],
            [
                "mount tmpfs /mnt tmpfs MS_NOSUID|MS_NODEV mode=0755",
                "mkdir /mnt/upper 755",
                "mkdir /mnt/work 755",
                "mkdir /mnt/root 755",
                "mount overlay /mnt/root overlay MS_NODEV \
                 lowerdir=/srv/rootfs,upperdir=/mnt/upper,workdir=/mnt/work",
            ]
        );
        assert!(got.contains(&"chdir /mnt/root".to_string()), "{got:#?}");
        // The directory itself is never bound nor remounted.
        assert!(!got.iter().any(|l| l.contains("remount_nodev /srv/rootfs")));
    }
}

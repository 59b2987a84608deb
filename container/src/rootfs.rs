//! Step 3 — the root filesystem and the mounts inside the container.
//!
//! Three kinds of root ([`RootfsSpec`]):
//! - **built** (the default): a fresh tmpfs, mounted inside the child's own mount
//!   namespace, into which the given files are written (the workload as
//!   `/bin/versus-workload`) or bind-mounted read-only from the host (e.g. a static
//!   busybox). Nothing is ever written to the host's disk, and the tmpfs vanishes with
//!   the mount namespace, so nothing can be left behind.
//! - **a directory** (`--rootfs DIR`): recursively bind-mounted onto itself (then made
//!   `nodev`: a device node shipped in the directory cannot be opened), then entered
//!   with `pivot_root`. versus never writes into it: `/proc` and `/dev` must exist in it
//!   as directories (`/tmp` and `/sys` are mounted when present). None of the four may
//!   be a symbolic link: the mounts happen before `pivot_root`, so a link such as
//!   `dev -> /etc` would put the mount on the host's directory (in the container's
//!   mount namespace), leaving the container without its `/dev`.
//!
//! `/dev` is a `nodev` tmpfs; the device nodes in it ([`DEVICES`]) are bind mounts of
//! the host's nodes, each its own mount that does not inherit `nodev`. A node made
//! with `mknod` inside the container cannot be opened there, and the device cgroup
//! ([`crate::cgroup::devices`]) refuses to make or open any device outside its list.
//! - **the host's own root** (only for demonstrations, e.g. sharing the mount namespace).
//!
//! The child's whole mount sequence is computed before `clone` as a list of [`Step`]s
//! (`plan_steps`) and executed through the [`Syscall`] seam (`run_steps`).

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result};
use crate::syscall::Syscall;

/// Where the embedded workload goes in a built rootfs.
pub const WORKLOAD_PATH: &str = "/bin/versus-workload";

/// The busybox applets linked in a built rootfs by [`RootfsSpec::with_busybox`].
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ls", "cat", "ps", "echo", "hostname", "id", "mount", "ip", "ifconfig", "uname", "sleep",
    "kill", "top", "free", "df", "env", "grep", "head", "wc", "touch", "rm", "mkdir", "mknod",
];

/// Directories a built rootfs always has, as mount points (files may not go there).
const SYSTEM_DIRS: [&str; 4] = ["/dev", "/proc", "/sys", "/tmp"];

/// Host device nodes bind-mounted into the container's `/dev` (those the host has).
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// OCI/Docker masked paths: a file gets `/dev/null` bound over it, a directory an empty
/// read-only tmpfs.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/interrupts",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// OCI/Docker read-only paths: bound onto themselves, then remounted read-only.
pub const READONLY_PATHS: [&str; 6] = [
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Candidate mount points (on the host, but mounted over only inside the child's
/// private mount namespace) for the tmpfs that becomes a built root: the first existing
/// one that does not hide a host file to be bound is used.
const BUILD_BASES: [&str; 6] = ["/tmp", "/mnt", "/run", "/media", "/srv", "/opt"];

/// The container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootfsSpec {
    /// A fresh tmpfs holding these files (the default: see [`RootfsSpec::workload`]).
    Build {
        /// The files, by path inside the container.
        files: Vec<RootfsFile>,
    },
    /// An existing directory on the host (never written to).
    Dir(PathBuf),
    /// The host's own root (for demonstrations; needs no `pivot_root`).
    Host,
}

/// One file of a built rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsFile {
    /// Absolute path inside the container, e.g. `/bin/versus-workload`.
    pub path: PathBuf,
    /// Where its contents come from.
    pub source: FileSource,
    /// Permission bits (e.g. `0o755`); ignored for symlinks and host files (which keep
    /// the host's).
    pub mode: u32,
}

/// The contents of a [`RootfsFile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// These bytes, written into the tmpfs.
    Bytes(Vec<u8>),
    /// This host file, bind-mounted read-only.
    HostFile(PathBuf),
    /// A symbolic link with this target.
    Symlink(PathBuf),
}

impl RootfsFile {
    /// A file with these contents.
    pub fn bytes(path: impl Into<PathBuf>, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self {
            path: path.into(),
            source: FileSource::Bytes(data.into()),
            mode,
        }
    }

    /// A host file, bind-mounted read-only.
    pub fn host(path: impl Into<PathBuf>, host_path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            source: FileSource::HostFile(host_path.into()),
            mode: 0o755,
        }
    }

    /// A symbolic link.
    pub fn symlink(path: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            source: FileSource::Symlink(target.into()),
            mode: 0o777,
        }
    }
}

impl RootfsSpec {
    /// A built rootfs holding only `workload` as [`WORKLOAD_PATH`] (mode 0755).
    pub fn workload(workload: impl Into<Vec<u8>>) -> Self {
        RootfsSpec::Build {
            files: vec![RootfsFile::bytes(WORKLOAD_PATH, workload, 0o755)],
        }
    }

    /// Adds a host busybox as `/bin/busybox` (bind-mounted read-only) with
    /// [`BUSYBOX_APPLETS`] linked to it, for interactive demos. Only for built roots.
    pub fn with_busybox(mut self, busybox: impl Into<PathBuf>) -> Self {
        if let RootfsSpec::Build { files } = &mut self {
            files.push(RootfsFile::host("/bin/busybox", busybox));
            for a in BUSYBOX_APPLETS {
                files.push(RootfsFile::symlink(format!("/bin/{a}"), "busybox"));
            }
        }
        self
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            RootfsSpec::Build { files } => format!("built tmpfs ({} files)", files.len()),
            RootfsSpec::Dir(p) => format!("directory {}", p.display()),
            RootfsSpec::Host => "the host's root".into(),
        }
    }
}

/// A statically linked busybox on this host (Debian's `busybox-static`), if any.
/// A dynamically linked one would need its loader and libraries inside the container.
pub fn host_busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file() && elf_interpreter(p) == Some(None))
}

/// `Some(None)`: an ELF file without `PT_INTERP` (static); `Some(Some(path))`: it needs
/// that loader; `None`: not a 64-bit little-endian ELF (a script, say).
pub fn elf_interpreter(path: &Path) -> Option<Option<String>> {
    let mut f = fs::File::open(path).ok()?;
    let mut head = vec![0u8; 64];
    f.read_exact(&mut head).ok()?;
    if &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(&head, 32), u16_at(&head, 54), u16_at(&head, 56));
    let mut all = head;
    f.read_to_end(&mut all).ok()?;
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let ph = all.get(o..o + 56)?;
        if u32::from_le_bytes(ph[0..4].try_into().unwrap()) == 3 {
            let (off, size) = (u64_at(ph, 8), u64_at(ph, 32));
            let s = all.get(off..off + size)?;
            let s = String::from_utf8_lossy(s)
                .trim_end_matches('\0')
                .to_string();
            return Some(Some(s));
        }
    }
    Some(None)
}

// ---------------------------------------------------------------------------------------
// Validation (by `build()`), producing the planned root
// ---------------------------------------------------------------------------------------

/// A validated rootfs, ready to be turned into steps.
#[derive(Debug)]
pub(crate) enum PlannedRootfs {
    Build {
        files: Vec<PlannedFile>,
        base: PathBuf,
    },
    Dir {
        path: PathBuf,
        has_tmp: bool,
        has_sys: bool,
    },
    Host,
}

#[derive(Debug)]
pub(crate) struct PlannedFile {
    pub(crate) path: PathBuf,
    pub(crate) kind: PlannedKind,
    pub(crate) mode: u32,
}

#[derive(Debug)]
pub(crate) enum PlannedKind {
    Bytes(Arc<[u8]>),
    /// A host file (canonical path) to bind read-only.
    Bind {
        host: PathBuf,
    },
    Symlink(PathBuf),
}

/// Checks `spec` and opens what must be opened. `argv0` is checked inside the root.
pub(crate) fn validate(spec: &RootfsSpec, argv0: &str) -> Result<PlannedRootfs> {
    let planned = match spec {
        RootfsSpec::Build { files } => {
            let files = validate_files(files)?;
            let base = choose_base(&files)?;
            PlannedRootfs::Build { files, base }
        }
        RootfsSpec::Dir(path) => {
            let meta = fs::metadata(path).map_err(|e| Error::Rootfs {
                path: path.clone(),
                message: format!("cannot use it: {e}"),
            })?;
            if !meta.is_dir() {
                return Err(Error::Rootfs {
                    path: path.clone(),
                    message: "not a directory".into(),
                });
            }
            let path = fs::canonicalize(path).map_err(|e| Error::Rootfs {
                path: path.clone(),
                message: format!("cannot resolve it: {e}"),
            })?;
            for d in SYSTEM_DIRS {
                let name = d.trim_start_matches('/');
                if let Ok(target) = fs::read_link(path.join(name)) {
                    return Err(Error::Rootfs {
                        path: path.clone(),
                        message: format!(
                            "the root filesystem's {d} is a symbolic link (to {}); versus \
                             mounts {d} there and will not follow it — replace it with a \
                             directory",
                            target.display()
                        ),
                    });
                }
            }
            for d in ["proc", "dev"] {
                if !path.join(d).is_dir() {
                    return Err(Error::Rootfs {
                        path: path.clone(),
                        message: format!(
                            "it has no /{d} directory to mount on; create it (`mkdir {}`): \
                             versus never writes into an external rootfs",
                            path.join(d).display()
                        ),
                    });
                }
            }
            PlannedRootfs::Dir {
                has_tmp: path.join("tmp").is_dir(),
                has_sys: path.join("sys").is_dir(),
                path,
            }
        }
        RootfsSpec::Host => PlannedRootfs::Host,
    };
    check_command(&planned, argv0)?;
    Ok(planned)
}

fn inside_path(p: &Path) -> Result<PathBuf> {
    let bad = |m: &str| Error::Rootfs {
        path: p.to_path_buf(),
        message: m.to_owned(),
    };
    if !p.is_absolute() {
        return Err(bad("paths in a built rootfs must be absolute"));
    }
    let mut clean = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => clean.push(n),
            Component::CurDir => {}
            _ => return Err(bad("paths in a built rootfs may not contain `..`")),
        }
    }
    if clean == Path::new("/") {
        return Err(bad("a file cannot be the root itself"));
    }
    if SYSTEM_DIRS.iter().any(|d| clean.starts_with(d)) {
        return Err(bad(
            "/dev, /proc, /sys and /tmp are mounted by versus; files cannot go there",
        ));
    }
    Ok(clean)
}

fn validate_files(files: &[RootfsFile]) -> Result<Vec<PlannedFile>> {
    let mut out: Vec<PlannedFile> = Vec::new();
    for f in files {
        let path = inside_path(&f.path)?;
        if out.iter().any(|o| o.path == path) {
            return Err(Error::Rootfs {
                path,
                message: "given twice".into(),
            });
        }
        let kind = match &f.source {
            FileSource::Bytes(b) => PlannedKind::Bytes(Arc::from(b.as_slice())),
            FileSource::Symlink(t) => PlannedKind::Symlink(t.clone()),
            FileSource::HostFile(host) => {
                let meta = fs::metadata(host).map_err(|e| Error::Rootfs {
                    path: host.clone(),
                    message: format!("host file for {} cannot be used: {e}", path.display()),
                })?;
                if !meta.is_file() {
                    return Err(Error::Rootfs {
                        path: host.clone(),
                        message: format!("host file for {} is not a regular file", path.display()),
                    });
                }
                let host = fs::canonicalize(host).map_err(|e| Error::Rootfs {
                    path: host.clone(),
                    message: format!("host file for {} cannot be resolved: {e}", path.display()),
                })?;
                PlannedKind::Bind { host }
            }
        };
        out.push(PlannedFile {
            path,
            kind,
            mode: f.mode & 0o7777,
        });
    }
    Ok(out)
}

/// The first candidate base directory that exists and hides no host file to bind.
fn choose_base(files: &[PlannedFile]) -> Result<PathBuf> {
    BUILD_BASES
        .iter()
        .map(PathBuf::from)
        .find(|b| {
            b.is_dir()
                && !files
                    .iter()
                    .any(|f| matches!(&f.kind, PlannedKind::Bind { host } if host.starts_with(b)))
        })
        .ok_or_else(|| Error::Rootfs {
            path: PathBuf::from("/"),
            message: format!(
                "a built rootfs needs one of {} to exist on the host as a mount point \
                 (mounted over only inside the container), not holding a file to bind",
                BUILD_BASES.join(" ")
            ),
        })
}

/// Checks that `argv0` names an executable file inside the planned root.
fn check_command(root: &PlannedRootfs, argv0: &str) -> Result<()> {
    let err = |m: String| Error::Command {
        command: argv0.to_owned(),
        message: m,
    };
    if !argv0.starts_with('/') {
        return Err(err(
            "must be an absolute path inside the container (there is no PATH search), e.g. /bin/sh"
                .into(),
        ));
    }
    match root {
        PlannedRootfs::Build { files, .. } => {
            let mut p = PathBuf::from(argv0);
            for _ in 0..40 {
                let Some(f) = files.iter().find(|f| f.path == p) else {
                    let names: Vec<String> =
                        files.iter().map(|f| f.path.display().to_string()).collect();
                    return Err(err(format!(
                        "not found in the built rootfs, which holds: {}",
                        names.join(" ")
                    )));
                };
                match &f.kind {
                    PlannedKind::Symlink(t) => {
                        p = if t.is_absolute() {
                            t.clone()
                        } else {
                            p.parent().unwrap_or(Path::new("/")).join(t)
                        };
                    }
                    PlannedKind::Bytes(_) if f.mode & 0o111 == 0 => {
                        return Err(err(format!("not executable (mode {:o})", f.mode)));
                    }
                    PlannedKind::Bind { host } => {
                        return check_executable_file(host).map_err(err);
                    }
                    PlannedKind::Bytes(_) => return Ok(()),
                }
            }
            Err(err("too many levels of symbolic links".into()))
        }
        PlannedRootfs::Dir { path, .. } => {
            let resolved = resolve_in_root(path, Path::new(argv0))
                .map_err(|m| err(format!("not found in rootfs {}: {m}", path.display())))?;
            check_executable_file(&resolved).map_err(err)
        }
        PlannedRootfs::Host => check_executable_file(Path::new(argv0)).map_err(err),
    }
}

fn check_executable_file(p: &Path) -> std::result::Result<(), String> {
    let meta = fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", p.display()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "{} is not executable (mode {:o})",
            p.display(),
            meta.permissions().mode() & 0o7777
        ));
    }
    Ok(())
}

/// Resolves `inside` (absolute, in the container) under `root`, following symbolic
/// links as the container would see them (an absolute link target is relative to `root`).
pub(crate) fn resolve_in_root(root: &Path, inside: &Path) -> std::result::Result<PathBuf, String> {
    let mut pending: Vec<std::ffi::OsString> = inside
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .rev()
        .collect();
    let mut cur = PathBuf::new(); // relative to root
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let candidate = cur.join(&name);
        let full = root.join(&candidate);
        match fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Err("too many levels of symbolic links".into());
                }
                let target = fs::read_link(&full).map_err(|e| e.to_string())?;
                if target.is_absolute() {
                    cur = PathBuf::new();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(n.to_os_string()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            Ok(_) => cur = candidate,
            Err(e) => {
                return Err(format!(
                    "{}: {e}",
                    Path::new("/").join(&candidate).display()
                ));
            }
        }
    }
    Ok(root.join(cur))
}

// ---------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------

/// One operation of the child's setup, with its description for error messages.
#[derive(Debug, Clone)]
pub struct Step {
    /// The operation.
    pub op: Op,
    /// What it does, in words, e.g. `pivot_root into /srv/rootfs`.
    pub what: String,
}

/// The operations of [`Step`]s.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum Op {
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: MsFlags,
        data: Option<CString>,
    },
    RemountReadOnly {
        target: CString,
    },
    RemountNoDev {
        target: CString,
    },
    Mkdir {
        path: CString,
        mode: u32,
    },
    WriteFile {
        path: CString,
        data: Arc<[u8]>,
        mode: u32,
    },
    Symlink {
        target: CString,
        link: CString,
    },
    Chdir {
        path: CString,
    },
    PivotRoot {
        new_root: CString,
        put_old: CString,
    },
    Umount {
        target: CString,
        flags: MntFlags,
    },
    SetHostname {
        name: CString,
    },
    LoopbackUp,
}

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
}

/// The child's mount sequence, in order (see the module doc and docs/en/container.md).
pub(crate) fn plan_steps(ctx: &MountContext<'_>) -> Vec<Step> {
    let mut p = Plan { steps: Vec::new() };
    if ctx.new_mount {
        // 3a. Private propagation: nothing below is seen by the host, and pivot_root
        //     refuses shared mounts.
        p.mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None,
            "making every mount private (MS_REC|MS_PRIVATE on /)",
        );
        let base: PathBuf = match ctx.rootfs {
            PlannedRootfs::Build { files, base } => {
                let base = base.clone();
                // 3b. A fresh tmpfs becomes the root; files go into it.
                p.mount(
                    Some("tmpfs"),
                    &base,
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some("mode=0755"),
                    format!(
                        "mounting a tmpfs for the new root (on {}, in the container's mount namespace)",
                        base.display()
                    ),
                );
                plan_files(&mut p, &base, files);
                for d in SYSTEM_DIRS {
                    let mode = if d == "/tmp" { 0o1777 } else { 0o755 };
                    p.push(
                        Op::Mkdir {
                            path: cp(&join(&base, d)),
                            mode,
                        },
                        format!("creating {d} in the new root"),
                    );
                }
                base
            }
            PlannedRootfs::Dir { path, .. } => {
                // 3b. The external directory, bound onto itself so that it is a mount
                //     point pivot_root accepts.
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
        };
        let (has_tmp, has_sys, is_host) = match ctx.rootfs {
            PlannedRootfs::Build { .. } => (true, true, false),
            PlannedRootfs::Dir {
                has_tmp, has_sys, ..
            } => (*has_tmp, *has_sys, false),
            PlannedRootfs::Host => (false, false, true),
        };
        // 3c. /proc for the container's PID namespace (or the host's, bound, if shared),
        //     then the masked and read-only paths.
        let proc_ = join(&base, "/proc");
        if ctx.new_pid {
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
        if ctx.new_pid || !is_host {
            plan_masks(&mut p, &base, "/proc", ctx.host);
        }
        // 3d. /sys, read-only: a sysfs of the container's network namespace, or the
        //     host's bound.
        if has_sys {
            let sys = join(&base, "/sys");
            if ctx.new_net {
                p.mount(
                    Some("sysfs"),
                    &sys,
                    Some("sysfs"),
                    MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC,
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
                p.push(
                    Op::RemountReadOnly { target: cp(&sys) },
                    "making /sys read-only",
                );
            }
            plan_masks(&mut p, &base, "/sys", ctx.host);
        }
        // 3e. A minimal /dev.
        if !is_host {
            plan_dev(&mut p, &base, ctx.host);
        }
        // 3f. A private /tmp.
        if has_tmp {
            p.mount(
                Some("tmpfs"),
                &join(&base, "/tmp"),
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=1777"),
                "mounting a tmpfs on /tmp",
            );
        }
        // 3g. pivot_root into the new root and detach the old one.
        if !is_host {
            p.push(
                Op::Chdir { path: cp(&base) },
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
        // 3h. --read-only.
        if ctx.read_only {
            p.push(
                Op::RemountReadOnly { target: c("/") },
                "remounting the root read-only",
            );
        }
    }
    // 3i. Hostname (own UTS namespace) and loopback (own network namespace).
    if ctx.new_uts
        && let Some(h) = ctx.hostname
    {
        p.push(Op::SetHostname { name: c(h) }, format!("sethostname {h:?}"));
    }
    if ctx.new_net {
        p.push(Op::LoopbackUp, "bringing up lo (SIOCSIFFLAGS IFF_UP)");
    }
    p.steps
}

fn join(base: &Path, abs: &str) -> PathBuf {
    base.join(abs.trim_start_matches('/'))
}

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
        p.push(
            Op::Mkdir {
                path: cp(&join(base, &d.to_string_lossy())),
                mode: 0o755,
            },
            format!("creating {} in the new root", d.display()),
        );
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
                p.push(
                    Op::WriteFile {
                        path: cp(&target),
                        data: Arc::from(&[][..]),
                        mode: 0o644,
                    },
                    format!("creating the mount point {shown}"),
                );
                p.mount(
                    Some(&host.to_string_lossy()),
                    &target,
                    None,
                    MsFlags::MS_BIND,
                    None,
                    format!("bind-mounting {} on {shown}", host.display()),
                );
                p.push(
                    Op::RemountReadOnly {
                        target: cp(&target),
                    },
                    format!("making {shown} read-only"),
                );
            }
        }
    }
}

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
        p.push(
            Op::RemountReadOnly {
                target: cp(&target),
            },
            format!("making {r} read-only"),
        );
    }
}

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

/// Runs the steps in order; on failure returns the index of the failed step and the errno.
pub(crate) fn run_steps(
    steps: &[Step],
    sys: &dyn Syscall,
) -> std::result::Result<(), (usize, Errno)> {
    for (i, step) in steps.iter().enumerate() {
        let r = match &step.op {
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => sys.mount(
                source.as_deref(),
                target,
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            ),
            Op::RemountReadOnly { target } => sys.remount_read_only(target),
            Op::RemountNoDev { target } => sys.remount_nodev(target),
            Op::Mkdir { path, mode } => sys.mkdir(path, *mode),
            Op::WriteFile { path, data, mode } => sys.write_file(path, data, *mode),
            Op::Symlink { target, link } => sys.symlink(target, link),
            Op::Chdir { path } => sys.chdir(path),
            Op::PivotRoot { new_root, put_old } => sys.pivot_root(new_root, put_old),
            Op::Umount { target, flags } => sys.umount2(target, *flags),
            Op::SetHostname { name } => sys.sethostname(name),
            Op::LoopbackUp => sys.loopback_up(),
        };
        r.map_err(|e| (i, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn ctx<'a>(rootfs: &'a PlannedRootfs) -> MountContext<'a> {
        MountContext {
            rootfs,
            new_mount: true,
            new_pid: true,
            new_net: true,
            new_uts: true,
            hostname: Some("versus"),
            read_only: false,
            host: &FakeHost,
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
        v
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
    fn a_failed_step_is_reported_by_index_with_its_description() {
        let root = PlannedRootfs::Dir {
            path: "/x".into(),
            has_tmp: false,
            has_sys: false,
        };
        let steps = plan_steps(&ctx(&root));
        let fake = RecordingSyscall::failing_at("pivot_root", Errno::EINVAL);
        let (i, e) = run_steps(&steps, &fake).unwrap_err();
        assert_eq!(e, Errno::EINVAL);
        assert_eq!(steps[i].what, "pivot_root into /x");
        assert_eq!(fake.calls().last().unwrap(), "pivot_root . .");
    }

    #[test]
    fn built_rootfs_validation() {
        let ok = RootfsSpec::workload(b"x".to_vec());
        assert!(validate(&ok, WORKLOAD_PATH).is_ok());
        let e = validate(&ok, "/bin/sh").unwrap_err().to_string();
        assert!(e.contains("not found in the built rootfs"), "{e}");
        assert!(e.contains("/bin/versus-workload"), "{e}");
        let e = validate(&ok, "versus-workload").unwrap_err().to_string();
        assert!(e.contains("absolute path"), "{e}");
        let noexec = RootfsSpec::Build {
            files: vec![RootfsFile::bytes("/bin/w", b"x".to_vec(), 0o644)],
        };
        let e = validate(&noexec, "/bin/w").unwrap_err().to_string();
        assert!(e.contains("not executable"), "{e}");
        for bad in ["relative", "/proc/x", "/a/../b", "/tmp/f"] {
            let spec = RootfsSpec::Build {
                files: vec![RootfsFile::bytes(bad, b"x".to_vec(), 0o755)],
            };
            assert!(validate(&spec, "/bin/w").is_err(), "{bad}");
        }
        let missing_host = RootfsSpec::Build {
            files: vec![RootfsFile::host("/bin/b", "/nonexistent/busybox")],
        };
        let e = validate(&missing_host, "/bin/b").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/busybox"), "{e}");
        // A symlink chain to an executable is fine.
        let linked = RootfsSpec::Build {
            files: vec![
                RootfsFile::bytes("/bin/w", b"x".to_vec(), 0o755),
                RootfsFile::symlink("/bin/sh", "w"),
                RootfsFile::symlink("/usr/bin/sh", "/bin/sh"),
            ],
        };
        assert!(validate(&linked, "/usr/bin/sh").is_ok());
    }

    #[test]
    fn external_dir_validation() {
        let e = validate(&RootfsSpec::Dir("/nonexistent/rootfs".into()), "/bin/sh")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rootfs /nonexistent/rootfs: cannot use it"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("file");
        fs::write(&file, "x").unwrap();
        let e = validate(&RootfsSpec::Dir(file), "/bin/sh")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
        let e = validate(&RootfsSpec::Dir(d.path().into()), "/bin/sh")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no /proc directory"), "{e}");
        fs::create_dir(d.path().join("proc")).unwrap();
        fs::create_dir(d.path().join("dev")).unwrap();
        fs::create_dir(d.path().join("bin")).unwrap();
        let e = validate(&RootfsSpec::Dir(d.path().into()), "/bin/sh")
            .unwrap_err()
            .to_string();
        assert!(e.contains("command /bin/sh: not found in rootfs"), "{e}");
        fs::write(d.path().join("bin/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(d.path().join("bin/tool"), fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink("/bin/tool", d.path().join("bin/sh")).unwrap();
        let e = validate(&RootfsSpec::Dir(d.path().into()), "/bin/sh")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not executable"), "{e}");
        fs::set_permissions(d.path().join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        // The absolute link target resolves inside the rootfs, not on the host.
        assert!(validate(&RootfsSpec::Dir(d.path().into()), "/bin/sh").is_ok());
    }

    #[test]
    fn symlinked_mount_points_in_an_external_dir_are_refused() {
        for (name, target) in [
            ("dev", "/etc"),
            ("proc", "/"),
            ("sys", "../x"),
            ("tmp", "/etc"),
        ] {
            let d = tempfile::tempdir().unwrap();
            for dir in ["proc", "dev", "bin", "sys", "tmp"] {
                fs::create_dir(d.path().join(dir)).unwrap();
            }
            fs::write(d.path().join("bin/sh"), "#!/bin/sh\n").unwrap();
            fs::set_permissions(d.path().join("bin/sh"), fs::Permissions::from_mode(0o755))
                .unwrap();
            assert!(
                validate(&RootfsSpec::Dir(d.path().into()), "/bin/sh").is_ok(),
                "without the link"
            );
            fs::remove_dir(d.path().join(name)).unwrap();
            std::os::unix::fs::symlink(target, d.path().join(name)).unwrap();
            let e = validate(&RootfsSpec::Dir(d.path().into()), "/bin/sh")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!(
                    "the root filesystem's /{name} is a symbolic link (to {target}); versus \
                     mounts /{name} there and will not follow it — replace it with a directory"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn the_base_never_hides_a_host_file_to_bind() {
        let bind = |h: &str| PlannedFile {
            path: "/bin/x".into(),
            kind: PlannedKind::Bind { host: h.into() },
            mode: 0o755,
        };
        assert_eq!(
            choose_base(&[bind("/usr/bin/busybox")]).unwrap(),
            Path::new("/tmp")
        );
        let b = choose_base(&[bind("/tmp/build/versus-workload")]).unwrap();
        assert_ne!(b, Path::new("/tmp"));
    }

    #[test]
    fn static_elf_detection() {
        if let Some(bb) = host_busybox() {
            assert_eq!(elf_interpreter(&bb), Some(None));
        }
        assert_eq!(elf_interpreter(Path::new("/proc/self/status")), None);
    }
}

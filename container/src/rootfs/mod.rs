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
//! and executed through the [`Syscall`](crate::syscall::Syscall) seam. One concern per
//! file:
//! - this file: the spec types ([`RootfsSpec`], [`RootfsFile`], [`FileSource`]), the
//!   paths versus mounts or masks, and the [`Step`]s themselves;
//! - `validate`: checking a [`RootfsSpec`] and the command inside it (including the
//!   refusal of symlinked mount points in an external directory) into a planned root;
//! - `plan`: turning the planned root into [`Step`]s, one function per part (`/proc`,
//!   `/sys`, `/dev`, `/tmp`, `pivot_root`, hostname, `lo`);
//! - `run`: executing the steps through the `Syscall` trait.

mod plan;
mod run;
mod validate;

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use nix::mount::{MntFlags, MsFlags};

pub(crate) use plan::{MountContext, RealHost, plan_steps};
pub(crate) use run::run_steps;
pub(crate) use validate::{
    PlannedRootfs, check_workdir, find_command, validate_root, validate_volumes,
};

/// The `PATH` of PID 1 unless the caller sets one (Docker's default), also where a
/// command given by name is looked up.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the embedded workload goes in a built rootfs.
pub const WORKLOAD_PATH: &str = "/bin/versus-workload";

/// The busybox applets linked in a built rootfs by [`RootfsSpec::with_busybox`]
/// when the busybox cannot list its own (`busybox --list` fails); otherwise
/// every applet it has is linked ([`busybox_applets`]).
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ls", "cat", "ps", "echo", "hostname", "id", "mount", "ip", "ifconfig", "uname", "sleep",
    "kill", "top", "free", "df", "env", "grep", "head", "wc", "touch", "rm", "mkdir", "mknod",
];

/// Directories a built rootfs always has, as mount points (files may not go there).
const SYSTEM_DIRS: [&str; 4] = ["/dev", "/proc", "/sys", "/tmp"];

/// Host device nodes bind-mounted into the container's `/dev` (those the host has).
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Options of the container's own devpts at `/dev/pts`, as runc and crun
/// mount it: a new instance (its ptys are not the host's), `/dev/pts/ptmx`
/// usable by anyone (0666, `/dev/ptmx` links to it), each new pty readable
/// and writable by its owner and writable by group `tty` (0620).
pub const DEVPTS_OPTIONS: &str = "newinstance,ptmxmode=0666,mode=0620";

/// [`DEVPTS_OPTIONS`] with the new ptys' group: 5, `tty` on Debian and in
/// Docker images. Left out in a user namespace, where gid 5 may not be
/// mapped (the mount would fail).
pub const DEVPTS_OPTIONS_TTY_GROUP: &str = "newinstance,ptmxmode=0666,mode=0620,gid=5";

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
    /// An existing directory on the host. versus writes nothing into it, but the
    /// container's own writes go through unless the root is read-only.
    Dir(PathBuf),
    /// The host's own root (for demonstrations; needs no `pivot_root`).
    Host,
}

/// A host file or directory bind-mounted into the container (`-v HOST:CONTAINER[:ro]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Volume {
    /// The host path (must exist).
    pub host: PathBuf,
    /// Where it appears inside the container (absolute).
    pub inside: PathBuf,
    /// Bound read-only (and `nodev`).
    pub read_only: bool,
}

impl std::str::FromStr for Volume {
    type Err = crate::error::Error;

    /// `HOST:CONTAINER`, `HOST:CONTAINER:ro` or `HOST:CONTAINER:rw`, as `docker run -v`.
    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        let bad = |m: &str| {
            crate::error::Error::invalid(
                "--volume",
                format!("{text:?}: {m}; write HOST:CONTAINER[:ro|rw], e.g. /srv/data:/data:ro"),
            )
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (host, inside, read_only) = match parts.as_slice() {
            [h, c] => (*h, *c, false),
            [h, c, "ro"] => (*h, *c, true),
            [h, c, "rw"] => (*h, *c, false),
            [_, _, other] => return Err(bad(&format!("unknown option {other:?}"))),
            _ => return Err(bad("expected two or three fields separated by ':'")),
        };
        if host.is_empty() || inside.is_empty() {
            return Err(bad("both paths are needed"));
        }
        if !inside.starts_with('/') {
            return Err(bad("the container path must be absolute"));
        }
        Ok(Volume {
            host: PathBuf::from(host),
            inside: PathBuf::from(inside),
            read_only,
        })
    }
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

    /// A built rootfs holding only `program` as `/bin/NAME` (mode 0755), so
    /// that a user's program run by its path there sees its own name as
    /// `argv[0]` — a multi-call binary such as busybox picks its applet by
    /// it. `name` is a file name (no `/`, not `.` or `..`, not empty);
    /// anything else falls back to [`WORKLOAD_PATH`].
    pub fn program(name: &str, program: impl Into<Vec<u8>>) -> Self {
        RootfsSpec::Build {
            files: vec![RootfsFile::bytes(program_path(name), program, 0o755)],
        }
    }

    /// Adds a host busybox as `/bin/busybox` (bind-mounted read-only) with
    /// every applet it has ([`busybox_applets`]) symlinked to it in `/bin`,
    /// for interactive demos. Only for built roots.
    pub fn with_busybox(mut self, busybox: impl Into<PathBuf>) -> Self {
        let busybox = busybox.into();
        if let RootfsSpec::Build { files } = &mut self {
            // A program already in the root under an applet's name (a
            // `--workload` called `sh`, say) keeps that name: it is what
            // the user asked to run.
            let taken = |files: &[RootfsFile], path: &Path| files.iter().any(|f| f.path == path);
            if !taken(files, Path::new("/bin/busybox")) {
                files.push(RootfsFile::host("/bin/busybox", busybox.clone()));
            }
            for a in busybox_applets(&busybox).iter() {
                let path = PathBuf::from(format!("/bin/{a}"));
                if !taken(files, &path) {
                    files.push(RootfsFile::symlink(path, "busybox"));
                }
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

/// The applets of the busybox at `busybox`, as `busybox --list` names them
/// (about 270 for Debian's busybox-static), so that a container finds every
/// command a busybox system has (`true`, `pwd`, `vi`, ...). The list is
/// asked once per busybox path in a process: a `compare` or `scale` run
/// starts many containers and pays the fork+exec once. A busybox that
/// cannot list them (too old, or the call fails) gets [`BUSYBOX_APPLETS`].
pub fn busybox_applets(busybox: &Path) -> Arc<[String]> {
    static KNOWN: Mutex<Vec<(PathBuf, Arc<[String]>)>> = Mutex::new(Vec::new());
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, applets)) = known.iter().find(|(path, _)| path == busybox) {
        return Arc::clone(applets);
    }
    let listed = std::process::Command::new(busybox)
        .arg("--list")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::trim)
                .filter(|name| program_path(name) != WORKLOAD_PATH && *name != "busybox")
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|names| !names.is_empty());
    let applets: Arc<[String]> = match listed {
        Some(names) => names.into(),
        None => BUSYBOX_APPLETS.iter().map(|a| (*a).to_owned()).collect(),
    };
    known.push((busybox.to_path_buf(), Arc::clone(&applets)));
    applets
}

/// Where [`RootfsSpec::program`] puts a program called `name`: `/bin/NAME`,
/// or [`WORKLOAD_PATH`] when `name` is no plain file name.
pub fn program_path(name: &str) -> String {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        WORKLOAD_PATH.to_string()
    } else {
        format!("/bin/{name}")
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
        // Offsets come from the file: checked, never wrapped.
        let o = i.checked_mul(phentsize)?.checked_add(phoff)?;
        let ph = all.get(o..o.checked_add(56)?)?;
        if u32::from_le_bytes(ph[0..4].try_into().unwrap()) == 3 {
            let (off, size) = (u64_at(ph, 8), u64_at(ph, 32));
            let s = all.get(off..off.checked_add(size)?)?;
            let s = String::from_utf8_lossy(s)
                .trim_end_matches('\0')
                .to_string();
            return Some(Some(s));
        }
    }
    Some(None)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_parsed_as_docker_writes_them() {
        let v: Volume = "/srv/data:/data:ro".parse().unwrap();
        assert_eq!(
            v,
            Volume {
                host: "/srv/data".into(),
                inside: "/data".into(),
                read_only: true
            }
        );
        assert!(!"/a:/b".parse::<Volume>().unwrap().read_only);
        assert!(!"/a:/b:rw".parse::<Volume>().unwrap().read_only);
        for bad in ["/a", "/a:b", "/a:/b:rx", ":/b", "/a:/b:ro:x"] {
            let e = bad.parse::<Volume>().unwrap_err().to_string();
            assert!(e.contains("--volume"), "{bad}: {e}");
        }
    }

    #[test]
    fn static_elf_detection() {
        match host_busybox() {
            Some(bb) => assert_eq!(elf_interpreter(&bb), Some(None)),
            None => testkit::skip(
                "static_elf_detection",
                testkit::Need::Root,
                "needs a static busybox for the static case (apt-get install busybox-static)",
            ),
        }
        assert_eq!(elf_interpreter(Path::new("/proc/self/status")), None);
    }

    #[test]
    fn a_program_goes_into_bin_under_its_own_name_unless_the_name_is_no_file_name() {
        assert_eq!(program_path("busybox"), "/bin/busybox");
        assert_eq!(program_path("versus-workload"), WORKLOAD_PATH);
        for odd in ["", ".", "..", "a/b", "nul\0"] {
            assert_eq!(program_path(odd), WORKLOAD_PATH, "{odd:?}");
        }
    }

    #[test]
    fn busybox_links_every_listed_applet_but_leaves_a_program_its_name() {
        // A stand-in busybox: a script that lists three applets.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("busybox");
        fs::write(&fake, "#!/bin/sh\nprintf 'sh\\ntrue\\npwd\\n'\n").unwrap();
        fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let spec = RootfsSpec::program("sh", b"program".to_vec()).with_busybox(&fake);
        let RootfsSpec::Build { files } = spec else {
            panic!("a built root");
        };
        let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(paths, ["/bin/sh", "/bin/busybox", "/bin/true", "/bin/pwd"]);
        assert!(
            matches!(files[0].source, FileSource::Bytes(_)),
            "the program kept /bin/sh"
        );
    }
}

//! The classic chroot escape, tried for real by a forked child of versus:
//! once from a throwaway chroot on the host, once from inside a running
//! container's mount namespace.
//!
//! The walk: a privileged process chroots into a subdirectory while its
//! working directory stays outside the new root, climbs `..` further
//! than any real path is deep (the kernel only stops a `..` at the
//! process' root, which the working directory is no longer under, or at
//! the top of the mount tree), and chroots into where it ended up. From
//! a chroot that ends at the host's `/`. A container's root after
//! `pivot_root` is the top of its mount namespace and the old root is
//! unmounted, so the climb has nowhere to go.
//!
//! The walk runs in a forked child because `chroot` and `setns` into a
//! mount namespace change the whole process' root (a mount namespace can
//! only be joined by a process whose filesystem context no other thread
//! shares). The child makes only raw system calls and reports through a
//! pipe.

use std::ffi::{CStr, CString};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, pipe};

/// How many `..` the walk climbs: deeper than any path on a real system,
/// so that from a chroot it surely reaches the top of the mount tree.
pub(crate) const WALK_STEPS: usize = 64;

/// The words the child writes to the pipe: the step that failed (0 when
/// none did), its errno, then the `/` it started in and the `/` it ended
/// in, each as (device, inode).
const REPORT_WORDS: usize = 6;

/// A walk that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EscapeError {
    /// The pipe or the fork for the child failed.
    #[error("could not start the process that tries the escape: {0}")]
    Start(#[source] nix::Error),
    /// The container's mount namespace could not be opened (it ended).
    #[error("could not open the mount namespace of process {pid}: {source}")]
    Namespace {
        /// The container's PID 1, as the host knows it.
        pid: i32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A path handed to the child holds a NUL byte.
    #[error("the path {0} holds a NUL byte and cannot be handed to chroot")]
    Path(String),
    /// The child's report could not be read, or was cut short.
    #[error("the process that tried the escape reported nothing readable ({0})")]
    Report(String),
    /// One of the walk's system calls failed.
    #[error("the escape's {step} failed: {errno} (versus needs root for this lesson)")]
    Step {
        /// Which call.
        step: &'static str,
        /// Why.
        errno: nix::Error,
    },
}

/// A throwaway chroot for the walk: a new directory under the temporary
/// directory holding one subdirectory, both removed when dropped.
pub(crate) struct Jail {
    path: PathBuf,
}

impl Jail {
    /// Makes `versus-chroot-PID-N` under the temporary directory, with the
    /// directory `foothold` in it. Fails rather than reuse one that exists.
    pub(crate) fn new(foothold: &str) -> std::io::Result<Jail> {
        Jail::with_dirs("versus-chroot", &[foothold])
    }

    /// Makes `PREFIX-PID-N` under the temporary directory, with the
    /// directories `dirs` in it. Fails rather than reuse one that exists.
    pub(crate) fn with_dirs(prefix: &str, dirs: &[&str]) -> std::io::Result<Jail> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)?;
        // From here on Drop removes it, also when a directory fails.
        let jail = Jail { path };
        for dir in dirs {
            std::fs::create_dir(jail.path.join(dir))?;
        }
        Ok(jail)
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        // Nothing else can be done about a directory that will not go; it
        // holds only what the lesson put there and names its owner's pid.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A directory as the kernel names it: `(device, inode)` of `stat(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl DirId {
    /// The id of the directory at `path` (symbolic links followed, so
    /// `/proc/PID/root` names that process' root).
    pub(crate) fn of(path: &Path) -> std::io::Result<DirId> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path)?;
        Ok(DirId {
            dev: metadata.dev(),
            ino: metadata.ino(),
        })
    }
}

impl std::fmt::Display for DirId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.dev, self.ino)
    }
}

/// Where a walk started and where it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Walk {
    /// The child's `/` before the walk (inside the chroot or container).
    pub start: DirId,
    /// Its `/` after climbing and chrooting into where it got to.
    pub end: DirId,
}

/// The steps of the child, in the order it makes them; a failed step is
/// reported by its index + 1.
const STEPS: [&str; 6] = [
    "entry (chroot into the jail, or setns into the mount namespace)",
    "chdir(\"/\")",
    "stat(\"/\") before the walk",
    "chroot into the foothold",
    "chroot(\".\") after the climb",
    "stat(\"/\") after the walk",
];

/// How the child gets in before it walks.
enum Entry<'a> {
    /// `chroot(jail)`: the throwaway chroot on the host.
    Chroot(&'a CStr),
    /// `setns(fd, CLONE_NEWNS)`: the container's mount namespace (the
    /// kernel puts the joiner's root and working directory at its top).
    MountNamespace(i32),
}

/// The walk out of a chroot at `jail`, which must hold the directory
/// `foothold`.
pub(crate) fn from_chroot(jail: &Path, foothold: &str) -> Result<Walk, EscapeError> {
    let jail = c_path(jail.as_os_str().as_bytes())?;
    let foothold = c_path(foothold.as_bytes())?;
    walk(Entry::Chroot(&jail), &foothold)
}

/// The walk out of the mount namespace of process `pid` (opened first, so
/// it stays alive while the child joins it), from its directory
/// `foothold` (a name in the root of that namespace).
pub(crate) fn from_mount_namespace(pid: i32, foothold: &str) -> Result<Walk, EscapeError> {
    let namespace = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .map_err(|source| EscapeError::Namespace { pid, source })?;
    let foothold = c_path(foothold.as_bytes())?;
    walk(Entry::MountNamespace(namespace.as_raw_fd()), &foothold)
}

fn c_path(bytes: &[u8]) -> Result<CString, EscapeError> {
    CString::new(bytes).map_err(|_| EscapeError::Path(String::from_utf8_lossy(bytes).into_owned()))
}

fn walk(entry: Entry<'_>, foothold: &CStr) -> Result<Walk, EscapeError> {
    let (read_end, write_end) = pipe().map_err(EscapeError::Start)?;
    // SAFETY: the child only makes raw system calls (no allocation, no
    // lock that another thread of versus could hold) and ends with _exit.
    match unsafe { fork() }.map_err(EscapeError::Start)? {
        ForkResult::Child => {
            drop(read_end);
            child(&entry, foothold, &write_end)
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut bytes = Vec::new();
            let read = std::fs::File::from(read_end).read_to_end(&mut bytes);
            // Reaped whatever it reported: no zombie is left behind.
            let status = waitpid(child, None);
            read.map_err(|error| EscapeError::Report(error.to_string()))?;
            match status {
                Ok(WaitStatus::Exited(_, _)) => {}
                other => return Err(EscapeError::Report(format!("{other:?}"))),
            }
            parse_report(&bytes)
        }
    }
}

fn parse_report(bytes: &[u8]) -> Result<Walk, EscapeError> {
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|chunk| u64::from_ne_bytes(chunk.try_into().unwrap_or_default()))
        .collect();
    let [failed, errno, start_dev, start_ino, end_dev, end_ino] = words[..] else {
        return Err(EscapeError::Report(format!("{} bytes", bytes.len())));
    };
    if failed != 0 {
        let step = usize::try_from(failed - 1)
            .ok()
            .and_then(|index| STEPS.get(index))
            .copied()
            .unwrap_or("an unknown step");
        return Err(EscapeError::Step {
            step,
            errno: nix::Error::from_raw(i32::try_from(errno).unwrap_or(0)),
        });
    }
    Ok(Walk {
        start: DirId {
            dev: start_dev,
            ino: start_ino,
        },
        end: DirId {
            dev: end_dev,
            ino: end_ino,
        },
    })
}

/// The forked child: gets in, walks, reports, exits. Never returns.
fn child(entry: &Entry<'_>, foothold: &CStr, report_to: &OwnedFd) -> ! {
    let mut report = [0u64; REPORT_WORDS];
    if let Err((step, errno)) = climb(entry, foothold, &mut report) {
        report[0] = step as u64 + 1;
        report[1] = errno as u64;
    }
    // SAFETY: `report` is readable for its whole size; the fd is the
    // pipe's write end, owned by this process.
    unsafe {
        libc::write(
            report_to.as_raw_fd(),
            report.as_ptr().cast(),
            std::mem::size_of_val(&report),
        )
    };
    // SAFETY: _exit ends the forked child at once, without running
    // versus' atexit handlers or destructors, which belong to the parent.
    unsafe { libc::_exit(0) }
}

/// The walk's system calls; on failure, the index of the step in
/// [`STEPS`] and its errno.
fn climb(
    entry: &Entry<'_>,
    foothold: &CStr,
    report: &mut [u64; REPORT_WORDS],
) -> Result<(), (usize, i32)> {
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let ok = |step: usize, result: libc::c_int| {
        if result == 0 {
            Ok(())
        } else {
            Err((step, errno()))
        }
    };
    match entry {
        // SAFETY: the jail path is a NUL-terminated string that outlives
        // the call.
        Entry::Chroot(jail) => ok(0, unsafe { libc::chroot(jail.as_ptr()) })?,
        // SAFETY: the fd is the namespace file the parent opened and keeps
        // open until this child has ended.
        Entry::MountNamespace(fd) => ok(0, unsafe { libc::setns(*fd, libc::CLONE_NEWNS) })?,
    }
    // SAFETY: a NUL-terminated literal.
    ok(1, unsafe { libc::chdir(c"/".as_ptr()) })?;
    let root_id = |step: usize| -> Result<(u64, u64), (usize, i32)> {
        // SAFETY: an all-zero `stat` is a valid value for stat(2) to fill.
        let mut status: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated literal and a local buffer of the type
        // stat(2) fills.
        ok(step, unsafe { libc::stat(c"/".as_ptr(), &mut status) })?;
        Ok((status.st_dev, status.st_ino))
    };
    (report[2], report[3]) = root_id(2)?;
    // The escape proper: a new root below the working directory…
    // SAFETY: the foothold is a NUL-terminated string that outlives the
    // call.
    ok(3, unsafe { libc::chroot(foothold.as_ptr()) })?;
    // …so that `..` from here is never stopped at the root. Past the top
    // of the mount tree `..` stays put, so the climb cannot fail and extra
    // steps are harmless.
    for _ in 0..WALK_STEPS {
        // SAFETY: a NUL-terminated literal.
        unsafe { libc::chdir(c"..".as_ptr()) };
    }
    // SAFETY: a NUL-terminated literal.
    ok(4, unsafe { libc::chroot(c".".as_ptr()) })?;
    (report[4], report[5]) = root_id(5)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_read_back_or_refused() {
        let words = |words: [u64; REPORT_WORDS]| -> Vec<u8> {
            words.iter().flat_map(|word| word.to_ne_bytes()).collect()
        };
        let walk = parse_report(&words([0, 0, 1, 2, 3, 4])).unwrap();
        assert_eq!(walk.start, DirId { dev: 1, ino: 2 });
        assert_eq!(walk.end, DirId { dev: 3, ino: 4 });
        let failed = parse_report(&words([4, 1, 0, 0, 0, 0]))
            .unwrap_err()
            .to_string();
        assert!(failed.contains("chroot into the foothold"), "{failed}");
        assert!(failed.contains("EPERM"), "{failed}");
        assert!(parse_report(&[0; 7]).is_err());
    }
}

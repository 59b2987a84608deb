//! Validation of a [`RootfsSpec`] (by `build()`), producing the planned root: the
//! files of a built root checked and their host files resolved, the base directory for
//! its tmpfs chosen, an external directory checked (its `/proc` and `/dev` exist, and
//! none of the directories versus mounts on is a symbolic link), and the command found
//! executable inside the root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::{BUILD_BASES, FileSource, RootfsFile, RootfsSpec, SYSTEM_DIRS, Volume};
use crate::error::{CommandProblem, Error, Result};

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
        /// With `--rootfs-overlay`: where the tmpfs holding the overlay's upper and
        /// work directories and its merged root is mounted (in the child's mount
        /// namespace); `None`: the directory itself is the root.
        overlay: Option<PathBuf>,
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

/// A checked volume: the host path resolved, the mount point cleaned.
#[derive(Debug, Clone)]
pub(crate) struct PlannedVolume {
    pub(crate) host: PathBuf,
    pub(crate) inside: PathBuf,
    pub(crate) read_only: bool,
    pub(crate) is_dir: bool,
}

/// Checks the volumes against the root: the host path exists; the mount point is
/// absolute, not under `/dev`, `/proc` or `/sys` (versus mounts those), not the root,
/// given once; in an external directory it exists already (versus never writes there),
/// of the same kind as the host path, and no part of it is a symbolic link (the mount
/// happens before `pivot_root`, so a link would put it on a host path); in a built root
/// it may not be one of the root's files, and is created.
pub(crate) fn validate_volumes(
    root: &PlannedRootfs,
    volumes: &[Volume],
) -> Result<Vec<PlannedVolume>> {
    let mut planned: Vec<PlannedVolume> = Vec::new();
    for v in volumes {
        let err = |m: String| {
            Error::invalid(
                "--volume",
                format!("{}:{}: {m}", v.host.display(), v.inside.display()),
            )
        };
        // Both become C strings of the mount plan.
        if [&v.host, &v.inside]
            .iter()
            .any(|p| p.as_os_str().as_encoded_bytes().contains(&0))
        {
            return Err(err("a path contains a NUL byte".into()));
        }
        let host = fs::canonicalize(&v.host)
            .map_err(|e| err(format!("the host path cannot be used: {e}")))?;
        let is_dir = host.is_dir();
        let mut inside = PathBuf::from("/");
        for c in v.inside.components() {
            match c {
                Component::Normal(n) => inside.push(n),
                Component::RootDir | Component::CurDir => {}
                _ => return Err(err("the container path may not contain `..`".into())),
            }
        }
        if inside == Path::new("/") {
            return Err(err("the container's root cannot be a volume".into()));
        }
        if ["/dev", "/proc", "/sys"]
            .iter()
            .any(|d| inside.starts_with(d))
        {
            return Err(err(
                "/dev, /proc and /sys are mounted by versus; choose another container path".into(),
            ));
        }
        if planned.iter().any(|p| p.inside == inside) {
            return Err(err("this container path is given twice".into()));
        }
        match root {
            PlannedRootfs::Build { files, .. } => {
                if files
                    .iter()
                    .any(|f| f.path == inside || inside.starts_with(&f.path))
                {
                    return Err(err(
                        "the built root filesystem has a file there; choose another container path"
                            .into(),
                    ));
                }
                if files.iter().any(|f| f.path.starts_with(&inside)) {
                    return Err(err(
                        "it would hide files of the built root filesystem; choose another \
                         container path"
                            .into(),
                    ));
                }
                if !is_dir && inside == Path::new("/tmp") {
                    return Err(err("/tmp is a directory; a file cannot go there".into()));
                }
            }
            PlannedRootfs::Dir { path, .. } => {
                let resolved = resolve_in_root(path, &inside).map_err(|m| {
                    err(format!(
                        "the mount point must exist in the root filesystem (versus never writes \
                         into it): {m}"
                    ))
                })?;
                if resolved != path.join(inside.strip_prefix("/").unwrap_or(&inside)) {
                    return Err(err(
                        "the mount point in the root filesystem passes through a symbolic \
                         link; versus will not follow it — use the link's target"
                            .into(),
                    ));
                }
                if resolved.is_dir() != is_dir {
                    return Err(err(format!(
                        "the host path is {} but the mount point is not",
                        if is_dir { "a directory" } else { "a file" }
                    )));
                }
            }
            PlannedRootfs::Host => {
                return Err(err(
                    "volumes need the container's own root filesystem (not the host's)".into(),
                ));
            }
        }
        planned.push(PlannedVolume {
            host,
            inside,
            read_only: v.read_only,
            is_dir,
        });
    }
    Ok(planned)
}

/// Checks `spec` and opens what must be opened. `keep_visible`: host paths the
/// setup binds later (volumes), which the base of a built root must not hide.
/// `overlay`: an external directory is the lower layer of an overlay whose writes
/// go to a tmpfs that vanishes with the container (only for [`RootfsSpec::Dir`]).
pub(crate) fn validate_root(
    spec: &RootfsSpec,
    keep_visible: &[PathBuf],
    overlay: bool,
) -> Result<PlannedRootfs> {
    if overlay && !matches!(spec, RootfsSpec::Dir(_)) {
        return Err(Error::Conflict(
            "--rootfs-overlay protects a --rootfs directory; a built root filesystem is \
             a fresh tmpfs already"
                .into(),
        ));
    }
    let planned = match spec {
        RootfsSpec::Build { files } => {
            let files = validate_files(files)?;
            let base = choose_base(&files, keep_visible)?;
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
            let overlay = if overlay {
                if path.to_string_lossy().contains([',', ':']) {
                    return Err(Error::Rootfs {
                        path: path.clone(),
                        message: "an overlay's lower directory may not contain ',' or ':' \
                                  (they separate overlayfs options); use a path without them"
                            .into(),
                    });
                }
                let mut visible = keep_visible.to_vec();
                visible.push(path.clone());
                Some(choose_base(&[], &visible)?)
            } else {
                None
            };
            PlannedRootfs::Dir {
                has_tmp: path.join("tmp").is_dir(),
                has_sys: path.join("sys").is_dir(),
                path,
                overlay,
            }
        }
        RootfsSpec::Host => PlannedRootfs::Host,
    };
    Ok(planned)
}

/// The path `execve` gets for `argv0`: `argv0` itself when it holds a `/` (it must
/// then be absolute), otherwise the first executable `DIR/argv0` for the directories
/// of `path_var` (the container's `PATH`), as `execvp` would search — but resolved
/// under the root (links are followed as the container sees them, never out of it)
/// before anything is created.
pub(crate) fn find_command(root: &PlannedRootfs, argv0: &str, path_var: &str) -> Result<String> {
    if argv0.contains('/') {
        check_command(root, argv0)?;
        return Ok(argv0.to_owned());
    }
    if argv0.is_empty() {
        return Err(Error::Command {
            command: argv0.to_owned(),
            problem: CommandProblem::NotFound,
            message: "the command name is empty".into(),
        });
    }
    // As `execvp`: a name found only as something that cannot be executed
    // is that problem (126), not a missing command (127).
    let mut problem = CommandProblem::NotFound;
    for dir in path_var.split(':').filter(|d| d.starts_with('/')) {
        let candidate = format!("{}/{argv0}", dir.trim_end_matches('/'));
        match check_command(root, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(Error::Command {
                problem: CommandProblem::NotExecutable,
                ..
            }) => problem = CommandProblem::NotExecutable,
            Err(_) => {}
        }
    }
    Err(Error::Command {
        command: argv0.to_owned(),
        problem,
        message: format!(
            "no executable file of that name on the container's PATH ({path_var}); give its \
             absolute path inside the root filesystem, or set PATH with -e PATH=..."
        ),
    })
}

/// Checks that `dir` (the `--workdir`) is an absolute path naming a directory of the
/// root: of an external directory (resolved under it), or of a built root (the root,
/// a system directory, a directory holding one of its files, or an `extra` mount point).
pub(crate) fn check_workdir(root: &PlannedRootfs, dir: &str, extra: &[PathBuf]) -> Result<()> {
    let err = |m: String| Error::invalid("--workdir", format!("{dir:?}: {m}"));
    if !dir.starts_with('/') {
        return Err(err("must be an absolute path inside the container".into()));
    }
    // The plan turns it into a C string (chdir).
    if dir.contains('\0') {
        return Err(err("contains a NUL byte".into()));
    }
    match root {
        PlannedRootfs::Build { files, .. } => {
            let want = Path::new(dir).components().collect::<PathBuf>();
            let known = want == Path::new("/")
                || SYSTEM_DIRS.iter().any(|d| want.starts_with(d))
                || extra.iter().any(|m| want.starts_with(m))
                || files
                    .iter()
                    .any(|f| f.path != want && f.path.starts_with(&want));
            if known {
                Ok(())
            } else {
                Err(err(
                    "no such directory in the built root filesystem (it holds only /bin, \
                     /dev, /proc, /sys and /tmp)"
                        .into(),
                ))
            }
        }
        PlannedRootfs::Dir { path, .. } => {
            let resolved = resolve_in_root(path, Path::new(dir)).map_err(err)?;
            if resolved.is_dir() {
                Ok(())
            } else {
                Err(err(format!(
                    "not a directory in the root filesystem {}",
                    path.display()
                )))
            }
        }
        PlannedRootfs::Host => {
            if Path::new(dir).is_dir() {
                Ok(())
            } else {
                Err(err("not a directory".into()))
            }
        }
    }
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
fn choose_base(files: &[PlannedFile], keep_visible: &[PathBuf]) -> Result<PathBuf> {
    BUILD_BASES
        .iter()
        .map(PathBuf::from)
        .find(|b| {
            b.is_dir()
                && !files
                    .iter()
                    .any(|f| matches!(&f.kind, PlannedKind::Bind { host } if host.starts_with(b)))
                && !keep_visible.iter().any(|p| p.starts_with(b))
        })
        .ok_or_else(|| Error::Rootfs {
            path: PathBuf::from("/"),
            message: format!(
                "a built rootfs needs one of {} to exist on the host as a mount point \
                 (mounted over only inside the container), not holding a file or volume to bind",
                BUILD_BASES.join(" ")
            ),
        })
}

/// Checks that `argv0` names an executable file inside the planned root.
fn check_command(root: &PlannedRootfs, argv0: &str) -> Result<()> {
    let err_as = |problem: CommandProblem, m: String| Error::Command {
        command: argv0.to_owned(),
        problem,
        message: m,
    };
    let err = |m: String| err_as(CommandProblem::NotFound, m);
    let not_executable = |m: String| err_as(CommandProblem::NotExecutable, m);
    let file_err = |(problem, m): (CommandProblem, String)| err_as(problem, m);
    if !argv0.starts_with('/') {
        return Err(err(
            "a path must be absolute inside the container (e.g. /bin/sh); a name without '/' \
             is looked up on the container's PATH (e.g. sh)"
                .into(),
        ));
    }
    match root {
        PlannedRootfs::Build { files, .. } => {
            let mut p = PathBuf::from(argv0);
            for _ in 0..40 {
                let Some(f) = files.iter().find(|f| f.path == p) else {
                    return Err(err(format!(
                        "not found in the built rootfs, which holds: {}",
                        built_contents(files)
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
                        return Err(not_executable(format!(
                            "not executable (mode {:o})",
                            f.mode
                        )));
                    }
                    PlannedKind::Bind { host } => {
                        return check_executable_file(host).map_err(file_err);
                    }
                    PlannedKind::Bytes(_) => return Ok(()),
                }
            }
            Err(not_executable("too many levels of symbolic links".into()))
        }
        PlannedRootfs::Dir { path, .. } => {
            let resolved = resolve_in_root(path, Path::new(argv0))
                .map_err(|m| err(format!("not found in rootfs {}: {m}", path.display())))?;
            check_executable_file(&resolved).map_err(file_err)
        }
        PlannedRootfs::Host => check_executable_file(Path::new(argv0)).map_err(file_err),
    }
}

/// What a built root holds, for a message: its files by path, and its
/// symbolic links only counted — with busybox they are its 270 applets,
/// too many to read in one error line.
fn built_contents(files: &[PlannedFile]) -> String {
    let mut names: Vec<String> = files
        .iter()
        .filter(|f| !matches!(f.kind, PlannedKind::Symlink(_)))
        .map(|f| f.path.display().to_string())
        .collect();
    let mut links = files
        .iter()
        .filter(|f| matches!(f.kind, PlannedKind::Symlink(_)));
    if let Some(first) = links.next() {
        names.push(format!(
            "and {} symbolic links such as {}",
            links.count() + 1,
            first.path.display()
        ));
    }
    names.join(" ")
}

/// Checks that `p` is an executable regular file; otherwise why not, with
/// the shell's class of the problem (missing, or there but not runnable).
fn check_executable_file(p: &Path) -> std::result::Result<(), (CommandProblem, String)> {
    let meta = fs::metadata(p).map_err(|e| {
        let problem = if e.kind() == std::io::ErrorKind::NotFound {
            CommandProblem::NotFound
        } else {
            CommandProblem::NotExecutable
        };
        (problem, format!("{}: {e}", p.display()))
    })?;
    if !meta.is_file() {
        return Err((
            CommandProblem::NotExecutable,
            format!("{} is not a regular file", p.display()),
        ));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err((
            CommandProblem::NotExecutable,
            format!(
                "{} is not executable (mode {:o})",
                p.display(),
                meta.permissions().mode() & 0o7777
            ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::{DEFAULT_PATH, WORKLOAD_PATH};

    fn validate(spec: &RootfsSpec, argv0: &str) -> Result<PlannedRootfs> {
        let root = validate_root(spec, &[], false)?;
        find_command(&root, argv0, DEFAULT_PATH)?;
        Ok(root)
    }

    #[test]
    fn built_rootfs_validation() {
        let ok = RootfsSpec::workload(b"x".to_vec());
        assert!(validate(&ok, WORKLOAD_PATH).is_ok());
        let e = validate(&ok, "/bin/sh").unwrap_err().to_string();
        assert!(e.contains("not found in the built rootfs"), "{e}");
        assert!(e.contains("/bin/versus-workload"), "{e}");
        let e = validate(&ok, "bin/versus-workload")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be absolute"), "{e}");
        // A name is looked up on PATH inside the root, not on the host.
        let root = validate_root(&ok, &[], false).unwrap();
        assert_eq!(
            find_command(&root, "versus-workload", DEFAULT_PATH).unwrap(),
            WORKLOAD_PATH
        );
        let e = find_command(&root, "ls", DEFAULT_PATH)
            .unwrap_err()
            .to_string();
        assert!(e.contains("container's PATH"), "{e}");
        assert!(check_workdir(&root, "/bin", &[]).is_ok());
        assert!(check_workdir(&root, "/tmp/x", &[]).is_ok());
        let e = check_workdir(&root, "/nowhere", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such directory"), "{e}");
        assert!(check_workdir(&root, "bin", &[]).is_err());
        // A NUL byte would panic the plan's C string: refused here.
        let e = check_workdir(&root, "/tmp/x\0", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("NUL"), "{e}");
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
        let root = validate_root(&RootfsSpec::Dir(d.path().into()), &[], false).unwrap();
        assert_eq!(
            find_command(&root, "sh", "/usr/bin:/bin").unwrap(),
            "/bin/sh"
        );
        assert!(check_workdir(&root, "/bin", &[]).is_ok());
        let e = check_workdir(&root, "/bin/sh", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
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
            choose_base(&[bind("/usr/bin/busybox")], &[]).unwrap(),
            Path::new("/tmp")
        );
        let b = choose_base(&[bind("/tmp/build/versus-workload")], &[]).unwrap();
        assert_ne!(b, Path::new("/tmp"));
        // A volume's host path stays visible too.
        let b = choose_base(&[], &[PathBuf::from("/tmp/data")]).unwrap();
        assert_ne!(b, Path::new("/tmp"));
    }

    #[test]
    fn volumes_are_checked_against_the_root() {
        let host = tempfile::tempdir().unwrap();
        let host_file = host.path().join("f");
        fs::write(&host_file, "x").unwrap();
        let vol = |h: &Path, inside: &str| Volume {
            host: h.to_path_buf(),
            inside: inside.into(),
            read_only: false,
        };
        let err = |root: &PlannedRootfs, v: Vec<Volume>| {
            validate_volumes(root, &v).unwrap_err().to_string()
        };

        let built = validate_root(&RootfsSpec::workload(b"x".to_vec()), &[], false).unwrap();
        let ok = validate_volumes(&built, &[vol(host.path(), "/data/./in")]).unwrap();
        assert_eq!(ok[0].inside, Path::new("/data/in"));
        assert!(ok[0].is_dir);
        assert!(err(&built, vec![vol(Path::new("/nonexistent/v"), "/x")]).contains("host path"));
        assert!(err(&built, vec![vol(host.path(), "/proc/x")]).contains("/proc"));
        assert!(err(&built, vec![vol(host.path(), "/")]).contains("root"));
        assert!(err(&built, vec![vol(host.path(), "/a/../b")]).contains(".."));
        assert!(err(&built, vec![vol(host.path(), "/bin")]).contains("hide files"));
        assert!(err(&built, vec![vol(&host_file, "/tmp")]).contains("/tmp is a directory"));
        let twice = vec![vol(host.path(), "/d"), vol(&host_file, "/d")];
        assert!(err(&built, twice).contains("twice"));

        let d = tempfile::tempdir().unwrap();
        for dir in ["proc", "dev", "mnt", "real"] {
            fs::create_dir(d.path().join(dir)).unwrap();
        }
        fs::write(d.path().join("file"), "").unwrap();
        std::os::unix::fs::symlink("/real", d.path().join("link")).unwrap();
        let dir_root = validate_root(&RootfsSpec::Dir(d.path().into()), &[], false).unwrap();
        assert!(validate_volumes(&dir_root, &[vol(host.path(), "/mnt")]).is_ok());
        let e = validate_volumes(&built, &[vol(host.path(), "/data\0x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("NUL"), "{e}");
        assert!(validate_volumes(&dir_root, &[vol(&host_file, "/file")]).is_ok());
        assert!(err(&dir_root, vec![vol(host.path(), "/missing")]).contains("must exist"));
        assert!(err(&dir_root, vec![vol(host.path(), "/link")]).contains("symbolic link"));
        assert!(err(&dir_root, vec![vol(&host_file, "/mnt")]).contains("a file but"));
        assert!(err(&PlannedRootfs::Host, vec![vol(host.path(), "/mnt")]).contains("own root"));
    }

    #[test]
    fn an_overlay_needs_a_directory_without_option_separators() {
        let e = validate_root(&RootfsSpec::workload(b"x".to_vec()), &[], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--rootfs-overlay"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let odd = d.path().join("a,b");
        for dir in ["proc", "dev"] {
            fs::create_dir_all(odd.join(dir)).unwrap();
        }
        let e = validate_root(&RootfsSpec::Dir(odd), &[], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("',' or ':'"), "{e}");
        let fine = d.path().join("root");
        for dir in ["proc", "dev"] {
            fs::create_dir_all(fine.join(dir)).unwrap();
        }
        let PlannedRootfs::Dir { overlay, .. } =
            validate_root(&RootfsSpec::Dir(fine.clone()), &[], true).unwrap()
        else {
            panic!("a directory root");
        };
        // The overlay's tmpfs may not hide the lower directory.
        assert!(!fine.starts_with(overlay.unwrap()));
    }
}

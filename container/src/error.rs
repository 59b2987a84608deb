//! The one error type of the crate. Every variant keeps the context a person needs to
//! act on it: which file, which step, which controller, and what to do about it.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// Why a command cannot run, in the shell's two classes: its exit status
/// ([`CommandProblem::shell_status`]) tells a missing command from a found
/// one that cannot be executed, as `sh` and `docker run` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandProblem {
    /// No such file, not on `PATH`, or no usable name: status 127.
    NotFound,
    /// Found, but not an executable regular file: status 126.
    NotExecutable,
}

impl CommandProblem {
    /// The exit status a shell gives for this problem: 127 or 126.
    pub fn shell_status(self) -> u8 {
        match self {
            Self::NotFound => 127,
            Self::NotExecutable => 126,
        }
    }
}

/// Everything that can go wrong while describing, launching or tearing down a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A builder field has a value that cannot work (checked by `build()` before launch).
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field, as the CLI flag names it (`--memory`, `--cap-add`, `id`, …).
        field: &'static str,
        /// What is wrong and, where possible, what would be right.
        message: String,
    },

    /// Two settings contradict each other (e.g. a built rootfs with a shared mount namespace).
    #[error("conflicting settings: {0}")]
    Conflict(String),

    /// The root filesystem cannot be used.
    #[error("rootfs {path}: {message}", path = path.display())]
    Rootfs {
        /// The directory (or, for a built rootfs, the file inside it) that is wrong.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The command cannot run in the chosen root filesystem.
    #[error("command {command}: {message}")]
    Command {
        /// `argv[0]`, a path inside the root filesystem.
        command: String,
        /// Whether it is missing or cannot be executed (the shell's 127/126).
        problem: CommandProblem,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// A limit was requested but the cgroup controller it needs is not usable here.
    #[error(
        "the {limit} limit needs the cgroup `{controller}` controller, which is not available: {reason}; fix: {fix}"
    )]
    ControllerMissing {
        /// `memory`, `pids` or `cpu`.
        controller: &'static str,
        /// The flag that asked for it, e.g. `--memory`.
        limit: &'static str,
        /// Why it is not usable.
        reason: String,
        /// A command or setting that makes it usable.
        fix: String,
    },

    /// Limits were requested where no cgroup can be created (rootless without delegation).
    #[error("cannot apply {limits}: {reason}")]
    NoCgroup {
        /// The requested limits, as flags.
        limits: String,
        /// Why no cgroup is usable, and what would make one usable.
        reason: String,
    },

    /// The device allow-list cannot be enforced here (no `devices` controller on cgroup
    /// v1, no BPF device program on cgroup v2).
    #[error("the container's device allow-list cannot be enforced: {reason}; fix: {fix}")]
    Devices {
        /// What is missing or what failed.
        reason: String,
        /// A command or setting that makes it work.
        fix: String,
    },

    /// A cgroup file operation failed.
    #[error("cgroup: failed to {action} {path}: {source}", path = path.display())]
    Cgroup {
        /// What was being done: `create`, `write "100000" to`, `read`, `remove`.
        action: String,
        /// The file or directory.
        path: PathBuf,
        /// The error from the kernel.
        source: io::Error,
    },

    /// Not root, and user namespaces (the only rootless way) are not available.
    #[error("cannot run a container as uid {uid}: {reason}")]
    RootlessUnavailable {
        /// The effective uid of the launcher.
        uid: u32,
        /// Why user namespaces cannot be used, with the fix.
        reason: String,
    },

    /// A system call of the launcher (parent side) failed.
    #[error("{context}: {errno}")]
    Sys {
        /// What the launcher was doing.
        context: String,
        /// The error number.
        errno: Errno,
    },

    /// A file operation of the launcher (parent side) failed.
    #[error("{context}: {source}")]
    Io {
        /// What the launcher was doing.
        context: String,
        /// The error.
        source: io::Error,
    },

    /// A step inside the child failed before the command ran; reported over the error pipe.
    #[error("container setup failed: {step} failed: {errno}{hint}")]
    Setup {
        /// The step, e.g. `pivot_root into /srv/rootfs` or `execve /bin/versus-workload`.
        step: String,
        /// The error number the kernel returned.
        errno: Errno,
        /// Extra advice, starting with "; " (or empty).
        hint: String,
    },

    /// The child ended before it reached `execve` without saying why.
    #[error("the container's first process ended during setup ({status})")]
    ChildDied {
        /// The wait status, in words.
        status: String,
    },

    /// The seccomp filter could not be compiled.
    #[error("seccomp filter: {0}")]
    Seccomp(String),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn sys(context: impl Into<String>, errno: Errno) -> Self {
        Error::Sys {
            context: context.into(),
            errno,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

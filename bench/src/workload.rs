//! The workload's contract seen from the host: which tasks exist and what
//! arguments they take, where the workload comes from (embedded or a file),
//! and the parser for the `@versus …` lines it prints.
//!
//! The grammar (see `docs/en/workload.md`): a line that starts with
//! `@versus ` carries space-separated `key=value` fields. A value is bare
//! (printable ASCII without space, `"`, `\` or `=`) or double-quoted with
//! `\"`, `\\` and `\xNN` escapes. The first field is `task=<name>`, except on
//! the start marker, which reads `@versus start task=<name> pid=<n> mono_ns=<n>`.
//! Every other line is ordinary program output and is not parsed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The prefix of every line the harness parses.
pub const LINE_PREFIX: &str = "@versus ";

/// One numeric argument of a task: its name in messages, default and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// Name used in usage text and error messages (`N`, `MIB`, `BYTES`).
    pub name: &'static str,
    /// Value used when the argument is left out.
    pub default: u64,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
}

/// A task of the workload and the arguments it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSpec {
    /// The task's name, the workload's first argument.
    pub name: &'static str,
    /// Its numeric arguments, in order; each may be left out (defaults apply).
    pub args: &'static [ArgSpec],
    /// One line saying what it measures or shows.
    pub summary: &'static str,
}

const fn arg(name: &'static str, default: u64, min: u64, max: u64) -> ArgSpec {
    ArgSpec {
        name,
        default,
        min,
        max,
    }
}

/// Upper bound for iteration counts: the workload keeps them in 32 bits.
const MAX_ITERS: u64 = u32::MAX as u64;

/// Every task the workload knows, in the order `suite` runs them (`suite`
/// leaves out `fuzz`, which measures nothing).
pub const TASKS: &[TaskSpec] = &[
    TaskSpec {
        name: "startup",
        args: &[],
        summary: "print the start marker and exit at once",
    },
    TaskSpec {
        name: "getpid",
        args: &[arg("N", 1_000_000, 1, MAX_ITERS)],
        summary: "N getpid system calls: the cost of entering the kernel",
    },
    TaskSpec {
        name: "compute",
        args: &[arg("N", 10_000_000, 1, MAX_ITERS)],
        summary: "N rounds of integer arithmetic with no system call",
    },
    TaskSpec {
        name: "memtouch",
        args: &[arg("MIB", 64, 1, 65_536)],
        summary: "map MIB MiB and touch every page: page-fault cost",
    },
    TaskSpec {
        name: "write",
        args: &[arg("N", 1_000, 1, MAX_ITERS), arg("BYTES", 64, 1, 65_536)],
        summary: "N writes of BYTES bytes to stdout: console I/O cost",
    },
    TaskSpec {
        name: "uname",
        args: &[],
        summary: "which kernel answers: sysname, release, version",
    },
    TaskSpec {
        name: "ids",
        args: &[],
        summary: "pid, ppid, uid, gid and hostname as the workload sees them",
    },
    TaskSpec {
        name: "status",
        args: &[],
        summary: "capabilities, no_new_privs and seccomp from /proc/self/status",
    },
    TaskSpec {
        name: "probe",
        args: &[],
        summary: "try privileged calls harmlessly and report each errno",
    },
    TaskSpec {
        name: "spawn",
        args: &[arg("N", 10, 1, 4_096)],
        summary: "fork N children that live at once; how many succeeded",
    },
    TaskSpec {
        name: "fuzz",
        args: &[arg("SEED", 1, 0, MAX_ITERS), arg("N", 10_000, 1, MAX_ITERS)],
        summary: "N system calls with random numbers and hostile arguments: the kernel must answer each",
    },
    TaskSpec {
        name: "suite",
        args: &[],
        summary: "every task above but fuzz, with small defaults",
    },
];

/// Looks a task up by name.
pub fn task_spec(name: &str) -> Option<&'static TaskSpec> {
    TASKS.iter().find(|spec| spec.name == name)
}

/// The task names, space-separated, for messages.
pub fn task_names() -> String {
    TASKS
        .iter()
        .map(|spec| spec.name)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A task with validated arguments, ready to pass to the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInvocation {
    /// The task name.
    pub task: String,
    /// The numeric arguments with defaults filled in.
    pub args: Vec<u64>,
}

impl TaskInvocation {
    /// Validates `argv` (task name first) against [`TASKS`].
    ///
    /// # Example
    /// ```
    /// let inv = bench::workload::TaskInvocation::parse(&["getpid", "1000"]).unwrap();
    /// assert_eq!(inv.argv(), vec!["getpid".to_string(), "1000".to_string()]);
    /// ```
    pub fn parse<S: AsRef<str>>(argv: &[S]) -> Result<Self, TaskError> {
        let Some((name, rest)) = argv.split_first() else {
            return Err(TaskError::MissingTask);
        };
        let name = name.as_ref();
        let spec = task_spec(name).ok_or_else(|| TaskError::UnknownTask(name.to_string()))?;
        if rest.len() > spec.args.len() {
            return Err(TaskError::TooManyArguments {
                task: spec.name,
                expected: spec.args.len(),
                got: rest.len(),
            });
        }
        let mut args = Vec::with_capacity(spec.args.len());
        for (index, arg) in spec.args.iter().enumerate() {
            let value = match rest.get(index) {
                None => arg.default,
                Some(text) => parse_count(spec.name, arg, text.as_ref())?,
            };
            args.push(value);
        }
        Ok(Self {
            task: spec.name.to_string(),
            args,
        })
    }

    /// The workload's command line for this invocation (without argv\[0\]).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.task.clone())
            .chain(self.args.iter().map(u64::to_string))
            .collect()
    }
}

fn parse_count(task: &'static str, arg: &ArgSpec, text: &str) -> Result<u64, TaskError> {
    let bad = || TaskError::BadArgument {
        task,
        arg: arg.name,
        min: arg.min,
        max: arg.max,
        got: text.to_string(),
    };
    let value: u64 = text.parse().map_err(|_| bad())?;
    if !(arg.min..=arg.max).contains(&value) {
        return Err(bad());
    }
    Ok(value)
}

/// A task command line that the workload would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No task was given.
    #[error("no task given; tasks: {}", task_names())]
    MissingTask,
    /// The task name is not one of [`TASKS`].
    #[error("unknown task '{0}'; tasks: {names}", names = task_names())]
    UnknownTask(String),
    /// A count is not a number or is out of range.
    #[error("{task}: {arg} must be an integer from {min} to {max}, got '{got}'")]
    BadArgument {
        /// The task.
        task: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
        /// What was given.
        got: String,
    },
    /// More arguments than the task takes.
    #[error("{task} takes at most {expected} argument(s), got {got}")]
    TooManyArguments {
        /// The task.
        task: &'static str,
        /// How many it takes.
        expected: usize,
        /// How many were given.
        got: usize,
    },
}

/// Where the workload binary comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadSource {
    /// The image embedded in versus at build time.
    Embedded,
    /// A static ELF file given with `--workload`.
    File(PathBuf),
}

/// A workload binary, checked to be a static x86-64 ELF executable.
#[derive(Debug, Clone)]
pub struct Workload {
    source: WorkloadSource,
    bytes: std::borrow::Cow<'static, [u8]>,
}

impl Workload {
    /// The workload built into versus.
    pub fn embedded() -> Self {
        Self {
            source: WorkloadSource::Embedded,
            bytes: std::borrow::Cow::Borrowed(versus_images::WORKLOAD),
        }
    }

    /// Reads (at most [`file::WORKLOAD_MAX_BYTES`], a regular file only:
    /// [`file::read_image`]) and checks a workload file.
    pub fn from_file(path: &Path) -> Result<Self, WorkloadError> {
        let bytes = file::read_image(path, file::ImageKind::Workload)?;
        check_static_elf(&bytes).map_err(|problem| WorkloadError::NotStaticElf {
            path: path.to_path_buf(),
            problem,
        })?;
        Ok(Self {
            source: WorkloadSource::File(path.to_path_buf()),
            bytes: std::borrow::Cow::Owned(bytes),
        })
    }

    /// Where it came from.
    pub fn source(&self) -> &WorkloadSource {
        &self.source
    }

    /// The ELF image.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True for the embedded workload, whose tasks versus knows.
    pub fn is_embedded(&self) -> bool {
        self.source == WorkloadSource::Embedded
    }
}

/// A `--workload` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read, is not a regular file or is too large.
    #[error(transparent)]
    File(#[from] file::ImageFileError),
    /// The file is not a static x86-64 ELF executable.
    #[error("workload {path} is not usable: {problem}")]
    NotStaticElf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: ElfProblem,
    },
}

/// What disqualifies a file as a workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfProblem {
    /// No ELF magic number.
    #[error("not an ELF file (it does not start with \\x7fELF)")]
    NotElf,
    /// Shorter than its own headers say.
    #[error("truncated ELF file")]
    Truncated,
    /// 32-bit, big-endian or another machine.
    #[error(
        "not a 64-bit little-endian x86-64 ELF (class {class}, data {data}, machine {machine})"
    )]
    WrongMachine {
        /// EI_CLASS.
        class: u8,
        /// EI_DATA.
        data: u8,
        /// e_machine.
        machine: u16,
    },
    /// A relocatable object, core file or shared library.
    #[error("not an executable (ELF type {0}); link it as a static executable")]
    NotExecutable(u16),
    /// It asks for a dynamic loader, which a container rootfs or VM lacks.
    #[error(
        "dynamically linked (it asks for the loader {0}); versus runs static executables only: link with -static"
    )]
    Dynamic(String),
}

/// Reading a `--workload` or `--kernel` file: the one place that opens
/// them, so that neither can hang on a fifo nor fill memory from a device.
///
/// The file must be a regular file (checked with `stat` before it is opened,
/// and again on the open file, which is opened `O_NONBLOCK` so that a fifo
/// swapped in between cannot block), no larger than its limit; at most
/// limit + 1 bytes are read, so a file that grows meanwhile is caught too.
pub mod file {
    use std::fs::{File, OpenOptions};
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    use std::path::{Path, PathBuf};

    /// Largest `--workload` file versus reads: 64 MiB. The VMM places the
    /// whole image in guest RAM and the container copies it into the root,
    /// so a bound keeps a wrong path from costing seconds and gigabytes
    /// (the embedded workload is a few tens of KiB; a static glibc program
    /// one or two MiB).
    pub const WORKLOAD_MAX_BYTES: u64 = 64 << 20;
    /// Largest `--kernel` file versus reads: the VMM's own limit,
    /// [`hypervisor::layout::KERNEL_MAX_SIZE`] (64 MiB).
    pub const KERNEL_MAX_BYTES: u64 = hypervisor::layout::KERNEL_MAX_SIZE;

    /// Which image a file is meant to be.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ImageKind {
        /// A `--workload` executable.
        Workload,
        /// A `--kernel` ELF.
        Kernel,
    }

    impl ImageKind {
        /// The most bytes such a file may have.
        pub fn limit(self) -> u64 {
            match self {
                ImageKind::Workload => WORKLOAD_MAX_BYTES,
                ImageKind::Kernel => KERNEL_MAX_BYTES,
            }
        }
    }

    impl std::fmt::Display for ImageKind {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(match self {
                ImageKind::Workload => "workload",
                ImageKind::Kernel => "kernel",
            })
        }
    }

    /// A workload or kernel file that cannot be read.
    #[derive(Debug, thiserror::Error)]
    pub enum ImageFileError {
        /// `stat`, `open` or `read` failed.
        #[error("cannot read {kind} {path}")]
        Io {
            /// Which image.
            kind: ImageKind,
            /// The file.
            path: PathBuf,
            /// Why.
            source: std::io::Error,
        },
        /// A directory, device, fifo or socket.
        #[error("{kind} {path} is {what}, not a regular file")]
        NotRegular {
            /// Which image.
            kind: ImageKind,
            /// The file.
            path: PathBuf,
            /// "a directory", "a character device", …
            what: &'static str,
        },
        /// Larger than [`ImageKind::limit`].
        #[error(
            "{kind} {path} is {size} bytes; at most {limit} bytes ({} MiB) are accepted",
            limit >> 20
        )]
        TooLarge {
            /// Which image.
            kind: ImageKind,
            /// The file.
            path: PathBuf,
            /// Its size (at least; a growing file is not read to its end).
            size: u64,
            /// The limit.
            limit: u64,
        },
    }

    /// What a file type is called in messages, `None` for a regular file.
    fn not_regular(file_type: std::fs::FileType) -> Option<&'static str> {
        if file_type.is_file() {
            None
        } else if file_type.is_dir() {
            Some("a directory")
        } else if file_type.is_fifo() {
            Some("a fifo")
        } else if file_type.is_socket() {
            Some("a socket")
        } else if file_type.is_char_device() {
            Some("a character device")
        } else if file_type.is_block_device() {
            Some("a block device")
        } else {
            Some("not a regular file")
        }
    }

    /// Reads a regular file of at most `kind.limit()` bytes (see the module
    /// documentation).
    pub fn read_image(path: &Path, kind: ImageKind) -> Result<Vec<u8>, ImageFileError> {
        read_limited(path, kind, kind.limit())
    }

    /// [`read_image`] with the limit given (for tests).
    pub fn read_limited(
        path: &Path,
        kind: ImageKind,
        limit: u64,
    ) -> Result<Vec<u8>, ImageFileError> {
        let io = |source| ImageFileError::Io {
            kind,
            path: path.to_path_buf(),
            source,
        };
        let check = |meta: &std::fs::Metadata| {
            if let Some(what) = not_regular(meta.file_type()) {
                return Err(ImageFileError::NotRegular {
                    kind,
                    path: path.to_path_buf(),
                    what,
                });
            }
            if meta.len() > limit {
                return Err(ImageFileError::TooLarge {
                    kind,
                    path: path.to_path_buf(),
                    size: meta.len(),
                    limit,
                });
            }
            Ok(meta.len())
        };
        // Before opening: opening a socket fails with a puzzling ENXIO, and
        // a device need not be opened at all.
        check(&std::fs::metadata(path).map_err(io)?)?;
        let file: File = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        let size = check(&file.metadata().map_err(io)?)?;
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(ImageFileError::TooLarge {
                kind,
                path: path.to_path_buf(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
    }
}

/// ELF constants used by [`check_static_elf`] (from the System V ABI).
mod elf {
    pub const MAGIC: &[u8; 4] = b"\x7fELF";
    pub const CLASS64: u8 = 2;
    pub const DATA_LSB: u8 = 1;
    pub const MACHINE_X86_64: u16 = 62;
    pub const TYPE_EXEC: u16 = 2;
    pub const TYPE_DYN: u16 = 3;
    pub const PT_INTERP: u32 = 3;
    pub const HEADER_SIZE: usize = 64;
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Checks that `bytes` is a static x86-64 ELF executable (a static-pie
/// `ET_DYN` without an interpreter counts as static).
pub fn check_static_elf(bytes: &[u8]) -> Result<(), ElfProblem> {
    if bytes.len() < 4 || &bytes[..4] != elf::MAGIC {
        return Err(ElfProblem::NotElf);
    }
    if bytes.len() < elf::HEADER_SIZE {
        return Err(ElfProblem::Truncated);
    }
    let (class, data) = (bytes[4], bytes[5]);
    let machine = read_u16(bytes, 18).ok_or(ElfProblem::Truncated)?;
    if class != elf::CLASS64 || data != elf::DATA_LSB || machine != elf::MACHINE_X86_64 {
        return Err(ElfProblem::WrongMachine {
            class,
            data,
            machine,
        });
    }
    let kind = read_u16(bytes, 16).ok_or(ElfProblem::Truncated)?;
    if kind != elf::TYPE_EXEC && kind != elf::TYPE_DYN {
        return Err(ElfProblem::NotExecutable(kind));
    }
    let phoff = read_u64(bytes, 32).ok_or(ElfProblem::Truncated)?;
    let phentsize = read_u16(bytes, 54).ok_or(ElfProblem::Truncated)?;
    let phnum = read_u16(bytes, 56).ok_or(ElfProblem::Truncated)?;
    for index in 0..u64::from(phnum) {
        let at = phoff
            .checked_add(index * u64::from(phentsize))
            .and_then(|at| usize::try_from(at).ok())
            .ok_or(ElfProblem::Truncated)?;
        let p_type = read_u32(bytes, at).ok_or(ElfProblem::Truncated)?;
        if p_type == elf::PT_INTERP {
            let offset = read_u64(bytes, at + 8).ok_or(ElfProblem::Truncated)?;
            let size = read_u64(bytes, at + 32).ok_or(ElfProblem::Truncated)?;
            let interp = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(offset, size)| bytes.get(offset..offset.checked_add(size)?))
                .ok_or(ElfProblem::Truncated)?;
            let interp = String::from_utf8_lossy(interp)
                .trim_end_matches('\0')
                .to_string();
            return Err(ElfProblem::Dynamic(interp));
        }
    }
    Ok(())
}

/// The start marker: the first line of every task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartMarker {
    /// The task that started.
    pub task: String,
    /// The workload's pid as its kernel reports it.
    pub pid: u64,
    /// CLOCK_MONOTONIC in the workload's kernel at the start, in ns.
    pub mono_ns: u64,
}

/// What `/proc/self/status` said about the workload's privileges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProcStatus {
    /// The file was read; `None` marks a field the kernel did not print.
    Available {
        /// Effective capability set (hex mask).
        cap_eff: Option<String>,
        /// Permitted capability set (hex mask).
        cap_prm: Option<String>,
        /// Bounding set (hex mask).
        cap_bnd: Option<String>,
        /// `NoNewPrivs` (0 or 1).
        no_new_privs: Option<String>,
        /// `Seccomp` mode: 0 none, 1 strict, 2 filter.
        seccomp: Option<String>,
        /// Number of seccomp filters installed.
        seccomp_filters: Option<String>,
    },
    /// The file could not be opened (no `/proc`, as in a VM's tiny kernel).
    Unavailable {
        /// The errno name from `openat`.
        errno: String,
    },
}

/// One result line, typed by task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum TaskResult {
    /// `startup`: nothing but the start marker.
    Startup,
    /// `getpid N`.
    Getpid {
        /// Calls made.
        iters: u64,
        /// Nanoseconds per call.
        ns_per_op: f64,
        /// Nanoseconds for the whole loop.
        total_ns: u64,
        /// The pid returned.
        pid: u64,
    },
    /// `compute N`.
    Compute {
        /// Rounds computed.
        iters: u64,
        /// Nanoseconds per round.
        ns_per_op: f64,
        /// Nanoseconds for the whole loop.
        total_ns: u64,
        /// The deterministic result; equal on every backend.
        checksum: u64,
    },
    /// `memtouch MIB`.
    Memtouch {
        /// MiB mapped.
        mib: u64,
        /// 4 KiB pages touched.
        pages: u64,
        /// Nanoseconds per page (fault included).
        ns_per_page: f64,
        /// Nanoseconds for map + touch + unmap.
        total_ns: u64,
    },
    /// `write N BYTES`.
    Write {
        /// Writes made.
        iters: u64,
        /// Bytes per write.
        bytes: u64,
        /// Nanoseconds per write.
        ns_per_op: f64,
        /// Nanoseconds for the whole loop.
        total_ns: u64,
        /// The file descriptor written to.
        fd: u64,
    },
    /// `uname`.
    Uname {
        /// Kernel name.
        sysname: String,
        /// Host name.
        nodename: String,
        /// Kernel release.
        release: String,
        /// Kernel build string.
        version: String,
        /// Hardware name.
        machine: String,
    },
    /// `ids`.
    Ids {
        /// Process id.
        pid: u64,
        /// Parent process id (0 for a PID 1).
        ppid: u64,
        /// User id.
        uid: u64,
        /// Group id.
        gid: u64,
        /// Host name (UTS namespace).
        hostname: String,
    },
    /// `status`.
    Status(ProcStatus),
    /// `probe`: each attempted call and its outcome (`ok` or an errno name).
    Probe {
        /// Call name → outcome.
        outcomes: BTreeMap<String, String>,
    },
    /// `spawn N`.
    Spawn {
        /// Children asked for.
        requested: u64,
        /// Children created.
        spawned: u64,
        /// The errno of the first failed clone, if any.
        errno: Option<String>,
        /// Nanoseconds for creating and reaping them.
        total_ns: u64,
        /// Nanoseconds per child.
        ns_per_op: f64,
    },
    /// `suite`: how many of its tasks completed.
    Suite {
        /// Tasks that did not fail.
        completed: u64,
    },
    /// `fuzz SEED N`: how the kernel answered N hostile system calls.
    Fuzz {
        /// The generator's seed (the same seed repeats the same calls).
        seed: u64,
        /// Calls made.
        calls: u64,
        /// Calls that returned a result.
        succeeded: u64,
        /// Calls that returned an errno other than ENOSYS.
        failed: u64,
        /// Calls the kernel does not implement.
        enosys: u64,
    },
    /// A task that reported a runtime failure.
    Failed {
        /// The task's name (in the `failed_task` field of the JSON).
        failed_task: String,
        /// The errno name.
        error: String,
    },
    /// A task this version of versus does not know (from a `--workload`
    /// that speaks the same line format); its fields as printed.
    Other {
        /// The task's name.
        name: String,
        /// Its fields.
        fields: BTreeMap<String, String>,
    },
}

impl TaskResult {
    /// The task's name as the workload printed it.
    pub fn task_name(&self) -> &str {
        match self {
            Self::Startup => "startup",
            Self::Getpid { .. } => "getpid",
            Self::Compute { .. } => "compute",
            Self::Memtouch { .. } => "memtouch",
            Self::Write { .. } => "write",
            Self::Uname { .. } => "uname",
            Self::Ids { .. } => "ids",
            Self::Status(_) => "status",
            Self::Probe { .. } => "probe",
            Self::Spawn { .. } => "spawn",
            Self::Suite { .. } => "suite",
            Self::Fuzz { .. } => "fuzz",
            Self::Failed { failed_task, .. } => failed_task,
            Self::Other { name, .. } => name,
        }
    }
}

/// A parsed `@versus` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// The start marker.
    Start(StartMarker),
    /// A result line.
    Result(TaskResult),
}

/// A malformed `@versus` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed workload line {line:?}: {problem}")]
pub struct ParseError {
    /// The offending line.
    pub line: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Parses one line of workload output: `Ok(None)` for ordinary output,
/// `Ok(Some(record))` for a well-formed `@versus` line, and an error that
/// names the problem for a malformed one.
pub fn parse_line(line: &str) -> Result<Option<Record>, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let Some(body) = line.strip_prefix(LINE_PREFIX) else {
        return Ok(None);
    };
    let fail = |problem: String| ParseError {
        line: line.to_string(),
        problem,
    };
    let (is_start, body) = match body.strip_prefix("start ") {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let mut fields = Fields::lex(body).map_err(fail)?;
    let task = fields.string("task").map_err(fail)?;
    let record = if is_start {
        Record::Start(StartMarker {
            task,
            pid: fields.u64("pid").map_err(fail)?,
            mono_ns: fields.u64("mono_ns").map_err(fail)?,
        })
    } else {
        Record::Result(typed_result(task, &mut fields).map_err(fail)?)
    };
    Ok(Some(record))
}

fn typed_result(task: String, fields: &mut Fields) -> Result<TaskResult, String> {
    if fields.has("error") {
        return Ok(TaskResult::Failed {
            failed_task: task,
            error: fields.string("error")?,
        });
    }
    Ok(match task.as_str() {
        "startup" => TaskResult::Startup,
        "getpid" => TaskResult::Getpid {
            iters: fields.u64("iters")?,
            ns_per_op: fields.f64("ns_per_op")?,
            total_ns: fields.u64("total_ns")?,
            pid: fields.u64("pid")?,
        },
        "compute" => TaskResult::Compute {
            iters: fields.u64("iters")?,
            ns_per_op: fields.f64("ns_per_op")?,
            total_ns: fields.u64("total_ns")?,
            checksum: fields.hex_u64("checksum")?,
        },
        "memtouch" => TaskResult::Memtouch {
            mib: fields.u64("mib")?,
            pages: fields.u64("pages")?,
            ns_per_page: fields.f64("ns_per_page")?,
            total_ns: fields.u64("total_ns")?,
        },
        "write" => TaskResult::Write {
            iters: fields.u64("iters")?,
            bytes: fields.u64("bytes")?,
            ns_per_op: fields.f64("ns_per_op")?,
            total_ns: fields.u64("total_ns")?,
            fd: fields.u64("fd")?,
        },
        "uname" => TaskResult::Uname {
            sysname: fields.string("sysname")?,
            nodename: fields.string("nodename")?,
            release: fields.string("release")?,
            version: fields.string("version")?,
            machine: fields.string("machine")?,
        },
        "ids" => TaskResult::Ids {
            pid: fields.u64("pid")?,
            ppid: fields.u64("ppid")?,
            uid: fields.u64("uid")?,
            gid: fields.u64("gid")?,
            hostname: fields.string("hostname")?,
        },
        "status" if fields.has("unavailable") => TaskResult::Status(ProcStatus::Unavailable {
            errno: fields.string("unavailable")?,
        }),
        "status" => TaskResult::Status(ProcStatus::Available {
            cap_eff: fields.known("cap_eff")?,
            cap_prm: fields.known("cap_prm")?,
            cap_bnd: fields.known("cap_bnd")?,
            no_new_privs: fields.known("no_new_privs")?,
            seccomp: fields.known("seccomp")?,
            seccomp_filters: fields.known("seccomp_filters")?,
        }),
        "probe" => {
            if fields.is_empty() {
                return Err("a probe line must report at least one call".to_string());
            }
            TaskResult::Probe {
                outcomes: fields.take_all(),
            }
        }
        "spawn" => TaskResult::Spawn {
            requested: fields.u64("requested")?,
            spawned: fields.u64("spawned")?,
            errno: Some(fields.string("errno")?).filter(|errno| errno != "none"),
            total_ns: fields.u64("total_ns")?,
            ns_per_op: fields.f64("ns_per_op")?,
        },
        "suite" => TaskResult::Suite {
            completed: fields.u64("completed")?,
        },
        "fuzz" => TaskResult::Fuzz {
            seed: fields.u64("seed")?,
            calls: fields.u64("calls")?,
            succeeded: fields.u64("succeeded")?,
            failed: fields.u64("failed")?,
            enosys: fields.u64("enosys")?,
        },
        _ => TaskResult::Other {
            name: task,
            fields: fields.take_all(),
        },
    })
}

/// The `key=value` fields of one line, after lexing.
#[derive(Debug, Default)]
struct Fields {
    values: BTreeMap<String, String>,
}

impl Fields {
    fn lex(mut rest: &str) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        while !rest.is_empty() {
            let (key, after_key) = rest
                .split_once('=')
                .ok_or_else(|| format!("field {rest:?} has no '='"))?;
            if key.is_empty()
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!(
                    "bad field name {key:?} (expected lowercase letters, digits and _)"
                ));
            }
            let (value, after_value) = if let Some(quoted) = after_key.strip_prefix('"') {
                unquote(quoted)?
            } else {
                let end = after_key.find(' ').unwrap_or(after_key.len());
                let value = &after_key[..end];
                if value.is_empty() {
                    return Err(format!("field {key:?} has an empty value"));
                }
                if let Some(bad) = value.chars().find(|c| matches!(c, '"' | '\\' | '=')) {
                    return Err(format!(
                        "field {key:?} has {bad:?} in a bare value; quote it"
                    ));
                }
                (value.to_string(), &after_key[end..])
            };
            if values.insert(key.to_string(), value).is_some() {
                return Err(format!("field {key:?} appears twice"));
            }
            rest = match after_value.strip_prefix(' ') {
                Some(next) if next.is_empty() || next.starts_with(' ') => {
                    return Err("fields must be separated by exactly one space".to_string());
                }
                Some(next) => next,
                None if after_value.is_empty() => after_value,
                None => return Err(format!("junk after field {key:?}: {after_value:?}")),
            };
        }
        Ok(Self { values })
    }

    fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn string(&mut self, key: &str) -> Result<String, String> {
        self.values
            .remove(key)
            .ok_or_else(|| format!("missing field {key:?}"))
    }

    /// A field whose value `unknown` means the source did not say.
    fn known(&mut self, key: &str) -> Result<Option<String>, String> {
        Ok(Some(self.string(key)?).filter(|value| value != "unknown"))
    }

    fn u64(&mut self, key: &str) -> Result<u64, String> {
        let text = self.string(key)?;
        text.parse()
            .map_err(|_| format!("field {key:?} must be an unsigned integer, got {text:?}"))
    }

    fn hex_u64(&mut self, key: &str) -> Result<u64, String> {
        let text = self.string(key)?;
        u64::from_str_radix(&text, 16)
            .map_err(|_| format!("field {key:?} must be hexadecimal, got {text:?}"))
    }

    fn f64(&mut self, key: &str) -> Result<f64, String> {
        let text = self.string(key)?;
        let valid = text.split_once('.').is_some_and(|(whole, frac)| {
            !whole.is_empty()
                && !frac.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }) || (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(format!(
                "field {key:?} must be a decimal number like 48.70, got {text:?}"
            ));
        }
        text.parse()
            .map_err(|_| format!("field {key:?} must be a decimal number, got {text:?}"))
    }

    fn take_all(&mut self) -> BTreeMap<String, String> {
        std::mem::take(&mut self.values)
    }
}

/// Reads a quoted value (after its opening quote); returns it and the rest.
fn unquote(text: &str) -> Result<(String, &str), String> {
    let mut bytes = Vec::new();
    let raw = text.as_bytes();
    let mut index = 0;
    while index < raw.len() {
        match raw[index] {
            b'"' => {
                let value = String::from_utf8_lossy(&bytes).into_owned();
                return Ok((value, &text[index + 1..]));
            }
            b'\\' => {
                match raw.get(index + 1) {
                    Some(b'"') => bytes.push(b'"'),
                    Some(b'\\') => bytes.push(b'\\'),
                    Some(b'x') => {
                        let hex = text
                            .get(index + 2..index + 4)
                            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                            .ok_or("bad \\x escape: expected two hex digits")?;
                        bytes.push(hex);
                        index += 2;
                    }
                    _ => return Err("bad escape in a quoted value".to_string()),
                }
                index += 2;
            }
            byte => {
                bytes.push(byte);
                index += 1;
            }
        }
    }
    Err("unterminated quoted value".to_string())
}

/// Writes a value the way the workload does: bare when it can be, else quoted.
pub fn quote_value(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'='));
    if bare {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for byte in value.bytes() {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b' ' => out.push(' '),
            b if b.is_ascii_graphic() => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for StartMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{LINE_PREFIX}start task={} pid={} mono_ns={}",
            quote_value(&self.task),
            self.pid,
            self.mono_ns
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(line: &str) -> TaskResult {
        match parse_line(line) {
            Ok(Some(Record::Result(result))) => result,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn problem(line: &str) -> String {
        parse_line(line).expect_err(line).problem
    }

    #[test]
    fn ordinary_output_is_not_parsed() {
        assert_eq!(parse_line("hello").unwrap(), None);
        assert_eq!(parse_line("...............\n").unwrap(), None);
        assert_eq!(parse_line("@versusstart").unwrap(), None);
    }

    #[test]
    fn start_marker() {
        let line = "@versus start task=getpid pid=42 mono_ns=123456789\n";
        let Some(Record::Start(marker)) = parse_line(line).unwrap() else {
            panic!("not a start marker");
        };
        assert_eq!(
            marker,
            StartMarker {
                task: "getpid".into(),
                pid: 42,
                mono_ns: 123_456_789
            }
        );
        assert_eq!(format!("{marker}\n"), line);
    }

    #[test]
    fn typed_results() {
        assert_eq!(
            result("@versus task=getpid iters=1000 ns_per_op=48.70 total_ns=48700 pid=7"),
            TaskResult::Getpid {
                iters: 1000,
                ns_per_op: 48.7,
                total_ns: 48_700,
                pid: 7
            }
        );
        assert_eq!(
            result(
                "@versus task=compute iters=10 ns_per_op=1.00 total_ns=10 checksum=00000000000000ff"
            ),
            TaskResult::Compute {
                iters: 10,
                ns_per_op: 1.0,
                total_ns: 10,
                checksum: 255
            }
        );
        assert_eq!(
            result(
                "@versus task=spawn requested=3 spawned=2 errno=EAGAIN total_ns=9 ns_per_op=4.50"
            ),
            TaskResult::Spawn {
                requested: 3,
                spawned: 2,
                errno: Some("EAGAIN".into()),
                total_ns: 9,
                ns_per_op: 4.5
            }
        );
        assert_eq!(
            result("@versus task=memtouch error=ENOMEM"),
            TaskResult::Failed {
                failed_task: "memtouch".into(),
                error: "ENOMEM".into()
            }
        );
    }

    #[test]
    fn quoted_values_and_escapes() {
        let line = r##"@versus task=uname sysname=Linux nodename=box release=6.1.0 version="#1 SMP \"x\" \\ \x01" machine=x86_64"##;
        let TaskResult::Uname { version, .. } = result(line) else {
            panic!("not uname");
        };
        assert_eq!(version, "#1 SMP \"x\" \\ \u{1}");
        assert_eq!(
            quote_value(&version),
            r##""#1 SMP \"x\" \\ \x01""##,
            "quoting is the inverse of parsing"
        );
        assert_eq!(quote_value("plain"), "plain");
        assert_eq!(quote_value(""), "\"\"");
    }

    #[test]
    fn status_known_unknown_and_unavailable() {
        assert_eq!(
            result("@versus task=status unavailable=ENOENT"),
            TaskResult::Status(ProcStatus::Unavailable {
                errno: "ENOENT".into()
            })
        );
        let TaskResult::Status(ProcStatus::Available {
            cap_eff,
            seccomp_filters,
            ..
        }) = result(
            "@versus task=status cap_eff=00000000a80425fb cap_prm=0 cap_bnd=0 no_new_privs=1 seccomp=2 seccomp_filters=unknown",
        )
        else {
            panic!("not status");
        };
        assert_eq!(cap_eff.as_deref(), Some("00000000a80425fb"));
        assert_eq!(seccomp_filters, None);
    }

    #[test]
    fn unknown_tasks_keep_their_fields() {
        let TaskResult::Other { name, fields } = result("@versus task=mine speed=fast n=3") else {
            panic!("not other");
        };
        assert_eq!(name, "mine");
        assert_eq!(fields.get("speed").map(String::as_str), Some("fast"));
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        assert!(problem("@versus iters=3").contains("missing field \"task\""));
        assert!(
            problem("@versus task=getpid iters=x ns_per_op=1.00 total_ns=1 pid=1")
                .contains("\"iters\" must be an unsigned integer, got \"x\"")
        );
        assert!(
            problem("@versus task=getpid iters=1 ns_per_op=1e3 total_ns=1 pid=1")
                .contains("decimal number")
        );
        assert!(problem("@versus task=getpid iters=1").contains("missing field \"ns_per_op\""));
        assert!(problem("@versus task=startup junk").contains("has no '='"));
        assert!(problem("@versus task=startup task=startup").contains("appears twice"));
        assert!(problem("@versus task=startup  x=1").contains("exactly one space"));
        assert!(problem("@versus task=uname version=\"open").contains("unterminated"));
        assert!(problem("@versus task=uname version=\"a\\q\"").contains("bad escape"));
        assert!(problem("@versus Task=x").contains("bad field name"));
        assert!(problem("@versus task=x a=").contains("empty value"));
        assert!(problem("@versus task=x a=\"b\"c").contains("junk after field"));
        assert!(problem("@versus task=probe").contains("at least one call"));
        assert!(problem("@versus start task=getpid pid=1").contains("mono_ns"));
    }

    #[test]
    fn invocations_fill_defaults_and_check_ranges() {
        let inv = TaskInvocation::parse(&["write", "5"]).unwrap();
        assert_eq!(inv.args, vec![5, 64]);
        assert_eq!(inv.argv(), ["write", "5", "64"]);
        assert_eq!(
            TaskInvocation::parse(&["getpid"]).unwrap().args,
            vec![1_000_000]
        );
        let err = TaskInvocation::parse(&["nope"]).unwrap_err().to_string();
        assert!(
            err.contains("unknown task 'nope'") && err.contains("getpid"),
            "{err}"
        );
        let err = TaskInvocation::parse(&["getpid", "many"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "getpid: N must be an integer from 1 to 4294967295, got 'many'"
        );
        let err = TaskInvocation::parse(&["memtouch", "0"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MIB must be an integer from 1 to 65536"),
            "{err}"
        );
        let err = TaskInvocation::parse(&["uname", "1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 0"), "{err}");
        assert_eq!(
            TaskInvocation::parse::<&str>(&[]).unwrap_err(),
            TaskError::MissingTask
        );
    }

    fn elf_header(kind: u16, machine: u16) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(elf::MAGIC);
        bytes[4] = elf::CLASS64;
        bytes[5] = elf::DATA_LSB;
        bytes[16..18].copy_from_slice(&kind.to_le_bytes());
        bytes[18..20].copy_from_slice(&machine.to_le_bytes());
        bytes
    }

    #[test]
    fn elf_checks() {
        assert_eq!(check_static_elf(b"#!/bin/sh\n"), Err(ElfProblem::NotElf));
        assert_eq!(check_static_elf(b"\x7fELF\x02"), Err(ElfProblem::Truncated));
        assert_eq!(
            check_static_elf(&elf_header(elf::TYPE_EXEC, 183)),
            Err(ElfProblem::WrongMachine {
                class: 2,
                data: 1,
                machine: 183
            })
        );
        assert_eq!(
            check_static_elf(&elf_header(1, elf::MACHINE_X86_64)),
            Err(ElfProblem::NotExecutable(1))
        );
        assert_eq!(
            check_static_elf(&elf_header(elf::TYPE_EXEC, elf::MACHINE_X86_64)),
            Ok(())
        );
        assert_eq!(check_static_elf(versus_images::WORKLOAD), Ok(()));
    }

    #[test]
    fn dynamic_executables_are_named_as_such() {
        // An executable with one PT_INTERP program header pointing at a path.
        let mut bytes = elf_header(elf::TYPE_DYN, elf::MACHINE_X86_64);
        let interp = b"/lib64/ld-linux-x86-64.so.2\0";
        bytes[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        bytes[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let mut phdr = vec![0u8; 56];
        phdr[..4].copy_from_slice(&elf::PT_INTERP.to_le_bytes());
        phdr[8..16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        phdr[32..40].copy_from_slice(&(interp.len() as u64).to_le_bytes()); // p_filesz
        bytes.extend_from_slice(&phdr);
        bytes.extend_from_slice(interp);
        assert_eq!(
            check_static_elf(&bytes),
            Err(ElfProblem::Dynamic("/lib64/ld-linux-x86-64.so.2".into()))
        );
    }
}

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
//!
//! - `catalog`: the tasks ([`TASKS`]) and a checked command line
//!   ([`TaskInvocation`]);
//! - `image`: the workload executable ([`Workload`]) and where it came from;
//! - `elf`: the static x86-64 ELF check every `--workload` passes;
//! - [`file`](mod@file): reading a `--workload` or `--kernel` file safely;
//! - `protocol`: the `@versus` line parser ([`parse_line`]) and its records.
//!
//! Everything public is re-exported here: `bench::workload::TaskResult`.

mod catalog;
pub mod elf;

/// The name the embedded workload sees as `argv[0]` on the host and in the
/// VM (in a container it is the workload's path inside the root,
/// `container::rootfs::WORKLOAD_PATH`, as `docker run` passes the command).
/// A `--workload` program gets its own file name instead
/// ([`Workload::program_name`]).
pub const ARGV0: &str = "versus-workload";

pub mod file;
mod image;
mod protocol;

pub use catalog::{
    ArgSpec, TASKS, TaskError, TaskInvocation, TaskSpec, task_help, task_names, task_spec,
};
pub use elf::{ElfProblem, check_static_elf};
pub use image::{Workload, WorkloadError, WorkloadSource};
pub use protocol::{
    LINE_PREFIX, ParseError, ProcStatus, Record, StartMarker, TaskResult, parse_line, quote_value,
};

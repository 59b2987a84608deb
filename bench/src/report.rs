//! The result of one run on any backend: phases, exit, parsed results, memory.
//!
//! Every backend fills the same [`RunReport`], so that tables, exports and
//! statistics never need to know which backend produced a figure.

use serde::{Deserialize, Serialize};

use crate::workload::{StartMarker, TaskResult, WorkloadSource};

pub mod linux;
pub mod vm;

/// Nanoseconds, as measured by the host's monotonic clock.
pub type Nanos = u64;

/// One timed phase of a run, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// Short name (`spawn`, `exec→marker`, `run`, `teardown`, …).
    pub name: String,
    /// Its duration.
    pub ns: Nanos,
}

impl Phase {
    /// A phase called `name` that took `ns`.
    pub fn new(name: impl Into<String>, ns: Nanos) -> Self {
        Self {
            name: name.into(),
            ns,
        }
    }
}

/// How the workload ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitOutcome {
    /// It exited with a status code.
    Exited {
        /// The status code.
        code: i32,
    },
    /// A signal ended it.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Its name (`SIGKILL`).
        name: String,
    },
    /// The VM ended without the workload's exit status: a guest reset, an
    /// instruction KVM could not emulate, a guest kernel fault…
    VmFailed {
        /// What happened, in one line.
        reason: String,
    },
    /// versus stopped it when `--timeout` expired.
    TimedOut {
        /// The limit that expired.
        after_ns: Nanos,
    },
    /// The kernel's OOM killer ended it: the container's memory limit was
    /// reached.
    OomKilled,
    /// versus stopped it because it was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
    /// A Linux guest booted to "Run /init as init process" and versus
    /// stopped it there on purpose: the boot is measured, the workload did
    /// not run (on a software KVM backend Linux user space cannot make
    /// system calls).
    StoppedAtInit {
        /// Why versus stopped there, in one sentence.
        reason: String,
    },
}

impl ExitOutcome {
    /// True for a clean exit with status 0.
    pub fn success(&self) -> bool {
        matches!(self, Self::Exited { code: 0 })
    }

    /// True when the run gave what it was asked for: a clean exit, or a
    /// Linux boot stopped on purpose at "Run /init" (its boot figures are
    /// whole, and no workload figure is claimed).
    pub fn measured(&self) -> bool {
        self.success() || matches!(self, Self::StoppedAtInit { .. })
    }

    /// The status a shell would show: the code, 128 + signal, or 124 for a
    /// timeout (as `timeout(1)` does).
    pub fn shell_status(&self) -> i32 {
        match self {
            Self::Exited { code } => *code,
            Self::Signaled { signal, .. } => 128 + signal,
            Self::TimedOut { .. } => 124,
            Self::VmFailed { .. } => 125,
            Self::OomKilled => 128 + libc::SIGKILL,
            Self::Interrupted => 128 + libc::SIGINT,
            // The boot did what this backend can do: as `vm run --linux`.
            Self::StoppedAtInit { .. } => 0,
        }
    }

    /// A short human description.
    pub fn describe(&self) -> String {
        match self {
            Self::Exited { code } => format!("exited with status {code}"),
            Self::Signaled { signal, name } => format!("killed by {name} (signal {signal})"),
            Self::VmFailed { reason } => format!("the VM failed: {reason}"),
            Self::TimedOut { after_ns } => format!(
                "stopped by versus after the {} timeout",
                crate::fmt::duration(*after_ns)
            ),
            Self::OomKilled => {
                "killed by the OOM killer (the memory limit was reached)".to_string()
            }
            Self::Interrupted => "stopped by versus on an interrupt".to_string(),
            Self::StoppedAtInit { reason } => format!("stopped at \"Run /init\": {reason}"),
        }
    }
}

/// Memory figures; each backend fills the ones that apply to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryFigures {
    /// Peak resident set of the workload process (`ru_maxrss`), host and container.
    pub workload_peak_rss_bytes: Option<u64>,
    /// Size of the image: the workload (host, container) or kernel + workload (VM).
    pub image_bytes: Option<u64>,
    /// VM: guest memory the guest actually touched (resident on the host).
    pub guest_touched_bytes: Option<u64>,
    /// VM: resident memory of the VMM process outside guest memory.
    pub vmm_overhead_rss_bytes: Option<u64>,
    /// Container: the cgroup's memory peak (everything charged to it:
    /// the workload's pages, page tables, kernel objects).
    #[serde(default)]
    pub cgroup_memory_peak_bytes: Option<u64>,
    /// Container: the launcher's own peak RSS (versus' process that set up
    /// the container and waits for it).
    #[serde(default)]
    pub launcher_rss_bytes: Option<u64>,
}

/// How much of a program's own stdout and of its stderr a report keeps;
/// the rest is counted, never held, so an output flood costs versus a fixed
/// amount of memory.
pub const OUTPUT_KEEP_BYTES: usize = 64 * 1024;

/// Everything one run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Which backend ran it (`host`, …).
    pub backend: String,
    /// Where the workload came from.
    pub workload: WorkloadSource,
    /// The workload's arguments (task first).
    pub argv: Vec<String>,
    /// `argv` is a command of the container's root filesystem
    /// (`--rootfs`, `--busybox`), not the workload's task.
    #[serde(default)]
    pub rootfs_command: bool,
    /// Launch call → start marker observed by the host, if a marker came.
    pub startup_ns: Option<Nanos>,
    /// The timed phases, in order; together they cover the whole run.
    pub phases: Vec<Phase>,
    /// The start marker as the workload printed it.
    pub start: Option<StartMarker>,
    /// Parsed result lines, in the order printed.
    pub results: Vec<TaskResult>,
    /// How it ended.
    pub exit: ExitOutcome,
    /// Memory figures.
    pub memory: MemoryFigures,
    /// Ordinary (non-`@versus`) stdout lines that were seen and skipped.
    pub other_output_lines: u64,
    /// The program's own stdout: its non-`@versus` lines, in order (the
    /// first [`OUTPUT_KEEP_BYTES`], then a note of how much was left out).
    #[serde(default)]
    pub stdout: String,
    /// What the workload wrote to stderr (the first [`OUTPUT_KEEP_BYTES`]).
    pub stderr: String,
    /// The program's own output was printed live as it ran (`Launch::echo`),
    /// so the report need not show it again.
    #[serde(default)]
    pub output_echoed: bool,
    /// VM only: exits, per-vCPU instances, regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<vm::VmDetails>,
    /// Linux guest only: the kernel, its boot milestones, exits, assists
    /// and the figures the run could not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<linux::LinuxDetails>,
    /// Container only: namespaces, cgroup and its statistics, capabilities,
    /// seccomp, LSM, the launch phases as the launcher measured them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<container::Report>,
    /// `versus … run` only: the whole versus process around the run, so
    /// that the figure `time versus … run` shows is explained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessPhases>,
}

/// The versus process around one run, in order: what comes before the
/// launch and the run itself (whose own phases are [`RunReport::phases`]).
/// Printing the report comes after and so cannot be in it: `--trace` shows
/// it on stderr once the report is out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessPhases {
    /// `process start → main` (the CPU time used before `main`: exec, the
    /// dynamic loader, relocations — work in which a process hardly ever
    /// waits, so that it is the wall time, to the microsecond), `arguments` (parsing the command line), `prepare image` (the
    /// workload, kernel and backend settings), `run` (launch → teardown
    /// done, as the backend's phases).
    pub phases: Vec<Phase>,
    /// The cross-check of `process start → main` on the wall clock: from
    /// the kernel's record of the process' start (`/proc/self/stat` field
    /// 22) to `main`. That record counts in clock ticks, so this reads up to
    /// one tick ([`Self::start_resolution_ns`]) longer than it was.
    pub start_to_main_by_clock_ns: Option<Nanos>,
    /// One clock tick (10 ms at the usual 100 Hz); 0 when unknown.
    pub start_resolution_ns: Nanos,
}

impl ProcessPhases {
    /// The process from its start to the end of the run.
    pub fn total_ns(&self) -> Nanos {
        self.phases.iter().map(|phase| phase.ns).sum()
    }
}

impl RunReport {
    /// The duration of the named phase, if it was recorded.
    pub fn phase(&self, name: &str) -> Option<Nanos> {
        self.phases
            .iter()
            .find(|phase| phase.name == name)
            .map(|p| p.ns)
    }

    /// The first result of the named task.
    pub fn result(&self, task: &str) -> Option<&TaskResult> {
        self.results.iter().find(|r| r.task_name() == task)
    }
}

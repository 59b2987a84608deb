//! What a comparison found: every run as it happened ([`RunRecord`]), and
//! the figures derived from them ([`Comparison`]) — a pure function of the
//! records, so the tables, the exports and the plot all show the same
//! numbers, and the derivation is tested with fabricated reports.

use serde::{Deserialize, Serialize};

use crate::report::RunReport;
use crate::stats::{Ratio, Summary};

/// The sections of `versus compare`, in the order they are printed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Launch → workload start, and the phases of each backend.
    Startup,
    /// VMM overhead vs launcher RSS, guest memory vs cgroup peak, image sizes.
    Memory,
    /// `getpid` cost per backend, and the exits it causes in the VM.
    Syscall,
    /// The VM exit round trip, and a small console write on each backend.
    Io,
    /// What `uname`, `ids` and `status` report in each backend.
    Identity,
}

impl Section {
    /// Every section, in order.
    pub const ALL: [Section; 5] = [
        Section::Startup,
        Section::Memory,
        Section::Syscall,
        Section::Io,
        Section::Identity,
    ];

    /// Its name on the command line and in exports.
    pub fn name(self) -> &'static str {
        match self {
            Section::Startup => "startup",
            Section::Memory => "memory",
            Section::Syscall => "syscall",
            Section::Io => "io",
            Section::Identity => "identity",
        }
    }
}

/// What one run measures; the same probe runs on several subjects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "probe", rename_all = "snake_case")]
pub enum Probe {
    /// `startup`: launch → marker and the phases.
    Startup,
    /// `startup` in a fresh `versus` process: memory figures (launcher
    /// and VMM RSS are per process, and a process's peak only grows).
    Memory,
    /// `getpid N`.
    Getpid {
        /// Calls in the guest loop.
        iters: u64,
    },
    /// `getpid 1` on a VM: the exits a run causes with no loop to speak
    /// of, subtracted from [`Probe::Getpid`]'s to count the loop's own.
    GetpidBaseline,
    /// `write N BYTES` to the console.
    Write {
        /// Writes.
        iters: u64,
        /// Bytes per write.
        bytes: u64,
    },
    /// `write 1 BYTES` on a VM: the baseline for exits per write.
    WriteBaseline {
        /// Bytes per write.
        bytes: u64,
    },
    /// A VM that measures its exit round trip with a guest loop of port
    /// writes before the workload starts.
    ExitProbe {
        /// Port writes in the loop.
        iters: u32,
    },
    /// `startup` as `/init` of a real Linux kernel, in a fresh `versus vm
    /// run --linux --json` process: the Linux subject's startup (launch →
    /// "Run /init") and memory figures, both from the one boot, since each
    /// boot takes tens of seconds on a software KVM backend.
    LinuxBoot,
    /// `uname`, `ids` or `status`, run once, not timed.
    Identity {
        /// The task.
        task: String,
    },
}

/// The kind of place a subject runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A host process: the baseline.
    Host,
    /// A container.
    Container,
    /// A VM on the tiny kernel.
    Vm,
}

/// One place the workload runs, as labelled in tables and exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// `host`, `container`, `container (no seccomp)`, `vm`, `vm ×2`, `vm (UART)`…
    pub label: String,
    /// What it is.
    pub kind: SubjectKind,
}

/// One run: which round, what was measured where, and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Round number, from 0; warm-up rounds come first.
    pub round: usize,
    /// A warm-up run (not counted in any figure).
    pub warmup: bool,
    /// What was measured.
    pub probe: Probe,
    /// Where.
    pub subject: Subject,
    /// The report, or why there is none: the backend failed, or the
    /// workload did not exit cleanly (the reason says which).
    pub outcome: Result<RunReport, String>,
}

/// The unit of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Nanoseconds.
    Nanoseconds,
    /// Bytes.
    Bytes,
    /// A plain count.
    Count,
}

/// A run that produced no sample, and why: never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Its round.
    pub round: usize,
    /// What went wrong.
    pub reason: String,
}

/// One figure of one subject over the measured rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Its section.
    pub section: Section,
    /// Where it was measured (a [`Subject::label`]).
    pub subject: String,
    /// What it is (`launch → start marker`, `getpid`, `VMM overhead RSS`…).
    pub figure: String,
    /// Its unit.
    pub unit: Unit,
    /// One sample per successful measured round, with that round's number
    /// (rounds pair samples of different subjects for ratios).
    pub samples: Vec<Sample>,
    /// Rounds that produced no sample.
    pub failures: Vec<Failure>,
    /// Median, p95, min, max, spread (`None` without samples).
    pub summary: Option<Summary>,
}

/// One sample and the round it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The round.
    pub round: usize,
    /// The value, in the series' unit.
    pub value: f64,
}

impl Series {
    /// The sample values in round order.
    pub fn values(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.value).collect()
    }
}

/// Where a phase belongs among the four stages every backend's run is cut
/// into: *prepare* (before anything runs) · *boot/exec* (to the workload's
/// start) · *run* · *teardown*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Before the workload's image is started: VM + memory + kernel + vCPUs,
    /// or cgroup + clone + mounts + pivot_root + security, or the memfd.
    Prepare,
    /// Until the workload's first instruction is observed (boot, exec).
    Boot,
    /// The workload running.
    Run,
    /// Reaping, statistics, unmapping.
    Teardown,
}

/// The median duration of one phase of one subject's `startup` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRow {
    /// The subject.
    pub subject: String,
    /// The phase's name as the backend reports it, in the order it happened.
    pub phase: String,
    /// Which stage it belongs to.
    pub stage: Stage,
    /// Its summary over the measured rounds.
    pub summary: Summary,
}

/// What one subject reported about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRow {
    /// The subject.
    pub subject: String,
    /// `uname`: sysname, release and version of the kernel that answered.
    pub kernel: Option<String>,
    /// `ids`: pid, uid and hostname as the workload sees them.
    pub ids: Option<String>,
    /// `status`: CapEff, NoNewPrivs, Seccomp, or why there is no `/proc`.
    pub status: Option<String>,
    /// The errno of a `status` that found no `/proc/self/status` (the tiny
    /// kernel has no `/proc`), so that the table says it in the output's
    /// language; absent from reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_unavailable: Option<String>,
    /// Why a task of this row failed, if one did.
    pub failures: Vec<String>,
}

/// A figure set beside another, pair by pair from interleaved rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioRow {
    /// Section.
    pub section: Section,
    /// The figure compared.
    pub figure: String,
    /// Numerator subject.
    pub numerator: String,
    /// Denominator subject.
    pub denominator: String,
    /// The paired ratio.
    pub ratio: Ratio,
}

/// The host versus ran on, for the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostHeader {
    /// Kernel release.
    pub kernel: Option<String>,
    /// CPU model.
    pub cpu: Option<String>,
    /// The KVM backend, as `versus doctor` names it.
    pub kvm_backend: String,
    /// True on bare-metal hardware virtualization.
    pub kvm_is_bare_metal_hardware: bool,
    /// A plain warning when VM numbers are not those of hardware
    /// virtualization (software or nested backend).
    pub kvm_warning: Option<String>,
    /// Which backend the warning is about, so that the header says it in
    /// the output's language; absent from reports written before it
    /// existed, whose English warning is shown as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kvm_caveat: Option<KvmCaveat>,
}

/// A KVM backend whose VM numbers are not those of bare-metal hardware
/// virtualization: each has its warning in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvmCaveat {
    /// VT-x/AMD-V inside a VM: exits are inflated.
    Nested,
    /// Software KVM (kvm_pvm): guest kernel code is emulated.
    Software,
    /// `/dev/kvm` without a known vendor module.
    Unknown,
    /// No `/dev/kvm`.
    Unavailable,
}

impl KvmCaveat {
    /// The catalog key of its warning.
    pub fn catalog_key(self) -> &'static str {
        match self {
            KvmCaveat::Nested => "compare.header.kvm-nested",
            KvmCaveat::Software => "compare.header.kvm-software",
            KvmCaveat::Unknown => "compare.header.kvm-unknown",
            KvmCaveat::Unavailable => "compare.header.kvm-unavailable",
        }
    }
}

/// Everything `versus compare` derived, ready to print or export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The command line that produced it.
    pub command: String,
    /// The host.
    pub host: HostHeader,
    /// Measured rounds asked for.
    pub runs: usize,
    /// Warm-up rounds.
    pub warmup: usize,
    /// Rounds measured so far (exports are written as rounds complete).
    pub rounds_done: usize,
    /// The sections included.
    pub sections: Vec<Section>,
    /// Why the VM subjects were left out, if they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_vm: Option<String>,
    /// The Linux guest subject (`--linux`), when it was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<LinuxSubject>,
    /// Every figure.
    pub series: Vec<Series>,
    /// Startup phases, per subject.
    pub phases: Vec<PhaseRow>,
    /// Ratios between subjects.
    pub ratios: Vec<RatioRow>,
    /// Kernel identity and isolation.
    pub identity: Vec<IdentityRow>,
    /// Sentences a student can read, computed from the figures above.
    pub conclusions: Vec<String>,
}

/// The `vm (Linux)` subject as `versus compare --linux` ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxSubject {
    /// The kernel file booted.
    pub kernel: String,
    /// Boots asked for (`--linux-runs`): one in each of the first measured
    /// rounds, none in warm-ups.
    pub runs: usize,
    /// The host's KVM backend emulates guest kernel mode in software (so
    /// the boot stops at "Run /init").
    pub software_backend: bool,
    /// Why its syscall, I/O and identity figures are empty, in one sentence.
    pub why_only_startup_and_memory: String,
}

/// Figure names, shared by the derivation, the tables and the exports.
pub mod figure {
    /// Launch call → workload start marker seen by the host.
    pub const STARTUP: &str = "launch → start marker";
    /// The container launcher's own peak RSS.
    pub const LAUNCHER_RSS: &str = "launcher RSS";
    /// The container cgroup's memory peak.
    pub const CGROUP_PEAK: &str = "cgroup memory peak";
    /// The VMM's RSS outside guest memory.
    pub const VMM_OVERHEAD: &str = "VMM overhead RSS";
    /// Guest memory the guest touched.
    pub const GUEST_TOUCHED: &str = "guest memory touched";
    /// Image size on disk.
    pub const IMAGE: &str = "image size";
    /// `getpid` cost.
    pub const GETPID: &str = "getpid";
    /// VM exits per 1,000 `getpid` calls.
    pub const EXITS_PER_1000_CALLS: &str = "exits per 1,000 calls";
    /// A small console write.
    pub const WRITE: &str = "console write";
    /// VM exits per console write.
    pub const EXITS_PER_WRITE: &str = "exits per write";
    /// Exit round trip measured by the guest's loop with its TSC.
    pub const EXIT_GUEST: &str = "exit round trip (guest TSC)";
    /// Exit round trip measured by the VMM between two markers.
    pub const EXIT_HOST: &str = "exit round trip (host clock)";
    /// The VMM handler's own share of an exit.
    pub const EXIT_HANDLER: &str = "of which in the VMM handler";
}

//! `versus compare`: the same workload on the host, in containers and in
//! VMs, side by side, with every figure measured in this invocation.
//!
//! 1. **Plan** ([`plan`]): each section becomes *cases* — a probe (what
//!    to run) on a subject (where). Startup comes from `startup` runs;
//!    memory from `startup` in a fresh `versus` process per backend (a
//!    process's peak RSS only grows, so it must be that backend's alone);
//!    system calls from `getpid N` (and, in a VM, `getpid 1`, whose
//!    exits are subtracted to count the loop's own); I/O from `write N
//!    BYTES` over the UART, the paravirtual console and the container's
//!    pipe, and from a guest exit-probe loop; identity from `uname`, `ids`
//!    and `status`, once.
//! 2. **Run** ([`Comparer::run`]): warm-up rounds, then measured rounds;
//!    in every round each case runs once, subjects interleaved (host,
//!    container, container without seccomp, VM, …), so that drift on a
//!    shared machine hits all of them alike.
//! 3. **Derive** ([`derive::build`]): after every round the records become
//!    a [`Comparison`] — series with their summaries, phases, ratios taken
//!    pair by pair within rounds, identity rows and conclusions — which the
//!    exporters write at once, so partial results survive an interruption.
//! 4. **Show** ([`render`]): one table per section and the conclusions.

mod conclusions;
pub mod derive;
pub mod export;
pub mod model;
pub mod plot;
pub mod render;

use std::time::Duration;

use crate::backend::container::{ContainerBackend, ContainerSettings};
use crate::backend::host::HostBackend;
use crate::backend::vm::{VmBackend, VmSettings};
use crate::backend::{Backend, Launch};
use crate::request::BackendSettings;
use crate::workload::Workload;
pub use model::{Comparison, LinuxSubject, Probe, RunRecord, Section, Subject, SubjectKind};

/// Calls per `getpid` run on the host and in containers (a few tens of ms).
pub const NATIVE_GETPID_ITERS: u64 = 200_000;
/// Calls per `getpid` run in a VM: fewer, because a guest system call can
/// cost tens of µs on a software KVM backend such as `kvm_pvm` (see
/// docs/en/platforms.md), and the figure is per call anyway.
pub const VM_GETPID_ITERS: u64 = 2_000;
/// Writes per console `write` run.
pub const WRITE_ITERS: u64 = 200;
/// Bytes per console write: a short line, where the per-write cost shows.
pub const WRITE_BYTES: u64 = 16;
/// Port writes in the VM's exit-probe loop.
pub const EXIT_PROBE_ITERS: u32 = 1_000;
/// Longest any single run may take before it is stopped and reported.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a Linux boot may take: about 20 s to "Run /init" on an idle
/// software KVM backend, several times that on a busy one.
pub const LINUX_RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// Linux boots `versus compare --linux` makes unless `--linux-runs` says.
pub const DEFAULT_LINUX_RUNS: usize = 3;
/// The sentence that says why the Linux subject has only startup and
/// memory figures on a software KVM backend.
pub const LINUX_SOFTWARE_ONLY_BOOT: &str = "Linux user space cannot make system calls on a software KVM backend, so the workload never runs past \"Run /init\" and vm (Linux) has no system-call, I/O or identity figures";
/// The same on hardware KVM, where the workload would run: compare boots
/// Linux for its start-up and memory only.
pub const LINUX_HARDWARE_ONLY_BOOT: &str =
    "versus compare boots vm (Linux) for its start-up and memory figures only";

/// What to compare, and how often.
#[derive(Debug, Clone)]
pub struct Options {
    /// Measured rounds.
    pub runs: usize,
    /// Warm-up rounds (not counted).
    pub warmup: usize,
    /// Sections to include.
    pub sections: Vec<Section>,
    /// vCPUs of the second VM subject (`vm ×N`); 1: no second VM subject.
    pub vcpus: u32,
    /// Guest memory (`None`: the VMM's default layout).
    pub mem: Option<u64>,
    /// Leave every VM subject out, for this reason (e.g. /dev/kvm cannot
    /// be opened: one clear line instead of a failure in every round).
    pub without_vm: Option<String>,
    /// The `vm (Linux)` subject (`--linux`); `None`: left out.
    pub linux: Option<LinuxOptions>,
}

/// How `versus compare --linux` boots its Linux subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxOptions {
    /// The kernel file (`None`: the minimal kernel `make linux-guest` builds).
    pub kernel: Option<std::path::PathBuf>,
    /// Boots: one in each of the first this-many measured rounds (a boot
    /// takes about 20 s on a software KVM backend), none in warm-ups.
    pub runs: usize,
}

impl Options {
    /// Whether `section` is included.
    pub fn has(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }
}

/// The variants of each backend a comparison needs; the real one builds
/// real backends, tests substitute deterministic ones.
pub trait Backends {
    /// The plain host process.
    fn host(&self) -> Box<dyn Backend>;
    /// A container with default hardening, or without its seccomp filter.
    fn container(&self, seccomp: bool) -> Box<dyn Backend>;
    /// A VM on the tiny kernel.
    fn vm(&self, vm: VmVariant) -> Box<dyn Backend>;
    /// A real Linux kernel (`None`: the minimal one) with the workload as
    /// `/init`, in a fresh `versus` process.
    fn linux(&self, kernel: Option<&std::path::Path>) -> Box<dyn Backend>;
    /// The subject in a fresh `versus` process, for memory figures: the
    /// host, a default-hardened container or a VM (`vm` is used for VMs
    /// only).
    fn fresh_process(&self, label: &str, kind: SubjectKind, vm: VmVariant) -> Box<dyn Backend>;
}

/// How a VM subject is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmVariant {
    /// vCPUs (the workload runs on every one).
    pub vcpus: u32,
    /// Console through the UART (an exit per byte) instead of the
    /// paravirtual console.
    pub console_uart: bool,
    /// Measure the exit round trip with a guest loop first.
    pub exit_probe: Option<u32>,
    /// Guest memory.
    pub mem: Option<u64>,
}

impl VmVariant {
    /// The VM backend's settings for this variant (the workload on every
    /// vCPU).
    pub fn settings(&self) -> VmSettings {
        let defaults = VmSettings::default();
        VmSettings {
            vcpus: self.vcpus,
            console_uart: self.console_uart,
            exit_probe: self.exit_probe,
            memory: self
                .mem
                .map_or(defaults.memory.clone(), hypervisor::MemoryConfig::Total),
            ..defaults
        }
    }
}

/// The real backends; fresh processes run `versus` itself.
#[derive(Debug, Clone)]
pub struct RealBackends {
    /// The `versus` executable, for fresh processes.
    pub versus: std::path::PathBuf,
}

impl Backends for RealBackends {
    fn host(&self) -> Box<dyn Backend> {
        Box::new(HostBackend)
    }

    fn container(&self, seccomp: bool) -> Box<dyn Backend> {
        let seccomp = if seccomp {
            container::SeccompMode::Default
        } else {
            container::SeccompMode::Unconfined
        };
        Box::new(ContainerBackend::with_settings(ContainerSettings {
            seccomp,
            ..ContainerSettings::default()
        }))
    }

    fn vm(&self, vm: VmVariant) -> Box<dyn Backend> {
        Box::new(VmBackend::with_settings(vm.settings()))
    }

    fn linux(&self, kernel: Option<&std::path::Path>) -> Box<dyn Backend> {
        Box::new(crate::backend::linux::LinuxProcessBackend {
            program: self.versus.clone(),
            kernel: kernel.map(std::path::Path::to_path_buf),
        })
    }

    fn fresh_process(&self, label: &str, kind: SubjectKind, vm: VmVariant) -> Box<dyn Backend> {
        let backend = match kind {
            SubjectKind::Host => BackendSettings::Host,
            SubjectKind::Container => BackendSettings::Container(ContainerSettings::default()),
            SubjectKind::Vm => BackendSettings::Vm {
                kernel: None,
                settings: vm.settings(),
            },
        };
        Box::new(crate::backend::subprocess::FreshProcessBackend {
            label: label.to_string(),
            program: self.versus.clone(),
            backend,
        })
    }
}

/// One probe on one subject.
pub struct Case {
    /// What it measures.
    pub probe: Probe,
    /// Where.
    pub subject: Subject,
    /// The backend to run it on.
    pub backend: Box<dyn Backend>,
    /// The workload's arguments.
    pub argv: Vec<String>,
    /// Run in measured rounds (false: once, after the warm-up).
    pub every_round: bool,
    /// Run only in the first this-many measured rounds and in no warm-up
    /// (`None`: in every round): the Linux boot, which is slow.
    pub measured_rounds: Option<usize>,
    /// Longest the run may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("probe", &self.probe)
            .field("subject", &self.subject)
            .field("argv", &self.argv)
            .finish_non_exhaustive()
    }
}

fn subject(label: &str, kind: SubjectKind) -> Subject {
    Subject {
        label: label.to_string(),
        kind,
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// 1. Turns the options into cases, interleaved by subject within each probe.
pub fn plan(options: &Options, backends: &dyn Backends) -> Vec<Case> {
    let vm = |console_uart, exit_probe, vcpus| VmVariant {
        vcpus,
        console_uart,
        exit_probe,
        mem: options.mem,
    };
    let host = || subject("host", SubjectKind::Host);
    let container = || subject("container", SubjectKind::Container);
    let unconfined = || subject("container (no seccomp)", SubjectKind::Container);
    let one_vm = || subject("vm", SubjectKind::Vm);
    let smp_label = format!("vm ×{}", options.vcpus);
    let case =
        |probe: Probe, subject: Subject, backend: Box<dyn Backend>, argv: Vec<String>| Case {
            every_round: !matches!(probe, Probe::Identity { .. }),
            measured_rounds: None,
            timeout: RUN_TIMEOUT,
            probe,
            subject,
            backend,
            argv,
        };
    let mut cases = Vec::new();
    if options.has(Section::Memory) {
        let fresh = |subject: Subject, vcpus| {
            let backend =
                backends.fresh_process(&subject.label, subject.kind, vm(false, None, vcpus));
            case(Probe::Memory, subject, backend, argv(&["startup"]))
        };
        cases.push(fresh(host(), 1));
        cases.push(fresh(container(), 1));
        cases.push(fresh(one_vm(), 1));
        if options.vcpus > 1 {
            cases.push(fresh(subject(&smp_label, SubjectKind::Vm), options.vcpus));
        }
    }
    if options.has(Section::Startup) {
        let startup = || argv(&["startup"]);
        cases.push(case(Probe::Startup, host(), backends.host(), startup()));
        cases.push(case(
            Probe::Startup,
            container(),
            backends.container(true),
            startup(),
        ));
        cases.push(case(
            Probe::Startup,
            unconfined(),
            backends.container(false),
            startup(),
        ));
        cases.push(case(
            Probe::Startup,
            one_vm(),
            backends.vm(vm(false, None, 1)),
            startup(),
        ));
        if options.vcpus > 1 {
            cases.push(case(
                Probe::Startup,
                subject(&smp_label, SubjectKind::Vm),
                backends.vm(vm(false, None, options.vcpus)),
                startup(),
            ));
        }
    }
    if let Some(linux) = &options.linux
        && (options.has(Section::Startup) || options.has(Section::Memory))
    {
        cases.push(Case {
            probe: Probe::LinuxBoot,
            subject: subject(crate::backend::linux::LABEL, SubjectKind::Vm),
            backend: backends.linux(linux.kernel.as_deref()),
            argv: argv(&["startup"]),
            every_round: true,
            measured_rounds: Some(linux.runs),
            timeout: LINUX_RUN_TIMEOUT,
        });
    }
    if options.has(Section::Syscall) {
        let native = NATIVE_GETPID_ITERS.to_string();
        let getpid = Probe::Getpid {
            iters: NATIVE_GETPID_ITERS,
        };
        cases.push(case(
            getpid.clone(),
            host(),
            backends.host(),
            argv(&["getpid", &native]),
        ));
        cases.push(case(
            getpid.clone(),
            container(),
            backends.container(true),
            argv(&["getpid", &native]),
        ));
        cases.push(case(
            getpid,
            unconfined(),
            backends.container(false),
            argv(&["getpid", &native]),
        ));
        cases.push(case(
            Probe::Getpid {
                iters: VM_GETPID_ITERS,
            },
            one_vm(),
            backends.vm(vm(false, None, 1)),
            argv(&["getpid", &VM_GETPID_ITERS.to_string()]),
        ));
        cases.push(case(
            Probe::GetpidBaseline,
            one_vm(),
            backends.vm(vm(false, None, 1)),
            argv(&["getpid", "1"]),
        ));
    }
    if options.has(Section::Io) {
        let (iters, bytes) = (WRITE_ITERS.to_string(), WRITE_BYTES.to_string());
        let write = Probe::Write {
            iters: WRITE_ITERS,
            bytes: WRITE_BYTES,
        };
        let baseline = Probe::WriteBaseline { bytes: WRITE_BYTES };
        let task = || argv(&["write", &iters, &bytes]);
        let one = || argv(&["write", "1", &bytes]);
        cases.push(case(write.clone(), host(), backends.host(), task()));
        cases.push(case(
            write.clone(),
            container(),
            backends.container(true),
            task(),
        ));
        cases.push(case(
            write.clone(),
            one_vm(),
            backends.vm(vm(false, None, 1)),
            task(),
        ));
        cases.push(case(
            baseline.clone(),
            one_vm(),
            backends.vm(vm(false, None, 1)),
            one(),
        ));
        let uart = || subject("vm (UART)", SubjectKind::Vm);
        cases.push(case(write, uart(), backends.vm(vm(true, None, 1)), task()));
        cases.push(case(
            baseline,
            uart(),
            backends.vm(vm(true, None, 1)),
            one(),
        ));
        cases.push(case(
            Probe::ExitProbe {
                iters: EXIT_PROBE_ITERS,
            },
            one_vm(),
            backends.vm(vm(false, Some(EXIT_PROBE_ITERS), 1)),
            argv(&["startup"]),
        ));
    }
    if options.has(Section::Identity) {
        for task in ["uname", "ids", "status"] {
            let probe = Probe::Identity { task: task.into() };
            cases.push(case(probe.clone(), host(), backends.host(), argv(&[task])));
            cases.push(case(
                probe.clone(),
                container(),
                backends.container(true),
                argv(&[task]),
            ));
            cases.push(case(
                probe,
                one_vm(),
                backends.vm(vm(false, None, 1)),
                argv(&[task]),
            ));
        }
    }
    if options.without_vm.is_some() {
        cases.retain(|c| c.subject.kind != SubjectKind::Vm);
    }
    cases
}

/// Progress and results as they arrive.
pub trait Observer {
    /// Before the first run: how many runs there will be.
    fn start(&mut self, _total_runs: usize) {}
    /// After each run.
    fn ran(&mut self, _record: &RunRecord) {}
    /// After each measured round (and after the identity runs), with the
    /// comparison so far.
    fn round_done(&mut self, _comparison: &Comparison) {}
}

/// Runs a plan and derives the comparison.
pub struct Comparer {
    cases: Vec<Case>,
    options: Options,
    context: derive::Context,
    workload: Workload,
}

impl std::fmt::Debug for Comparer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comparer")
            .field("cases", &self.cases)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Comparer {
    /// A comparison of `cases` (from [`plan`]) with the embedded workload.
    pub fn new(cases: Vec<Case>, options: Options, context: derive::Context) -> Self {
        Self {
            cases,
            options,
            context,
            workload: Workload::embedded(),
        }
    }

    /// Runs how many runs in total.
    pub fn total_runs(&self) -> usize {
        let rounds = self.options.warmup + self.options.runs;
        self.cases
            .iter()
            .map(|c| match (c.every_round, c.measured_rounds) {
                (false, _) => 1,
                (true, Some(limit)) => limit.min(self.options.runs),
                (true, None) => rounds,
            })
            .sum()
    }

    /// 2.–3. Runs every round, then the one-off cases; stops early (with
    /// what was measured) when `stop` returns true between runs.
    pub fn run(&self, observer: &mut dyn Observer, stop: &dyn Fn() -> bool) -> Comparison {
        observer.start(self.total_runs());
        let mut records = Vec::new();
        let rounds = self.options.warmup + self.options.runs;
        'rounds: for round in 0..rounds {
            let warmup = round < self.options.warmup;
            for case in rotated(&self.cases, round) {
                if stop() {
                    break 'rounds;
                }
                if let Some(limit) = case.measured_rounds
                    && (warmup || round - self.options.warmup >= limit)
                {
                    continue;
                }
                let record = self.run_case(case, round, warmup);
                observer.ran(&record);
                records.push(record);
            }
            if !warmup {
                observer.round_done(&derive::build(&records, &self.context));
            }
        }
        let once: Vec<&Case> = self.cases.iter().filter(|c| !c.every_round).collect();
        if !once.is_empty() {
            let round = rounds;
            for case in once {
                if stop() {
                    break;
                }
                let record = self.run_case(case, round, false);
                observer.ran(&record);
                records.push(record);
            }
        }
        let comparison = derive::build(&records, &self.context);
        observer.round_done(&comparison);
        comparison
    }

    fn run_case(&self, case: &Case, round: usize, warmup: bool) -> RunRecord {
        let launch = Launch {
            workload: self.workload.clone(),
            argv: case.argv.clone(),
            timeout: Some(case.timeout),
            echo: false,
        };
        let outcome = match case.backend.run(&launch) {
            Ok(report) if report.exit.measured() => Ok(report),
            Ok(report) => Err(format!(
                "{} {}: {}",
                case.subject.label,
                case.argv.join(" "),
                report.exit.describe()
            )),
            Err(error) => Err(error_chain(&error)),
        };
        RunRecord {
            round,
            warmup,
            probe: case.probe.clone(),
            subject: case.subject.clone(),
            outcome,
        }
    }
}

/// The cases of one round: consecutive cases of the same probe form a
/// group (e.g. `startup` on host, container, …, VM), and each group starts
/// one subject later every round, forwards and then backwards. Whatever one
/// run leaves behind for the next — or spares it — then falls on every
/// subject in turn, not always on the same one: a network namespace torn
/// down in the background, a cold cache, or cgroup v1's migration lock,
/// whose first use after a pause waits for an RCU grace period (about
/// 10 ms here) while a second container right after the first joins its
/// cgroup in 0.1 ms.
fn rotated(cases: &[Case], round: usize) -> Vec<&Case> {
    let every: Vec<&Case> = cases.iter().filter(|c| c.every_round).collect();
    let mut out = Vec::with_capacity(every.len());
    let mut start = 0;
    while start < every.len() {
        let mut end = start + 1;
        while end < every.len() && every[end].probe == every[start].probe {
            end += 1;
        }
        let mut group: Vec<&Case> = every[start..end].to_vec();
        // Rotation alone keeps the cyclic order (B always right after A);
        // every other cycle of rotations runs backwards, so that each
        // subject also follows the other neighbour as often.
        let len = group.len();
        if (round / len) % 2 == 1 {
            group.reverse();
        }
        group.rotate_left(round % len);
        out.extend(group);
        start = end;
    }
    out
}

/// An error and its sources, "a: b: c".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::host::HostBackend;

    fn cases(labels: &[&str]) -> Vec<Case> {
        labels
            .iter()
            .map(|label| Case {
                probe: Probe::Startup,
                subject: subject(label, SubjectKind::Host),
                backend: Box::new(HostBackend),
                argv: argv(&["startup"]),
                every_round: true,
                measured_rounds: None,
                timeout: RUN_TIMEOUT,
            })
            .collect()
    }

    fn order(cases: &[Case], round: usize) -> String {
        rotated(cases, round)
            .iter()
            .map(|c| c.subject.label.as_str())
            .collect()
    }

    #[test]
    fn rounds_rotate_forwards_then_backwards() {
        let c = cases(&["a", "b", "c"]);
        let rounds: Vec<String> = (0..6).map(|r| order(&c, r)).collect();
        assert_eq!(rounds, ["abc", "bca", "cab", "cba", "bac", "acb"]);
        // Over those rounds each subject comes first twice, and each
        // follows each other subject as often as it precedes it.
        for first in ["a", "b", "c"] {
            assert_eq!(rounds.iter().filter(|r| r.starts_with(first)).count(), 2);
        }
        let pairs = |x: char, y: char| {
            rounds
                .iter()
                .filter(|r| r.find(x).zip(r.find(y)).is_some_and(|(i, j)| j == i + 1))
                .count()
        };
        assert_eq!(pairs('a', 'b'), pairs('b', 'a'));
    }

    #[test]
    fn groups_of_different_probes_keep_their_place() {
        let mut c = cases(&["a", "b"]);
        c.push(Case {
            probe: Probe::GetpidBaseline,
            ..cases(&["z"]).remove(0)
        });
        assert_eq!(order(&c, 1), "baz");
    }
}

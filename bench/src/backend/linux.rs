//! The workload as `/init` of a real Linux kernel in versus' VMM
//! (`hypervisor::linux::run`), reported in the common [`RunReport`] shape.
//!
//! - [`LinuxBackend`] boots the kernel in this process and turns the VMM's
//!   [`LinuxRunReport`] into a [`RunReport`] ([`LinuxBackend::convert`]):
//!   the workload's `@versus` console lines become its start record and
//!   results; startup is launch → the start record when it came (what
//!   every backend reports), else launch → the console's "Run /init as
//!   init process" (the kernel ready to run the workload); the phases are VMM set-up ·
//!   boot→/init · run · teardown, the memory figures are the guest memory
//!   touched, the VMM's overhead and the image (kernel + initramfs), and
//!   the Linux-only details go into [`LinuxDetails`] — with every figure
//!   this run cannot have named, with its reason, instead of written as 0.
//! - [`LinuxProcessBackend`] runs `versus vm run --linux --json` in a fresh
//!   process and reads its report back: what `versus compare` uses, since
//!   a VMM's resident set is a property of its whole process (see
//!   `subprocess.rs`).
//!
//! On a software KVM backend the run stops at "Run /init": the exit is
//! [`ExitOutcome::StoppedAtInit`], no workload figure is claimed. On
//! hardware KVM `/init` runs to its end, its `@versus` lines are parsed as
//! the other backends parse theirs, and its status is the exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hypervisor::console::ConsoleObserver;
use hypervisor::linux::milestones::{InitStatus, Milestone};
use hypervisor::linux::run::{LinuxEnd, LinuxRunConfig, LinuxRunReport};
use hypervisor::linux::{KernelFormat, MINIMAL_KERNEL_PATH, initrd};

use super::{Backend, BackendError, Launch};
use crate::report::linux::{Assist, LinuxDetails, LinuxExitRow, NotMeasured};
use crate::report::{ExitOutcome, MemoryFigures, Nanos, Phase, RunReport};
use crate::workload::file::{ImageFileError, ImageKind, read_image};
use crate::workload::{self, Record, StartMarker, TaskResult};

/// The label of the Linux subject in reports and `versus compare`.
pub const LABEL: &str = "vm (Linux)";

/// Guest RAM for the minimal kernel when no size is given: it boots in
/// 40 MiB, and every page more is set up by emulated instructions on a
/// software backend.
pub const MINIMAL_KERNEL_MEM: u64 = 64 << 20;
/// Guest RAM for any other kernel when no size is given: a distribution
/// kernel wants well over 128 MiB before its initcalls are done.
pub const OTHER_KERNEL_MEM: u64 = 512 << 20;
/// How long a boot may take when the launch sets no timeout: the minimal
/// kernel needs minutes to reach "Run /init" on a busy software backend.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(900);

/// The one sentence that says why a run stops at "Run /init".
pub const STOP_AT_INIT: &str = "the boot is done, and on this software KVM backend a user-mode system call does not enter the guest kernel, so /init could not run";

/// Why a workload figure is empty when the run stopped at "Run /init".
const NO_USER_SPACE: &str =
    "Linux user space cannot make system calls on a software KVM backend: the workload never ran";

/// A Linux kernel that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LinuxKernelError {
    /// The minimal kernel has not been built.
    #[error(
        "the minimal Linux kernel is not built ({path} is missing): run `make linux-guest` (it fetches Debian's linux-source and builds it), or give --linux-kernel PATH"
    )]
    NotBuilt {
        /// Where it should be.
        path: PathBuf,
    },
    /// The file cannot be read as a kernel image.
    #[error(transparent)]
    File(#[from] ImageFileError),
}

/// The kernel file to boot: `path`, or the minimal kernel `make
/// linux-guest` builds when `path` is `None` — checked to exist, with the
/// fix named when it does not.
pub fn kernel_path(path: Option<&Path>) -> Result<PathBuf, LinuxKernelError> {
    kernel_path_or(path, Path::new(MINIMAL_KERNEL_PATH))
}

/// [`kernel_path`] with the minimal kernel at `minimal`.
fn kernel_path_or(path: Option<&Path>, minimal: &Path) -> Result<PathBuf, LinuxKernelError> {
    match path {
        Some(path) => Ok(path.to_path_buf()),
        // Canonical, so reports name `…/guest-images/linux/out/bzImage`
        // rather than the build-time `hypervisor/../guest-images/…`.
        None if minimal.is_file() => Ok(minimal
            .canonicalize()
            .unwrap_or_else(|_| minimal.to_path_buf())),
        None => Err(LinuxKernelError::NotBuilt {
            path: minimal.to_path_buf(),
        }),
    }
}

/// The initramfs a Linux boot gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Initramfs {
    /// versus' own, with the launch's workload as `/init`.
    Workload,
    /// The user's (`--initrd`), with its own `/init`.
    User(Vec<u8>),
    /// None: the kernel has no `/init` to run (a boot to its end alone).
    None,
}

/// Boots a Linux kernel with the workload as `/init`.
#[derive(Debug, Clone)]
pub struct LinuxBackend {
    /// The kernel file (for reports).
    pub kernel_path: PathBuf,
    /// Its bytes (bzImage or ELF vmlinux).
    pub kernel: Vec<u8>,
    /// Which initramfs the kernel gets.
    pub initramfs: Initramfs,
    /// The user's command line, after versus' defaults.
    pub cmdline: Option<String>,
    /// vCPUs.
    pub vcpus: u32,
    /// Guest RAM (`None`: [`MINIMAL_KERNEL_MEM`] for the minimal kernel,
    /// [`OTHER_KERNEL_MEM`] for any other).
    pub memory: Option<u64>,
}

impl LinuxBackend {
    /// The kernel at `path` (the minimal one when `None`), one vCPU, the
    /// default memory, versus' initramfs and command line.
    pub fn new(path: Option<&Path>) -> Result<Self, LinuxKernelError> {
        let kernel_path = kernel_path(path)?;
        // A regular file, and no larger than the largest kernel versus
        // unpacks (so `/dev/zero` or a huge file is refused before it is read).
        let kernel = read_image(&kernel_path, ImageKind::LinuxKernel)?;
        Ok(Self {
            kernel_path,
            kernel,
            initramfs: Initramfs::Workload,
            cmdline: None,
            vcpus: 1,
            memory: None,
        })
    }

    fn is_minimal_kernel(&self) -> bool {
        self.kernel_path == Path::new(MINIMAL_KERNEL_PATH)
    }

    /// How long a boot may be silent: a minute for the minimal kernel,
    /// minutes for a distribution's, which computes that long without a
    /// word on a software backend.
    fn stall_silence(&self) -> Duration {
        if self.is_minimal_kernel() {
            hypervisor::linux::run::STALL_SILENCE
        } else {
            hypervisor::linux::run::STALL_SILENCE_OTHER_KERNEL
        }
    }

    fn memory(&self) -> u64 {
        self.memory.unwrap_or(if self.is_minimal_kernel() {
            MINIMAL_KERNEL_MEM
        } else {
            OTHER_KERNEL_MEM
        })
    }

    /// The initramfs archive for `launch`, if any.
    fn initramfs(&self, launch: &Launch) -> Option<Vec<u8>> {
        match &self.initramfs {
            Initramfs::Workload => Some(initrd::workload_archive(launch.workload.bytes())),
            Initramfs::User(archive) => Some(archive.clone()),
            Initramfs::None => None,
        }
    }

    /// Boots the kernel for `launch`, the console shown to `observer` as it
    /// arrives and the guest stopped when `stop_flag` becomes true: the
    /// VMM's own report (for `versus vm run --linux`'s text) and the common
    /// one.
    pub fn boot(
        &self,
        launch: &Launch,
        observer: Option<ConsoleObserver>,
        stop_flag: Option<&'static AtomicBool>,
    ) -> Result<(LinuxRunReport, RunReport), BackendError> {
        let initrd = self.initramfs(launch);
        let config = LinuxRunConfig {
            kernel: self.kernel.clone(),
            cmdline: self.cmdline.clone(),
            vcpus: self.vcpus,
            memory: self.memory(),
            timeout: launch.timeout.unwrap_or(DEFAULT_TIMEOUT),
            stall_silence: self.stall_silence(),
            console_observer: observer,
            stop_flag,
            initrd,
            // A user's initramfs has its own /init, which gets no task.
            init_args: match self.initramfs {
                Initramfs::Workload => launch.argv.clone(),
                Initramfs::User(_) | Initramfs::None => Vec::new(),
            },
        };
        let raw = hypervisor::linux::run::boot(&config).map_err(|source| BackendError::Linux {
            kernel: self.kernel_path.display().to_string(),
            source: Box::new(source),
        })?;
        let report = self.convert(&raw, launch)?;
        Ok((raw, report))
    }

    /// The VMM's report in the common shape; a malformed `@versus` line
    /// is an error, as on every other backend.
    pub fn convert(
        &self,
        raw: &LinuxRunReport,
        launch: &Launch,
    ) -> Result<RunReport, BackendError> {
        let nanos = |d: Duration| d.as_nanos() as Nanos;
        let workload = WorkloadLines::parse(&raw.workload_lines)?;
        let init_at = raw
            .milestones
            .iter()
            .find(|(m, _)| *m == Milestone::RunInit)
            .map(|(_, at)| *at);
        // The run's four phases; without "Run /init" the whole boot is the
        // boot phase and there is no run.
        let boot_end = init_at.unwrap_or(raw.elapsed).max(raw.setup);
        let phases = vec![
            Phase::new("VMM set-up", nanos(raw.setup)),
            Phase::new("boot→/init", nanos(boot_end - raw.setup)),
            Phase::new("run", nanos(raw.elapsed.saturating_sub(boot_end))),
            Phase::new("teardown", nanos(raw.teardown)),
        ];
        let exit = match &raw.end {
            LinuxEnd::InitReached => ExitOutcome::StoppedAtInit {
                reason: STOP_AT_INIT.to_string(),
            },
            LinuxEnd::InitEnded(InitStatus::Exited(code)) => ExitOutcome::Exited {
                code: i32::from(*code),
            },
            LinuxEnd::InitEnded(InitStatus::Signaled(signal)) => ExitOutcome::Signaled {
                signal: i32::from(*signal),
                name: container::launch::signal_name(i32::from(*signal)),
            },
            LinuxEnd::Timeout => ExitOutcome::TimedOut {
                after_ns: nanos(launch.timeout.unwrap_or(DEFAULT_TIMEOUT)),
            },
            LinuxEnd::Interrupted => ExitOutcome::Interrupted,
            other => ExitOutcome::VmFailed {
                reason: other.to_string(),
            },
        };
        let stopped_at_init = raw.end == LinuxEnd::InitReached;
        let touched = raw.memory_touched;
        let memory = MemoryFigures {
            workload_peak_rss_bytes: None,
            image_bytes: Some(self.kernel.len() as u64 + raw.initrd_size),
            guest_touched_bytes: Some(touched),
            vmm_overhead_rss_bytes: raw.process_rss.map(|rss| rss.saturating_sub(touched)),
            cgroup_memory_peak_bytes: None,
            launcher_rss_bytes: None,
        };
        let mut not_measured = vec![NotMeasured {
            field: "memory.workload_peak_rss_bytes".into(),
            reason: "the workload is a process inside the guest, not on the host: the guest memory touched counts its pages".into(),
        }];
        if raw.process_rss.is_none() {
            not_measured.push(NotMeasured {
                field: "memory.vmm_overhead_rss_bytes".into(),
                reason: "/proc/self/status gave no VmRSS".into(),
            });
        }
        // Launch → the workload's start record, as every backend reports;
        // a boot that only got to "Run /init" is timed to that.
        let startup_at = workload.start_at.or(init_at);
        if startup_at.is_none() {
            not_measured.push(NotMeasured {
                field: "startup_ns".into(),
                reason: format!("the boot did not reach \"Run /init\": {}", raw.end),
            });
        }
        let missing = |what: &str| {
            if stopped_at_init {
                NO_USER_SPACE.to_string()
            } else {
                format!(
                    "the workload printed no @versus {what} line on the console; the run ended: {}",
                    raw.end
                )
            }
        };
        if workload.start.is_none() {
            not_measured.push(NotMeasured {
                field: "start".into(),
                reason: missing("start"),
            });
        }
        if workload.results.is_empty() {
            not_measured.push(NotMeasured {
                field: "results".into(),
                reason: missing("result"),
            });
        }
        let mut exits: Vec<LinuxExitRow> = raw
            .exits
            .iter()
            .filter(|(kind, _)| *kind != hypervisor::ExitKind::Interrupted)
            .map(|(kind, figures)| LinuxExitRow {
                reason: kind.to_string(),
                count: figures.count,
                host_ns: figures.total_ns,
            })
            .collect();
        exits.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
        let details = LinuxDetails {
            kernel: self.kernel_path.display().to_string(),
            kernel_format: format_name(raw.format),
            kernel_bytes: self.kernel.len() as u64,
            initramfs_bytes: raw.initrd_size,
            cmdline: raw.cmdline.clone(),
            vcpus: self.vcpus,
            kvm_backend: raw.backend.label(),
            software_backend: raw.backend.is_software(),
            ended: raw.end.to_string(),
            stopped_because: stopped_at_init.then(|| STOP_AT_INIT.to_string()),
            milestones: raw
                .milestones
                .iter()
                .map(|(m, at)| crate::report::linux::Milestone {
                    name: m.name().trim_matches('"').to_string(),
                    since_launch_ns: nanos(*at),
                })
                .collect(),
            exits,
            assists: raw
                .assists
                .iter()
                .map(|(what, count)| Assist {
                    instruction: (*what).to_string(),
                    count: *count,
                })
                .collect(),
            console_lines: raw.console_lines,
            last_lines: raw.last_lines.clone(),
            not_measured,
        };
        Ok(RunReport {
            backend: LABEL.to_string(),
            workload: launch.workload.source().clone(),
            argv: launch.argv.clone(),
            rootfs_command: false,
            startup_ns: startup_at.map(nanos),
            phases,
            start: workload.start,
            results: workload.results,
            exit,
            memory,
            other_output_lines: 0,
            stdout: String::new(),
            stderr: String::new(),
            output_echoed: launch.echo,
            vm: None,
            linux: Some(details),
            container: None,
            process: None,
        })
    }
}

/// The workload's `@versus` lines of a Linux run, parsed.
#[derive(Debug, Default)]
struct WorkloadLines {
    /// The first start record.
    start: Option<StartMarker>,
    /// When it arrived (since launch).
    start_at: Option<Duration>,
    /// The results, in the order printed.
    results: Vec<TaskResult>,
}

impl WorkloadLines {
    /// Parses the lines with the protocol's parser: the first start record
    /// counts (as on the VM backend), every result is kept, and a malformed
    /// line is the error that names it.
    fn parse(lines: &[(String, Duration)]) -> Result<Self, workload::ParseError> {
        let mut parsed = Self::default();
        for (line, at) in lines {
            match workload::parse_line(line)? {
                Some(Record::Start(marker)) if parsed.start.is_none() => {
                    parsed.start = Some(marker);
                    parsed.start_at = Some(*at);
                }
                Some(Record::Result(result)) => parsed.results.push(result),
                Some(Record::Start(_)) | None => {}
            }
        }
        Ok(parsed)
    }
}

/// "ELF vmlinux", "bzImage (gzip payload, unpacked by versus)".
pub fn format_name(format: KernelFormat) -> String {
    match format {
        KernelFormat::Elf => "ELF vmlinux".to_owned(),
        KernelFormat::BzImage(c) => format!("bzImage ({} payload, unpacked by versus)", c.name()),
    }
}

impl Backend for LinuxBackend {
    fn name(&self) -> &str {
        LABEL
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        self.boot(launch, None, None).map(|(_, report)| report)
    }
}

/// `versus vm run --linux --linux-kernel PATH --json -- ARGV` in a fresh
/// process, its JSON report read back: the Linux subject of `versus
/// compare`, whose VMM overhead must be that process's alone.
#[derive(Debug, Clone)]
pub struct LinuxProcessBackend {
    /// The `versus` executable.
    pub program: PathBuf,
    /// The kernel file (`None`: the minimal kernel, `--linux`).
    pub kernel: Option<PathBuf>,
}

impl Backend for LinuxProcessBackend {
    fn name(&self) -> &str {
        LABEL
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        let mut command = Command::new(&self.program);
        command.args(["vm", "run", "--json"]);
        match &self.kernel {
            Some(path) => command.arg("--linux-kernel").arg(path),
            None => command.arg("--linux"),
        };
        if let Some(limit) = launch.timeout {
            command
                .arg("--timeout")
                .arg(format!("{}ms", limit.as_millis()));
        }
        if let crate::workload::WorkloadSource::File(path) = launch.workload.source() {
            command.arg("--workload").arg(path);
        }
        command.arg("--").args(&launch.argv);
        let command_line = format!(
            "{} vm run {} --json",
            self.program.display(),
            match &self.kernel {
                Some(path) => format!("--linux-kernel {}", path.display()),
                None => "--linux".to_string(),
            }
        );
        let output = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(BackendError::Spawn)?;
        // The exit status follows the boot; the report says how it ended.
        serde_json::from_slice(&output.stdout).map_err(|error| {
            let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
            BackendError::Subprocess {
                command: command_line,
                problem: if said.is_empty() {
                    format!("no report ({error}), {}", output.status)
                } else {
                    said
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hypervisor::ExitKind;
    use hypervisor::ExitStats;
    use hypervisor::kvm::KvmBackend;
    use hypervisor::linux::{Compression, EntryProtocol};

    use super::*;
    use crate::workload::Workload;

    const SECOND: Duration = Duration::from_secs(1);

    /// Why the report says `field` was not measured (`None`: it was).
    fn why_not_measured<'a>(
        linux: &'a crate::report::linux::LinuxDetails,
        field: &str,
    ) -> Option<&'a str> {
        linux
            .not_measured
            .iter()
            .find(|n| n.field == field)
            .map(|n| n.reason.as_str())
    }

    fn backend() -> LinuxBackend {
        LinuxBackend {
            kernel_path: PathBuf::from("bzImage"),
            kernel: vec![0; 1000],
            initramfs: Initramfs::Workload,
            cmdline: None,
            vcpus: 1,
            memory: None,
        }
    }

    #[test]
    fn a_distribution_kernel_gets_minutes_of_silence_before_a_stall() {
        let mut other = backend();
        assert_eq!(
            other.stall_silence(),
            hypervisor::linux::run::STALL_SILENCE_OTHER_KERNEL
        );
        other.kernel_path = PathBuf::from(MINIMAL_KERNEL_PATH);
        assert_eq!(other.stall_silence(), hypervisor::linux::run::STALL_SILENCE);
        assert!(
            hypervisor::linux::run::STALL_SILENCE_OTHER_KERNEL
                > 2 * hypervisor::linux::run::STALL_SILENCE
        );
    }

    fn launch() -> Launch {
        Launch {
            workload: Workload::embedded(),
            argv: vec!["startup".into()],
            timeout: Some(60 * SECOND),
            echo: false,
        }
    }

    /// A boot that reached "Run /init" at 20 s and stopped there.
    fn raw(end: LinuxEnd, milestones: Vec<(Milestone, Duration)>) -> LinuxRunReport {
        let mut exits = ExitStats::default();
        for _ in 0..3 {
            exits.record(ExitKind::IoOut { port: 0x3f8 }, 10);
        }
        exits.record(ExitKind::Hlt, 5);
        LinuxRunReport {
            backend: KvmBackend::Software {
                module: "kvm_pvm".into(),
            },
            format: KernelFormat::BzImage(Compression::Gzip),
            entry: EntryProtocol::Linux64,
            cmdline: "console=ttyS0 -- startup".into(),
            defaults: Vec::new(),
            end,
            milestones,
            last_lines: vec!["[ 1.0] Run /init as init process".into()],
            console_lines: 100,
            workload_lines: Vec::new(),
            exits,
            assists: BTreeMap::from([("int3 (#BP injected)", 1)]),
            elapsed: 21 * SECOND,
            setup: SECOND / 50,
            teardown: SECOND / 40,
            process_rss: Some(40 << 20),
            memory_touched: 18 << 20,
            initrd_size: 500,
        }
    }

    #[test]
    fn a_boot_stopped_at_init_is_timed_to_run_init_and_claims_no_workload_figure() {
        let raw = raw(
            LinuxEnd::InitReached,
            vec![
                (Milestone::FirstLine, 2 * SECOND),
                (Milestone::RunInit, 20 * SECOND),
            ],
        );
        let report = backend().convert(&raw, &launch()).unwrap();
        assert_eq!(report.backend, LABEL);
        assert_eq!(report.startup_ns, Some(20_000_000_000));
        let names: Vec<&str> = report.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["VMM set-up", "boot→/init", "run", "teardown"]);
        // Set-up and boot together are launch → "Run /init"; the run is
        // the rest of the elapsed time.
        assert_eq!(
            report.phases[0].ns + report.phases[1].ns,
            report.startup_ns.unwrap()
        );
        assert_eq!(report.phases[2].ns, 1_000_000_000);
        assert!(matches!(report.exit, ExitOutcome::StoppedAtInit { .. }));
        assert!(report.exit.measured() && !report.exit.success());
        assert_eq!(report.memory.image_bytes, Some(1500));
        assert_eq!(report.memory.guest_touched_bytes, Some(18 << 20));
        assert_eq!(report.memory.vmm_overhead_rss_bytes, Some(22 << 20));
        assert_eq!(report.memory.workload_peak_rss_bytes, None);
        assert!(report.start.is_none() && report.results.is_empty());
        let linux = report.linux.expect("Linux details");
        let why = |field: &str| why_not_measured(&linux, field);
        assert_eq!(why("results"), Some(NO_USER_SPACE));
        assert_eq!(why("start"), Some(NO_USER_SPACE));
        assert!(why("memory.workload_peak_rss_bytes").is_some());
        assert_eq!(why("startup_ns"), None);
        assert_eq!(linux.stopped_because.as_deref(), Some(STOP_AT_INIT));
        // The busiest exit first, as the text report lists them.
        assert_eq!(
            linux.exits[0].reason,
            ExitKind::IoOut { port: 0x3f8 }.to_string()
        );
        assert_eq!((linux.exits[0].count, linux.exits[0].host_ns), (3, 30));
        assert_eq!(linux.assists[0].count, 1);
        assert_eq!(linux.milestones[1].name, "Run /init as init process");
    }

    #[test]
    fn a_boot_that_panicked_before_init_has_no_startup_and_says_why() {
        let raw = raw(LinuxEnd::Panic, vec![(Milestone::FirstLine, 2 * SECOND)]);
        let report = backend().convert(&raw, &launch()).unwrap();
        assert_eq!(report.startup_ns, None);
        assert!(!report.exit.measured());
        assert!(
            matches!(&report.exit, ExitOutcome::VmFailed { reason } if reason == "the kernel panicked")
        );
        // The whole boot is the boot phase; there was no run.
        assert_eq!(report.phases[2].ns, 0);
        let linux = report.linux.expect("Linux details");
        assert!(
            why_not_measured(&linux, "startup_ns").is_some_and(|why| why.contains("did not reach")),
            "{:?}",
            linux.not_measured
        );
        assert_eq!(linux.stopped_because, None);
    }

    /// A boot whose /init ran (hardware KVM): "Run /init" at 20 s, the
    /// workload's lines at 20.5 s and 20.75 s, then its exit.
    fn ran_to_its_end(workload_lines: &[(&str, Duration)]) -> LinuxRunReport {
        let mut raw = raw(
            LinuxEnd::InitEnded(InitStatus::Exited(0)),
            vec![
                (Milestone::FirstLine, 2 * SECOND),
                (Milestone::RunInit, 20 * SECOND),
                (Milestone::Panic, 21 * SECOND),
            ],
        );
        raw.workload_lines = workload_lines
            .iter()
            .map(|(line, at)| ((*line).to_string(), *at))
            .collect();
        raw
    }

    #[test]
    fn the_workloads_lines_give_the_start_the_results_and_startup_from_the_start_line() {
        let raw = ran_to_its_end(&[
            (
                "@versus start task=getpid pid=1 mono_ns=5000",
                20 * SECOND + SECOND / 2,
            ),
            (
                "@versus task=getpid iters=1000 ns_per_op=48.70 total_ns=48700 pid=1",
                20 * SECOND + SECOND * 3 / 4,
            ),
            ("@versus start task=getpid pid=9 mono_ns=1", 21 * SECOND),
        ]);
        let report = backend().convert(&raw, &launch()).unwrap();
        let start = report.start.as_ref().expect("the start record");
        assert_eq!(
            (start.task.as_str(), start.pid),
            ("getpid", 1),
            "the first one counts"
        );
        assert_eq!(
            report.startup_ns,
            Some(20_500_000_000),
            "launch → the start line"
        );
        assert_eq!(report.results.len(), 1);
        assert_eq!(report.results[0].task_name(), "getpid");
        assert!(matches!(report.exit, ExitOutcome::Exited { code: 0 }));
        let linux = report.linux.expect("Linux details");
        assert!(
            linux
                .milestones
                .iter()
                .any(|m| m.name == "Run /init as init process"
                    && m.since_launch_ns == 20_000_000_000),
            "\"Run /init\" stays a milestone"
        );
        for field in ["start", "results", "startup_ns"] {
            assert!(
                why_not_measured(&linux, field).is_none(),
                "{field} was measured: {:?}",
                linux.not_measured
            );
        }
    }

    #[test]
    fn an_init_that_printed_nothing_says_so_and_is_timed_to_run_init() {
        let report = backend().convert(&ran_to_its_end(&[]), &launch()).unwrap();
        assert!(report.start.is_none() && report.results.is_empty());
        assert_eq!(report.startup_ns, Some(20_000_000_000));
        let linux = report.linux.expect("Linux details");
        let why = |field: &str| why_not_measured(&linux, field).unwrap_or_default();
        assert!(
            why("start").contains("no @versus start line"),
            "{}",
            why("start")
        );
        assert!(
            why("results").contains("/init exited with status 0"),
            "{}",
            why("results")
        );
    }

    #[test]
    fn a_malformed_workload_line_is_the_error_that_names_it() {
        let raw = ran_to_its_end(&[
            ("@versus start task=startup pid=1 mono_ns=5", SECOND),
            ("@versus task=startup iters=\"unterminated", 2 * SECOND),
        ]);
        let error = backend().convert(&raw, &launch()).unwrap_err();
        assert!(
            matches!(&error, BackendError::Parse(e) if e.line.contains("unterminated")),
            "{error}"
        );
        assert!(
            error.to_string().contains("malformed workload line"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_minimal_kernel_names_make_linux_guest() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("bzImage");
        let error = kernel_path_or(None, &missing).unwrap_err().to_string();
        assert!(error.contains("run `make linux-guest`"), "{error}");
        assert!(error.contains(&missing.display().to_string()), "{error}");
        // A kernel the user names is taken as given (read, and refused if
        // need be, by the image reader).
        assert_eq!(
            kernel_path_or(Some(Path::new("/k")), &missing).unwrap(),
            PathBuf::from("/k")
        );
    }
}

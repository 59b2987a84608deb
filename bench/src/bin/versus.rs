//! `versus`: run the same workload on the host, in a container and in a VM,
//! and show how they differ.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use bench::backend::container::{ContainerBackend, ContainerSettings, Rootfs as ContainerRootfs};
use bench::backend::host::HostBackend;
use bench::backend::vm::{Kernel, VmBackend, VmSettings};
use bench::backend::{Backend, Launch};
use bench::doctor;
use bench::output;
use bench::render;
use bench::request::RunRequest;
use hypervisor::MemoryConfig;

/// Run the same workload on the host, in a container and in a KVM virtual
/// machine, and measure how they differ.
#[derive(Debug, Parser)]
#[command(name = "versus", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the same workload on the host, in containers and in VMs, side by
    /// side: startup, memory, system calls, exits and I/O, identity.
    Compare(CompareArgs),
    /// Run the workload as a plain host process: the baseline.
    Host {
        #[command(subcommand)]
        action: HostAction,
    },
    /// Run the workload as PID 1 of a Linux container on the host's kernel.
    Container {
        #[command(subcommand)]
        action: ContainerAction,
    },
    /// Run the workload in a KVM virtual machine on versus' tiny kernel.
    Vm {
        #[command(subcommand)]
        action: VmAction,
    },
    /// Check what this host offers: KVM and its backend, cgroups, namespaces,
    /// seccomp, LSMs, privileges — each with a one-line fix.
    Doctor {
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Internal: run one `bench::request::RunRequest` read as JSON on stdin
    /// and print its report as JSON — how `versus compare` runs a backend
    /// in a fresh process for its memory figures.
    #[command(name = "__run-request", hide = true)]
    RunRequest,
}

/// Options of `versus compare`, in hyperfine's spirit.
#[derive(Debug, Args)]
struct CompareArgs {
    /// Measured rounds; every backend runs once per round, interleaved.
    #[arg(long, short = 'r', default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    runs: u64,

    /// Warm-up rounds before measuring (not counted).
    #[arg(long, short = 'w', default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    warmup: u64,

    /// Only these sections (comma-separated): startup, memory, syscall, io, identity.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SECTIONS")]
    only: Vec<bench::compare::Section>,

    /// vCPUs of the second VM in the startup section (`vm ×N`); 1 leaves it out.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    vcpus: u32,

    /// Guest memory of every VM (e.g. `512M`), split low/high around the MMIO hole.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    mem: Option<u64>,

    /// Write the full results as JSON to FILE (rewritten after every round).
    #[arg(long = "export-json", value_name = "FILE")]
    export_json: Option<PathBuf>,

    /// Write one CSV row per figure to FILE (rewritten after every round).
    #[arg(long = "export-csv", value_name = "FILE")]
    export_csv: Option<PathBuf>,

    /// Write the tables as Markdown to FILE (rewritten after every round).
    #[arg(long = "export-markdown", value_name = "FILE")]
    export_markdown: Option<PathBuf>,

    /// Draw the startup comparison and each backend's phase timeline as SVG.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,

    /// Print the comparison as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum HostAction {
    /// Run one task and print its results, phases and exit.
    Run(RunArgs),
}

#[derive(Debug, Subcommand)]
enum ContainerAction {
    /// Launch a container (namespaces, cgroup, capabilities, seccomp,
    /// pivot_root), run one task or command as PID 1, and print results,
    /// phases, cgroup statistics and what fenced it in.
    Run(ContainerRunArgs),
}

/// Options of `versus container run`, named as Docker users know them.
#[derive(Debug, Args)]
struct ContainerRunArgs {
    /// Memory limit (cgroup `memory`, no swap), e.g. `64M`, `1G`.
    #[arg(long, short = 'm', value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,

    /// Most processes and threads at once (cgroup `pids`).
    #[arg(long = "pids-limit", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pids_limit: Option<u64>,

    /// CPU bandwidth in CPUs, e.g. `0.5`, `1.5` (cgroup `cpu`).
    #[arg(long, value_name = "CPUS")]
    cpus: Option<f64>,

    /// The container's hostname (its own UTS namespace); default `versus`.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,

    /// Use this directory as the root filesystem (never written to); the
    /// arguments are then a command inside it, e.g. `/bin/sh -c 'ls /'`.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["busybox", "workload"])]
    rootfs: Option<PathBuf>,

    /// Add the host's static busybox to the built root filesystem, for
    /// commands such as `-- /bin/sh -c 'ps; ls /'`.
    #[arg(long)]
    busybox: bool,

    /// Run in a new user namespace even as root (uid 0 inside maps to an
    /// unprivileged range outside); without root it is always used.
    #[arg(long)]
    userns: bool,

    /// Leave a namespace shared with the host (pid, mnt, uts, ipc, net,
    /// cgroup, user); repeat or separate with commas.
    #[arg(long, value_name = "NS", value_delimiter = ',', value_parser = parse_namespace)]
    share: Vec<container::Namespace>,

    /// Add a capability to Docker's default set (e.g. `NET_ADMIN`, `ALL`).
    #[arg(long = "cap-add", value_name = "CAP", value_delimiter = ',')]
    cap_add: Vec<String>,

    /// Drop a capability from Docker's default set (e.g. `CHOWN`, `ALL`).
    #[arg(long = "cap-drop", value_name = "CAP", value_delimiter = ',')]
    cap_drop: Vec<String>,

    /// The seccomp profile: Docker's default (x86-64) or none.
    #[arg(long, value_name = "PROFILE", default_value = "default", value_parser = parse_seccomp)]
    seccomp: container::SeccompMode,

    /// Mount the root filesystem read-only.
    #[arg(long = "read-only")]
    read_only: bool,

    /// Print the launch steps (mounts, pivot_root, …) on stderr.
    #[arg(long)]
    trace: bool,

    #[command(flatten)]
    run: RunArgs,
}

fn parse_namespace(text: &str) -> Result<container::Namespace, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

fn parse_seccomp(text: &str) -> Result<container::SeccompMode, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

#[derive(Debug, Subcommand)]
enum VmAction {
    /// Boot a VM, run one task on every vCPU, and print results, phases,
    /// exits and memory.
    Run(VmRunArgs),
}

/// Where the workload runs inside the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RunOn {
    /// One instance on every vCPU, each reporting its own results.
    Every,
    /// One instance on the bootstrap processor only.
    Bsp,
}

/// Options of `versus vm run`.
#[derive(Debug, Args)]
struct VmRunArgs {
    /// Number of vCPUs, one host thread each.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    vcpus: u32,

    /// Guest memory, split into a low region at 0 and a high region at 4 GiB
    /// (e.g. `512M`, `2G`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "mem_region")]
    mem: Option<u64>,

    /// An explicit guest RAM region, `ADDR:SIZE` (e.g. `0:256M`,
    /// `0x100000000:256M`); repeat for several.
    #[arg(long = "mem-region", value_name = "ADDR:SIZE", value_parser = parse_region)]
    mem_region: Vec<(u64, u64)>,

    /// Boot this kernel ELF instead of the embedded tiny kernel.
    #[arg(long, value_name = "PATH")]
    kernel: Option<PathBuf>,

    /// Run the workload on every vCPU or on the bootstrap processor only.
    #[arg(long, value_enum, default_value_t = RunOn::Every)]
    on: RunOn,

    /// Print every VM exit with a timestamp on stderr.
    #[arg(long)]
    trace: bool,

    /// The guest console: the paravirtual port (one exit per write) or the
    /// emulated 16550 UART (one exit per byte).
    #[arg(long, value_enum, default_value_t = Console::Paravirt)]
    console: Console,

    /// Single-step the guest and count its kernel-mode instructions: to the
    /// workload's start (the boot) and in the whole run. Slow — one exit
    /// per instruction — so use it with short tasks.
    #[arg(long = "count-instructions")]
    count_instructions: bool,

    /// Measure the VM exit round trip first: the guest kernel makes N port
    /// writes in a loop before the workload starts (delays the start marker).
    #[arg(long = "exit-probe", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(hypervisor::MAX_EXIT_PROBE_ITERS)))]
    exit_probe: Option<u32>,

    #[command(flatten)]
    run: RunArgs,
}

impl VmRunArgs {
    /// The VM settings these flags ask for: the one place they are read.
    fn settings(&self) -> VmSettings {
        let defaults = VmSettings::default();
        VmSettings {
            vcpus: self.vcpus,
            memory: if !self.mem_region.is_empty() {
                MemoryConfig::Regions(self.mem_region.clone())
            } else {
                self.mem.map_or(defaults.memory, MemoryConfig::Total)
            },
            every_vcpu: self.on == RunOn::Every,
            trace: self.trace,
            exit_probe: self.exit_probe,
            console_uart: self.console == Console::Uart,
            count_instructions: self.count_instructions,
        }
    }
}

/// The guest console device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Console {
    /// One exit per write: the guest hands over a whole buffer.
    Paravirt,
    /// One exit per byte, as on a real serial port.
    Uart,
}

/// Every size flag reads sizes the same way (`512M`, `1.5G`, `64mib`).
fn parse_size(text: &str) -> Result<u64, String> {
    bench::units::parse_size(text).map_err(|err| err.to_string())
}

/// `ADDR:SIZE`, the address in hex (`0x…`) or as a size (`4G`).
fn parse_region(text: &str) -> Result<(u64, u64), String> {
    let (addr, size) = text
        .split_once(':')
        .ok_or_else(|| format!("expected ADDR:SIZE such as 0x100000000:256M, got '{text}'"))?;
    let addr = match addr.strip_prefix("0x").or_else(|| addr.strip_prefix("0X")) {
        Some(hex) => {
            u64::from_str_radix(hex, 16).map_err(|_| format!("bad hexadecimal address '{addr}'"))?
        }
        None => parse_size(addr)?,
    };
    Ok((addr, parse_size(size)?))
}

/// Options shared by every `run` subcommand.
#[derive(Debug, Args)]
struct RunArgs {
    /// Run this static x86-64 ELF instead of the embedded workload; the task
    /// arguments are then passed to it unchecked.
    #[arg(long, value_name = "PATH")]
    workload: Option<PathBuf>,

    /// Stop the workload after this long (e.g. `500ms`, `10s`, `2m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,

    /// Print the full report as JSON instead of tables.
    #[arg(long)]
    json: bool,

    /// The task and its arguments, e.g. `getpid 1000000` (`--help` lists the tasks).
    #[arg(
        long_help = format!("The task and its arguments, e.g. `getpid 1000000`.\n\n{}", bench::workload::task_help().trim_end()),
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "TASK ARGS"
    )]
    task: Vec<String>,
}

/// The one duration grammar of versus' flags (humantime's: `500ms`, `10s`,
/// `2m`, `1h 30m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|err| format!("{err} (write it like 500ms, 10s or 2m)"))?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

impl RunArgs {
    /// Checks the workload and, with `check_task`, the task (false: the
    /// arguments are a command of their own, an external root
    /// filesystem's), and turns them into a [`Launch`].
    fn launch(&self, check_task: bool) -> Result<Launch> {
        Ok(bench::request::launch(
            self.workload.as_deref(),
            &self.task,
            self.timeout,
            check_task,
        )?)
    }
}

impl ContainerRunArgs {
    /// The container settings these flags ask for: the one place they are
    /// read. `--busybox` looks for the host's busybox here.
    fn settings(&self) -> Result<ContainerSettings> {
        let rootfs = match (&self.rootfs, self.busybox) {
            (Some(dir), _) => ContainerRootfs::Dir(dir.clone()),
            (None, true) => {
                ContainerRootfs::WorkloadWithBusybox(container::rootfs::host_busybox().context(
                    "--busybox needs a statically linked busybox on the host \
                     (install Debian's busybox-static)",
                )?)
            }
            (None, false) => ContainerRootfs::Workload,
        };
        Ok(ContainerSettings {
            rootfs,
            limits: container::Limits {
                memory: self.memory,
                pids: self.pids_limit,
                cpus: self.cpus,
            },
            hostname: self.hostname.clone(),
            share: self.share.clone(),
            userns: self.userns,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            seccomp: self.seccomp,
            read_only: self.read_only,
            trace: self.trace,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli);
    // A reader that went away (`versus … | head`) ends versus quietly, as it
    // ends `ls`; the run was stopped and cleaned up already.
    if output::stdout_closed() {
        return ExitCode::from(output::CLOSED_PIPE_STATUS);
    }
    match result {
        Ok(code) => code,
        Err(error) => {
            output::stderr_line(&format!("versus: error: {}", error_text(&error)));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes in one line, each cause once: a message that
/// already quotes its cause (`failed to create …: File exists`) is not
/// followed by the same cause again.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// Prints `text` on stdout; a closed pipe is not an error (see
/// [`bench::output`]), anything else is.
fn emit(text: &str) -> Result<()> {
    output::write_stdout(text.as_bytes()).context("cannot write to standard output")
}

/// The exit status after a run: the signal that interrupted versus
/// (130/143), or the workload's own status as a shell would show it.
fn run_status(report: &bench::report::RunReport) -> ExitCode {
    if let Some(status) = bench::interrupt::exit_status() {
        return ExitCode::from(status);
    }
    let status = report.exit.shell_status().clamp(0, 255);
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Compare(args) => compare(&args),
        Command::Host {
            action: HostAction::Run(args),
        } => {
            // Ctrl-C and SIGTERM stop the workload and report instead of
            // leaving it running.
            bench::interrupt::install().context("cannot install the SIGINT/SIGTERM handler")?;
            run_backend(&HostBackend, &args)
        }
        Command::Container {
            action: ContainerAction::Run(args),
        } => run_container(&args),
        Command::Vm {
            action: VmAction::Run(args),
        } => {
            let mut backend = VmBackend::with_settings(args.settings());
            if let Some(path) = &args.kernel {
                backend.kernel = Kernel::from_file(path)?;
            }
            // Ctrl-C and SIGTERM stop the guest and tear the VM down.
            bench::interrupt::install().context("cannot install the SIGINT/SIGTERM handler")?;
            run_backend(&backend, &args.run)
        }
        Command::RunRequest => run_request(),
        Command::Doctor { json } => {
            let report = doctor::diagnose(&doctor::HostView::real(), &doctor::RealProbes);
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
            } else {
                emit(&doctor::render(&report, std::io::stdout().is_terminal()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `versus container run`: the container backend configured from the flags.
fn run_container(args: &ContainerRunArgs) -> Result<ExitCode> {
    if args.userns && args.share.contains(&container::Namespace::User) {
        return usage_error(
            "--userns asks for a new user namespace and --share user for none: give one of them",
        );
    }
    let settings = args.settings()?;
    // A task for the workload, unless the arguments name a command of the
    // root filesystem.
    let is_command = settings.runs_command(&args.run.task);
    // Ctrl-C and SIGTERM stop the container and clean up instead of
    // abandoning its cgroup.
    bench::interrupt::install().context("cannot install the SIGINT/SIGTERM handler")?;
    let backend = ContainerBackend {
        settings,
        echo_output: is_command && !args.run.json,
        interrupt: Some(&bench::interrupt::INTERRUPTED),
    };
    let launch = match args.run.launch(!is_command) {
        Ok(launch) => launch,
        Err(error) => {
            let first = args.run.task.first().map(String::as_str).unwrap_or("");
            let hint = if args.busybox && !first.is_empty() {
                format!(
                    "\n  to run a command of the root filesystem, give its absolute path, e.g. /bin/{first}"
                )
            } else {
                String::new()
            };
            return usage_error(&format!("{}{hint}", error_text(&error)));
        }
    };
    report_run(&backend, &launch, args.run.json)
}

/// Runs one launch on `backend`, prints the report and exits as the
/// workload did (a shell sees the workload's status, 128+signal, or 124 on
/// timeout).
fn run_backend(backend: &dyn Backend, args: &RunArgs) -> Result<ExitCode> {
    let launch = match args.launch(true) {
        Ok(launch) => launch,
        Err(error) => return usage_error(&error_text(&error)),
    };
    report_run(backend, &launch, args.json)
}

/// `versus __run-request`: one run described by the JSON request on stdin
/// (see [`bench::request`]), its report printed as JSON.
fn run_request() -> Result<ExitCode> {
    let request: RunRequest = serde_json::from_reader(std::io::stdin().lock())
        .context("cannot read the run request on standard input")?;
    let backend = request.backend.backend()?;
    let launch = request.launch()?;
    // Ctrl-C and SIGTERM stop the run and clean up, as in `versus … run`.
    bench::interrupt::install().context("cannot install the SIGINT/SIGTERM handler")?;
    report_run(backend.as_ref(), &launch, true)
}

/// A usage error: the message on stderr, status 2 (as clap's own).
fn usage_error(message: &str) -> Result<ExitCode> {
    output::stderr_line(&format!("versus: error: {message}"));
    Ok(ExitCode::from(2))
}

/// Runs `launch` on `backend` and prints the report (table or JSON).
fn report_run(backend: &dyn Backend, launch: &Launch, json: bool) -> Result<ExitCode> {
    let report = backend
        .run(launch)
        .with_context(|| format!("running on the {} backend", backend.name()))?;
    if let Some(problem) = output::stdout_failure() {
        anyhow::bail!("cannot write to standard output: {problem}");
    }
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&render::run_report(&report))?;
    }
    Ok(run_status(&report))
}

/// The header's host facts: kernel and CPU from `versus doctor`, the KVM backend
/// from `hypervisor::kvm::detect_backend` — the classification every VM run's
/// `kvm_backend` (`hypervisor::kvm::host_info`) and doctor use, so the header and
/// the runs below it name the same backend.
fn host_header() -> bench::compare::model::HostHeader {
    let report = doctor::diagnose(&doctor::HostView::real(), &doctor::RealProbes);
    let backend = hypervisor::kvm::detect_backend(std::path::Path::new("/"));
    let bare_metal = matches!(backend, hypervisor::kvm::KvmBackend::Hardware { .. });
    // The explanation names the backend and says what it means for the
    // numbers ("… VM numbers here are NOT those of hardware virtualization.").
    let warning = (!bare_metal).then(|| backend.explanation().to_string());
    bench::compare::model::HostHeader {
        kernel: report.kernel_release.clone(),
        cpu: report.cpu_model.clone(),
        kvm_backend: backend.label(),
        kvm_is_bare_metal_hardware: bare_metal,
        kvm_warning: warning,
    }
}

/// Shows progress on stderr (hidden when stderr is not a terminal) and
/// rewrites the exports after every round.
struct CompareObserver {
    bar: indicatif::ProgressBar,
    exports: Vec<bench::compare::export::Export>,
    plot: Option<PathBuf>,
    errors: Vec<String>,
}

impl bench::compare::Observer for CompareObserver {
    fn start(&mut self, total_runs: usize) {
        self.bar.set_length(total_runs as u64);
    }

    fn ran(&mut self, record: &bench::compare::RunRecord) {
        self.bar.set_message(format!(
            "round {} · {}",
            record.round + 1,
            record.subject.label
        ));
        self.bar.inc(1);
    }

    fn round_done(&mut self, comparison: &bench::compare::Comparison) {
        for export in &self.exports {
            if let Err(error) = export.write(comparison) {
                self.errors.push(error.to_string());
            }
        }
        if let Some(path) = &self.plot
            && let Err(error) = bench::compare::plot::write_svg(comparison, path)
        {
            self.errors.push(error.to_string());
        }
    }
}

/// `versus compare`: plan, run interleaved, show.
fn compare(args: &CompareArgs) -> Result<ExitCode> {
    use bench::compare::export::{CsvExporter, Export, JsonExporter, MarkdownExporter};
    use bench::compare::{Comparer, Options, RealBackends, Section, derive, plan, render};

    let sections = if args.only.is_empty() {
        Section::ALL.to_vec()
    } else {
        Section::ALL
            .into_iter()
            .filter(|s| args.only.contains(s))
            .collect()
    };
    // Without a usable /dev/kvm every VM run would fail the same way: say
    // it once and compare what can be compared.
    let without_vm = hypervisor::kvm::open().err().map(|error| error.to_string());
    let options = Options {
        without_vm: without_vm.clone(),
        runs: usize::try_from(args.runs)?,
        warmup: usize::try_from(args.warmup)?,
        sections: sections.clone(),
        vcpus: args.vcpus,
        mem: args.mem,
    };
    // Refuse at once what the VMM would refuse in every run.
    if args.vcpus > 1 || args.mem.is_some() {
        let settings = bench::compare::VmVariant {
            vcpus: args.vcpus,
            console_uart: false,
            exit_probe: None,
            mem: args.mem,
        }
        .settings();
        // Every message about a total size names `--mem` itself.
        settings.config(Vec::new()).layout()?;
    }
    // Every output file is checked before the first round, so that a typo
    // does not cost a whole comparison.
    for (flag, path) in [
        ("--export-json", &args.export_json),
        ("--export-csv", &args.export_csv),
        ("--export-markdown", &args.export_markdown),
        ("--plot", &args.plot),
    ] {
        if let Some(path) = path {
            bench::fmt::check_writable(path)
                .with_context(|| format!("{flag} {}: cannot write there", path.display()))?;
        }
    }
    let mut exports = Vec::new();
    for (path, exporter) in [
        (
            &args.export_json,
            Box::new(JsonExporter) as Box<dyn bench::compare::export::Exporter>,
        ),
        (&args.export_csv, Box::new(CsvExporter)),
        (&args.export_markdown, Box::new(MarkdownExporter)),
    ] {
        if let Some(path) = path {
            exports.push(Export {
                exporter,
                path: path.clone(),
            });
        }
    }
    let context = derive::Context {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        host: host_header(),
        runs: options.runs,
        warmup: options.warmup,
        sections,
        without_vm,
    };
    bench::interrupt::install().context("cannot install the SIGINT/SIGTERM handler")?;
    let comparer = Comparer::new(
        plan(
            &options,
            &RealBackends {
                versus: std::env::current_exe().context("cannot find the versus executable")?,
            },
        ),
        options,
        context,
    );
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs · {msg} · {elapsed}")
            .expect("a valid progress template"),
    );
    let mut observer = CompareObserver {
        bar,
        exports,
        plot: args.plot.clone(),
        errors: Vec::new(),
    };
    let comparison = comparer.run(&mut observer, &bench::interrupt::requested);
    observer.bar.finish_and_clear();
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&comparison)?))?;
    } else {
        emit(&render::comparison(&comparison))?;
    }
    // The same export error after every round is reported once.
    observer.errors.dedup();
    for error in &observer.errors {
        output::stderr_line(&format!("versus: error: {error}"));
    }
    if let Some(status) = bench::interrupt::exit_status() {
        output::stderr_line(
            "versus: interrupted: the figures above cover the rounds completed so far",
        );
        return Ok(ExitCode::from(status));
    }
    // Like hyperfine with a failing command: everything measured is shown,
    // and the status says the picture is incomplete.
    let failed_runs = render::failures(&comparison).len();
    if let Some(reason) = &comparison.without_vm {
        output::stderr_line(&format!("versus: incomplete: no VM backends ({reason})"));
    }
    if failed_runs > 0 {
        output::stderr_line(&format!(
            "versus: incomplete: {failed_runs} run(s) failed, listed under \"Failed runs\""
        ));
    }
    let complete = comparison.without_vm.is_none() && failed_runs == 0;
    Ok(if observer.errors.is_empty() && complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

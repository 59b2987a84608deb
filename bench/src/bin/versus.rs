//! `versus`: run the same workload on the host, in a container and in a VM,
//! and show how they differ.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use bench::backend::host::HostBackend;
use bench::backend::vm::{Kernel, VmBackend};
use bench::backend::{Backend, Launch};
use bench::doctor;
use bench::render;
use bench::workload::{TaskInvocation, Workload};
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
    /// Run the workload as a plain host process: the baseline.
    Host {
        #[command(subcommand)]
        action: HostAction,
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
}

#[derive(Debug, Subcommand)]
enum HostAction {
    /// Run one task and print its results, phases and exit.
    Run(RunArgs),
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

    #[command(flatten)]
    run: RunArgs,
}

fn parse_size(text: &str) -> Result<u64, String> {
    hypervisor::memory::parse_size(text).map_err(|err| err.to_string())
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

    /// The task and its arguments, e.g. `getpid 1000000`
    /// (tasks: startup getpid compute memtouch write uname ids status probe spawn suite).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "TASK ARGS"
    )]
    task: Vec<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|err| format!("{err} (write it like 500ms, 10s or 2m)"))?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

impl RunArgs {
    /// Checks the workload and the task, and turns them into a [`Launch`].
    fn launch(&self) -> Result<Launch> {
        let workload = match &self.workload {
            Some(path) => Workload::from_file(path)?,
            None => Workload::embedded(),
        };
        let argv = if workload.is_embedded() {
            TaskInvocation::parse(&self.task)?.argv()
        } else {
            self.task.clone()
        };
        Ok(Launch {
            workload,
            argv,
            timeout: self.timeout,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("versus: error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Host {
            action: HostAction::Run(args),
        } => run_backend(&HostBackend, &args),
        Command::Vm {
            action: VmAction::Run(args),
        } => {
            let mut backend = VmBackend::new();
            backend.vcpus = args.vcpus;
            backend.every_vcpu = args.on == RunOn::Every;
            backend.trace = args.trace;
            if let Some(path) = &args.kernel {
                backend.kernel = Kernel::from_file(path)?;
            }
            if !args.mem_region.is_empty() {
                backend.memory = MemoryConfig::Regions(args.mem_region.clone());
            } else if let Some(size) = args.mem {
                backend.memory = MemoryConfig::Total(size);
            }
            run_backend(&backend, &args.run)
        }
        Command::Doctor { json } => {
            let report = doctor::diagnose(&doctor::HostView::real(), &doctor::RealProbes);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!(
                    "{}",
                    doctor::render(&report, std::io::stdout().is_terminal())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs one launch on `backend`, prints the report and exits as the
/// workload did (a shell sees the workload's status, 128+signal, or 124 on
/// timeout).
fn run_backend(backend: &dyn Backend, args: &RunArgs) -> Result<ExitCode> {
    let launch = match args.launch() {
        Ok(launch) => launch,
        Err(error) => {
            eprintln!("versus: error: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let report = backend
        .run(&launch)
        .with_context(|| format!("running on the {} backend", backend.name()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::run_report(&report));
    }
    let status = report.exit.shell_status().clamp(0, 255);
    Ok(ExitCode::from(u8::try_from(status).unwrap_or(1)))
}

//! `versus`: run the same workload on the host, in a container and in a VM,
//! and show how they differ.
//!
//! `main.rs` parses the command line and dispatches; `args.rs` holds the
//! flags and their conversions to settings, `run.rs` the single runs,
//! `compare.rs` the comparison, `explain.rs` the lessons, `exit.rs` error
//! text and exit statuses.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use bench::backend::host::HostBackend;
use bench::backend::vm::{Kernel, VmBackend};
use bench::doctor;
use bench::output;

mod args;
mod compare;
mod exit;
mod explain;
mod linux;
mod run;
mod scale;

use args::{CompareArgs, ContainerAction, HostAction, VmAction};
use exit::{emit, error_text};
use run::{run_backend, run_container, run_request};

/// Examples at the end of `versus --help`: one of each subcommand.
const EXAMPLES: &str = "\
Examples:
  versus doctor                          what this machine offers, with a fix for each gap
  versus compare                         host, containers and VMs side by side
  versus host run -- getpid 1000000      one task as a plain host process
  versus container run -- startup        the same as PID 1 of a container
  versus vm run -- startup               the same in a KVM virtual machine
  versus scale --counts 1,10,100        N VMs against N containers alive at once
  versus explain two-stacks              a live lesson for a class (--lang ko for Korean)
  versus vm run --help                   the options of one subcommand, with examples";

/// Run the same workload on the host, in a container and in a KVM virtual
/// machine, and measure how they differ.
#[derive(Debug, Parser)]
#[command(name = "versus", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the same workload on the host, in containers and in VMs, side by
    /// side: startup, memory, system calls, exits and I/O, identity.
    #[command(after_help = args::COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Run the workload as a plain host process: the baseline.
    #[command(after_help = args::HOST_EXAMPLES)]
    Host {
        #[command(subcommand)]
        action: HostAction,
    },
    /// Run the workload as PID 1 of a Linux container on the host's kernel.
    #[command(after_help = args::CONTAINER_EXAMPLES)]
    Container {
        #[command(subcommand)]
        action: ContainerAction,
    },
    /// Run the workload in a KVM virtual machine on versus' tiny kernel.
    #[command(after_help = args::VM_EXAMPLES)]
    Vm {
        #[command(subcommand)]
        action: VmAction,
    },
    /// Hold N instances of each backend alive at once: start throughput and
    /// latency, memory per instance, kernel growth, teardown, and the
    /// marginal cost of one more.
    #[command(after_help = scale::SCALE_EXAMPLES)]
    Scale(scale::ScaleArgs),
    /// Check what this host offers: KVM and its backend, cgroups, namespaces,
    /// seccomp, LSMs, privileges — each with a one-line fix.
    #[command(after_help = args::DOCTOR_EXAMPLES)]
    Doctor {
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A live lesson for a class: the idea, a question, the real thing run
    /// on this machine, the figures, and why (English or Korean).
    #[command(after_help = explain::EXPLAIN_EXAMPLES)]
    Explain(explain::ExplainArgs),
    /// Internal: run one `bench::request::RunRequest` read as JSON on stdin
    /// and print its report as JSON — how `versus compare` runs a backend
    /// in a fresh process for its memory figures.
    #[command(name = "__run-request", hide = true)]
    RunRequest,
}

fn main() -> ExitCode {
    run::main_started();
    let cli = Cli::parse();
    run::arguments_parsed();
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
            ExitCode::from(exit::error_status(&error))
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // Whatever runs a workload — a host process, a container, a VM, a
    // comparison — stops it, cleans up and reports on Ctrl-C, SIGTERM or
    // SIGHUP instead of leaving it behind. (Doctor starts nothing: it keeps
    // the default, so Ctrl-C ends it at once.)
    if !matches!(cli.command, Command::Doctor { .. }) {
        bench::interrupt::install().context("cannot install the SIGINT/SIGTERM handler")?;
    }
    match cli.command {
        Command::Compare(args) => compare::compare(&args),
        Command::Host {
            action: HostAction::Run(args),
        } => run_backend(&HostBackend, &args, false),
        Command::Container {
            action: ContainerAction::Run(args),
        } => run_container(&args),
        Command::Vm {
            action: VmAction::Run(args),
        } => {
            if args.linux
                || args.linux_kernel.is_some()
                || args.cmdline.is_some()
                || args.linux_symbols.is_some()
            {
                return linux::run(&args);
            }
            let mut backend = VmBackend::with_settings(args.settings());
            if let Some(path) = &args.kernel {
                backend.kernel = Kernel::from_file(path)?;
            }
            backend.initrd = match args.initrd() {
                Ok(archive) => archive,
                Err(error) => return exit::usage_error(&error.to_string()),
            };
            run_backend(&backend, &args.run, args.trace)
        }
        Command::Scale(args) => scale::scale(&args),
        Command::RunRequest => run_request(),
        Command::Explain(args) => explain::explain(&args),
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

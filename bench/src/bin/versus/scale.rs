//! `versus scale`: its flags, the checks before the first instance starts
//! (counts, output files, the backends this host can run), the run, and
//! the table, JSON, exports and plot.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use bench::backend::vm::VmSettings;
use bench::output;
use bench::scale::{ScaleBackend, ScalePlan};
use hypervisor::MemoryConfig;

use crate::exit::{emit, usage_error};

/// Examples of `versus scale`, shown at the end of its `--help`.
pub(crate) const SCALE_EXAMPLES: &str = "\
Examples:
  versus scale --count 10                              10 of each at once: host, container, VM
  versus scale --counts 1,10,100 --backends container,vm
  versus scale --counts 1,10,50 --plot density.svg     memory and start latency against N
  versus scale --counts 1,3 --json > scale.json        everything as JSON";

/// Options of `versus scale`.
#[derive(Debug, Args)]
pub(crate) struct ScaleArgs {
    /// Hold this many instances of each backend alive at once.
    #[arg(long, value_name = "N", conflicts_with = "counts",
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) count: Option<u64>,

    /// Several counts, one after the other (e.g. 1,10,50,100,500): the
    /// marginal cost per instance is the slope of memory against them.
    #[arg(long, value_name = "N,N,…", value_delimiter = ',',
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) counts: Vec<u64>,

    /// The backends (comma-separated): host, container, vm.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "BACKENDS",
        default_value = "host,container,vm"
    )]
    pub(crate) backends: Vec<ScaleBackend>,

    /// vCPUs of every VM.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) vcpus: u32,

    /// Guest memory of every VM (e.g. `64M`); untouched guest memory costs
    /// the host nothing.
    #[arg(long, value_name = "SIZE", value_parser = crate::args::parse_size)]
    pub(crate) mem: Option<u64>,

    /// Write the results as JSON to FILE.
    #[arg(long = "export-json", value_name = "FILE")]
    pub(crate) export_json: Option<PathBuf>,

    /// Write one CSV row per backend and count to FILE.
    #[arg(long = "export-csv", value_name = "FILE")]
    pub(crate) export_csv: Option<PathBuf>,

    /// Draw memory against N and start latency against N as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,

    /// Keep each count's instances alive (parked, idle) this long after
    /// they were measured, e.g. `5s`: a window to watch what idle
    /// instances cost the host (`vmstat 1`, `/proc/stat`).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_hold)]
    pub(crate) hold: Duration,

    /// Print the results as JSON instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The longest `--hold`: a day, so that a slip of the unit (`5d` for `5s`)
/// is refused instead of holding hundreds of instances for days.
const MAX_HOLD: Duration = Duration::from_secs(24 * 60 * 60);

/// `--hold`: humantime's grammar (`0s`, `500ms`, `5s`, `2m`), at most
/// [`MAX_HOLD`].
fn parse_hold(text: &str) -> Result<Duration, String> {
    let hold = humantime::parse_duration(text)
        .map_err(|err| format!("{err} (write it like 0s, 500ms, 5s or 2m)"))?;
    if hold > MAX_HOLD {
        return Err(format!(
            "{} is longer than the longest hold, {}",
            humantime::format_duration(hold),
            humantime::format_duration(MAX_HOLD)
        ));
    }
    Ok(hold)
}

/// Runs `versus scale`.
pub(crate) fn scale(args: &ScaleArgs) -> Result<ExitCode> {
    let mut counts: Vec<usize> = match args.count {
        Some(count) => vec![count as usize],
        None if args.counts.is_empty() => vec![1, 10],
        None => args.counts.iter().map(|&count| count as usize).collect(),
    };
    counts.dedup();
    let mut backends = args.backends.clone();
    backends.dedup();
    // Every output file is checked before the first instance starts, so a
    // long run never ends in an unwritable path.
    for path in [&args.export_json, &args.export_csv, &args.plot]
        .into_iter()
        .flatten()
    {
        if let Err(error) = bench::fmt::check_writable(path) {
            return usage_error(&format!("cannot write {}: {error}", path.display()));
        }
    }
    if backends.contains(&ScaleBackend::Container) && !nix::unistd::geteuid().is_root() {
        return usage_error(
            "the container backend needs root here: run versus as root, or leave it out \
             with --backends host,vm",
        );
    }
    if backends.contains(&ScaleBackend::Vm) && !std::path::Path::new("/dev/kvm").exists() {
        return usage_error(
            "the vm backend needs /dev/kvm (`versus doctor` says how to get it), or leave \
             it out with --backends host,container",
        );
    }
    let defaults = VmSettings::default();
    let plan = ScalePlan {
        backends,
        counts,
        vm: VmSettings {
            vcpus: args.vcpus,
            memory: args
                .mem
                .map_or(defaults.memory.clone(), MemoryConfig::Total),
            ..defaults
        },
        parallelism: std::thread::available_parallelism().map_or(1, usize::from),
        hold: args.hold,
    };
    let show_progress = std::io::stderr().is_terminal();
    let result = bench::scale::run(&plan, |line| {
        if show_progress {
            output::stderr_line(&format!("versus scale: {line}"));
        }
    });
    let report = match result {
        Ok(report) => report,
        // Ctrl-C: the error says how far it got; the status is the
        // signal's, as after an interrupted run.
        Err(error) if bench::interrupt::exit_status().is_some() => {
            output::stderr_line(&format!("versus: {error}"));
            return Ok(ExitCode::from(bench::interrupt::exit_status().unwrap_or(1)));
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(path) = &args.export_json {
        let text = format!("{}\n", serde_json::to_string_pretty(&report)?);
        bench::fmt::write_atomically(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.export_csv {
        bench::fmt::write_atomically(path, &bench::scale::csv(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        bench::scale::write_plot(&report, path)?;
    }
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&bench::scale::render(&report))?;
    }
    let clean = report.points.iter().all(|point| point.leftovers.is_empty());
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

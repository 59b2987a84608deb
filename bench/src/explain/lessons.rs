//! The lessons: each runs the real thing through the library's backends
//! and returns the figures it measured, as lines for the "on this machine"
//! part. Every verdict printed is computed from those figures.

use std::time::Duration;

use super::catalog::Catalog;
use super::observe::{self, Watcher};
use super::{ExplainError, Line, Pace, Presenter};
use crate::backend::container::ContainerBackend;
use crate::backend::host::HostBackend;
use crate::backend::vm::VmBackend;
use crate::backend::{Backend, Launch};
use crate::fmt;
use crate::report::RunReport;
use crate::stats::Ratio;
use crate::workload::{TaskResult, Workload};

/// `two-stacks`: uname in the VM, the container and on the host.
pub const TWO_STACKS: &str = "two-stacks";
/// `no-translation`: the container's getpid costs the host's.
pub const NO_TRANSLATION: &str = "no-translation";

/// The longest a lesson waits for one run: far more than any lesson's
/// task takes, even on software KVM, so that only a stuck run hits it.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// `no-translation`'s getpid calls per loop and paired rounds, by pace. A
/// lecture's rounds give a steady median on a busy laptop; the short pace
/// still pairs enough rounds for a median that a translation layer (many
/// times a ~100 ns call) could not hide in.
fn getpid_plan(pace: Pace) -> (u64, usize) {
    match pace {
        Pace::Lecture => (1_000_000, 7),
        Pace::Short => (200_000, 5),
    }
}

/// Runs `argv` on `backend`, which the lesson calls `place`.
fn run(backend: &dyn Backend, place: &str, argv: &[&str]) -> Result<RunReport, ExplainError> {
    let launch = Launch {
        workload: Workload::embedded(),
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        timeout: Some(RUN_TIMEOUT),
        echo: false,
    };
    let report = backend
        .run(&launch)
        .map_err(|source| ExplainError::Backend {
            place: place.to_string(),
            source,
        })?;
    if !report.exit.success() {
        return Err(ExplainError::Workload {
            place: place.to_string(),
            what: format!("{} ({})", report.exit.describe(), report.stderr.trim()),
        });
    }
    Ok(report)
}

/// The figure a run must have produced, or the error saying it did not.
fn missing(place: &str, task: &str) -> ExplainError {
    ExplainError::Workload {
        place: place.to_string(),
        what: format!("printed no {task} result"),
    }
}

/// `two-stacks`.
pub(crate) fn two_stacks(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("two-stacks.running")?);
    let vm_backend = VmBackend::new();
    let places: [(&str, &dyn Backend); 3] = [
        ("host", &HostBackend),
        ("container", &ContainerBackend::new()),
        ("vm", &vm_backend),
    ];
    let mut lines = Vec::new();
    let mut kernels = Vec::new();
    let mut reports = Vec::new();
    for (place, backend) in places {
        let report = run(backend, place, &["uname"])?;
        let (sysname, release) = report
            .results
            .iter()
            .find_map(|result| match result {
                TaskResult::Uname {
                    sysname, release, ..
                } => Some((sysname.clone(), release.clone())),
                _ => None,
            })
            .ok_or_else(|| missing(place, "uname"))?;
        lines.push(Line::Figure(catalog.text(
            "two-stacks.row",
            &[
                ("place", place),
                ("sysname", &sysname),
                ("release", &release),
            ],
        )?));
        kernels.push((sysname, release));
        reports.push(report);
    }
    let verdict = |yes: bool| {
        catalog.plain(if yes {
            "two-stacks.yes"
        } else {
            "two-stacks.no"
        })
    };
    lines.push(Line::Figure(catalog.text(
        "two-stacks.same",
        &[("verdict", &verdict(kernels[1] == kernels[0])?)],
    )?));
    lines.push(Line::Figure(catalog.text(
        "two-stacks.differs",
        &[("verdict", &verdict(kernels[2] != kernels[0])?)],
    )?));
    let size = |bytes: Option<u64>| bytes.map_or_else(|| "?".to_string(), fmt::bytes);
    let guest_memory = match &vm_backend.settings.memory {
        hypervisor::config::MemoryConfig::Total(bytes) => *bytes,
        hypervisor::config::MemoryConfig::Regions(regions) => {
            regions.iter().map(|(_, size)| size).sum()
        }
    };
    let vm = &reports[2].memory;
    lines.push(Line::Figure(catalog.text(
        "two-stacks.vm-size",
        &[
            ("image", &size(vm.image_bytes)),
            ("memory", &fmt::bytes(guest_memory)),
            ("touched", &size(vm.guest_touched_bytes)),
        ],
    )?));
    lines.push(Line::Figure(catalog.text(
        "two-stacks.container-size",
        &[("image", &size(reports[1].memory.image_bytes))],
    )?));
    Ok(lines)
}

/// The getpid loop's cost per call in `report`.
fn getpid_ns(report: &RunReport, place: &str) -> Result<f64, ExplainError> {
    report
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Getpid { ns_per_op, .. } => Some(*ns_per_op),
            _ => None,
        })
        .ok_or_else(|| missing(place, "getpid"))
}

/// `no-translation`.
pub(crate) fn no_translation(
    catalog: &Catalog,
    pace: Pace,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    let (iters, rounds) = getpid_plan(pace);
    let (iters_text, rounds_text) = (iters.to_string(), rounds.to_string());
    presenter.progress(&catalog.text(
        "no-translation.running",
        &[("iters", &iters_text), ("rounds", &rounds_text)],
    )?);
    // Without the seccomp filter: the comparison is of the call itself,
    // not of the filter a container may add (compare shows that one).
    let container = ContainerBackend::with_settings(crate::backend::container::ContainerSettings {
        seccomp: container::SeccompMode::Unconfined,
        ..Default::default()
    });
    let argv = ["getpid", iters_text.as_str()];
    // First a run to look at from the host: the watcher scans /proc while
    // it runs, which takes CPU, so this run is not one of the measured ones.
    let watcher = Watcher::start();
    let watched = run(&container, "container", &argv);
    let seen = watcher.finish();
    watched?;
    let (mut host_ns, mut container_ns) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        host_ns.push(getpid_ns(&run(&HostBackend, "host", &argv)?, "host")?);
        container_ns.push(getpid_ns(
            &run(&container, "container", &argv)?,
            "container",
        )?);
    }
    let median = |samples: &[f64]| crate::stats::Summary::of(samples).map(|s| s.median);
    let ratio = Ratio::paired(&container_ns, &host_ns)?;
    let mut lines = vec![
        Line::Figure(catalog.text(
            "no-translation.cost",
            &[
                ("host", &fmt::duration_f64(median(&host_ns)?)),
                ("container", &fmt::duration_f64(median(&container_ns)?)),
            ],
        )?),
        Line::Figure(catalog.text(
            "no-translation.ratio",
            &[("rounds", &rounds_text), ("ratio", &ratio.describe())],
        )?),
    ];
    let Some(seen) = seen else {
        lines.push(Line::Prose(catalog.plain("no-translation.unseen")?));
        return Ok(lines);
    };
    lines.push(Line::Figure(catalog.text(
        "no-translation.pid",
        &[("pid", &seen.pid.to_string()), ("exe", &seen.exe)],
    )?));
    let host_namespaces = observe::namespaces_of("self");
    for ((kind, host), (_, inside)) in host_namespaces.iter().zip(&seen.namespaces) {
        let verdict = catalog.plain(if host == inside {
            "no-translation.ns-same"
        } else {
            "no-translation.ns-differs"
        })?;
        lines.push(Line::Figure(catalog.text(
            "no-translation.ns",
            &[
                ("kind", kind),
                ("host", host),
                ("container", inside),
                ("verdict", &verdict),
            ],
        )?));
    }
    lines.push(Line::Figure(
        catalog.text("no-translation.cgroup", &[("cgroup", &seen.cgroup)])?,
    ));
    Ok(lines)
}

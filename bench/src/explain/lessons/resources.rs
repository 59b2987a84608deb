//! The `cgroups` lesson: CPU, memory and process limits that the kernel
//! enforces, measured against a container without them.

use super::{missing, run, run_any};
use crate::backend::container::{ContainerBackend, ContainerSettings};
use crate::explain::catalog::Catalog;
use crate::explain::observe::{Look, Watcher};
use crate::explain::{ExplainError, Line, Pace, Presenter};
use crate::fmt;
use crate::report::RunReport;
use crate::workload::TaskResult;

/// `cgroups`' CPU limit, as `--cpus`: half of one CPU, Docker's classic
/// example.
const CGROUPS_CPUS: f64 = 0.5;

/// `cgroups`' memory limit (`--memory`), and the MiB `memtouch` tries to
/// touch under it: twice the limit, so the kill is certain.
const CGROUPS_MEMORY_MIB: u64 = 32;
const CGROUPS_MEMTOUCH_MIB: u64 = 2 * CGROUPS_MEMORY_MIB;

/// `cgroups`' process limit (`--pids-limit`), and the children `spawn`
/// asks for under it: twice as many, so the refusal is certain. PID 1
/// counts too, so it gets one fewer child than the limit.
const CGROUPS_PIDS: u64 = 8;
const CGROUPS_SPAWN: u64 = 2 * CGROUPS_PIDS;

/// `cgroups`' busy loop (`compute` rounds), by pace: about a second of CPU
/// at a few ns a round, so that the 100 ms CFS periods are many and the
/// share is steady.
fn cgroups_compute(pace: Pace) -> u64 {
    match pace {
        Pace::Lecture => 400_000_000,
        Pace::Short => 150_000_000,
    }
}

/// A busy loop's share of one CPU: the cgroup's CPU time over the loop's
/// own wall time, or `None` when either is missing.
fn cpu_share(report: &RunReport) -> Option<(u64, u64)> {
    let cpu = report
        .container
        .as_ref()?
        .cgroup
        .as_ref()?
        .stats
        .cpu_usage_ns?;
    let wall = report.results.iter().find_map(|result| match result {
        TaskResult::Compute { total_ns, .. } => Some(*total_ns),
        _ => None,
    })?;
    Some((cpu, wall))
}

/// `cgroups`.
pub(crate) fn cgroups(
    catalog: &Catalog,
    pace: Pace,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("cgroups.running")?);
    let memory_bytes = CGROUPS_MEMORY_MIB << 20;
    let limited = ContainerBackend::with_settings(ContainerSettings {
        limits: container::Limits {
            cpus: Some(CGROUPS_CPUS),
            memory: Some(memory_bytes),
            pids: Some(CGROUPS_PIDS),
        },
        ..Default::default()
    });
    let rounds = cgroups_compute(pace).to_string();
    let argv = ["compute", rounds.as_str()];
    let place = "container --cpus --memory";
    let watcher = Watcher::start(Look {
        cgroup_files: true,
        ..Look::default()
    });
    let limited_run = run(&limited, place, &argv);
    let seen = watcher.finish();
    let limited_run = limited_run?;
    let files = seen
        .and_then(|seen| seen.inspection.cgroup_files)
        .ok_or_else(|| ExplainError::Workload {
            place: place.to_string(),
            what: "ended before versus could read its cgroup files (run the lesson again)"
                .to_string(),
        })?;
    let free_run = run(&ContainerBackend::new(), "container", &argv)?;
    let spawn_run = run(&limited, place, &["spawn", &CGROUPS_SPAWN.to_string()])?;
    let (spawned, spawn_errno) = spawn_run
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Spawn { spawned, errno, .. } => Some((*spawned, errno.clone())),
            _ => None,
        })
        .ok_or_else(|| missing(place, "spawn"))?;
    let memory_run = run_any(
        &limited,
        place,
        &["memtouch", &CGROUPS_MEMTOUCH_MIB.to_string()],
    )?;

    let unknown = catalog.plain("cgroups.unknown")?;
    let share_text = |report: &RunReport| {
        cpu_share(report).map_or_else(
            || (unknown.clone(), unknown.clone(), unknown.clone()),
            |(cpu, wall)| {
                (
                    fmt::duration_f64(cpu as f64),
                    fmt::duration_f64(wall as f64),
                    format!("{:.2}", cpu as f64 / wall as f64),
                )
            },
        )
    };
    let stat = |key: &str| {
        files
            .cpu_stat
            .iter()
            .find(|(known, _)| known == key)
            .map_or_else(|| unknown.clone(), |(_, value)| value.to_string())
    };
    let limits = files
        .limits
        .iter()
        .map(|(file, content)| format!("{file} = {content}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (cpu, wall, share) = share_text(&limited_run);
    let (free_cpu, free_wall, free_share) = share_text(&free_run);
    let stats = memory_run
        .container
        .as_ref()
        .and_then(|report| report.cgroup.as_ref())
        .map(|cgroup| cgroup.stats.clone());
    let oom_kills = stats
        .as_ref()
        .and_then(|stats| stats.oom_kills)
        .map_or_else(|| unknown.clone(), |kills| kills.to_string());
    // Said in the lesson's language when it is the expected end; any other
    // end is shown as versus reports it.
    let memory_exit = match memory_run.exit {
        crate::report::ExitOutcome::OomKilled => catalog.plain("cgroups.oom-killed")?,
        ref other => other.describe(),
    };
    let peak = stats
        .as_ref()
        .and_then(|stats| stats.memory_peak_bytes)
        .map_or_else(|| unknown.clone(), fmt::bytes);
    Ok(vec![
        Line::Figure(catalog.text("cgroups.files", &[("files", &limits)])?),
        Line::Figure(catalog.text(
            "cgroups.limited",
            &[
                ("cpus", &CGROUPS_CPUS.to_string()),
                ("cpu", &cpu),
                ("wall", &wall),
                ("share", &share),
            ],
        )?),
        Line::Figure(catalog.text(
            "cgroups.throttled",
            &[
                ("throttled", &stat("nr_throttled")),
                ("periods", &stat("nr_periods")),
            ],
        )?),
        Line::Figure(catalog.text(
            "cgroups.free",
            &[
                ("cpu", &free_cpu),
                ("wall", &free_wall),
                ("share", &free_share),
            ],
        )?),
        Line::Figure(catalog.text(
            "cgroups.pids",
            &[
                ("asked", &CGROUPS_SPAWN.to_string()),
                ("limit", &CGROUPS_PIDS.to_string()),
                ("spawned", &spawned.to_string()),
                ("errno", &spawn_errno.unwrap_or_else(|| unknown.clone())),
            ],
        )?),
        Line::Figure(catalog.text(
            "cgroups.oom",
            &[
                ("mib", &CGROUPS_MEMTOUCH_MIB.to_string()),
                ("limit", &fmt::bytes(memory_bytes)),
                ("exit", &memory_exit),
                ("kills", &oom_kills),
                ("peak", &peak),
            ],
        )?),
    ])
}

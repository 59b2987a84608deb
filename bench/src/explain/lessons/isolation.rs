//! The lessons on the container as a host process seen through its
//! namespaces: `no-translation` (its getpid costs the host's, and the host
//! sees its process and namespaces), `namespaces` (each kind shown live)
//! and `chroot-vs-pivot_root` (the classic chroot escape, tried in a chroot
//! and in a container).

use super::{missing, run, watched_container};
use crate::backend::container::{ContainerBackend, ContainerSettings};
use crate::backend::host::HostBackend;
use crate::explain::catalog::Catalog;
use crate::explain::escape;
use crate::explain::observe::{self, HostQueue, Look, Watcher};
use crate::explain::{ExplainError, Line, Pace, Presenter};
use crate::fmt;
use crate::report::RunReport;
use crate::stats::Ratio;
use crate::workload::TaskResult;

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
    let watcher = Watcher::start(Look::default());
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
        Line::Figure(if ratio.is_significant() {
            catalog.text(
                "no-translation.ratio",
                &[
                    ("rounds", &rounds_text),
                    (
                        "ratio",
                        &fmt::ratio_with_spread(ratio.pairs.median, ratio.spread()),
                    ),
                ],
            )?
        } else {
            catalog.text(
                "no-translation.ratio-unsupported",
                &[
                    ("rounds", &rounds_text),
                    ("spread", &fmt::significant(ratio.spread())),
                ],
            )?
        }),
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

/// How many entries of a directory listing a lesson line shows.
const LISTING_MAX: usize = 8;

/// The `ids` result of a run: `(pid, ppid, uid, hostname)`.
fn ids_of(report: &RunReport, place: &str) -> Result<(u64, u64, u64, String), ExplainError> {
    report
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Ids {
                pid,
                ppid,
                uid,
                hostname,
                ..
            } => Some((*pid, *ppid, *uid, hostname.clone())),
            _ => None,
        })
        .ok_or_else(|| missing(place, "ids"))
}

/// `entries` as a short list: at most [`LISTING_MAX`] names, then how many
/// there are in all.
fn listing(catalog: &Catalog, entries: &[String]) -> Result<String, ExplainError> {
    if entries.len() <= LISTING_MAX {
        return Ok(entries.join(" "));
    }
    let count = entries.len().to_string();
    Ok(format!(
        "{} … ({})",
        entries[..LISTING_MAX].join(" "),
        catalog.text("namespaces.more", &[("count", &count)])?
    ))
}

/// `namespaces`.
pub(crate) fn namespaces(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("namespaces.running")?);
    let yes_no = |value: Option<bool>| {
        catalog.plain(match value {
            Some(true) => "namespaces.yes",
            Some(false) => "namespaces.no",
            None => "namespaces.unknown",
        })
    };
    let container = ContainerBackend::new();
    let (_, _, _, host_name) = ids_of(&run(&HostBackend, "host", &["ids"])?, "host")?;
    let (inside_pid, inside_ppid, _, inside_name) =
        ids_of(&run(&container, "container", &["ids"])?, "container")?;
    let queue = HostQueue::create().map_err(|source| ExplainError::Workload {
        place: "host".to_string(),
        what: format!("could not create a SysV message queue ({source})"),
    })?;
    let seen = watched_container(
        &container,
        "container",
        Look {
            queue: Some(queue.id()),
            ..Look::default()
        },
    )?;
    let userns = ContainerBackend::with_settings(ContainerSettings {
        userns: true,
        ..Default::default()
    });
    let place = "container --userns";
    let (_, _, userns_uid, _) = ids_of(&run(&userns, place, &["ids"])?, place)?;
    let userns_seen = watched_container(&userns, place, Look::default())?;

    let mut host_root: Vec<String> = std::fs::read_dir("/")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    host_root.sort();
    let host_interfaces = std::fs::read_to_string("/proc/self/net/dev")
        .map(|text| observe::interfaces_of(&text))
        .unwrap_or_default();
    let inspection = &seen.inspection;
    let unknown = catalog.plain("namespaces.unknown")?;
    let texts: [(&str, Vec<(&str, String)>); 7] = [
        (
            "namespaces.pid",
            vec![
                ("inside", inside_pid.to_string()),
                ("ppid", inside_ppid.to_string()),
                ("host", seen.pid.to_string()),
            ],
        ),
        (
            "namespaces.uts",
            vec![("inside", inside_name), ("host", host_name)],
        ),
        (
            "namespaces.mnt",
            vec![
                ("inside", listing(catalog, &inspection.root_entries)?),
                ("host", listing(catalog, &host_root)?),
            ],
        ),
        (
            "namespaces.net",
            vec![
                ("inside", inspection.interfaces.join(" ")),
                ("host", host_interfaces.join(" ")),
            ],
        ),
        (
            "namespaces.ipc",
            vec![
                ("id", queue.id().to_string()),
                ("host", yes_no(Some(queue.visible_on_host()))?),
                ("inside", yes_no(inspection.queue_visible)?),
            ],
        ),
        (
            "namespaces.user",
            vec![
                ("inside", userns_uid.to_string()),
                (
                    "host",
                    userns_seen
                        .inspection
                        .host_uid
                        .map_or_else(|| unknown.clone(), |uid| uid.to_string()),
                ),
            ],
        ),
        (
            "namespaces.cgroup",
            vec![
                (
                    "inside",
                    inspection
                        .cgroup_inside
                        .clone()
                        .unwrap_or_else(|| unknown.clone()),
                ),
                ("host", seen.cgroup.clone()),
            ],
        ),
    ];
    texts
        .iter()
        .map(|(key, args)| {
            let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Ok(Line::Figure(catalog.text(key, &args)?))
        })
        .collect()
}

/// The directory inside `chroot-vs-pivot_root`'s throwaway chroot that the
/// escape chroots into.
const JAIL_FOOTHOLD: &str = "inner";

/// `chroot-vs-pivot_root`.
pub(crate) fn chroot_vs_pivot_root(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("chroot-vs-pivot_root.running")?);
    let scratch = |source| ExplainError::Scratch {
        dir: std::env::temp_dir().display().to_string(),
        source,
    };
    // Removed when dropped, whatever happens below.
    let jail = escape::Jail::new(JAIL_FOOTHOLD).map_err(scratch)?;
    let host_root = escape::DirId::of(std::path::Path::new("/")).map_err(scratch)?;
    let jail_id = escape::DirId::of(jail.path()).map_err(scratch)?;
    let from_chroot = escape::from_chroot(jail.path(), JAIL_FOOTHOLD)?;

    let place = "container";
    let seen = watched_container(
        &ContainerBackend::new(),
        place,
        Look {
            walk_out: true,
            ..Look::default()
        },
    )?;
    let inspection = &seen.inspection;
    let container_root = inspection.root.ok_or_else(|| ExplainError::Workload {
        place: place.to_string(),
        what: format!("has no root versus could read (/proc/{}/root)", seen.pid),
    })?;
    let (foothold, from_container) = match &inspection.walk_out {
        Some((foothold, Ok(walk))) => (foothold.clone(), *walk),
        Some((_, Err(why))) => {
            return Err(ExplainError::Workload {
                place: place.to_string(),
                what: format!("could not be walked out of: {why}"),
            });
        }
        None => return Err(missing(place, "chroot escape")),
    };

    let yes_no = |yes: bool| {
        catalog.plain(if yes {
            "chroot-vs-pivot_root.yes"
        } else {
            "chroot-vs-pivot_root.no"
        })
    };
    let steps = escape::WALK_STEPS.to_string();
    Ok(vec![
        Line::Figure(catalog.text(
            "chroot-vs-pivot_root.host-root",
            &[("root", &host_root.to_string())],
        )?),
        Line::Figure(catalog.text(
            "chroot-vs-pivot_root.jailed",
            &[
                ("jail", &jail.path().display().to_string()),
                ("start", &from_chroot.start.to_string()),
                ("verdict", &yes_no(from_chroot.start == jail_id)?),
            ],
        )?),
        Line::Figure(catalog.text(
            "chroot-vs-pivot_root.chroot-walk",
            &[
                ("foothold", JAIL_FOOTHOLD),
                ("steps", &steps),
                ("end", &from_chroot.end.to_string()),
                ("verdict", &yes_no(from_chroot.end == host_root)?),
            ],
        )?),
        Line::Figure(catalog.text(
            "chroot-vs-pivot_root.container-root",
            &[
                ("root", &container_root.to_string()),
                ("start", &from_container.start.to_string()),
            ],
        )?),
        Line::Figure(catalog.text(
            "chroot-vs-pivot_root.container-walk",
            &[
                ("foothold", &foothold),
                ("steps", &steps),
                ("end", &from_container.end.to_string()),
                ("verdict", &yes_no(from_container.end == container_root)?),
                ("host", &yes_no(from_container.end == host_root)?),
            ],
        )?),
    ])
}

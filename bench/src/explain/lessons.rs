//! The lessons: each runs the real thing through the library's backends
//! and returns the figures it measured, as lines for the "on this machine"
//! part. Every verdict printed is computed from those figures.

use std::time::Duration;

use super::catalog::Catalog;
use super::escape;
use super::observe::{self, HostQueue, Look, Watcher};
use super::{ExplainError, Line, Pace, Presenter};
use crate::backend::container::{ContainerBackend, ContainerSettings};
use crate::backend::host::HostBackend;
use crate::backend::vm::{VmBackend, VmSettings};
use crate::backend::{Backend, Launch};
use crate::fmt;
use crate::report::RunReport;
use crate::stats::Ratio;
use crate::workload::{ProcStatus, TaskResult, Workload};

/// `two-stacks`: uname in the VM, the container and on the host.
pub const TWO_STACKS: &str = "two-stacks";
/// `no-translation`: the container's getpid costs the host's.
pub const NO_TRANSLATION: &str = "no-translation";
/// `namespaces`: each kind of namespace shown live.
pub const NAMESPACES: &str = "namespaces";

/// `chroot-vs-pivot_root`: the classic chroot escape, tried live.
pub const CHROOT_VS_PIVOT_ROOT: &str = "chroot-vs-pivot_root";

/// `capabilities`: what root in a container may still do.
pub const CAPABILITIES: &str = "capabilities";

/// `seccomp`: a call only the filter refuses.
pub const SECCOMP: &str = "seccomp";

/// `cgroups`: limits that the kernel enforces, measured.
pub const CGROUPS: &str = "cgroups";

/// `lsm`: the security modules of the host, and the container's label.
pub const LSM: &str = "lsm";

/// `images`: what a container image holds next to a VM's.
pub const IMAGES: &str = "images";

/// `lxc-docker-history`: chroot to OCI, each step checked on this host.
pub const HISTORY: &str = "lxc-docker-history";

/// `windows-and-mac`: why Docker Desktop runs a Linux VM.
pub const WINDOWS_AND_MAC: &str = "windows-and-mac";

/// `exits`: what makes a VM exit.
pub const EXITS: &str = "exits";

/// `exits`' two getpid loops, by pace: if calls made exits, the longer loop
/// would show thousands more. Kept short because on software KVM a guest
/// system call takes a few hundred microseconds.
fn exits_getpid(pace: Pace) -> (u64, u64) {
    match pace {
        Pace::Lecture => (1_000, 20_000),
        Pace::Short => (1_000, 5_000),
    }
}

/// `exits`' console writes: `write WRITES SIZE`.
const EXITS_WRITES: (u64, u64) = (10, 64);

/// `exits`' ping exits for the round trip (`--exit-probe`).
const EXITS_PINGS: u32 = 1_000;

/// The getpid calls of a container run that versus looks at from the host
/// while it runs: long enough (a fraction of a second even on a fast
/// machine) for the watcher to find the process and read /proc after its
/// exec, short enough not to make the class wait.
const WATCHED_GETPID: &str = "5000000";

/// How many entries of a directory listing a lesson line shows.
const LISTING_MAX: usize = 8;

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

/// Runs `argv` on `backend`, which the lesson calls `place`; it must
/// succeed.
fn run(backend: &dyn Backend, place: &str, argv: &[&str]) -> Result<RunReport, ExplainError> {
    let report = run_any(backend, place, argv)?;
    if !report.exit.success() {
        return Err(ExplainError::Workload {
            place: place.to_string(),
            what: format!("{} ({})", report.exit.describe(), report.stderr.trim()),
        });
    }
    Ok(report)
}

/// Runs `argv` on `backend` however the program ends: for a lesson whose
/// figure is a refusal.
fn run_any(backend: &dyn Backend, place: &str, argv: &[&str]) -> Result<RunReport, ExplainError> {
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
    Ok(report)
}

/// The figure a run must have produced, or the error saying it did not.
/// The kernel name and release the workload's `uname` printed in `report`
/// (run at `place`).
fn uname_in(report: &RunReport, place: &str) -> Result<(String, String), ExplainError> {
    report
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Uname {
                sysname, release, ..
            } => Some((sysname.clone(), release.clone())),
            _ => None,
        })
        .ok_or_else(|| missing(place, "uname"))
}

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
        let (sysname, release) = uname_in(&report, place)?;
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
    // The two stacks, drawn with the kernels that answered.
    let name = |(sysname, release): &(String, String)| format!("{sysname} {release}");
    let (host, guest) = (name(&kernels[0]), name(&kernels[2]));
    lines.push(Line::Figure(
        catalog.text("two-stacks.stack-container", &[("host", &host)])?,
    ));
    lines.push(Line::Figure(catalog.text(
        "two-stacks.stack-vm",
        &[("guest", &guest), ("host", &host)],
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

/// Runs a watched container (`getpid` long enough to be looked at) and
/// returns what the host saw, or the error saying the process was missed.
fn watched_container(
    backend: &ContainerBackend,
    place: &str,
    look: Look,
) -> Result<observe::Seen, ExplainError> {
    let watcher = Watcher::start(look);
    let report = run(backend, place, &["getpid", WATCHED_GETPID]);
    let seen = watcher.finish();
    report?;
    seen.ok_or_else(|| ExplainError::Workload {
        place: place.to_string(),
        what: "ended before versus could look at it in /proc (run the lesson again)".to_string(),
    })
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

/// The privileged calls of the workload's `probe` task that `capabilities`
/// shows, each with the capability the kernel checks for it (in the UTS or
/// mount namespace's owning user namespace, which is the host's here). The
/// probe's other calls are left out: on a kernel built without kexec or
/// modules they answer ENOSYS whoever asks.
const PRIVILEGED_CALLS: [(&str, &str); 3] = [
    ("sethostname", "CAP_SYS_ADMIN"),
    ("mount", "CAP_SYS_ADMIN"),
    ("reboot", "CAP_SYS_BOOT"),
];

/// The capability sets (effective, bounding) a `status` run read from the
/// workload's own `/proc/self/status`.
fn capability_sets(report: &RunReport, place: &str) -> Result<(u64, u64), ExplainError> {
    let mask = |field: &Option<String>| {
        field
            .as_deref()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
    };
    report
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Status(ProcStatus::Available {
                cap_eff, cap_bnd, ..
            }) => mask(cap_eff).zip(mask(cap_bnd)),
            _ => None,
        })
        .ok_or_else(|| missing(place, "status with CapEff and CapBnd"))
}

/// The capabilities whose bits are set in `mask`, by name.
fn capability_names(mask: u64) -> Vec<String> {
    container::CapabilitySet::all()
        .iter()
        .filter(|cap| mask >> cap.index() & 1 == 1)
        .collect::<container::CapabilitySet>()
        .names()
}

/// The `probe` outcomes of `report`: call → `EPERM`, `EINVAL`, `ok`…
fn probe_outcomes(
    report: &RunReport,
    place: &str,
) -> Result<std::collections::BTreeMap<String, String>, ExplainError> {
    report
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Probe { outcomes } => Some(outcomes.clone()),
            _ => None,
        })
        .ok_or_else(|| missing(place, "probe"))
}

/// `capabilities`.
pub(crate) fn capabilities(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    // As any other user the host's sets are empty and every call is
    // refused on the host too: there would be nothing to compare.
    if !nix::unistd::geteuid().is_root() {
        return Err(ExplainError::NeedsRoot {
            topic: CAPABILITIES,
        });
    }
    presenter.progress(&catalog.plain("capabilities.running")?);
    // Without the seccomp filter, so that a refusal can only come from the
    // capabilities (Docker's profile refuses mount and reboot too).
    let plain = ContainerBackend::with_settings(ContainerSettings {
        seccomp: container::SeccompMode::Unconfined,
        ..Default::default()
    });
    let mut needed: Vec<String> = PRIVILEGED_CALLS
        .iter()
        .map(|(_, cap)| cap.to_string())
        .collect();
    needed.dedup();
    let granted = ContainerBackend::with_settings(ContainerSettings {
        seccomp: container::SeccompMode::Unconfined,
        cap_add: needed.clone(),
        ..Default::default()
    });
    let granted_place = format!("container --cap-add {}", needed.join(","));

    let mut lines = Vec::new();
    let mut dropped_from = 0;
    for (place, backend) in [
        ("host", &HostBackend as &dyn Backend),
        ("container", &plain),
    ] {
        let (effective, bounding) = capability_sets(&run(backend, place, &["status"])?, place)?;
        let count = |mask: u64| capability_names(mask).len().to_string();
        lines.push(Line::Figure(catalog.text(
            "capabilities.sets",
            &[
                ("place", place),
                ("eff", &format!("{effective:#x}")),
                ("eff_count", &count(effective)),
                ("bnd", &format!("{bounding:#x}")),
                ("bnd_count", &count(bounding)),
            ],
        )?));
        if place == "host" {
            dropped_from = effective;
            continue;
        }
        lines.push(Line::Figure(catalog.text(
            "capabilities.kept",
            &[("names", &capability_names(effective).join(" "))],
        )?));
        let dropped = dropped_from & !effective;
        let shown: Vec<&str> = needed
            .iter()
            .map(String::as_str)
            .filter(|name| capability_names(dropped).iter().any(|known| known == name))
            .collect();
        lines.push(Line::Figure(catalog.text(
            "capabilities.dropped",
            &[
                ("count", &capability_names(dropped).len().to_string()),
                ("names", &shown.join(" ")),
            ],
        )?));
    }
    let host = probe_outcomes(&run(&HostBackend, "host", &["probe"])?, "host")?;
    let inside = probe_outcomes(&run(&plain, "container", &["probe"])?, "container")?;
    let added = probe_outcomes(&run(&granted, &granted_place, &["probe"])?, &granted_place)?;
    let unknown = catalog.plain("capabilities.unknown")?;
    let outcome = |outcomes: &std::collections::BTreeMap<String, String>, call: &str| {
        outcomes
            .get(call)
            .cloned()
            .unwrap_or_else(|| unknown.clone())
    };
    for (call, cap) in PRIVILEGED_CALLS {
        lines.push(Line::Figure(catalog.text(
            "capabilities.call",
            &[
                ("call", call),
                ("host", &outcome(&host, call)),
                ("container", &outcome(&inside, call)),
                ("cap", cap),
                ("added", &outcome(&added, call)),
            ],
        )?));
    }
    Ok(lines)
}

/// `seccomp`'s call: busybox's `unshare -U` makes `unshare(CLONE_NEWUSER)`
/// and then runs `id` in the new user namespace. Creating a user namespace
/// needs no capability, and Docker's profile refuses `unshare` to a
/// container without CAP_SYS_ADMIN: only the filter can stop it.
const SECCOMP_COMMAND: [&str; 4] = ["busybox", "unshare", "-U", "id"];

/// The bit of CAP_SYS_ADMIN in a capability mask.
const CAP_SYS_ADMIN_BIT: u32 = 21;

/// The seccomp fields of a `status` run: (mode, filters).
fn seccomp_state(report: &RunReport, place: &str) -> Result<(String, String), ExplainError> {
    report
        .results
        .iter()
        .find_map(|result| match result {
            TaskResult::Status(ProcStatus::Available {
                seccomp,
                seccomp_filters,
                ..
            }) => Some((
                seccomp.clone().unwrap_or_else(|| "?".to_string()),
                seccomp_filters.clone().unwrap_or_else(|| "?".to_string()),
            )),
            _ => None,
        })
        .ok_or_else(|| missing(place, "status"))
}

/// `seccomp`.
pub(crate) fn seccomp(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("seccomp.running")?);
    let busybox = container::rootfs::host_busybox().ok_or_else(|| ExplainError::Workload {
        place: "container".to_string(),
        what: "needs a static busybox on the host (/bin/busybox or /usr/bin/busybox) to run \
               `unshare -U` inside; install it (Debian: apt install busybox-static)"
            .to_string(),
    })?;
    let yes_no = |yes: bool| catalog.plain(if yes { "seccomp.yes" } else { "seccomp.no" });
    let mut lines = Vec::new();
    for (mode, place, key) in [
        (
            container::SeccompMode::Default,
            "container",
            "seccomp.filtered",
        ),
        (
            container::SeccompMode::Unconfined,
            "container --seccomp unconfined",
            "seccomp.unconfined",
        ),
    ] {
        let backend = ContainerBackend::with_settings(ContainerSettings {
            rootfs: crate::backend::container::Rootfs::WorkloadWithBusybox(busybox.clone()),
            seccomp: mode,
            ..Default::default()
        });
        let status = run(&backend, place, &["status"])?;
        let (effective, _) = capability_sets(&status, place)?;
        let (seccomp_mode, filters) = seccomp_state(&status, place)?;
        let attempt = run_any(&backend, place, &SECCOMP_COMMAND)?;
        let said = match (attempt.stdout.trim(), attempt.stderr.trim()) {
            (out, "") => out.to_string(),
            (_, err) => err.to_string(),
        };
        lines.push(Line::Figure(catalog.text(
            "seccomp.state",
            &[
                ("place", place),
                ("mode", &seccomp_mode),
                ("filters", &filters),
                ("admin", &yes_no(effective >> CAP_SYS_ADMIN_BIT & 1 == 1)?),
            ],
        )?));
        lines.push(Line::Figure(catalog.text(
            key,
            &[
                ("command", &SECCOMP_COMMAND.join(" ")),
                ("verdict", &yes_no(attempt.exit.success())?),
                ("said", &said),
            ],
        )?));
    }
    Ok(lines)
}

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

/// A label read as the lesson shows it: the label, or the errno the
/// kernel answered, named (`EINVAL`), since that is what a student can
/// look up.
fn label_text(catalog: &Catalog, read: &observe::LabelRead) -> Result<String, ExplainError> {
    Ok(match read {
        Ok(label) => label.clone(),
        Err(errno) => catalog.text("lsm.no-label", &[("errno", &format!("{errno:?}"))])?,
    })
}

/// `lsm`.
pub(crate) fn lsm(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("lsm.running")?);
    let host = container::LsmInfo::detect(std::path::Path::new("/"));
    let modules = if host.securityfs {
        host.modules.join(",")
    } else {
        catalog.plain("lsm.no-securityfs")?
    };
    let apparmor = catalog.plain(match host.apparmor_state() {
        container::lsm::AppArmorState::Enabled => "lsm.enabled",
        container::lsm::AppArmorState::Disabled => "lsm.disabled",
        container::lsm::AppArmorState::Absent => "lsm.absent",
    })?;
    let selinux = catalog.plain(match host.selinux_state() {
        container::lsm::SelinuxState::Enforcing => "lsm.enforcing",
        container::lsm::SelinuxState::Permissive => "lsm.permissive",
        container::lsm::SelinuxState::Absent => "lsm.absent",
    })?;
    let host_labels = observe::labels_of("self");
    let seen = watched_container(
        &ContainerBackend::new(),
        "container",
        Look {
            labels: true,
            ..Look::default()
        },
    )?;
    let container_labels = seen.inspection.labels.unwrap_or_default();
    let mut lines = vec![
        Line::Figure(catalog.text("lsm.modules", &[("modules", &modules)])?),
        Line::Figure(catalog.text(
            "lsm.state",
            &[("apparmor", &apparmor), ("selinux", &selinux)],
        )?),
    ];
    let host_pid = std::process::id().to_string();
    for (key, pid, labels) in [
        ("lsm.host-label", host_pid.as_str(), &host_labels),
        (
            "lsm.container-label",
            &seen.pid.to_string(),
            &container_labels,
        ),
    ] {
        let [(_, current), (_, apparmor)] = labels.as_slice() else {
            return Err(ExplainError::Workload {
                place: "container".to_string(),
                what: "ended before versus could read its security labels (run the lesson again)"
                    .to_string(),
            });
        };
        lines.push(Line::Figure(catalog.text(
            key,
            &[
                ("pid", pid),
                ("current", &label_text(catalog, current)?),
                ("apparmor", &label_text(catalog, apparmor)?),
            ],
        )?));
    }
    let same = host_labels == container_labels;
    lines.push(Line::Figure(catalog.text(
        "lsm.same",
        &[(
            "verdict",
            &catalog.plain(if same { "lsm.yes" } else { "lsm.no" })?,
        )],
    )?));
    Ok(lines)
}

/// `images`' throwaway image: the directories a `--rootfs` must have to
/// mount on, and `bin` for busybox.
const IMAGE_DIRS: [&str; 3] = ["bin", "proc", "dev"];

/// The file the `images` container writes into its overlaid root.
const IMAGE_NOTE: &str = "/written-in-the-container";

/// What the `images` container runs: it writes [`IMAGE_NOTE`], reads it
/// back and prints its own mount table, whose `/` line is the overlay.
fn image_script() -> String {
    format!(
        "echo yes > {IMAGE_NOTE} && /bin/busybox cat {IMAGE_NOTE} && /bin/busybox cat /proc/self/mountinfo"
    )
}

/// The `lowerdir` and `upperdir` of the overlay mounted on `/` in a
/// `/proc/PID/mountinfo` table.
pub(crate) fn overlay_dirs(mountinfo: &str) -> Option<(String, String)> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mount_point = mount.split(' ').nth(4)?;
        let mut fs = fs.split(' ');
        if mount_point != "/" || fs.next()? != "overlay" {
            return None;
        }
        let options = fs.nth(1)?;
        let option = |name: &str| {
            options
                .split(',')
                .find_map(|option| option.strip_prefix(name))
                .map(str::to_string)
        };
        Some((option("lowerdir=")?, option("upperdir=")?))
    })
}

/// `images`' overlay part: a busybox image the lesson makes, run with
/// `--rootfs-overlay`; a file written in the container is read back inside
/// and looked for in the image on the host.
fn image_overlay(catalog: &Catalog, busybox: &std::path::Path) -> Result<Vec<Line>, ExplainError> {
    let scratch = |source| ExplainError::Scratch {
        dir: std::env::temp_dir().display().to_string(),
        source,
    };
    // Removed when dropped, whatever happens below.
    let image = escape::Jail::with_dirs("versus-image", &IMAGE_DIRS).map_err(scratch)?;
    std::fs::copy(busybox, image.path().join("bin/busybox")).map_err(scratch)?;
    let tree = observe::tree_of(image.path());
    let backend = ContainerBackend::with_settings(ContainerSettings {
        rootfs: crate::backend::container::Rootfs::Dir(image.path().to_path_buf()),
        rootfs_overlay: true,
        ..Default::default()
    });
    let place = "container --rootfs-overlay";
    let script = image_script();
    let report = run(&backend, place, &["/bin/busybox", "sh", "-c", &script])?;
    let (lower, upper) = overlay_dirs(&report.stdout).ok_or_else(|| ExplainError::Workload {
        place: place.to_string(),
        what: "printed no overlay mounted on / in its /proc/self/mountinfo".to_string(),
    })?;
    let inside = report.stdout.lines().next() == Some("yes");
    let in_image = image
        .path()
        .join(IMAGE_NOTE.trim_start_matches('/'))
        .exists();
    let yes_no = |yes: bool| catalog.plain(if yes { "images.yes" } else { "images.no" });
    Ok(vec![
        Line::Figure(catalog.text(
            "images.lower-tree",
            &[
                ("dir", &image.path().display().to_string()),
                ("files", &tree.files.to_string()),
                ("bytes", &fmt::bytes(tree.bytes)),
                ("kernels", &tree.kernels.to_string()),
            ],
        )?),
        Line::Figure(catalog.text("images.overlay", &[("lower", &lower), ("upper", &upper)])?),
        Line::Figure(catalog.text(
            "images.cow",
            &[
                ("file", IMAGE_NOTE),
                ("inside", &yes_no(inside)?),
                ("image", &yes_no(in_image)?),
            ],
        )?),
    ])
}

/// `images`.
pub(crate) fn images(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("images.running")?);
    let seen = watched_container(
        &ContainerBackend::new(),
        "container",
        Look {
            root_tree: true,
            ..Look::default()
        },
    )?;
    let tree = seen
        .inspection
        .root_tree
        .ok_or_else(|| ExplainError::Workload {
            place: "container".to_string(),
            what: "ended before versus could count its root filesystem (run the lesson again)"
                .to_string(),
        })?;
    let vm_backend = VmBackend::new();
    let vm = run(&vm_backend, "vm", &["uname"])?;
    let kernel = vm_backend.kernel.bytes.len() as u64;
    let workload = Workload::embedded().bytes().len() as u64;
    let initrd = vm_backend.initrd.len() as u64;
    let loaded = vm.memory.image_bytes.unwrap_or(kernel + workload + initrd);
    let touched = vm
        .memory
        .guest_touched_bytes
        .map_or_else(|| "?".to_string(), fmt::bytes);
    // The exact count too, so that a student can check it with `stat`.
    let exact = |count: u64| match fmt::bytes(count) {
        short if count < 1024 => short,
        short => format!("{short} ({count} B)"),
    };
    let times = if tree.bytes == 0 {
        "?".to_string()
    } else {
        format!("{:.1}×", loaded as f64 / tree.bytes as f64)
    };
    let mut lines = vec![
        Line::Figure(catalog.text(
            "images.container",
            &[
                ("pid", &seen.pid.to_string()),
                ("files", &tree.files.to_string()),
                ("bytes", &exact(tree.bytes)),
                ("kernels", &tree.kernels.to_string()),
            ],
        )?),
        Line::Figure(catalog.text(
            "images.vm",
            &[
                ("source", &vm_backend.kernel.source),
                ("kernel", &exact(kernel)),
                ("workload", &exact(workload)),
                ("initrd", &exact(initrd)),
            ],
        )?),
        Line::Figure(catalog.text(
            "images.vm-loaded",
            &[("loaded", &exact(loaded)), ("touched", &touched)],
        )?),
        Line::Figure(catalog.text("images.times", &[("times", &times)])?),
    ];
    match container::rootfs::host_busybox() {
        Some(busybox) => lines.extend(image_overlay(catalog, &busybox)?),
        None => lines.push(Line::Prose(catalog.plain("images.no-busybox")?)),
    }
    Ok(lines)
}

/// The namespaces in the order Linux gained them: `(file in
/// /proc/PID/ns, kernel release, year)`. The dates are the mainline
/// releases that merged each kind (user namespaces: the release that
/// completed them and let an unprivileged process make one).
const NAMESPACE_HISTORY: [(&str, &str, u16); 8] = [
    ("mnt", "2.4.19", 2002),
    ("uts", "2.6.19", 2006),
    ("ipc", "2.6.19", 2006),
    ("pid", "2.6.24", 2008),
    ("net", "2.6.29", 2009),
    ("user", "3.8", 2013),
    ("cgroup", "4.6", 2016),
    ("time", "5.6", 2020),
];

/// The two cgroup versions: `(name, file system type, kernel release,
/// year)`.
const CGROUP_HISTORY: [(&str, &str, &str, u16); 2] = [
    ("cgroup v1", "cgroup", "2.6.24", 2008),
    ("cgroup v2", "cgroup2", "4.5", 2016),
];

/// versus' launch phases (as its container reports name them), each with
/// the catalog key of what runc does at that step.
const LAUNCH_STEPS: [(&str, &str); 6] = [
    ("cgroup", "lxc-docker-history.runc-cgroup"),
    ("clone", "lxc-docker-history.runc-clone"),
    ("cgroup join", "lxc-docker-history.runc-join"),
    ("mounts+pivot_root", "lxc-docker-history.runc-mounts"),
    ("security", "lxc-docker-history.runc-security"),
    ("exec", "lxc-docker-history.runc-exec"),
];

/// `lxc-docker-history`.
pub(crate) fn history(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("lxc-docker-history.running")?);
    let yes_no = |yes: bool| {
        catalog.plain(if yes {
            "lxc-docker-history.yes"
        } else {
            "lxc-docker-history.no"
        })
    };
    let release = nix::sys::utsname::uname()
        .map(|uts| uts.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".to_string());
    let mut lines = vec![Line::Figure(
        catalog.text("lxc-docker-history.kernel", &[("release", &release)])?,
    )];
    for (kind, version, year) in NAMESPACE_HISTORY {
        let present = std::path::Path::new("/proc/self/ns").join(kind).exists();
        lines.push(Line::Figure(catalog.text(
            "lxc-docker-history.ns",
            &[
                ("year", &year.to_string()),
                ("version", version),
                ("kind", kind),
                ("verdict", &yes_no(present)?),
            ],
        )?));
    }
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|table| observe::mounted_types(&table))
        .unwrap_or_default();
    for (name, fs_type, version, year) in CGROUP_HISTORY {
        lines.push(Line::Figure(catalog.text(
            "lxc-docker-history.cgroup",
            &[
                ("year", &year.to_string()),
                ("version", version),
                ("name", name),
                ("fs", fs_type),
                ("verdict", &yes_no(mounted.contains(fs_type))?),
            ],
        )?));
    }
    let report = run(&ContainerBackend::new(), "container", &["startup"])?;
    for (phase, runc) in LAUNCH_STEPS {
        let took = report
            .phases
            .iter()
            .find(|measured| measured.name == phase)
            .map_or_else(
                || catalog.plain("lxc-docker-history.unmeasured"),
                |measured| Ok(fmt::duration(measured.ns)),
            )?;
        lines.push(Line::Figure(catalog.text(
            "lxc-docker-history.step",
            &[
                ("phase", phase),
                ("time", &took),
                ("runc", &catalog.plain(runc)?),
            ],
        )?));
    }
    Ok(lines)
}

// The fields of an ELF header that say which system and machine a program
// is for (System V ABI, "ELF Header"): offsets into the file, and the
// values the lesson names.
/// `e_ident[EI_CLASS]`: 1 = 32-bit, 2 = 64-bit.
const ELF_CLASS_AT: usize = 4;
/// `e_ident[EI_DATA]`: 1 = little-endian, 2 = big-endian.
const ELF_DATA_AT: usize = 5;
/// `e_ident[EI_OSABI]`: the operating system's ABI the file is for.
const ELF_OSABI_AT: usize = 7;
/// `e_machine`, a little-endian u16: the instruction set.
const ELF_MACHINE_AT: usize = 18;
/// `EI_OSABI` values, by name: Linux linkers leave 0 (System V) unless a
/// GNU extension needs 3; the BSDs and Solaris mark theirs.
const ELF_OSABIS: [(u8, &str); 5] = [
    (0, "ELFOSABI_NONE (System V)"),
    (3, "ELFOSABI_GNU (Linux)"),
    (6, "ELFOSABI_SOLARIS"),
    (9, "ELFOSABI_FREEBSD"),
    (12, "ELFOSABI_OPENBSD"),
];
/// `e_machine` values, by name.
const ELF_MACHINES: [(u16, &str); 3] = [(3, "EM_386"), (62, "EM_X86_64"), (183, "EM_AARCH64")];

/// `windows-and-mac`.
pub(crate) fn windows_and_mac(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("windows-and-mac.running")?);
    let workload = Workload::embedded();
    let bytes = workload.bytes();
    let byte = |at: usize| bytes.get(at).copied();
    let (Some(class), Some(data), Some(osabi), Some(machine)) = (
        byte(ELF_CLASS_AT),
        byte(ELF_DATA_AT),
        byte(ELF_OSABI_AT),
        bytes
            .get(ELF_MACHINE_AT..ELF_MACHINE_AT + 2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
    ) else {
        return Err(ExplainError::Workload {
            place: "host".to_string(),
            what: "has an embedded workload too short for an ELF header (rebuild versus)"
                .to_string(),
        });
    };
    let named = |value: u64, names: &[(u64, &str)]| {
        names.iter().find(|(known, _)| *known == value).map_or_else(
            || format!("{value}"),
            |(_, name)| format!("{value} = {name}"),
        )
    };
    let osabis: Vec<(u64, &str)> = ELF_OSABIS
        .iter()
        .map(|(v, n)| (u64::from(*v), *n))
        .collect();
    let machines: Vec<(u64, &str)> = ELF_MACHINES
        .iter()
        .map(|(v, n)| (u64::from(*v), *n))
        .collect();
    let is_static = crate::workload::elf::check_static_elf(bytes).is_ok();
    let yes_no = |yes: bool| {
        catalog.plain(if yes {
            "windows-and-mac.yes"
        } else {
            "windows-and-mac.no"
        })
    };
    let mut lines = vec![Line::Figure(catalog.text(
        "windows-and-mac.elf",
        &[
            ("size", &fmt::bytes(bytes.len() as u64)),
            ("class", &class.to_string()),
            ("data", &data.to_string()),
            ("osabi", &named(u64::from(osabi), &osabis)),
            ("machine", &named(u64::from(machine), &machines)),
            ("static", &yes_no(is_static)?),
        ],
    )?)];
    let vm_backend = VmBackend::new();
    let places: [(&str, &dyn Backend); 3] = [
        ("host", &HostBackend),
        ("container", &ContainerBackend::new()),
        ("vm", &vm_backend),
    ];
    for (place, backend) in places {
        let report = run(backend, place, &["uname"])?;
        let (sysname, release) = uname_in(&report, place)?;
        lines.push(Line::Figure(catalog.text(
            "windows-and-mac.answered",
            &[
                ("place", place),
                ("size", &fmt::bytes(bytes.len() as u64)),
                ("kernel", &format!("{sysname} {release}")),
            ],
        )?));
    }
    Ok(lines)
}

/// Exits of a VM run whose reason is `reason` (`io_out 0x608`), summed over
/// vCPUs.
fn exits_named(report: &RunReport, reason: &str) -> u64 {
    report.vm.as_ref().map_or(0, |vm| {
        vm.exits
            .iter()
            .filter(|row| row.reason == reason)
            .map(|row| row.count)
            .sum()
    })
}

/// Every exit of a VM run.
fn exits_total(report: &RunReport) -> u64 {
    report
        .vm
        .as_ref()
        .map_or(0, |vm| vm.exits.iter().map(|row| row.count).sum())
}

/// `exits`.
pub(crate) fn exits(
    catalog: &Catalog,
    pace: Pace,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    use hypervisor::abi::port;
    presenter.progress(&catalog.plain("exits.running")?);
    let vm = |settings: VmSettings| VmBackend::with_settings(settings);
    let paravirt = vm(VmSettings::default());
    let uart = vm(VmSettings {
        console_uart: true,
        ..VmSettings::default()
    });
    let probe = vm(VmSettings {
        exit_probe: Some(EXITS_PINGS),
        ..VmSettings::default()
    });
    let (few, many) = exits_getpid(pace);
    let (few, many) = (few.to_string(), many.to_string());
    let (writes, size) = (EXITS_WRITES.0.to_string(), EXITS_WRITES.1.to_string());
    let short = run(&paravirt, "vm", &["getpid", &few])?;
    let long = run(&paravirt, "vm", &["getpid", &many])?;
    let written = run(&paravirt, "vm", &["write", &writes, &size])?;
    let uart_run = run(&uart, "vm --console uart", &["write", &writes, &size])?;
    let probed = run(&probe, "vm --exit-probe", &["startup"])?;

    let console = format!("io_out {:#x}", port::CONSOLE);
    let com1 = format!("io_out {:#x}", port::COM1);
    let (a, b) = (exits_total(&short), exits_total(&long));
    let delta = b as i64 - a as i64;
    let pv_extra = exits_named(&written, &console).saturating_sub(exits_named(&short, &console));
    let per_write = pv_extra as f64 / EXITS_WRITES.0 as f64;
    let uart_exits = exits_named(&uart_run, &com1);
    let uart_bytes = uart_run.vm.as_ref().map_or(0, |vm| vm.uart_bytes);
    let per_byte = if uart_bytes == 0 {
        "?".to_string()
    } else {
        format!("{:.2}", uart_exits as f64 / uart_bytes as f64)
    };
    let round_trip = probed
        .vm
        .as_ref()
        .and_then(|vm| vm.exit_probe.as_ref())
        .ok_or_else(|| missing("vm --exit-probe", "exit round trip"))?;
    let ns = |value: Option<f64>| value.map_or_else(|| "?".to_string(), fmt::duration_f64);
    Ok(vec![
        Line::Figure(catalog.text(
            "exits.loop",
            &[
                ("few", &few),
                ("a", &a.to_string()),
                ("many", &many),
                ("b", &b.to_string()),
                ("delta", &delta.to_string()),
            ],
        )?),
        Line::Figure(catalog.text(
            "exits.paravirt",
            &[
                ("writes", &writes),
                ("size", &size),
                ("exits", &pv_extra.to_string()),
                ("per", &format!("{per_write:.2}")),
            ],
        )?),
        Line::Figure(catalog.text(
            "exits.uart",
            &[
                ("exits", &uart_exits.to_string()),
                ("bytes", &uart_bytes.to_string()),
                ("per", &per_byte),
            ],
        )?),
        Line::Figure(catalog.text(
            "exits.probe",
            &[
                ("iters", &round_trip.iters.to_string()),
                ("round", &ns(round_trip.host_ns_per_exit)),
                ("handler", &ns(round_trip.handler_ns_per_exit)),
            ],
        )?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_on_root_is_found_in_a_mount_table_and_other_mounts_are_not() {
        let table = "\
67 42 0:41 / / rw,relatime - overlay overlay rw,lowerdir=/tmp/image,upperdir=/mnt/upper,workdir=/mnt/work
68 67 0:44 / /proc rw - proc proc rw
69 67 0:45 / /data rw - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
";
        assert_eq!(
            overlay_dirs(table),
            Some(("/tmp/image".to_string(), "/mnt/upper".to_string()))
        );
        // An overlay elsewhere, or a root that is not one, is not the image.
        assert_eq!(overlay_dirs(&table[table.find("68 ").unwrap()..]), None);
        assert_eq!(overlay_dirs("1 0 0:1 / / rw - tmpfs tmpfs rw\n"), None);
    }
}

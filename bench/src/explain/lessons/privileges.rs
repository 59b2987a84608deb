//! The lessons on what root in a container may still do: `capabilities`
//! (the sets it keeps and the privileged calls they refuse), `seccomp` (a
//! call only the filter refuses) and `lsm` (the host's security modules and
//! the container's label).

use super::{CAPABILITIES, missing, run, run_any, watched_container};
use crate::backend::Backend;
use crate::backend::container::{ContainerBackend, ContainerSettings};
use crate::backend::host::HostBackend;
use crate::explain::catalog::Catalog;
use crate::explain::observe::{self, Look};
use crate::explain::{ExplainError, Line, Presenter};
use crate::report::RunReport;
use crate::workload::{ProcStatus, TaskResult};

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
                ("place", &catalog.subject(place)),
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
                ("place", &catalog.subject(place)),
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

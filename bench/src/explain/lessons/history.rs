//! The `lxc-docker-history` lesson: from chroot to OCI, each kernel feature
//! checked on this host and each of runc's launch steps timed in versus'
//! own container.

use super::run;
use crate::backend::container::ContainerBackend;
use crate::explain::catalog::Catalog;
use crate::explain::observe;
use crate::explain::{ExplainError, Line, Presenter};
use crate::fmt;

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

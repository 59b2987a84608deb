//! The checks of `build`, one function per concern. Each one refuses what cannot
//! work — with the flag to change and why — before anything is created, and prepares
//! what `spawn` will need for its concern.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use seccompiler::BpfProgram;

use super::{HostFacts, IdMap, Limits, MIN_MEMORY, Namespace, ROOT_USERNS_BASE, ROOT_USERNS_SIZE};
use crate::capabilities::{self, CapPlan, CapabilitySet, compute_kept};
use crate::cgroup::{self, CgroupPlan, Launcher};
use crate::error::{Error, Result};
use crate::rootfs::{
    self, DEFAULT_PATH, MountContext, PlannedRootfs, RealHost, RootfsSpec, Step, Volume,
};
use crate::seccomp::{self, SeccompMode};

pub(super) fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "id",
            format!(
                "{id:?} is not a usable container id: use 1 to 64 letters, digits, '_', '-' or '.', \
                 not starting with '.' (it names the cgroup versus/<id>)"
            ),
        ))
    }
}

fn validate_hostname(h: &str) -> Result<()> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--hostname",
            format!("{h:?} is not a hostname: use 1 to 64 letters, digits, '-' and '.' (RFC 1123)"),
        ))
    }
}

pub(super) fn validate_limits(l: &Limits, cpus_online: usize) -> Result<()> {
    if let Some(m) = l.memory
        && m < MIN_MEMORY
    {
        return Err(Error::invalid(
            "--memory",
            format!("{m} bytes is too little; the minimum is 6m ({MIN_MEMORY} bytes)"),
        ));
    }
    if l.pids == Some(0) {
        return Err(Error::invalid(
            "--pids-limit",
            "must be at least 1 (the container's own first process counts)",
        ));
    }
    if let Some(c) = l.cpus
        && !(c.is_finite() && c >= 0.01 && c <= cpus_online as f64)
    {
        return Err(Error::invalid(
            "--cpus",
            format!("{c} is out of range: the range is 0.01 to {cpus_online}.00 on this machine"),
        ));
    }
    Ok(())
}

/// Which namespaces the container creates and which it shares with the launcher.
#[derive(Debug)]
pub(super) struct Namespaces {
    /// Whether versus runs without root (then a user namespace is required).
    pub(super) rootless: bool,
    /// Whether a user namespace is created.
    pub(super) userns: bool,
    /// The namespaces created, in the order of [`Namespace::ALL`].
    pub(super) created: Vec<Namespace>,
    /// The others, shared with the launcher.
    pub(super) shared: Vec<Namespace>,
}

impl Namespaces {
    pub(super) fn has(&self, n: Namespace) -> bool {
        self.created.contains(&n)
    }
}

/// The namespaces to create: all but those in `share`; a user namespace only when
/// rootless (then it cannot be shared, and must be usable on this host) or asked for.
pub(super) fn namespaces(
    share: &[Namespace],
    force_userns: bool,
    host: &HostFacts,
) -> Result<Namespaces> {
    let rootless = host.euid != 0;
    if rootless && share.contains(&Namespace::User) {
        return Err(Error::Conflict(
            "without root a user namespace is required; it cannot be shared (--share user)".into(),
        ));
    }
    if rootless && let Some(reason) = host.userns.unavailable_reason() {
        return Err(Error::RootlessUnavailable {
            uid: host.euid,
            reason,
        });
    }
    let userns = rootless || (force_userns && !share.contains(&Namespace::User));
    let created: Vec<Namespace> = Namespace::ALL
        .into_iter()
        .filter(|n| match n {
            Namespace::User => userns,
            n => !share.contains(n),
        })
        .collect();
    let shared: Vec<Namespace> = Namespace::ALL
        .into_iter()
        .filter(|n| !created.contains(n))
        .collect();
    Ok(Namespaces {
        rootless,
        userns,
        created,
        shared,
    })
}

/// The command as C strings for `execve` (it must name at least `argv[0]`).
pub(super) fn argv(command: &[String]) -> Result<Vec<CString>> {
    if command.is_empty() {
        return Err(Error::invalid(
            "command",
            "no command given; argv[0] is a path inside the rootfs, e.g. /bin/versus-workload",
        ));
    }
    command
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| {
                Error::invalid("command", format!("argument {a:?} contains a NUL byte"))
            })
        })
        .collect()
}

/// The hostname to set: the one asked for, or `versus`; none when the UTS namespace is
/// shared, since setting it would change the host's.
pub(super) fn hostname(asked: Option<&str>, own_uts: bool) -> Result<Option<String>> {
    match (asked, own_uts) {
        (Some(_), false) => Err(Error::Conflict(
            "--hostname needs the container's own UTS namespace, but --share uts was given".into(),
        )),
        (Some(h), true) => {
            validate_hostname(h)?;
            Ok(Some(h.to_string()))
        }
        (None, true) => Ok(Some("versus".to_string())),
        (None, false) => Ok(None),
    }
}

/// The root filesystem, checked (the command must be in it) and turned into the
/// child's mount steps.
#[derive(Debug)]
pub(super) struct Rootfs {
    pub(super) desc: String,
    /// The path `execve` gets (the command, or where it was found on `PATH`).
    pub(super) exec_path: CString,
    pub(super) planned: PlannedRootfs,
    pub(super) steps: Vec<Step>,
}

/// What runs in the root filesystem: the command, the container's `PATH` to find it
/// on, the working directory and the volumes.
#[derive(Debug)]
pub(super) struct Command<'a> {
    pub(super) argv0: &'a str,
    pub(super) path_var: &'a str,
    pub(super) workdir: Option<&'a str>,
    pub(super) volumes: &'a [Volume],
    /// Writes to a `--rootfs` directory go to a throw-away overlay layer.
    pub(super) overlay: bool,
    /// The host path of the `-t` pty slave, bound onto `/dev/console`.
    pub(super) console: Option<&'a Path>,
}

/// Checks the root filesystem against the namespaces (only the host's root works in a
/// shared mount namespace), finds the command in it, checks the working directory and
/// the volumes, and plans the child's mount steps.
pub(super) fn rootfs(
    spec: Option<RootfsSpec>,
    command: &Command<'_>,
    read_only: bool,
    ns: &Namespaces,
    hostname: Option<&str>,
) -> Result<Rootfs> {
    let spec = spec.ok_or_else(|| Error::invalid("rootfs", "no root filesystem given"))?;
    if !ns.has(Namespace::Mnt) {
        if spec != RootfsSpec::Host {
            return Err(Error::Conflict(format!(
                "a {} needs the container's own mount namespace, but --share mnt was given \
                 (only the host's root works without one)",
                spec.describe()
            )));
        }
        if read_only {
            return Err(Error::Conflict(
                "--read-only needs the container's own mount namespace (--share mnt was given)"
                    .into(),
            ));
        }
    }
    // The volumes' host paths must stay reachable until they are bound.
    let keep_visible: Vec<PathBuf> = command
        .volumes
        .iter()
        .filter_map(|v| std::fs::canonicalize(&v.host).ok())
        .collect();
    let planned = rootfs::validate_root(&spec, &keep_visible, command.overlay)?;
    let exec_path = rootfs::find_command(&planned, command.argv0, command.path_var)?;
    let volumes = rootfs::validate_volumes(&planned, command.volumes)?;
    if let Some(dir) = command.workdir {
        let mounts: Vec<PathBuf> = volumes
            .iter()
            .filter(|v| v.is_dir)
            .map(|v| v.inside.clone())
            .collect();
        rootfs::check_workdir(&planned, dir, &mounts)?;
    }
    let steps = rootfs::plan_steps(&MountContext {
        rootfs: &planned,
        new_mount: ns.has(Namespace::Mnt),
        new_pid: ns.has(Namespace::Pid),
        new_net: ns.has(Namespace::Net),
        new_uts: ns.has(Namespace::Uts),
        hostname,
        read_only,
        host: &RealHost,
        volumes: &volumes,
        workdir: command.workdir,
        new_user: ns.has(Namespace::User),
        console: command.console,
    });
    let mut desc = spec.describe();
    if command.overlay {
        desc.push_str(" under an overlay (the container's writes are discarded)");
    }
    Ok(Rootfs {
        desc,
        planned,
        steps,
        exec_path: CString::new(exec_path)
            .map_err(|_| Error::invalid("command", "the command contains a NUL byte"))?,
    })
}

/// The capabilities kept and the seccomp program compiled for them.
#[derive(Debug)]
pub(super) struct Security {
    pub(super) kept: CapabilitySet,
    /// In the set asked for but not held by versus itself, so not given (naming one
    /// in `--cap-add` is an error instead).
    pub(super) withheld: CapabilitySet,
    pub(super) cap_plan: CapPlan,
    pub(super) seccomp_program: Option<Arc<BpfProgram>>,
}

/// Docker's capability set with `cap_add` and `cap_drop` applied, limited to what
/// versus itself can give, and the seccomp filter for that set.
pub(super) fn security(
    cap_add: &[String],
    cap_drop: &[String],
    mode: SeccompMode,
    rootless: bool,
    host: &HostFacts,
) -> Result<Security> {
    let mut kept = compute_kept(cap_add, cap_drop)?;
    // What versus itself does not hold it cannot give: a capability named
    // in --cap-add is then an error; ALL means all that can be given.
    let mut withheld = CapabilitySet::empty();
    if let Some(grantable) = capabilities::launcher_grantable(rootless) {
        withheld = kept.difference(&grantable);
        let named: Vec<String> = withheld
            .names()
            .into_iter()
            .filter(|name| {
                cap_add.iter().any(|added| {
                    let added = added.to_ascii_uppercase();
                    *name == added || name.strip_prefix("CAP_") == Some(added.as_str())
                })
            })
            .collect();
        if !named.is_empty() {
            return Err(Error::invalid(
                "--cap-add",
                format!(
                    "versus itself does not hold {} (its own capability sets lack it), so it \
                     cannot give it to the container; run versus with it, or drop the flag",
                    named.join(", ")
                ),
            ));
        }
        kept = kept.intersection(&grantable);
    }
    let cap_plan = CapPlan::new(&kept, host.last_cap);
    let seccomp_program = match mode {
        SeccompMode::Default => Some(seccomp::cached(&kept)?),
        SeccompMode::Unconfined => None,
    };
    Ok(Security {
        kept,
        withheld,
        cap_plan,
        seccomp_program,
    })
}

/// Where the cgroup goes for this launcher (root, or rootless in its own delegated
/// cgroup v2 subtree); `None`: no cgroup (rootless without limits).
pub(super) fn cgroup(
    limits: &Limits,
    rootless: bool,
    host: &HostFacts,
) -> Result<Option<CgroupPlan>> {
    let launcher = if rootless {
        Launcher::Rootless {
            own_v2_path: host.own_v2_path.clone(),
        }
    } else {
        Launcher::Root
    };
    cgroup::plan(&host.layout, &host.root, limits, &launcher)
}

/// The user namespace's uid and gid maps: rootless maps only the caller to 0 (all an
/// unprivileged user may map); root maps a subordinate-style range.
pub(super) fn id_maps(ns: &Namespaces, host: &HostFacts) -> Option<(IdMap, IdMap)> {
    ns.userns.then(|| {
        if ns.rootless {
            (
                IdMap {
                    inside: 0,
                    outside: host.euid,
                    count: 1,
                },
                IdMap {
                    inside: 0,
                    outside: host.egid,
                    count: 1,
                },
            )
        } else {
            let m = IdMap {
                inside: 0,
                outside: ROOT_USERNS_BASE,
                count: ROOT_USERNS_SIZE,
            };
            (m.clone(), m)
        }
    })
}

/// PID 1's environment: a minimal one (`PATH`, `HOME=/`, the caller's `TERM`,
/// `container=versus`), then the caller's variables, each replacing one of the same name.
pub(super) fn environment(extra: &[(String, String)]) -> Result<Vec<CString>> {
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), "HOME=/".to_string()];
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    env.push("container=versus".to_string());
    for (k, v) in extra {
        if k.is_empty() || k.contains('=') {
            return Err(Error::invalid("env", format!("bad variable name {k:?}")));
        }
        env.retain(|e| !e.starts_with(&format!("{k}=")));
        env.push(format!("{k}={v}"));
    }
    env.into_iter()
        .map(|e| CString::new(e).map_err(|_| Error::invalid("env", "a value contains a NUL byte")))
        .collect()
}

/// What the report notes about confinement the container lacks without having asked
/// to: capabilities versus could not give, and (rootless) no cgroup; and, with
/// `--user` other than 0, that the capabilities listed are the bounding set only.
pub(super) fn notes(
    withheld: &CapabilitySet,
    has_cgroup: bool,
    user: Option<(u32, u32)>,
) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some((uid, _)) = user.filter(|&(uid, _)| uid != 0) {
        notes.push(format!(
            "runs as uid {uid}: the kernel cleared its permitted and effective \
             capabilities at the switch from uid 0, so the capabilities above are its \
             bounding set only (what it could regain by executing a file with \
             capabilities, which no_new_privs forbids)"
        ));
    }
    if !withheld.is_empty() {
        notes.push(format!(
            "not given (versus itself does not hold them): {}",
            withheld.names().join(", ")
        ));
    }
    // Only rootless runs without a cgroup: as root, a host without a cgroup
    // filesystem is refused (the device allow-list lives in the cgroup).
    if !has_cgroup {
        notes.push(
            "rootless without limits: no cgroup, so no cgroup statistics and no device \
             allow-list (in the user namespace the kernel refuses mknod of a device)"
                .to_string(),
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::layout::tests::{HYBRID_MOUNTINFO, V1_MOUNTINFO};
    use crate::host::UsernsStatus;
    use crate::rootfs::WORKLOAD_PATH;
    use crate::spec::ContainerBuilder;
    use crate::spec::host_facts::tests::facts;

    fn base() -> ContainerBuilder {
        ContainerBuilder::new("t-1")
            .rootfs(RootfsSpec::workload(b"\x7fELF".to_vec()))
            .command([WORKLOAD_PATH, "ids"])
    }

    fn err(b: ContainerBuilder) -> String {
        b.build_with(&facts(0, HYBRID_MOUNTINFO))
            .unwrap_err()
            .to_string()
    }

    #[testkit::needs(root)]
    #[test]
    fn a_plain_spec_builds_with_every_namespace_and_docker_defaults() {
        let s = base().build_with(&facts(0, HYBRID_MOUNTINFO)).unwrap();
        assert_eq!(
            s.namespaces(),
            &[
                Namespace::Pid,
                Namespace::Mnt,
                Namespace::Uts,
                Namespace::Ipc,
                Namespace::Net,
                Namespace::Cgroup
            ]
        );
        assert!(!s.rootless());
        assert_eq!(s.capabilities().mask(), 0xa80425fb);
        assert_eq!(s.hostname.as_deref(), Some("versus"));
        assert!(s.seccomp_instructions().unwrap() > 50);
        let env: Vec<_> = s
            .env
            .iter()
            .map(|e| e.to_str().unwrap().to_owned())
            .collect();
        assert!(env.contains(&"container=versus".to_string()));
        assert!(env.contains(&"HOME=/".to_string()));
        assert!(s.setup_steps().iter().any(|w| w == "pivot_root into /tmp"));
        assert!(s.cgroup.is_some());
    }

    #[test]
    fn bad_ids_sizes_and_limits_are_rejected() {
        for id in ["", "a/b", "../x", ".hidden", &"x".repeat(65), "sp ace"] {
            assert!(
                err(ContainerBuilder::new(id)
                    .rootfs(RootfsSpec::workload(b"x".to_vec()))
                    .command([WORKLOAD_PATH]))
                .contains("invalid id")
            );
        }
        let lim = |l: Limits| err(base().limits(l));
        assert!(
            lim(Limits {
                memory: Some(1 << 20),
                ..Default::default()
            })
            .contains("minimum is 6m")
        );
        assert!(
            lim(Limits {
                pids: Some(0),
                ..Default::default()
            })
            .contains("--pids-limit")
        );
        assert!(
            lim(Limits {
                cpus: Some(0.0),
                ..Default::default()
            })
            .contains("0.01 to 2.00")
        );
        assert!(
            lim(Limits {
                cpus: Some(3.0),
                ..Default::default()
            })
            .contains("0.01 to 2.00")
        );
        assert!(
            lim(Limits {
                cpus: Some(f64::NAN),
                ..Default::default()
            })
            .contains("--cpus")
        );
        assert!(err(base().hostname("bad_name!")).contains("--hostname"));
        assert!(err(base().hostname("-x")).contains("--hostname"));
    }

    #[test]
    fn unknown_capability_names_are_rejected_with_hints() {
        assert!(err(base().caps_add(["CAP_FOO"])).contains("unknown capability 'CAP_FOO'"));
        assert!(err(base().caps_drop(["net_rawx"])).contains("did you mean CAP_NET_RAW?"));
    }

    #[test]
    fn missing_rootfs_and_commands_are_caught_early() {
        let e = err(ContainerBuilder::new("x").command(["/bin/sh"]));
        assert!(e.contains("no root filesystem"), "{e}");
        let e = err(ContainerBuilder::new("x")
            .rootfs(RootfsSpec::Dir("/nonexistent/r".into()))
            .command(["/bin/sh"]));
        assert!(e.contains("rootfs /nonexistent/r"), "{e}");
        let e = err(base().command(Vec::<String>::new()));
        assert!(e.contains("no command"), "{e}");
        let e = err(base().command(["/bin/sh", "-c", "true"]));
        assert!(
            e.contains("command /bin/sh: not found in the built rootfs"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        for sub in ["proc", "dev", "bin"] {
            std::fs::create_dir(d.path().join(sub)).unwrap();
        }
        let e = err(ContainerBuilder::new("x")
            .rootfs(RootfsSpec::Dir(d.path().into()))
            .command(["/bin/sh"]));
        assert!(e.contains("command /bin/sh: not found in rootfs"), "{e}");
    }

    #[test]
    fn contradictions_are_errors() {
        let e = err(base().share(&[Namespace::Uts]).hostname("h"));
        assert!(
            e.contains("--hostname needs the container's own UTS namespace"),
            "{e}"
        );
        let e = err(base().share(&[Namespace::Mnt]));
        assert!(
            e.contains("needs the container's own mount namespace"),
            "{e}"
        );
        let e = err(ContainerBuilder::new("x")
            .rootfs(RootfsSpec::Host)
            .command(["/bin/true"])
            .share(&[Namespace::Mnt])
            .read_only(true));
        assert!(e.contains("--read-only"), "{e}");
        let shared = base()
            .share(&[Namespace::Net, Namespace::Uts])
            .build_with(&facts(0, HYBRID_MOUNTINFO))
            .unwrap();
        assert!(!shared.namespaces().contains(&Namespace::Net));
        assert_eq!(shared.hostname, None);
        assert!(
            !shared
                .setup_steps()
                .iter()
                .any(|w| w.starts_with("bringing up lo"))
        );
    }

    #[test]
    fn rootless_uses_a_user_namespace_and_refuses_limits_without_a_delegated_cgroup() {
        let s = base().build_with(&facts(1000, HYBRID_MOUNTINFO)).unwrap();
        assert!(s.rootless());
        assert!(s.namespaces().contains(&Namespace::User));
        assert_eq!(s.id_maps.as_ref().unwrap().0.line(), "0 1000 1\n");
        assert!(s.cgroup.is_none());
        let e = base()
            .limits(Limits {
                memory: Some(64 << 20),
                ..Default::default()
            })
            .build_with(&facts(1000, V1_MOUNTINFO))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot apply --memory 67108864"), "{e}");
        let e = base()
            .share(&[Namespace::User])
            .build_with(&facts(1000, HYBRID_MOUNTINFO))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be shared"), "{e}");
        let mut no_userns = facts(1000, HYBRID_MOUNTINFO);
        no_userns.userns = UsernsStatus::Disabled {
            blocks: vec![crate::host::UsernsBlock {
                knob: crate::host::UsernsKnob::MaxUserNamespaces,
                reason: "disabled".into(),
            }],
        };
        let e = base().build_with(&no_userns).unwrap_err().to_string();
        assert!(
            e.contains("cannot run a container as uid 1000: disabled"),
            "{e}"
        );
        // Root asking for a user namespace gets a subordinate-style range.
        let s = base()
            .user_namespace(true)
            .build_with(&facts(0, HYBRID_MOUNTINFO))
            .unwrap();
        assert_eq!(s.id_maps.as_ref().unwrap().0.line(), "0 100000 65536\n");
    }

    #[test]
    fn userns_availability_comes_from_host() {
        let d = tempfile::tempdir().unwrap();
        let mut f = facts(1000, HYBRID_MOUNTINFO);
        f.userns = UsernsStatus::detect(d.path());
        let e = base().build_with(&f).unwrap_err().to_string();
        assert!(e.contains("CONFIG_USER_NS"), "{e}");
        std::fs::create_dir_all(d.path().join("proc/self/ns")).unwrap();
        std::fs::write(d.path().join("proc/self/ns/user"), "").unwrap();
        std::fs::create_dir_all(d.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(
            d.path()
                .join("proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            "1\n",
        )
        .unwrap();
        f.userns = UsernsStatus::detect(d.path());
        let e = base().build_with(&f).unwrap_err().to_string();
        assert!(e.contains("apparmor_restrict_unprivileged_userns"), "{e}");
    }
}

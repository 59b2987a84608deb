//! What the user reads when a launch fails: the `clone` error with the likely cause,
//! the failed setup stage in words (the mount step, the capability, the `execve`), a
//! hint for the common errno of that stage, and where a child that hangs is stuck.

use std::fs;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::child::Stage;
use crate::error::Error;
use crate::spec::ContainerSpec;

pub(super) fn clone_error(flags: CloneFlags, rootless: bool, e: Errno) -> Error {
    let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
    let hint = match e {
        Errno::EPERM if rootless => {
            " (this user may not create these namespaces: check kernel.unprivileged_userns_clone, \
             user.max_user_namespaces and AppArmor's kernel.apparmor_restrict_unprivileged_userns)"
        }
        Errno::EPERM => " (even as root: is versus itself running in a restricted container?)",
        Errno::ENOSPC => " (a namespace limit in /proc/sys/user/max_*_namespaces was reached)",
        Errno::EUSERS => " (user namespaces are nested too deeply)",
        _ => "",
    };
    Error::sys(format!("clone({}){hint}", names.join("|")), e)
}

pub(super) fn describe_failure(spec: &ContainerSpec, stage: Stage, index: usize) -> String {
    match stage {
        Stage::Sync => "waiting for the launcher".into(),
        Stage::Step => spec
            .steps
            .get(index)
            .map_or_else(|| format!("setup step {index}"), |s| s.what.clone()),
        Stage::CgroupNs => "unshare(CLONE_NEWCGROUP)".into(),
        Stage::Groups => "setgroups(0, NULL)".into(),
        Stage::Bounding => format!(
            "dropping {} from the bounding set",
            crate::capabilities::CapabilitySet::all()
                .iter()
                .find(|c| usize::from(c.index()) == index)
                .map_or_else(|| format!("capability {index}"), |c| c.to_string())
        ),
        Stage::Capset => "capset (effective, permitted, inheritable)".into(),
        Stage::Ambient => "clearing the ambient capabilities".into(),
        Stage::NoNewPrivs => "prctl(PR_SET_NO_NEW_PRIVS)".into(),
        Stage::Seccomp => "installing the seccomp filter".into(),
        Stage::Stdio => format!("dup2 onto fd {index}"),
        Stage::Exec => format!("execve {}", spec.exec_path.to_string_lossy()),
        Stage::Terminal if index == 0 => "setsid (a new session for the terminal)".into(),
        Stage::Terminal => "taking the pseudo-terminal as controlling terminal (TIOCSCTTY)".into(),
        Stage::User => match spec.user {
            Some((uid, gid)) => format!("switching to --user {uid}:{gid} (setresgid, setresuid)"),
            None => "switching to --user".into(),
        },
        Stage::Ids => "setresuid/setresgid to the user namespace's root".into(),
    }
}

pub(super) fn failure_hint(spec: &ContainerSpec, stage: Stage, errno: Errno) -> String {
    match (stage, errno) {
        (Stage::Exec, Errno::ENOENT) => "; the file exists, so what it needs to start is missing in \
            the rootfs: the dynamic loader of a dynamically linked program, or the interpreter of a #! script"
            .into(),
        (Stage::Exec, Errno::EACCES) => {
            "; it is not executable, or it is on a noexec mount".into()
        }
        (Stage::User, Errno::EINVAL) => "; that id is not mapped in the container's user \
            namespace (without root, only uid 0 exists inside; as root, --userns maps 0-65535)"
            .into(),
        (Stage::User, Errno::EPERM) => {
            "; switching ids needs SETUID and SETGID, which --cap-drop removed".into()
        }
        (Stage::Step, Errno::EPERM | Errno::EACCES) if spec.rootless => {
            "; without root, only what the user namespace owns may be mounted".into()
        }
        _ => String::new(),
    }
}

/// Where a child that does not finish its setup is stuck, for the error message.
pub(super) fn describe_stuck(pid: Pid) -> String {
    let read = |f: &str| {
        fs::read_to_string(format!("/proc/{pid}/{f}"))
            .map(|s| s.trim().replace('\n', " | "))
            .unwrap_or_else(|e| e.to_string())
    };
    let state = read("stat")
        .split(") ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or("?")
        .to_string();
    format!(
        "child {pid} state {state}, waiting in {}, kernel stack: {}",
        read("wchan"),
        read("stack")
    )
}

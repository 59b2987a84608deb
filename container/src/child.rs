//! The container's first process between `clone` and `execve` (steps 2–5, child side).
//!
//! It runs on a copy of the launcher's memory; the launcher may have had other threads,
//! so this code allocates nothing: everything was prepared before `clone`, and it
//! reports to the parent with fixed-size [`Msg`]s on the error pipe.

use std::ffi::CStr;
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use seccompiler::sock_filter;

use crate::capabilities::CapPlan;
use crate::rootfs::{Step, run_steps};
use crate::syscall::Syscall;

/// What a message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    /// Mounts, pivot_root, hostname and lo are done (timestamp).
    MountsDone = 1,
    /// Everything is done; `execve` comes next (timestamp).
    Ready = 2,
    /// A step failed (stage, index, errno).
    Failed = 3,
    /// The launcher's second go-ahead (`joined`) arrived: the child is in every part of
    /// its cgroup (timestamp).
    Joined = 4,
}

/// Where in the setup a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stage {
    /// Waiting for the parent's go-ahead (`index` 0) or for `joined` (1).
    Sync = 0,
    /// A rootfs step (`index` into the steps).
    Step = 1,
    /// `unshare(CLONE_NEWCGROUP)` after `joined`.
    CgroupNs = 2,
    /// `setgroups`.
    Groups = 3,
    /// Dropping capability `index` from the bounding set.
    Bounding = 4,
    /// `capset`.
    Capset = 5,
    /// Clearing the ambient set.
    Ambient = 6,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs = 7,
    /// Installing the seccomp filter.
    Seccomp = 8,
    /// Setting up fds 0, 1, 2.
    Stdio = 9,
    /// `execve`.
    Exec = 10,
    /// `setresgid`/`setresuid` to the user namespace's root.
    Ids = 11,
    /// `setresgid`/`setresuid` to `--user`.
    User = 12,
    /// `setsid` and `TIOCSCTTY`: taking the pty as controlling terminal.
    Terminal = 13,
}

impl Stage {
    pub(crate) fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Stage::Sync,
            1 => Stage::Step,
            2 => Stage::CgroupNs,
            3 => Stage::Groups,
            4 => Stage::Bounding,
            5 => Stage::Capset,
            6 => Stage::Ambient,
            7 => Stage::NoNewPrivs,
            8 => Stage::Seccomp,
            9 => Stage::Stdio,
            10 => Stage::Exec,
            11 => Stage::Ids,
            12 => Stage::User,
            13 => Stage::Terminal,
            _ => return None,
        })
    }
}

/// One report from the child: 24 bytes, written with one `write` (atomic on a pipe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Msg {
    pub(crate) kind: u32,
    pub(crate) stage: u32,
    pub(crate) index: u32,
    pub(crate) errno: i32,
    pub(crate) mono_ns: u64,
}

pub(crate) const MSG_LEN: usize = std::mem::size_of::<Msg>();

impl Msg {
    pub(crate) fn to_bytes(self) -> [u8; MSG_LEN] {
        let mut b = [0u8; MSG_LEN];
        b[0..4].copy_from_slice(&self.kind.to_ne_bytes());
        b[4..8].copy_from_slice(&self.stage.to_ne_bytes());
        b[8..12].copy_from_slice(&self.index.to_ne_bytes());
        b[12..16].copy_from_slice(&self.errno.to_ne_bytes());
        b[16..24].copy_from_slice(&self.mono_ns.to_ne_bytes());
        b
    }

    pub(crate) fn from_bytes(b: &[u8; MSG_LEN]) -> Self {
        let u = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        Self {
            kind: u(0),
            stage: u(4),
            index: u(8),
            errno: i32::from_ne_bytes(b[12..16].try_into().expect("4 bytes")),
            mono_ns: u64::from_ne_bytes(b[16..24].try_into().expect("8 bytes")),
        }
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds (the clock `Instant` uses on Linux).
pub(crate) fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Everything the child needs, prepared by the parent before `clone`.
pub(crate) struct ChildArgs<'a> {
    /// The launcher's go-aheads, one byte each: `go` (id maps written), then `joined`
    /// (in every part of the cgroup).
    pub(crate) go: RawFd,
    pub(crate) report: RawFd,
    pub(crate) unshare_cgroup: bool,
    pub(crate) become_root: bool,
    pub(crate) steps: &'a [Step],
    pub(crate) clear_groups: bool,
    pub(crate) caps: CapPlan,
    pub(crate) seccomp: Option<&'a [sock_filter]>,
    pub(crate) user: Option<(u32, u32)>,
    /// stdin is a pty slave to take as controlling terminal, in a new session.
    pub(crate) controlling_terminal: bool,
    pub(crate) stdio: [RawFd; 3],
    pub(crate) path: &'a CStr,
    pub(crate) argv: &'a [*const libc::c_char],
    pub(crate) envp: &'a [*const libc::c_char],
}

fn send(fd: RawFd, msg: Msg) {
    let b = msg.to_bytes();
    // SAFETY: `b` is a valid buffer; a short or failed write only loses the report.
    unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
}

fn fail(fd: RawFd, stage: Stage, index: usize, errno: Errno) -> isize {
    send(
        fd,
        Msg {
            kind: Kind::Failed as u32,
            stage: stage as u32,
            index: index as u32,
            errno: errno as i32,
            mono_ns: mono_ns(),
        },
    );
    1
}

fn stamp(fd: RawFd, kind: Kind) {
    send(
        fd,
        Msg {
            kind: kind as u32,
            stage: 0,
            index: 0,
            errno: 0,
            mono_ns: mono_ns(),
        },
    );
}

/// The setup that goes through the [`Syscall`] seam: mounts, hostname, lo, the wait
/// for `joined`, cgroup namespace, groups, capabilities, no_new_privs, seccomp.
/// Returns the failed stage, index and errno.
pub(crate) fn setup(
    a: &ChildArgs<'_>,
    sys: &dyn Syscall,
    mut on_mounts_done: impl FnMut(),
    mut wait_joined: impl FnMut() -> bool,
) -> Result<(), (Stage, usize, Errno)> {
    // 2b. In a user namespace, act as its root (uid/gid 0 inside): files created in the
    //     new root are then owned by a mapped id.
    if a.become_root {
        sys.become_root().map_err(|e| (Stage::Ids, 0, e))?;
    }
    // 3. Mounts, pivot_root, hostname, lo — while the launcher moves us into the
    //    parts of the cgroup we were not cloned into.
    run_steps(a.steps, sys).map_err(|(i, e)| (Stage::Step, i, e))?;
    on_mounts_done();
    // 2c. Nothing of the workload's may run outside its cgroup, and the cgroup
    //     namespace's root is fixed at unshare: both wait for the end of the join.
    if !wait_joined() {
        return Err((Stage::Sync, 1, Errno::EPIPE));
    }
    if a.unshare_cgroup {
        sys.unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| (Stage::CgroupNs, 0, e))?;
    }
    // 4. Security: groups, capabilities, no_new_privs, seccomp (last: it may forbid
    //    the calls before it).
    if a.clear_groups {
        sys.clear_groups().map_err(|e| (Stage::Groups, 0, e))?;
    }
    for cap in 0..=a.caps.last_cap {
        if a.caps.bounding_drop & (1u64 << cap) != 0 {
            sys.drop_bounding(cap)
                .map_err(|e| (Stage::Bounding, usize::from(cap), e))?;
        }
    }
    sys.set_capabilities(a.caps.keep, a.caps.keep, 0)
        .map_err(|e| (Stage::Capset, 0, e))?;
    sys.clear_ambient().map_err(|e| (Stage::Ambient, 0, e))?;
    // After capset (which needs the capabilities that a uid other than 0 loses at
    // the switch, as Docker's non-root users have none), before seccomp.
    if let Some((uid, gid)) = a.user {
        sys.set_user(uid, gid).map_err(|e| (Stage::User, 0, e))?;
    }
    sys.set_no_new_privs()
        .map_err(|e| (Stage::NoNewPrivs, 0, e))?;
    if let Some(prog) = a.seccomp {
        sys.install_seccomp(prog)
            .map_err(|e| (Stage::Seccomp, 0, e))?;
    }
    Ok(())
}

/// Asks the kernel for SIGKILL when the launcher dies.
fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a plain signal number and has no
    // memory effects; it cannot fail with a valid signal.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
}

/// Reads one go-ahead byte from the launcher; `false` when it closed the pipe instead
/// (it gave up: the child leaves quietly).
fn wait_for_launcher(go: RawFd) -> bool {
    let mut byte = [0u8; 1];
    loop {
        // SAFETY: valid one-byte buffer.
        let n = unsafe { libc::read(go, byte.as_mut_ptr().cast(), 1) };
        if n == 1 {
            return true;
        }
        if n < 0 && Errno::last() == Errno::EINTR {
            continue;
        }
        return false;
    }
}

/// The child's main function: wait for the go-ahead, set up, exec. Returns only on
/// failure (the exit status of the child).
pub(crate) fn main(a: &ChildArgs<'_>, sys: &dyn Syscall) -> isize {
    // The container must not outlive the launcher, even a launcher killed with
    // SIGKILL (which runs no cleanup): the kernel sends PID 1 SIGKILL when the
    // launcher's thread dies, and the PID namespace dies with PID 1. If the
    // launcher died before this call, the go pipe below reads end-of-file.
    die_with_parent();
    // 2a. Wait until the parent has written the id maps.
    if !wait_for_launcher(a.go) {
        return 1;
    }
    // SAFETY: umask cannot fail; Docker's default for the container.
    unsafe { libc::umask(0o022) };

    let joined = || {
        let arrived = wait_for_launcher(a.go);
        if arrived {
            stamp(a.report, Kind::Joined);
        }
        arrived
    };
    if let Err((stage, index, errno)) = setup(a, sys, || stamp(a.report, Kind::MountsDone), joined)
    {
        if stage == Stage::Sync {
            // The launcher gave up during the join and reports why itself.
            return 1;
        }
        return fail(a.report, stage, index, errno);
    }
    // SAFETY: closing our copy of the go pipe's read end.
    unsafe { libc::close(a.go) };
    // Changing the effective uid/gid (in a user namespace, to its root) clears
    // the parent-death signal: set it again now that the ids are final. A
    // launcher that died in between is noticed by the Ready report below, whose
    // write then raises SIGPIPE (default disposition by then).
    die_with_parent();

    // 5a'. With a pty: a new session whose controlling terminal it is, so that the
    //      shell's job control works and Ctrl-C reaches its foreground group.
    if a.controlling_terminal {
        // SAFETY: setsid has no arguments; we are not a group leader (cloned).
        if unsafe { libc::setsid() } < 0 {
            return fail(a.report, Stage::Terminal, 0, Errno::last());
        }
        // SAFETY: TIOCSCTTY with 0 on a pty slave descriptor we hold.
        if unsafe { libc::ioctl(a.stdio[0], libc::TIOCSCTTY, 0) } < 0 {
            return fail(a.report, Stage::Terminal, 1, Errno::last());
        }
    }
    // 5a. stdin = /dev/null or the caller's pipe, stdout/stderr = the caller's pipes. The parent moved all
    //     three above fd 2, so no dup2 overwrites another's source.
    for (target, &src) in a.stdio.iter().enumerate() {
        // SAFETY: dup2 onto 0..2 from descriptors the parent prepared.
        if unsafe { libc::dup2(src, target as libc::c_int) } < 0 {
            return fail(a.report, Stage::Stdio, target, Errno::last());
        }
    }
    // Every other inherited descriptor closes at execve (the report pipe included,
    // which is how the parent learns that execve succeeded).
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags; ENOSYS is ignored
    // (every descriptor versus itself opens is O_CLOEXEC anyway).
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    // Default signal dispositions and an empty mask: execve keeps ignored signals
    // ignored (Rust ignores SIGPIPE) and keeps the mask.
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: resetting a disposition to SIG_DFL is always valid.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
    // SAFETY: sigset_t is plain data; all-zero is a valid (empty) set on Linux.
    let empty: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid set pointer; the old mask is not wanted.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) };

    // 5b. execve as PID 1.
    stamp(a.report, Kind::Ready);
    // SAFETY: path, argv and envp are NUL-terminated arrays of pointers to C strings that
    // the parent keeps alive (our copy of its memory).
    unsafe { libc::execve(a.path.as_ptr(), a.argv.as_ptr(), a.envp.as_ptr()) };
    fail(a.report, Stage::Exec, 0, Errno::last())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::{CapabilitySet, DOCKER_DEFAULT_MASK};
    use crate::syscall::fake::RecordingSyscall;

    fn args<'a>(steps: &'a [Step], prog: Option<&'a [sock_filter]>) -> ChildArgs<'a> {
        ChildArgs {
            go: -1,
            report: -1,
            unshare_cgroup: true,
            become_root: false,
            steps,
            clear_groups: true,
            caps: CapPlan::new(&CapabilitySet::docker_default(), 40),
            seccomp: prog,
            user: None,
            controlling_terminal: false,
            stdio: [-1; 3],
            path: c"/bin/x",
            argv: &[],
            envp: &[],
        }
    }

    #[test]
    fn security_sequence_after_the_mounts() {
        let prog = [sock_filter {
            code: 6,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        }];
        let fake = RecordingSyscall::default();
        let mut mounts_done = 0;
        setup(&args(&[], Some(&prog)), &fake, || mounts_done += 1, || true).unwrap();
        assert_eq!(mounts_done, 1);
        let calls = fake.calls();
        assert_eq!(calls[0], "unshare CLONE_NEWCGROUP");
        assert_eq!(calls[1], "setgroups []");
        let dropped: Vec<u8> = calls
            .iter()
            .filter_map(|c| c.strip_prefix("capbset_drop "))
            .map(|n| n.parse().unwrap())
            .collect();
        let expect: Vec<u8> = (0..=40u8)
            .filter(|c| DOCKER_DEFAULT_MASK & (1 << c) == 0)
            .collect();
        assert_eq!(dropped, expect);
        let tail = &calls[calls.len() - 4..];
        assert_eq!(
            tail,
            [
                "capset eff=00000000a80425fb prm=00000000a80425fb inh=0000000000000000",
                "ambient_clear",
                "no_new_privs",
                "seccomp 1 instructions",
            ]
        );
    }

    #[test]
    fn unconfined_installs_no_filter_and_failures_name_their_stage() {
        let fake = RecordingSyscall::default();
        setup(&args(&[], None), &fake, || {}, || true).unwrap();
        assert!(!fake.calls().iter().any(|c| c.starts_with("seccomp")));
        assert_eq!(fake.calls().last().unwrap(), "no_new_privs");

        let fake = RecordingSyscall::failing_at("capbset_drop 21", Errno::EPERM);
        assert_eq!(
            setup(&args(&[], None), &fake, || {}, || true).unwrap_err(),
            (Stage::Bounding, 21, Errno::EPERM)
        );
    }

    #[test]
    fn the_user_switch_follows_capset_and_precedes_no_new_privs() {
        let fake = RecordingSyscall::default();
        let mut a = args(&[], None);
        a.user = Some((1000, 100));
        setup(&a, &fake, || {}, || true).unwrap();
        let calls = fake.calls();
        let at = |name: &str| calls.iter().position(|c| c.starts_with(name)).unwrap();
        assert_eq!(calls[at("setresgid")], "setresgid 100; setresuid 1000");
        assert!(at("capset") < at("setresgid"));
        assert!(at("setresgid") < at("no_new_privs"));
    }

    #[test]
    fn the_cgroup_namespace_and_the_security_steps_wait_for_the_join() {
        use crate::rootfs::Op;
        let steps = [Step {
            op: Op::SetHostname {
                name: c"box".into(),
            },
            what: "hostname".into(),
        }];
        let fake = RecordingSyscall::default();
        let mut a = args(&steps, None);
        a.become_root = true;
        let order = std::cell::RefCell::new(Vec::new());
        setup(
            &a,
            &fake,
            || order.borrow_mut().push("mounts done".to_string()),
            || {
                order
                    .borrow_mut()
                    .push(format!("joined after {:?}", fake.calls()));
                true
            },
        )
        .unwrap();
        let order = order.into_inner();
        assert_eq!(order[0], "mounts done");
        // The mounts overlap the join; nothing of the cgroup namespace or the
        // privileges is touched before it ended.
        assert!(order[1].contains("sethostname"), "{order:?}");
        assert!(!order[1].contains("unshare"), "{order:?}");
        assert!(!order[1].contains("setgroups"), "{order:?}");
        let calls = fake.calls();
        let at = |name: &str| calls.iter().position(|c| c.starts_with(name)).unwrap();
        assert!(at("sethostname") < at("unshare CLONE_NEWCGROUP"));

        // A launcher that gives up during the join: nothing after it runs.
        let fake = RecordingSyscall::default();
        let err = setup(&a, &fake, || {}, || false).unwrap_err();
        assert_eq!(err, (Stage::Sync, 1, Errno::EPIPE));
        assert!(!fake.calls().iter().any(|c| c.starts_with("unshare")));
    }

    #[test]
    fn messages_round_trip() {
        let m = Msg {
            kind: Kind::Failed as u32,
            stage: Stage::Step as u32,
            index: 7,
            errno: libc::EINVAL,
            mono_ns: 123456789,
        };
        assert_eq!(Msg::from_bytes(&m.to_bytes()), m);
        assert_eq!(MSG_LEN, 24);
    }
}

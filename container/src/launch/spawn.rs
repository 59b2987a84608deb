//! `ContainerSpec::spawn`: steps 1 to 5 of the parent side, up to the child's
//! successful `execve`.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sched::CloneFlags;

use super::clone3::{Forked, falls_back_to_cgroup_procs, fork_into_cgroup};
use super::guard::Guard;
use super::io::{above_stdio, dev_null, pipe, read_msg, write_proc};
use super::messages::{clone_error, describe_failure, describe_stuck, failure_hint};
use super::{Info, Running, SETUP_TIMEOUT, nanos};
use crate::child::{self, ChildArgs, Kind, Stage};
use crate::error::{Error, Result};
use crate::report::{JoinWay, Phases};
use crate::spec::{ContainerSpec, Namespace};
use crate::syscall::LinuxSyscall;

/// The child's stack between `clone` and `execve` (only touched pages cost memory).
const CHILD_STACK: usize = 1 << 20;

/// Whether this process has swept stale cgroups yet (see `spawn`).
static STALE_SWEPT: std::sync::Once = std::sync::Once::new();

impl ContainerSpec {
    /// Launches the container: steps 1 to 5 up to the successful `execve`.
    ///
    /// Returns once the command is running as PID 1. On any error, everything created
    /// so far (cgroup, child process) is removed before the error is returned; the
    /// child's mounts were only ever in its own mount namespace.
    pub fn spawn(mut self) -> Result<Running> {
        // Leftovers of launchers that were killed (`kill -9`) go first, once
        // per process and before the clock starts: a sweep reads every
        // sibling cgroup, which with many containers alive at once would
        // cost each launch more the more there are, and is no part of a
        // launch.
        if let Some(plan) = &self.cgroup {
            STALE_SWEPT.call_once(|| {
                plan.sweep_stale();
            });
        }
        let launched_at = Instant::now();
        let anchor_ns = child::mono_ns();
        let to_instant = |ns: u64| launched_at + Duration::from_nanos(ns.saturating_sub(anchor_ns));
        let mut guard = Guard::default();

        // 1. The cgroup, with its limits.
        if let Some(plan) = &self.cgroup {
            guard.cgroup = Some(Box::new(plan.instantiate(&self.id)));
            let cg = guard.cgroup.as_mut().expect("just set");
            cg.create()?;
            cg.apply(&self.limits)?;
        }
        // The unified directory to clone the child into, opened as a path only.
        let clone_into = match guard.cgroup.as_ref().and_then(|cg| cg.unified_dir()) {
            Some(dir) => Some(open_cgroup_dir(dir)?),
            None => None,
        };
        let cgroup_done = Instant::now();

        // 2. clone into the namespaces (and, where it can, into the cgroup); the child
        //    waits on `go`.
        let (go_r, go_w) = pipe()?;
        let (rep_r, rep_w) = pipe()?;
        let controlling_terminal = self.terminal.is_some();
        if let Some(slave) = self.terminal.take() {
            let copy = || {
                slave
                    .try_clone()
                    .map_err(|e| Error::io("duplicating the pseudo-terminal", e))
            };
            self.stdin = Some(copy()?);
            self.stdout = Some(copy()?);
            self.stderr = Some(slave);
        }
        let stdin = above_stdio(match self.stdin.take() {
            Some(fd) => fd,
            None => dev_null(false)?,
        })?;
        let stdout = above_stdio(match self.stdout.take() {
            Some(fd) => fd,
            None => dev_null(true)?,
        })?;
        let stderr = above_stdio(match self.stderr.take() {
            Some(fd) => fd,
            None => dev_null(true)?,
        })?;
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = self.env.iter().map(|e| e.as_ptr()).collect();
        envp.push(std::ptr::null());
        let unshare_cgroup = self.namespaces.contains(&Namespace::Cgroup);
        let flags = self
            .namespaces
            .iter()
            .filter(|n| **n != Namespace::Cgroup)
            .fold(CloneFlags::empty(), |f, n| f | n.clone_flag());
        let path: &CStr = &self.exec_path;
        let args = ChildArgs {
            go: go_r.as_raw_fd(),
            report: rep_w.as_raw_fd(),
            unshare_cgroup,
            become_root: self.id_maps.is_some(),
            steps: &self.steps,
            clear_groups: !self.rootless,
            caps: self.cap_plan,
            seccomp: self.seccomp_program.as_deref().map(|p| p.as_slice()),
            user: self.user,
            controlling_terminal,
            stdio: [stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()],
            path,
            argv: &argv,
            envp: &envp,
        };
        let mut join = None;
        if let Some(dir) = &clone_into {
            // SAFETY: in the child, `child::main` allocates nothing and takes no lock
            // (everything it needs was prepared above, in `args`), and the child
            // leaves through execve or `_exit` without returning here: sound even
            // though other threads of this process may hold the allocator's locks.
            match unsafe { fork_into_cgroup(flags, dir.as_fd()) } {
                Ok(Forked::Child) => {
                    let status = child::main(&args, &LinuxSyscall);
                    // SAFETY: ends the child without running the parent's exit
                    // handlers or destructors, whose state it only copied.
                    unsafe { libc::_exit(status as libc::c_int) }
                }
                Ok(Forked::Parent { pid, pidfd }) => {
                    guard.pid = Some(pid);
                    guard.pidfd = Some(pidfd);
                    join = Some(JoinWay::CloneIntoCgroup);
                }
                Err(e) if falls_back_to_cgroup_procs(e) => {}
                Err(e) => return Err(clone_error(flags, self.rootless, e)),
            }
        }
        drop(clone_into);
        if guard.pid.is_none() {
            let mut stack = vec![0u8; CHILD_STACK];
            let callback = Box::new(|| child::main(&args, &LinuxSyscall));
            // SAFETY: the child runs `child::main` on its own copy of our memory (no
            // CLONE_VM), on `stack`, allocates nothing, and ends in execve or exit.
            let pid =
                unsafe { nix::sched::clone(callback, &mut stack, flags, Some(libc::SIGCHLD)) }
                    .map_err(|e| clone_error(flags, self.rootless, e))?;
            guard.pid = Some(pid);
            drop(stack);
            // SAFETY: pidfd_open on our own unreaped child.
            let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
            if pidfd >= 0 {
                // SAFETY: a new descriptor that nothing else owns.
                guard.pidfd = Some(unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });
            }
            join = guard.cgroup.is_some().then_some(JoinWay::CgroupProcs);
        }
        let pid = guard.pid.expect("set by either clone above");
        // The child has its copies; ours go now (the caller's write ends included, so
        // its readers see end-of-file when the container's last writer exits).
        drop((go_r, rep_w, stdin, stdout, stderr));

        // 2b. Id maps for the user namespace (setgroups must be denied first when
        //     unprivileged).
        if let Some((uid, gid)) = &self.id_maps {
            if self.rootless {
                write_proc(pid, "setgroups", "deny")?;
            }
            write_proc(pid, "uid_map", &uid.line())?;
            write_proc(pid, "gid_map", &gid.line())?;
        }
        let cloned_at = Instant::now();
        // Taken before the write: on a busy host the child may run its mounts before
        // this thread returns from the write that woke it.
        let go_at = Instant::now();
        nix::unistd::write(&go_w, &[1u8]).map_err(|e| Error::sys("releasing the child", e))?;
        // 2c. The rest of the join, while the child mounts its root: the writes take
        //     the write side of the kernel's cgroup_threadgroup_rwsem (an RCU grace
        //     period on a quiet host). The child runs nothing of its own before
        //     `joined`. A failed join closes `go` unsent (the child leaves quietly)
        //     and the guard removes the rest. The join races the child's mounts: a
        //     mount step that failed first has left the child gone, and its report
        //     (read below) is the reason to give, not the join's "no such process".
        let join_error = guard.cgroup.as_ref().and_then(|cg| {
            match join {
                Some(JoinWay::CloneIntoCgroup) => cg.add_task_outside_unified(pid.as_raw()),
                _ => cg.add_task(pid.as_raw()),
            }
            .err()
        });
        if join_error.is_none() {
            match nix::unistd::write(&go_w, &[1u8]) {
                // EPIPE: a mount step failed and the child has left; its report says why.
                Ok(_) | Err(Errno::EPIPE) => {}
                Err(e) => return Err(Error::sys("telling the child it joined its cgroup", e)),
            }
        }
        drop(go_w);
        let joined_at = Instant::now();

        // 3.–5. The child's reports, until the error pipe closes at execve.
        let deadline = joined_at + SETUP_TIMEOUT;
        let mut mounts_done = None;
        let mut joined_seen = None;
        let mut ready = None;
        let mut failure = None;
        while let Some(msg) = read_msg(rep_r.as_raw_fd(), deadline).map_err(|e| match e {
            Error::Sys { context, errno } => Error::Sys {
                context: format!("{context} ({})", describe_stuck(pid)),
                errno,
            },
            other => other,
        })? {
            match msg.kind {
                k if k == Kind::MountsDone as u32 => mounts_done = Some(to_instant(msg.mono_ns)),
                k if k == Kind::Joined as u32 => joined_seen = Some(to_instant(msg.mono_ns)),
                k if k == Kind::Ready as u32 => ready = Some(to_instant(msg.mono_ns)),
                _ => failure = Some(msg),
            }
        }
        let exec_seen = Instant::now();
        if let Some(f) = failure {
            let stage = Stage::from_u32(f.stage).unwrap_or(Stage::Sync);
            let errno = Errno::from_raw(f.errno);
            return Err(Error::Setup {
                step: describe_failure(&self, stage, f.index as usize),
                errno,
                hint: failure_hint(&self, stage, errno),
            });
        }
        if let Some(e) = join_error {
            return Err(e);
        }
        if ready.is_none() {
            let status = guard.kill_and_reap_status()?;
            return Err(Error::ChildDied { status });
        }

        let phases = Phases {
            cgroup_ns: nanos(launched_at, cgroup_done),
            clone_ns: nanos(cgroup_done, cloned_at),
            join,
            join_ns: nanos(go_at, joined_at),
            join_wait_ns: mounts_done.zip(joined_seen).map(|(m, j)| nanos(m, j)),
            setup_ns: ready.map(|r| nanos(go_at, r)),
            setup_mounts_ns: mounts_done.map(|m| nanos(go_at, m)),
            setup_security_ns: joined_seen.zip(ready).map(|(j, r)| nanos(j, r)),
            exec_ns: ready.map(|r| nanos(r, exec_seen)),
            spawn_ns: nanos(launched_at, exec_seen),
            run_ns: None,
            teardown_ns: None,
        };
        let info = Info {
            id: self.id.clone(),
            limits: self.limits,
            namespaces: self.namespaces.clone(),
            shared: self.shared.clone(),
            id_maps: self.id_maps.clone(),
            rootless: self.rootless,
            kept: self.kept.clone(),
            seccomp: self.seccomp,
            seccomp_instructions: self.seccomp_instructions(),
            lsm: self.lsm.clone(),
            rootfs: self.rootfs_desc.clone(),
            read_only: self.read_only,
            hostname: self.hostname.clone(),
            layout: self.cgroup_layout,
            notes: self.notes.clone(),
            stop_signal: self.stop_signal,
            stop_grace: self.stop_grace,
        };
        Ok(Running {
            guard,
            info,
            phases,
            launched_at,
            exec_started_at: ready.unwrap_or(exec_seen),
            spawned_at: exec_seen,
        })
    }
}

/// Opens the cgroup directory the child is cloned into: a path-only descriptor
/// (`O_PATH` is all `CLONE_INTO_CGROUP` needs), closed at any exec.
fn open_cgroup_dir(dir: &std::path::Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map(OwnedFd::from)
        .map_err(|source| Error::Cgroup {
            action: "open (to clone the container into it)".to_owned(),
            path: dir.to_owned(),
            source,
        })
}

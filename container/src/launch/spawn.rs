//! `ContainerSpec::spawn`: steps 1 to 5 of the parent side, up to the child's
//! successful `execve`.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sched::CloneFlags;

use super::guard::Guard;
use super::io::{above_stdio, dev_null, pipe, read_msg, write_proc};
use super::messages::{clone_error, describe_failure, describe_stuck, failure_hint};
use super::{Info, Running, SETUP_TIMEOUT, nanos};
use crate::child::{self, ChildArgs, Kind, Stage};
use crate::error::{Error, Result};
use crate::report::Phases;
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
        let cgroup_done = Instant::now();

        // 2. clone into the namespaces; the child waits on `go`.
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
        let mut stack = vec![0u8; CHILD_STACK];
        let callback = Box::new(|| child::main(&args, &LinuxSyscall));
        // SAFETY: the child runs `child::main` on its own copy of our memory (no
        // CLONE_VM), on `stack`, allocates nothing, and ends in execve or exit.
        let pid = unsafe { nix::sched::clone(callback, &mut stack, flags, Some(libc::SIGCHLD)) }
            .map_err(|e| clone_error(flags, self.rootless, e))?;
        guard.pid = Some(pid);
        drop(stack);
        // The child has its copies; ours go now (the caller's write ends included, so
        // its readers see end-of-file when the container's last writer exits).
        drop((go_r, rep_w, stdin, stdout, stderr));
        // SAFETY: pidfd_open on our own unreaped child.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
        if pidfd >= 0 {
            // SAFETY: a new descriptor that nothing else owns.
            guard.pidfd = Some(unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });
        }

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
        // 2c. Into the cgroup before the child runs anything of its own.
        if let Some(cg) = &guard.cgroup {
            cg.add_task(pid.as_raw())?;
        }
        nix::unistd::write(&go_w, &[1u8]).map_err(|e| Error::sys("releasing the child", e))?;
        drop(go_w);
        let go_at = Instant::now();

        // 3.–5. The child's reports, until the error pipe closes at execve.
        let deadline = go_at + SETUP_TIMEOUT;
        let mut mounts_done = None;
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
        if ready.is_none() {
            let status = guard.kill_and_reap_status()?;
            return Err(Error::ChildDied { status });
        }

        let phases = Phases {
            cgroup_ns: nanos(launched_at, cgroup_done),
            clone_ns: nanos(cgroup_done, cloned_at),
            join_ns: nanos(cloned_at, go_at),
            setup_ns: ready.map(|r| nanos(go_at, r)),
            setup_mounts_ns: mounts_done.map(|m| nanos(go_at, m)),
            setup_security_ns: mounts_done.zip(ready).map(|(m, r)| nanos(m, r)),
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

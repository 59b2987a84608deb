//! Launch and wait (the parent side of steps 1, 2 and 5); the [`Report`] it fills in
//! is described in [`crate::report`].
//!
//! [`ContainerSpec::spawn`] creates the cgroup, clones the child into its namespaces,
//! writes the id maps, moves the child into the cgroup, lets it go, and returns once
//! the child has executed the command (or with an error, after cleaning up).
//! [`Running::wait`] waits for the end (or a timeout, or the caller's interrupt flag),
//! reaps, reads the cgroup statistics and removes the cgroup.
//!
//! Cleanup is structural: a guard owns the child and the cgroup from the moment they
//! exist, and its `Drop` kills and reaps the child and removes the cgroup, on every
//! path — success, setup error, timeout, interrupt, panic, or a dropped [`Running`].

use std::ffi::CStr;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::capabilities::CapabilitySet;
use crate::cgroup::{Cgroup, CgroupStats, Limits};
use crate::child::{self, ChildArgs, Kind, MSG_LEN, Msg, Stage};
use crate::error::{Error, Result};
use crate::lsm::LsmInfo;
pub use crate::report::signal_name;
use crate::report::{CgroupReport, ExitStatus, Nanos, Outcome, Phases, Report, UserNsReport};
use crate::seccomp::SeccompMode;
use crate::spec::{ContainerSpec, IdMap, Namespace};
use crate::syscall::LinuxSyscall;

/// The child's stack between `clone` and `execve` (only touched pages cost memory).
const CHILD_STACK: usize = 1 << 20;

/// How long the child may take to report that its setup is done before it is killed.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often `wait` looks at the interrupt flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(10);

/// What the report needs from the spec, kept while the container runs.
#[derive(Debug)]
struct Info {
    id: String,
    limits: Limits,
    namespaces: Vec<Namespace>,
    shared: Vec<Namespace>,
    id_maps: Option<(IdMap, IdMap)>,
    rootless: bool,
    kept: CapabilitySet,
    seccomp: SeccompMode,
    seccomp_instructions: Option<usize>,
    lsm: LsmInfo,
    rootfs: String,
    read_only: bool,
    hostname: Option<String>,
    layout: &'static str,
    notes: Vec<String>,
    stop_signal: Signal,
    stop_grace: Duration,
}

/// Owns the child and the cgroup; `Drop` leaves nothing behind.
#[derive(Debug, Default)]
struct Guard {
    pid: Option<Pid>,
    reaped: bool,
    pidfd: Option<OwnedFd>,
    cgroup: Option<Box<dyn Cgroup>>,
}

impl Guard {
    fn kill_and_reap(&mut self) {
        if let Some(pid) = self.pid
            && !self.reaped
        {
            let _ = kill(pid, Signal::SIGKILL);
            while let Err(Errno::EINTR) = waitpid(pid, None) {}
            self.reaped = true;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_and_reap();
        if let Some(mut cg) = self.cgroup.take() {
            let _ = cg.kill_all();
            let _ = cg.remove();
        }
    }
}

/// A container whose command is running. Dropping it kills the container and cleans up.
#[derive(Debug)]
pub struct Running {
    guard: Guard,
    info: Info,
    phases: Phases,
    launched_at: Instant,
    exec_started_at: Instant,
    spawned_at: Instant,
}

fn nanos(from: Instant, to: Instant) -> Nanos {
    to.saturating_duration_since(from).as_nanos() as Nanos
}

/// Moves `fd` above 2 (so that `dup2` onto 0..2 in the child cannot clobber another source).
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let n = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
        .map_err(|e| Error::sys("duplicating a stdio descriptor", e))?;
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn dev_null(write: bool) -> Result<OwnedFd> {
    let f = fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open("/dev/null")
        .map_err(|e| Error::io("opening /dev/null", e))?;
    Ok(f.into())
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("creating a pipe", e))
}

fn write_proc(pid: Pid, file: &str, value: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    fs::write(&path, value).map_err(|e| Error::io(format!("writing {value:?} to {path}"), e))
}

/// Reads one message, waiting at most until `deadline`. `Ok(None)`: end of file.
fn read_msg(fd: RawFd, deadline: Instant) -> Result<Option<Msg>> {
    let mut buf = [0u8; MSG_LEN];
    let mut got = 0;
    while got < MSG_LEN {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Error::sys(
                "waiting for the container's setup",
                Errno::last(),
            ));
        }
        if r == 0 {
            return Err(Error::sys(
                format!(
                    "the container's setup did not finish within {} s",
                    SETUP_TIMEOUT.as_secs()
                ),
                Errno::ETIMEDOUT,
            ));
        }
        // SAFETY: reading into the unfilled tail of `buf`.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), MSG_LEN - got) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Error::sys(
                "reading the container's setup report",
                Errno::last(),
            ));
        }
        if n == 0 {
            return Ok(None);
        }
        got += n as usize;
    }
    Ok(Some(Msg::from_bytes(&buf)))
}

fn clone_error(flags: CloneFlags, rootless: bool, e: Errno) -> Error {
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

fn describe_failure(spec: &ContainerSpec, stage: Stage, index: usize) -> String {
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
        Stage::Exec => format!("execve {}", spec.argv[0].to_string_lossy()),
        Stage::Ids => "setresuid/setresgid to the user namespace's root".into(),
    }
}

fn failure_hint(spec: &ContainerSpec, stage: Stage, errno: Errno) -> String {
    match (stage, errno) {
        (Stage::Exec, Errno::ENOENT) => "; the file exists, so what it needs to start is missing in \
            the rootfs: the dynamic loader of a dynamically linked program, or the interpreter of a #! script"
            .into(),
        (Stage::Exec, Errno::EACCES) => {
            "; it is not executable, or it is on a noexec mount".into()
        }
        (Stage::Step, Errno::EPERM | Errno::EACCES) if spec.rootless => {
            "; without root, only what the user namespace owns may be mounted".into()
        }
        _ => String::new(),
    }
}

impl ContainerSpec {
    /// Launches the container: steps 1 to 5 up to the successful `execve`.
    ///
    /// Returns once the command is running as PID 1. On any error, everything created
    /// so far (cgroup, child process) is removed before the error is returned; the
    /// child's mounts were only ever in its own mount namespace.
    pub fn spawn(mut self) -> Result<Running> {
        let launched_at = Instant::now();
        let anchor_ns = child::mono_ns();
        let to_instant = |ns: u64| launched_at + Duration::from_nanos(ns.saturating_sub(anchor_ns));
        let mut guard = Guard::default();

        // 1. The cgroup, with its limits.
        if let Some(plan) = &self.cgroup {
            // Leftovers of launchers that were killed (`kill -9`) go first.
            plan.sweep_stale();
            guard.cgroup = Some(Box::new(plan.instantiate(&self.id)));
            let cg = guard.cgroup.as_mut().expect("just set");
            cg.create()?;
            cg.apply(&self.limits)?;
        }
        let cgroup_done = Instant::now();

        // 2. clone into the namespaces; the child waits on `go`.
        let (go_r, go_w) = pipe()?;
        let (rep_r, rep_w) = pipe()?;
        let stdin = above_stdio(dev_null(false)?)?;
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
        let path: &CStr = &self.argv[0];
        let args = ChildArgs {
            go: go_r.as_raw_fd(),
            report: rep_w.as_raw_fd(),
            unshare_cgroup,
            become_root: self.id_maps.is_some(),
            steps: &self.steps,
            clear_groups: !self.rootless,
            caps: self.cap_plan,
            seccomp: self.seccomp_program.as_deref().map(|p| p.as_slice()),
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

/// Where a child that does not finish its setup is stuck, for the error message.
fn describe_stuck(pid: Pid) -> String {
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

impl Guard {
    /// Reaps a child that ended during setup and describes how it ended.
    fn kill_and_reap_status(&mut self) -> Result<String> {
        let Some(pid) = self.pid else {
            return Ok("no child".into());
        };
        let status = loop {
            match waitpid(pid, None) {
                Err(Errno::EINTR) => continue,
                other => break other,
            }
        };
        self.reaped = true;
        Ok(match status {
            Ok(WaitStatus::Exited(_, c)) => format!("exited with status {c}"),
            Ok(WaitStatus::Signaled(_, s, _)) => format!("killed by {s}"),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("wait failed: {e}"),
        })
    }
}

/// Why versus stopped the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    Interrupt { sigkill_at: Instant, killed: bool },
}

impl Running {
    /// PID 1's process id on the host.
    pub fn pid(&self) -> i32 {
        self.guard.pid.map_or(0, Pid::as_raw)
    }

    /// When `spawn` was called.
    pub fn launched_at(&self) -> Instant {
        self.launched_at
    }

    /// When the child called `execve` (its own timestamp, just before the call).
    pub fn exec_started_at(&self) -> Instant {
        self.exec_started_at
    }

    /// When `spawn` saw `execve` succeed (and returned).
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// The phases measured by `spawn` (run and teardown are `None`).
    pub fn phases_so_far(&self) -> &Phases {
        &self.phases
    }

    /// The host paths of the container's cgroup directories (empty: no cgroup).
    pub fn cgroup_paths(&self) -> Vec<PathBuf> {
        self.guard
            .cgroup
            .as_ref()
            .map(|c| c.paths())
            .unwrap_or_default()
    }

    /// Waits until PID 1 exits, `timeout` (counted from the launch) passes, or
    /// `interrupt` becomes true (checked every 10 ms; set it from a SIGINT/SIGTERM
    /// handler). On timeout the container is SIGKILLed. On interrupt PID 1 gets the
    /// stop signal (default SIGTERM), and SIGKILL after the grace period: PID 1
    /// ignores signals it installed no handler for. Then it reaps PID 1, reads the cgroup
    /// statistics, kills anything left in the cgroup and removes it.
    pub fn wait(mut self, timeout: Option<Duration>, interrupt: &AtomicBool) -> Result<Report> {
        let pid = self.guard.pid.expect("a running container has a pid");
        let deadline = timeout.map(|t| self.launched_at + t);
        let mut stop: Option<Stop> = None;
        loop {
            let now = Instant::now();
            if stop.is_none()
                && let Some(d) = deadline
                && now >= d
            {
                let _ = kill(pid, Signal::SIGKILL);
                stop = Some(Stop::Timeout);
            }
            if stop.is_none() && interrupt.load(Ordering::SeqCst) {
                let _ = kill(pid, self.info.stop_signal);
                stop = Some(Stop::Interrupt {
                    sigkill_at: now + self.info.stop_grace,
                    killed: false,
                });
            }
            if let Some(Stop::Interrupt { sigkill_at, killed }) = &mut stop
                && !*killed
                && now >= *sigkill_at
            {
                let _ = kill(pid, Signal::SIGKILL);
                *killed = true;
            }
            let mut slice = INTERRUPT_POLL;
            if stop.is_none()
                && let Some(d) = deadline
            {
                slice = slice.min(d.saturating_duration_since(now));
            }
            if self.exited_within(pid, slice) {
                break;
            }
        }
        let exit_seen = Instant::now();

        // Teardown: reap, statistics, cgroup.
        let status = loop {
            match waitpid(pid, None) {
                Err(Errno::EINTR) => continue,
                other => break other,
            }
        };
        self.guard.reaped = true;
        let exit = match status {
            Ok(WaitStatus::Exited(_, c)) => Some(ExitStatus::Exited(c)),
            Ok(WaitStatus::Signaled(_, s, _)) => Some(ExitStatus::Signaled(s as i32)),
            _ => None,
        };
        let mut cgroup_report = None;
        if let Some(mut cg) = self.guard.cgroup.take() {
            // With a shared PID namespace other processes may outlive PID 1.
            cg.kill_all()?;
            let stats = cg.stats();
            let paths = cg.paths();
            let version = cg.version();
            cg.remove()?;
            cgroup_report = Some(CgroupReport {
                version,
                layout: self.info.layout.to_string(),
                paths,
                stats,
            });
        }
        let done = Instant::now();

        let outcome = match (stop, exit) {
            (Some(Stop::Timeout), _) => Outcome::TimedOut,
            (Some(Stop::Interrupt { .. }), _) => Outcome::Interrupted,
            (None, Some(ExitStatus::Exited(c))) => Outcome::Exited(c),
            (None, Some(ExitStatus::Signaled(s))) => {
                let stats = cgroup_report.as_ref().map(|c| &c.stats);
                if s == libc::SIGKILL && oom_killed(stats, self.info.limits.memory) {
                    Outcome::OomKilled
                } else {
                    Outcome::Signaled(s)
                }
            }
            (None, None) => Outcome::Signaled(0),
        };

        let mut phases = self.phases.clone();
        phases.run_ns = Some(nanos(self.spawned_at, exit_seen));
        phases.teardown_ns = Some(nanos(exit_seen, done));
        let i = &self.info;
        Ok(Report {
            id: i.id.clone(),
            outcome,
            exit,
            phases,
            cgroup: cgroup_report,
            limits: i.limits,
            namespaces: i.namespaces.clone(),
            shared_namespaces: i.shared.clone(),
            user_namespace: i.id_maps.clone().map(|(u, g)| UserNsReport {
                uid_map: u,
                gid_map: g,
            }),
            rootless: i.rootless,
            capabilities: i.kept.names(),
            capability_mask: format!("{:016x}", i.kept.mask()),
            seccomp: i.seccomp,
            seccomp_instructions: i.seccomp_instructions,
            no_new_privs: true,
            lsm: i.lsm.clone(),
            rootfs: i.rootfs.clone(),
            read_only: i.read_only,
            hostname: i.hostname.clone(),
            launcher_peak_rss_bytes: launcher_peak_rss(),
            notes: i.notes.clone(),
        })
    }

    /// Whether PID 1 has exited, waiting at most `slice`.
    fn exited_within(&self, pid: Pid, slice: Duration) -> bool {
        match &self.guard.pidfd {
            Some(fd) => {
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                let r = unsafe { libc::poll(&mut pfd, 1, slice.as_millis() as i32) };
                r > 0
            }
            None => {
                // No pidfd (Linux < 5.3): peek with waitid(WNOWAIT) in small steps.
                let end = Instant::now() + slice;
                loop {
                    let flags = nix::sys::wait::WaitPidFlag::WEXITED
                        | nix::sys::wait::WaitPidFlag::WNOHANG
                        | nix::sys::wait::WaitPidFlag::WNOWAIT;
                    if let Ok(s) = nix::sys::wait::waitid(nix::sys::wait::Id::Pid(pid), flags)
                        && s != WaitStatus::StillAlive
                    {
                        return true;
                    }
                    if Instant::now() >= end {
                        return false;
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
        }
    }
}

/// SIGKILL + an OOM kill counted in the cgroup; or, where the kernel does not count
/// them, SIGKILL while the memory peak reached the limit (within 1 MiB).
fn oom_killed(stats: Option<&CgroupStats>, limit: Option<u64>) -> bool {
    let Some(stats) = stats else { return false };
    match stats.oom_kills {
        Some(n) => n > 0,
        None => {
            matches!((stats.memory_peak_bytes, limit), (Some(p), Some(l)) if p + (1 << 20) >= l)
        }
    }
}

/// `VmHWM` of this process, in bytes.
pub fn launcher_peak_rss() -> Option<u64> {
    let s = fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_is_recognised_by_the_counter_or_by_the_peak() {
        let mut s = CgroupStats {
            oom_kills: Some(1),
            ..Default::default()
        };
        assert!(oom_killed(Some(&s), Some(32 << 20)));
        s.oom_kills = Some(0);
        assert!(!oom_killed(Some(&s), Some(32 << 20)));
        s.oom_kills = None;
        s.memory_peak_bytes = Some((32 << 20) - 4096);
        assert!(oom_killed(Some(&s), Some(32 << 20)));
        assert!(!oom_killed(Some(&s), None));
        assert!(!oom_killed(None, Some(1)));
    }

    #[test]
    fn launcher_rss_is_readable() {
        assert!(launcher_peak_rss().unwrap() > 0);
    }
}

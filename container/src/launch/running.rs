//! A running container: its pid and timestamps, and `wait` — the stop signal or
//! SIGKILL on interrupt or timeout, reaping, the cgroup's statistics and removal, and
//! the [`Report`].

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{Running, nanos};
use crate::cgroup::CgroupStats;
use crate::error::Result;
use crate::report::{CgroupReport, ExitStatus, Outcome, Phases, Report, UserNsReport};

/// How often `wait` looks at the interrupt flag when it has no bell to be
/// woken by (the eventfd could not be made): otherwise it only wakes for
/// PID 1's exit, [`wake_waiters`], the timeout or the grace period's end.
const INTERRUPT_POLL: Duration = Duration::from_millis(10);

/// The bells of every `wait` in progress in this process (eventfds).
static WAITERS: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// Wakes every container `wait` in progress so that it looks at its
/// interrupt flag now; call it after setting the flag (a parked container
/// costs no wake-ups until then). Not async-signal-safe: call it from a
/// thread, not from a signal handler.
pub fn wake_waiters() {
    let waiters = WAITERS.lock().unwrap_or_else(PoisonError::into_inner);
    for &fd in waiters.iter() {
        let one: u64 = 1;
        // SAFETY: `fd` is a live eventfd: a bell unregisters it (under this
        // lock) before closing it; the buffer is 8 readable bytes.
        let _ = unsafe { libc::write(fd, (&raw const one).cast(), 8) };
    }
}

/// One `wait`'s eventfd, registered with [`wake_waiters`] while it lives.
struct Bell {
    fd: OwnedFd,
}

impl Bell {
    /// A registered bell, or `None` when no eventfd can be made (then
    /// `wait` looks at the flag every [`INTERRUPT_POLL`]).
    fn ring_on_interrupt() -> Option<Self> {
        // SAFETY: plain syscall; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a new eventfd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        WAITERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(fd.as_raw_fd());
        Some(Self { fd })
    }

    /// Empties the bell after it rang, so the next poll blocks again.
    fn silence(&self) {
        let mut count: u64 = 0;
        // SAFETY: the buffer is 8 writable bytes; the fd is non-blocking.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut count).cast(), 8) };
    }
}

impl Drop for Bell {
    fn drop(&mut self) {
        let raw = self.fd.as_raw_fd();
        WAITERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|&fd| fd != raw);
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
    /// `interrupt` becomes true (set it from a SIGINT/SIGTERM handler, then call
    /// [`wake_waiters`] from a thread: the wait blocks without a timeout of its own). On timeout the container is SIGKILLed. On interrupt PID 1 gets the
    /// stop signal (default SIGTERM), and SIGKILL after the grace period: PID 1
    /// ignores signals it installed no handler for. Then it reaps PID 1, reads the cgroup
    /// statistics, kills anything left in the cgroup and removes it.
    pub fn wait(mut self, timeout: Option<Duration>, interrupt: &AtomicBool) -> Result<Report> {
        let pid = self.guard.pid.expect("a running container has a pid");
        let deadline = timeout.map(|t| self.launched_at + t);
        let mut stop: Option<Stop> = None;
        // Registered before the flag is first looked at: a wake after that
        // look rings it, and one before finds the flag already set.
        let bell = Bell::ring_on_interrupt();
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
            // Until the next thing versus must do itself, if any.
            let next = match stop {
                None => deadline,
                Some(Stop::Interrupt {
                    sigkill_at,
                    killed: false,
                }) => Some(sigkill_at),
                Some(_) => None,
            };
            let mut slice = next.map(|at| at.saturating_duration_since(now));
            if bell.is_none() && stop.is_none() {
                slice = Some(slice.map_or(INTERRUPT_POLL, |s| s.min(INTERRUPT_POLL)));
            }
            if self.exited_within(pid, slice, bell.as_ref()) {
                break;
            }
        }
        drop(bell);
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

    /// Whether PID 1 has exited, waiting at most `slice` (`None`: without
    /// limit) or until `bell` rings.
    fn exited_within(&self, pid: Pid, slice: Option<Duration>, bell: Option<&Bell>) -> bool {
        match &self.guard.pidfd {
            Some(fd) => {
                let mut fds = [
                    libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        // A negative fd is skipped by poll.
                        fd: bell.map_or(-1, |bell| bell.fd.as_raw_fd()),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                // Rounded up: a deadline less than 1 ms away must not become
                // a busy loop of zero-timeout polls.
                let timeout_ms = slice.map_or(-1, |slice| {
                    i32::try_from(slice.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                });
                // SAFETY: two valid pollfds, writable for the call.
                let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
                if fds[1].revents & libc::POLLIN != 0
                    && let Some(bell) = bell
                {
                    bell.silence();
                }
                r > 0 && fds[0].revents != 0
            }
            None => {
                // Without a pidfd the flag is looked at every slice.
                let slice = slice.map_or(INTERRUPT_POLL, |s| s.min(INTERRUPT_POLL));
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
            matches!((stats.memory_peak_bytes, limit), (Some(p), Some(l)) if p.saturating_add(1 << 20) >= l)
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

    /// Whether `bell` has rung, without waiting.
    fn rung(bell: &Bell) -> bool {
        let mut pfd = libc::pollfd {
            fd: bell.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a zero timeout only looks.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    #[test]
    fn wake_waiters_rings_every_registered_bell_until_it_is_silenced_or_dropped() {
        let first = Bell::ring_on_interrupt().expect("eventfd");
        let second = Bell::ring_on_interrupt().expect("eventfd");
        assert!(!rung(&first) && !rung(&second));
        wake_waiters();
        // This is what ends a `wait` blocked without a timeout.
        assert!(rung(&first) && rung(&second));
        first.silence();
        assert!(
            !rung(&first),
            "a silenced bell must let the next poll block"
        );
        let second_fd = second.fd.as_raw_fd();
        drop(second);
        let registered = WAITERS.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(
            !registered.contains(&second_fd),
            "a dropped bell stays registered"
        );
        assert!(registered.contains(&first.fd.as_raw_fd()));
    }

    #[test]
    fn launcher_rss_is_readable() {
        assert!(launcher_peak_rss().unwrap() > 0);
    }
}

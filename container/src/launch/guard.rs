//! The owner of what a launch creates: the child process and the cgroup, from the
//! moment they exist. Its `Drop` kills and reaps the child and removes the cgroup, so
//! that no path — error, timeout, interrupt, panic, dropped [`super::Running`] —
//! leaves anything behind.

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::cgroup::Cgroup;
use crate::error::Result;

/// Owns the child and the cgroup; `Drop` leaves nothing behind.
#[derive(Debug, Default)]
pub(super) struct Guard {
    pub(super) pid: Option<Pid>,
    pub(super) reaped: bool,
    pub(super) pidfd: Option<OwnedFd>,
    pub(super) cgroup: Option<Box<dyn Cgroup>>,
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

    /// Reaps a child that ended during setup and describes how it ended.
    pub(super) fn kill_and_reap_status(&mut self) -> Result<String> {
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

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_and_reap();
        if let Some(mut cg) = self.cgroup.take() {
            let _ = cg.kill_all();
            let _ = cg.remove();
        }
    }
}

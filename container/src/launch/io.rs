//! The parent's plumbing: the descriptors handed to the child (stdio kept above 2,
//! `/dev/null`, close-on-exec pipes), the `/proc/<pid>` files it writes (id maps), and
//! the reader of the child's setup reports with a deadline.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::Pid;

use super::SETUP_TIMEOUT;
use crate::child::{MSG_LEN, Msg};
use crate::error::{Error, Result};

/// Moves `fd` above 2 (so that `dup2` onto 0..2 in the child cannot clobber another source).
pub(super) fn above_stdio(fd: OwnedFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let n = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
        .map_err(|e| Error::sys("duplicating a stdio descriptor", e))?;
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

pub(super) fn dev_null(write: bool) -> Result<OwnedFd> {
    let f = fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open("/dev/null")
        .map_err(|e| Error::io("opening /dev/null", e))?;
    Ok(f.into())
}

pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("creating a pipe", e))
}

pub(super) fn write_proc(pid: Pid, file: &str, value: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    fs::write(&path, value).map_err(|e| Error::io(format!("writing {value:?} to {path}"), e))
}

/// Reads one message, waiting at most until `deadline`. `Ok(None)`: end of file.
pub(super) fn read_msg(fd: RawFd, deadline: Instant) -> Result<Option<Msg>> {
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

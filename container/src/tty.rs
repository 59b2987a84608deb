//! The pseudo-terminal of `run -t`: a new pty pair whose slave becomes the
//! container's stdin, stdout, stderr and controlling terminal (PID 1 makes itself a
//! session leader and takes it, see [`crate::ContainerBuilder::terminal`]), and the
//! launcher's side: the window size copied from its own terminal, and its terminal
//! in raw mode for the run (so Ctrl-C is a byte for the container, not a signal for
//! the launcher), restored when the guard drops — on every path.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use crate::error::{Error, Result};

/// The longest pty slave path `ptsname_r` may write (`/dev/pts/NNN` is far shorter).
const PTS_NAME_MAX: usize = 128;

/// A pseudo-terminal pair: the launcher keeps `master`, the container gets `slave`.
#[derive(Debug)]
pub struct Pty {
    /// The launcher's end: what the container writes is read here, what is written
    /// here is the container's input.
    pub master: OwnedFd,
    /// The container's end.
    pub slave: OwnedFd,
}

impl Pty {
    /// Opens a new pair (`posix_openpt`, `grantpt`, `unlockpt`, the slave by name),
    /// both close-on-exec and neither becoming the launcher's controlling terminal.
    pub fn open() -> Result<Pty> {
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: posix_openpt takes flags only and returns a new descriptor or -1.
        let raw = unsafe { libc::posix_openpt(flags) };
        if raw < 0 {
            return Err(Error::sys(
                "allocating a pseudo-terminal (posix_openpt on /dev/ptmx)",
                Errno::last(),
            ));
        }
        // SAFETY: a new descriptor that nothing else owns.
        let master = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut name = [0 as libc::c_char; PTS_NAME_MAX];
        // SAFETY: a plain call on a valid master descriptor.
        let granted = unsafe { libc::grantpt(raw) } == 0;
        // SAFETY: as above.
        let unlocked = granted && unsafe { libc::unlockpt(raw) } == 0;
        // SAFETY: a valid master descriptor; `name` is writable for its whole
        // length, which is passed.
        let ok = unlocked && unsafe { libc::ptsname_r(raw, name.as_mut_ptr(), name.len()) } == 0;
        if !ok {
            return Err(Error::sys(
                "preparing the pseudo-terminal's slave (grantpt, unlockpt, ptsname)",
                Errno::last(),
            ));
        }
        // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
        let path = unsafe { CStr::from_ptr(name.as_ptr()) };
        // SAFETY: a NUL-terminated path; the result is checked.
        let raw = unsafe { libc::open(path.as_ptr(), flags) };
        if raw < 0 {
            return Err(Error::sys(
                format!("opening the pseudo-terminal {}", path.to_string_lossy()),
                Errno::last(),
            ));
        }
        // SAFETY: a new descriptor that nothing else owns.
        let slave = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Pty { master, slave })
    }

    /// Gives the pty the window size of the terminal `from`; false when `from` is
    /// not a terminal (the pty keeps the kernel's default of 0 × 0).
    pub fn copy_window_size(&self, from: BorrowedFd<'_>) -> bool {
        // SAFETY: winsize is plain data; all-zero is valid.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills a winsize through a valid pointer.
        if unsafe { libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &mut size) } != 0 {
            return false;
        }
        // SAFETY: TIOCSWINSZ reads a winsize through a valid pointer.
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) == 0 }
    }
}

/// A terminal switched to raw mode; dropping it restores the settings it had.
#[derive(Debug)]
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: libc::termios,
}

impl<'a> RawMode<'a> {
    /// Switches `fd` to raw mode (no echo, no line editing, no signals from Ctrl-C
    /// or Ctrl-\, no output processing), if it is a terminal: `None` when it is not.
    pub fn enter(fd: BorrowedFd<'a>) -> Result<Option<RawMode<'a>>> {
        // SAFETY: termios is plain data; all-zero is valid before tcgetattr fills it.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a valid out-pointer; fails with ENOTTY on a non-terminal.
        if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut saved) } != 0 {
            return Ok(None);
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw only edits the struct it is given.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: a valid termios pointer for a terminal descriptor.
        if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &raw) } != 0 {
            return Err(Error::sys(
                "switching the terminal to raw mode",
                Errno::last(),
            ));
        }
        Ok(Some(RawMode { fd, saved }))
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from the same descriptor; a failure
        // leaves nothing better to do.
        unsafe { libc::tcsetattr(self.fd.as_raw_fd(), libc::TCSADRAIN, &self.saved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn a_pty_carries_bytes_and_raw_mode_is_restored() {
        let Ok(pty) = Pty::open() else {
            eprintln!("skipped: no pseudo-terminals here (/dev/ptmx)");
            return;
        };
        {
            let raw = RawMode::enter(pty.slave.as_fd()).unwrap();
            assert!(raw.is_some());
            // SAFETY: termios is plain data.
            let mut now: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: a valid out-pointer.
            let got = unsafe { libc::tcgetattr(pty.slave.as_raw_fd(), &mut now) };
            assert_eq!(got, 0);
            assert_eq!(now.c_lflag & libc::ISIG, 0);
        }
        // SAFETY: as above.
        let mut after: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a valid out-pointer.
        let got = unsafe { libc::tcgetattr(pty.slave.as_raw_fd(), &mut after) };
        assert_eq!(got, 0);
        assert_ne!(after.c_lflag & libc::ISIG, 0, "raw mode was not undone");
        let mut slave = std::fs::File::from(pty.slave.try_clone().unwrap());
        slave.write_all(b"x\n").unwrap();
        let mut master = std::fs::File::from(pty.master);
        let mut got = [0u8; 3];
        master.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"x\r\n");
        let not_a_tty = std::fs::File::open("/dev/null").unwrap();
        assert!(RawMode::enter(not_a_tty.as_fd()).unwrap().is_none());
    }
}

//! The pseudo-terminal of `run -t`: a new pty pair whose slave becomes the
//! container's stdin, stdout, stderr and controlling terminal (PID 1 makes itself a
//! session leader and takes it, see [`crate::ContainerBuilder::terminal`]), and the
//! launcher's side: the window size copied from its own terminal (at start and at
//! every `SIGWINCH`), and its terminal
//! in raw mode for the run (so Ctrl-C is a byte for the container, not a signal for
//! the launcher), restored when the guard drops — on every path.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

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
        copy_size(from, self.master.as_raw_fd())
    }
}

/// The write end of the pipe that the `SIGWINCH` handler pokes (-1: none).
static WINCH_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_winch(_: libc::c_int) {
    let fd = WINCH_PIPE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; a full (non-blocking) pipe
        // already holds a pending wake-up, so a failed write loses nothing.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}

/// Passes every later change of a terminal's window size on to a pty: a
/// `SIGWINCH` handler wakes a thread (through a pipe) that copies the size.
/// Dropping it restores the previous `SIGWINCH` disposition and ends the thread.
#[derive(Debug)]
pub struct WindowSizeFollower {
    wake: Option<OwnedFd>,
    previous: SigAction,
}

impl WindowSizeFollower {
    /// Follows the window size of the terminal `from` (by its descriptor number,
    /// e.g. 0 for stdin) onto the pty `master` for as long as the returned guard
    /// lives. One at a time.
    pub fn start(from: RawFd, master: BorrowedFd<'_>) -> Result<WindowSizeFollower> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::sys("creating the window-size pipe", e))?;
        nix::fcntl::fcntl(
            &write,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(|e| Error::sys("making the window-size pipe non-blocking", e))?;
        let master = master
            .try_clone_to_owned()
            .map_err(|e| Error::io("duplicating the pseudo-terminal", e))?;
        std::thread::spawn(move || {
            let mut byte = [0u8; 64];
            // Ends at end of file, when the guard closes the write end.
            while nix::unistd::read(&read, &mut byte).is_ok_and(|n| n > 0) {
                // SAFETY: `from` is a descriptor number the caller keeps open
                // (stdin); borrowed only for the two ioctls.
                let from = unsafe { BorrowedFd::borrow_raw(from) };
                let _ = copy_size(from, master.as_raw_fd());
            }
        });
        WINCH_PIPE.store(write.as_raw_fd(), Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(on_winch),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler only loads an atomic and calls write, both
        // async-signal-safe.
        let previous = match unsafe { sigaction(Signal::SIGWINCH, &action) } {
            Ok(previous) => previous,
            Err(e) => {
                // `write` closes when this returns: the handler (never
                // installed) must not hold on to its number.
                WINCH_PIPE.store(-1, Ordering::SeqCst);
                return Err(Error::sys("installing a SIGWINCH handler", e));
            }
        };
        Ok(WindowSizeFollower {
            wake: Some(write),
            previous,
        })
    }
}

impl Drop for WindowSizeFollower {
    fn drop(&mut self) {
        // In this order: no new handler runs once the disposition is back, and
        // none finds the descriptor after the store, before it is closed.
        // SAFETY: puts back the disposition that was there before.
        let _ = unsafe { sigaction(Signal::SIGWINCH, &self.previous) };
        WINCH_PIPE.store(-1, Ordering::SeqCst);
        // Closing the write end ends the thread.
        self.wake.take();
    }
}

/// Copies the window size of the terminal `from` to the terminal `to`.
fn copy_size(from: BorrowedFd<'_>, to: RawFd) -> bool {
    // SAFETY: winsize is plain data; all-zero is valid.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills a winsize through a valid pointer.
    if unsafe { libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &mut size) } != 0 {
        return false;
    }
    // SAFETY: TIOCSWINSZ reads a winsize through a valid pointer.
    unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &size) == 0 }
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

    fn size_of(fd: RawFd) -> (u16, u16) {
        // SAFETY: winsize is plain data.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: a valid out-pointer.
        let got = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
        assert_eq!(got, 0);
        (size.ws_row, size.ws_col)
    }

    #[test]
    fn a_window_size_change_is_passed_on_at_sigwinch() {
        let (Ok(user), Ok(container)) = (Pty::open(), Pty::open()) else {
            eprintln!("skipped: no pseudo-terminals here (/dev/ptmx)");
            return;
        };
        let follower =
            WindowSizeFollower::start(user.slave.as_raw_fd(), container.master.as_fd()).unwrap();
        let size = libc::winsize {
            ws_row: 33,
            ws_col: 111,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a valid winsize.
        let set = unsafe { libc::ioctl(user.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(set, 0);
        // SAFETY: raise has no memory effects; the handler is installed.
        assert_eq!(unsafe { libc::raise(libc::SIGWINCH) }, 0);
        // The copy happens on the follower's thread: wait for it (bounded
        // only against a hang).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while size_of(container.slave.as_raw_fd()) != (33, 111) {
            assert!(std::time::Instant::now() < deadline, "the size never came");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(follower);
        assert_eq!(WINCH_PIPE.load(Ordering::SeqCst), -1);
    }
}

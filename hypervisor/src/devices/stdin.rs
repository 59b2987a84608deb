//! The workload's standard input ([`port::STDIN`]): the tiny kernel turns
//! `read(0, …)` into one `out` with an `{addr, len}` descriptor, and the
//! vCPU thread blocks here, on the host, until the input the VMM was given
//! ([`crate::VmConfig::stdin`]) has bytes or reaches end of file. The guest
//! has no interrupt to wait for, so it cannot sleep itself; a vCPU blocked
//! in this exit costs no CPU at all.
//!
//! The wait is one `ppoll(2)` without a timeout, so a parked guest costs
//! the host no wake-ups: Ctrl-C, `--timeout` or another vCPU's exit raise
//! the VM's stop flag and the supervisor kicks every vCPU thread with the
//! kick signal, which ends the wait; the vCPU loop then stops. Without an
//! input every read is end of file at once, as `/dev/null` would give.
//!
//! [`port::STDIN`]: versus_abi::port::STDIN

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use versus_abi::{STDIN_FAILED, STDIN_MAX_LEN};
use vm_memory::{Bytes, GuestAddress, GuestMemory};

use crate::memory::GuestMem;

/// Why a standard-input request was refused (the guest sees
/// [`STDIN_FAILED`] and its `read` fails with `EIO`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StdinError {
    /// The descriptor is not in RAM.
    #[error("stdin descriptor at {0:#x} is not in guest RAM")]
    Descriptor(u64),
    /// The buffer is longer than `STDIN_MAX_LEN`.
    #[error("stdin buffer of {0} bytes exceeds the maximum of {STDIN_MAX_LEN}")]
    TooLong(u64),
    /// The buffer is not in RAM.
    #[error("stdin buffer {addr:#x}+{len} is not in guest RAM")]
    Buffer {
        /// Address.
        addr: u64,
        /// Length.
        len: u64,
    },
    /// Reading the host side failed.
    #[error("reading the VM's standard input failed: errno {0}")]
    Host(i32),
}

/// The host side of the VM's standard input, shared by its vCPUs.
#[derive(Debug, Default)]
pub struct Stdin {
    /// What `read(0, …)` reads; `None`: end of file at once.
    source: Option<Arc<OwnedFd>>,
    /// Serialises readers: each read goes to one vCPU, whole.
    reading: Mutex<()>,
    /// End of file was seen; every later read returns 0 at once.
    ended: AtomicBool,
}

impl Stdin {
    /// Standard input read from `source` (a pipe's read end, say), or
    /// none: end of file.
    pub fn new(source: Option<Arc<OwnedFd>>) -> Self {
        Self {
            source,
            reading: Mutex::new(()),
            ended: AtomicBool::new(false),
        }
    }

    /// Serves the request whose `{addr, len}` descriptor is at guest-physical
    /// `desc`: waits for input (or end of file, or until `stopping()`),
    /// copies it to `addr` and writes the count back into `len` (0: end of
    /// file; [`STDIN_FAILED`] when refused, where the descriptor is in RAM).
    pub fn read(
        &self,
        mem: &GuestMem,
        desc: u64,
        stopping: impl Fn() -> bool,
    ) -> Result<u64, StdinError> {
        let result = self.serve(mem, desc, stopping);
        let answer = *result.as_ref().unwrap_or(&STDIN_FAILED);
        // A descriptor outside RAM has nowhere to say anything.
        let _ = mem.write_obj(answer, GuestAddress(desc.wrapping_add(8)));
        result
    }

    fn serve(
        &self,
        mem: &GuestMem,
        desc: u64,
        stopping: impl Fn() -> bool,
    ) -> Result<u64, StdinError> {
        let (addr, len) = super::read_descriptor(mem, desc).ok_or(StdinError::Descriptor(desc))?;
        if len > STDIN_MAX_LEN {
            return Err(StdinError::TooLong(len));
        }
        // A read of nothing reads nothing: it must not look like end of
        // file (which would end stdin for good).
        if len == 0 {
            return Ok(0);
        }
        // The buffer is checked before anything is taken from the pipe, so
        // no input is lost to a bad address.
        if !mem.check_range(
            GuestAddress(addr),
            len as usize,
            vm_memory::Permissions::Write,
        ) {
            return Err(StdinError::Buffer { addr, len });
        }
        let Some(source) = &self.source else {
            return Ok(0);
        };
        let _one_reader = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        if self.ended.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let mut buf = [0u8; STDIN_MAX_LEN as usize];
        let buf = &mut buf[..len as usize];
        let Some(count) = read_when_ready(source, buf, stopping)? else {
            // The VM is stopping: this vCPU will not run again.
            return Ok(0);
        };
        if count == 0 {
            self.ended.store(true, Ordering::SeqCst);
        }
        mem.write_slice(&buf[..count], GuestAddress(addr))
            .map_err(|_| StdinError::Buffer { addr, len })?;
        Ok(count as u64)
    }
}

/// Waits until `fd` is readable (or closed), then reads once into `buf`:
/// `Some(count)`, or `None` when `stopping()` said so first.
///
/// The wait has no timeout, so a parked guest costs no wake-ups: what ends
/// it early is the kick signal ([`crate::vcpu::kick_signal`]), which the
/// supervisor sends every vCPU thread after raising the stop flag. The
/// signal is blocked while the flag is looked at and unblocked only inside
/// `ppoll`, atomically, so a kick that comes between the two is not lost:
/// it stays pending and makes `ppoll` return `EINTR` at once.
fn read_when_ready(
    fd: &OwnedFd,
    buf: &mut [u8],
    stopping: impl Fn() -> bool,
) -> Result<Option<usize>, StdinError> {
    let kick = KickBlocked::block()?;
    loop {
        if stopping() {
            return Ok(None);
        }
        let mut pollfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pollfd` is one valid entry, writable for the call; a null
        // timeout waits without limit; `kick.outside` is a valid mask.
        let ready = unsafe { libc::ppoll(&mut pollfd, 1, std::ptr::null(), &kick.outside) };
        if ready < 0 {
            let errno = last_errno();
            if errno == libc::EINTR {
                continue;
            }
            return Err(StdinError::Host(errno));
        }
        if ready == 0 {
            continue;
        }
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let count = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if count < 0 {
            let errno = last_errno();
            if errno == libc::EINTR || errno == libc::EAGAIN {
                continue;
            }
            return Err(StdinError::Host(errno));
        }
        return Ok(Some(count as usize));
    }
}

/// The kick signal blocked on this thread while a stdin wait looks at the
/// stop flag; dropping it restores the mask (KVM_RUN needs the signal to
/// reach the thread).
struct KickBlocked {
    /// The thread's mask before, which `drop` puts back.
    before: libc::sigset_t,
    /// What `ppoll` waits with: the mask before, with the kick let in.
    outside: libc::sigset_t,
}

impl KickBlocked {
    fn block() -> Result<Self, StdinError> {
        // SAFETY: an all-zero `sigset_t` is a valid value for
        // `sigemptyset`/`pthread_sigmask` to overwrite.
        let mut kick: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut outside: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `kick` is a valid, writable set.
        unsafe { libc::sigemptyset(&mut kick) };
        // SAFETY: as above; the signal number is a real-time signal the
        // host has.
        unsafe { libc::sigaddset(&mut kick, crate::vcpu::kick_signal()) };
        // SAFETY: both sets are valid; `outside` receives the old mask.
        let failed = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &kick, &mut outside) };
        if failed != 0 {
            return Err(StdinError::Host(failed));
        }
        let before = outside;
        // `ppoll` must let the kick in even if the thread came blocking it.
        // SAFETY: `outside` is a valid, writable set.
        unsafe { libc::sigdelset(&mut outside, crate::vcpu::kick_signal()) };
        Ok(Self { before, outside })
    }
}

impl Drop for KickBlocked {
    fn drop(&mut self) {
        // SAFETY: `before` is a valid mask; no old mask is asked for.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.before, std::ptr::null_mut()) };
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::memory::create_guest_memory;
    use crate::test_utils::two_region_layout;

    /// Guest memory with a descriptor at 0x1000 naming `len` bytes at 0x2000.
    fn request(len: u64) -> GuestMem {
        let mem = create_guest_memory(&two_region_layout()).expect("memory");
        mem.write_obj(0x2000u64, GuestAddress(0x1000)).unwrap();
        mem.write_obj(len, GuestAddress(0x1008)).unwrap();
        mem
    }

    fn answer(mem: &GuestMem) -> u64 {
        mem.read_obj(GuestAddress(0x1008)).unwrap()
    }

    #[test]
    fn without_a_source_every_read_is_end_of_file() {
        let mem = request(16);
        assert_eq!(Stdin::new(None).read(&mem, 0x1000, || false), Ok(0));
        assert_eq!(answer(&mem), 0);
    }

    #[test]
    fn input_reaches_guest_memory_then_end_of_file_sticks() {
        let (read, mut write) = std::io::pipe().unwrap();
        let stdin = Stdin::new(Some(Arc::new(OwnedFd::from(read))));
        write.write_all(b"finish\n").unwrap();
        let mem = request(64);
        assert_eq!(stdin.read(&mem, 0x1000, || false), Ok(7));
        assert_eq!(answer(&mem), 7);
        let mut got = [0u8; 7];
        mem.read_slice(&mut got, GuestAddress(0x2000)).unwrap();
        assert_eq!(&got, b"finish\n");
        drop(write);
        let mem = request(64);
        assert_eq!(stdin.read(&mem, 0x1000, || false), Ok(0));
        assert_eq!(stdin.read(&mem, 0x1000, || false), Ok(0));
    }

    #[test]
    fn a_kick_after_the_stop_flag_ends_a_wait_that_has_no_timeout() {
        crate::vcpu::install_kick_handler().expect("kick handler");
        let (read, _write) = std::io::pipe().unwrap();
        let stdin = Arc::new(Stdin::new(Some(Arc::new(OwnedFd::from(read)))));
        let stop = Arc::new(AtomicBool::new(false));
        let (waiting_tx, waiting) = std::sync::mpsc::channel();
        let reader = {
            let (stdin, stop) = (Arc::clone(&stdin), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mem = request(8);
                // Nothing is ever written: only the stop flag and the kick
                // can end this wait. The flag is false at the first look,
                // which the sender below waits for.
                stdin.read(&mem, 0x1000, || {
                    let _ = waiting_tx.send(());
                    stop.load(Ordering::SeqCst)
                })
            })
        };
        waiting.recv().expect("the reader looked at the flag");
        stop.store(true, Ordering::SeqCst);
        // As the supervisor does: flag first, then the kick, again until the
        // thread has left (a kick that lands before `ppoll` stays pending).
        use vmm_sys_util::signal::Killable;
        while !reader.is_finished() {
            let _ = reader.kill(crate::vcpu::kick_signal());
            // A bound on a hang, not a timing claim: a kick that does not
            // end the wait never makes the reader look at the flag again.
            match waiting.recv_timeout(std::time::Duration::from_secs(30)) {
                Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the kick did not end the stdin wait")
                }
            }
        }
        assert_eq!(reader.join().expect("reader"), Ok(0));
    }

    #[test]
    fn a_stopping_vm_ends_the_wait_and_bad_requests_are_refused() {
        let (read, _write) = std::io::pipe().unwrap();
        let stdin = Stdin::new(Some(Arc::new(OwnedFd::from(read))));
        // Nothing is ever written: only the stop flag can end this wait.
        let mem = request(8);
        assert_eq!(stdin.read(&mem, 0x1000, || true), Ok(0));
        let mem = request(STDIN_MAX_LEN + 1);
        assert_eq!(
            stdin.read(&mem, 0x1000, || false),
            Err(StdinError::TooLong(STDIN_MAX_LEN + 1))
        );
        assert_eq!(answer(&mem), STDIN_FAILED);
        assert_eq!(
            stdin.read(&mem, u64::MAX - 4, || false),
            Err(StdinError::Descriptor(u64::MAX - 4))
        );
    }
}

//! The system calls C libraries make at startup and in everyday use,
//! answered truthfully for one single-threaded process per CPU with the
//! console and the initramfs (`fs.rs`) as its files: random bytes,
//! resource limits, `fstat` of the console, the working directory, CPU
//! affinity, and the few
//! bookkeeping calls (`set_robust_list`, `madvise`, `futex`) that a single
//! thread needs only to succeed.

use crate::errno::{
    EAGAIN, EBADF, EDEADLK, EFAULT, EINVAL, ENOENT, EPERM, ERANGE, ESRCH, ETIMEDOUT, Errno,
};
use crate::fs;
use crate::layout::{PAGE_SIZE, USER_END, USER_STACK_SIZE};
use crate::paravirt;
use crate::percpu::PerCpu;
use crate::systime;
use crate::time;
use crate::uaccess;

/// `getrandom` flags: GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE.
const GRND_RANDOM: u64 = 0x2;
const GRND_INSECURE: u64 = 0x4;
const GRND_KNOWN: u64 = 0x1 | GRND_RANDOM | GRND_INSECURE;

/// The most bytes one `getrandom` returns (Linux's cap for its urandom
/// source, 32 MiB − 1).
const GETRANDOM_MAX: u64 = (1 << 25) - 1;

/// `getrandom(buf, len, flags)`: bytes from the host's `getrandom`
/// through the VMM (never blocks: the host's pool is long initialised).
pub fn getrandom(pc: &mut PerCpu, buf: u64, len: u64, flags: u64) -> Result<u64, Errno> {
    if flags & !GRND_KNOWN != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
    {
        return Err(EINVAL);
    }
    paravirt::fill_user_random(pc, buf, len.min(GETRANDOM_MAX))
}

/// `sizeof(struct robust_list_head)`.
const ROBUST_LIST_HEAD_SIZE: u64 = 24;

/// `set_robust_list(head, len)`: accepted. The list matters only when a
/// thread dies holding a lock another thread waits on; there is one thread.
pub fn set_robust_list(len: u64) -> Result<u64, Errno> {
    if len != ROBUST_LIST_HEAD_SIZE {
        return Err(EINVAL);
    }
    Ok(0)
}

/// `RLIM_INFINITY`.
const RLIM_INFINITY: u64 = u64::MAX;
/// Resource numbers with a finite limit here.
const RLIMIT_CORE: u64 = 4;
const RLIMIT_STACK: u64 = 3;
const RLIMIT_NPROC: u64 = 6;
const RLIMIT_NOFILE: u64 = 7;
/// Resources Linux knows (`RLIM_NLIMITS`).
const RLIM_NLIMITS: u64 = 16;

/// The limit of `resource` in this kernel, as `(soft, hard)`: the stack is
/// the fixed 2 MiB mapping (it never grows), files are the three console
/// descriptors and the initramfs's (`fs::MAX_FILES`), there is one
/// process and no core dumps; the rest is
/// unlimited (memory runs out when guest RAM does).
fn limit(resource: u64) -> Result<(u64, u64), Errno> {
    Ok(match resource {
        RLIMIT_STACK => (USER_STACK_SIZE, USER_STACK_SIZE),
        RLIMIT_NOFILE => {
            let files = fs::FIRST_FD + fs::MAX_FILES as u64;
            (files, files)
        }
        RLIMIT_NPROC => (1, 1),
        RLIMIT_CORE => (0, 0),
        r if r < RLIM_NLIMITS => (RLIM_INFINITY, RLIM_INFINITY),
        _ => return Err(EINVAL),
    })
}

/// `prlimit64(pid, resource, new, old)`: reads this process's limits;
/// setting one is refused with `EPERM` (the limits describe the fixed
/// layout, they cannot be moved).
pub fn prlimit64(
    pc: &mut PerCpu,
    pid: u64,
    resource: u64,
    new: u64,
    old: u64,
) -> Result<u64, Errno> {
    if pid != 0 && pid != pc.pid {
        return Err(ESRCH);
    }
    let (soft, hard) = limit(resource)?;
    if new != 0 {
        return Err(EPERM);
    }
    if old != 0 {
        uaccess::put_u64(pc, old, soft)?;
        uaccess::put_u64(pc, old.wrapping_add(8), hard)?;
    }
    Ok(0)
}

/// `getrlimit(resource, rlim)`: as [`prlimit64`] on this process.
pub fn getrlimit(pc: &mut PerCpu, resource: u64, rlim: u64) -> Result<u64, Errno> {
    if rlim == 0 {
        return Err(EFAULT);
    }
    prlimit64(pc, 0, resource, 0, rlim)
}

/// A path argument: `EFAULT` if the user cannot read its first byte, else
/// whether it is empty.
fn path_is_empty(pc: &PerCpu, path: u64) -> Result<bool, Errno> {
    Ok(uaccess::get_u8(pc, path)? == 0)
}

/// `AT_EMPTY_PATH`: `newfstatat` on the descriptor itself.
const AT_EMPTY_PATH: u64 = 0x1000;
/// `S_IFCHR | 0620`: a terminal-like character device, owned by root.
const CONSOLE_MODE: u64 = 0o020_620;
/// `makedev(5, 1)`: Linux's `/dev/console`.
const CONSOLE_RDEV: u64 = (5 << 8) | 1;
/// The console's preferred I/O size (`st_blksize`).
const CONSOLE_BLKSIZE: u64 = 1024;
/// `struct stat` on x86-64: 18 eight-byte words (144 bytes).
const STAT_WORDS: usize = 18;

/// `AT_FDCWD`, as the low 32 bits of the register (`dirfd` is an `int`).
const AT_FDCWD: u32 = fs::AT_FDCWD;

/// Writes a `struct stat` with inode `ino`, `mode` and device `rdev` (the
/// other fields zero: owner root, size 0, times at the epoch).
fn write_stat(pc: &PerCpu, buf: u64, ino: u64, mode: u64, rdev: u64) -> Result<u64, Errno> {
    // Cleared in user memory, then the few non-zero words: a zeroed array
    // on the kernel stack would compile to SSE stores ring 0 may not use.
    // st_dev, st_ino, st_nlink, st_mode (st_uid 0), st_gid, st_rdev,
    // st_size, st_blksize, st_blocks, the three times, reserved: all 8 bytes.
    uaccess::clear_user(pc, buf, (STAT_WORDS * 8) as u64)?;
    for (word, value) in [(1, ino), (2, 1), (3, mode), (5, rdev), (7, CONSOLE_BLKSIZE)] {
        uaccess::put_u64(pc, buf.wrapping_add(word * 8), value)?;
    }
    Ok(0)
}

/// `fstat(fd, buf)`: fds 0–2 are the console, a character device; the
/// others are the initramfs's (`fs.rs`).
pub fn fstat(pc: &mut PerCpu, fd: u64, buf: u64) -> Result<u64, Errno> {
    if fd >= fs::FIRST_FD {
        return fs::fstat(pc, fd, buf);
    }
    if pc.open_fds & (1 << fd) == 0 {
        return Err(EBADF);
    }
    write_stat(pc, buf, fd + 2, CONSOLE_MODE, CONSOLE_RDEV)
}

/// `newfstatat(dirfd, path, buf, flags)`: with `AT_EMPTY_PATH` and an empty
/// path, [`fstat`] of `dirfd` (the root directory for `AT_FDCWD`); a path
/// is looked up in the initramfs (`fs.rs`).
pub fn newfstatat(
    pc: &mut PerCpu,
    dirfd: u64,
    path: u64,
    buf: u64,
    flags: u64,
) -> Result<u64, Errno> {
    if !path_is_empty(pc, path)? {
        return fs::newfstatat(pc, dirfd, path, buf, flags);
    }
    if flags & AT_EMPTY_PATH == 0 {
        return Err(ENOENT);
    }
    if dirfd as u32 == AT_FDCWD {
        return fs::stat_root(pc, buf);
    }
    fstat(pc, dirfd, buf)
}

/// `getcwd(buf, size)`: `/`, the only directory there is.
pub fn getcwd(pc: &mut PerCpu, buf: u64, size: u64) -> Result<u64, Errno> {
    const ROOT: &[u8; 2] = b"/\0";
    if size < ROOT.len() as u64 {
        return Err(ERANGE);
    }
    uaccess::copy_to_user(pc, buf, ROOT.as_ptr(), ROOT.len() as u64)?;
    Ok(ROOT.len() as u64)
}

/// `sched_getaffinity(pid, len, mask)`: the instance runs on its own CPU
/// only. Writes whole 64-bit words up to that CPU's and returns their size.
pub fn sched_getaffinity(pc: &mut PerCpu, pid: u64, len: u64, mask: u64) -> Result<u64, Errno> {
    if pid != 0 && pid != pc.pid {
        return Err(ESRCH);
    }
    let word = pc.cpu / 64;
    let size = (word + 1) * 8;
    if len < size || !len.is_multiple_of(8) {
        return Err(EINVAL);
    }
    uaccess::clear_user(pc, mask, word * 8)?;
    uaccess::put_u64(pc, mask.wrapping_add(word * 8), 1 << (pc.cpu % 64))?;
    Ok(size)
}

/// `madvise(addr, len, advice)`: advice only, accepted (memory is mapped
/// eagerly and never paged out); `EINVAL` for an unaligned address, as
/// Linux.
pub fn madvise(addr: u64, len: u64) -> Result<u64, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) || addr >= USER_END || len > USER_END - addr {
        return Err(EINVAL);
    }
    Ok(0)
}

/// `futex` operations (without the PRIVATE and CLOCK_REALTIME flag bits).
const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
/// `FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME`.
const FUTEX_FLAGS: u64 = 128 | 256;

/// What `futex` answers: `Some(result)`, or `None` for an operation this
/// kernel does not implement (the caller counts it as `ENOSYS`).
pub fn futex(
    pc: &mut PerCpu,
    addr: u64,
    op: u64,
    val: u64,
    timeout: u64,
) -> Option<Result<u64, Errno>> {
    if addr & 3 != 0 {
        // Linux: a futex word must be 4-byte aligned.
        return Some(Err(EINVAL));
    }
    Some(match op & !FUTEX_FLAGS {
        // Nobody else is waiting: a single thread wakes no one.
        FUTEX_WAKE | FUTEX_WAKE_BITSET => uaccess::get_u32(pc, addr).map(|_| 0),
        op @ (FUTEX_WAIT | FUTEX_WAIT_BITSET) => {
            futex_wait(pc, addr, val, timeout, op == FUTEX_WAIT_BITSET)
        }
        _ => return None,
    })
}

/// A wait: `EAGAIN` if the word changed; otherwise nothing can ever wake
/// the only thread, so it sleeps out its timeout (`ETIMEDOUT`), or, with
/// none, answers `EDEADLK` rather than hang the instance forever.
fn futex_wait(
    pc: &mut PerCpu,
    addr: u64,
    val: u64,
    timeout: u64,
    absolute: bool,
) -> Result<u64, Errno> {
    if uaccess::get_u32(pc, addr)? != val as u32 {
        return Err(EAGAIN);
    }
    if timeout == 0 {
        return Err(EDEADLK);
    }
    let time = systime::read_timespec(pc, timeout)?;
    let deadline = if absolute {
        time
    } else {
        time::now_ns(pc).saturating_add(time)
    };
    paravirt::sleep_until(pc, deadline);
    Err(ETIMEDOUT)
}

//! System calls: Linux x86-64 numbers and semantics, for one process per
//! CPU whose files are the console and the initramfs. The calls beyond the
//! short path live in `systime.rs` (time, sleeping), `sysinfo.rs` (what C
//! libraries ask at startup) and `fs.rs` (the initramfs's files).
//!
//! [`dispatch`] is the only Rust on the system-call path. It is kept a
//! leaf for the cheap calls (`getpid` and friends read one field and
//! return: no stack frame, no saved registers) and tail-calls an
//! out-of-line function for everything else — each emulated ring-0
//! instruction costs about a microsecond on the software backend.
//!
//! | call | answer |
//! |---|---|
//! | `read` | fd 0: 0 (end of file); else `EBADF` |
//! | `write`, `writev` | fd 1, 2: the console (see `console.rs`); else `EBADF` |
//! | `read` (fds 3..), `pread64`, `lseek`, `getdents64`, `fcntl` | the initramfs's files, see `fs.rs` |
//! | `open`, `stat`, `lstat` | as `openat`, `newfstatat` from `AT_FDCWD` (musl calls them) |
//! | `close` | fds 0–2: closed; 3..: the initramfs's (`fs.rs`); else `EBADF` |
//! | `openat` | a file or directory of the initramfs, read-only (`fs.rs`); `ENOENT` without one; `EFAULT` for an unreadable path |
//! | `ioctl` | fds 0–2: `ENOTTY`; else `EBADF` |
//! | `mmap`, `munmap`, `brk`, `mprotect` | anonymous memory (`MAP_FIXED` too), see `mm.rs` |
//! | `getpid`, `gettid` | 1 + CPU index |
//! | `getppid`, `get[e]uid`, `get[e]gid` | 0 |
//! | `uname` | the guest kernel's own identity ([`UTSNAME`]) |
//! | `clock_gettime` | REALTIME, MONOTONIC(_RAW, _COARSE), BOOTTIME: the TSC in ns |
//! | `clock_getres`, `gettimeofday`, `time` | the same clock (resolution 1 ns) |
//! | `nanosleep`, `clock_nanosleep` | relative or `TIMER_ABSTIME`: the VMM sleeps (`paravirt.rs`) |
//! | `getrandom` | the host's `getrandom` through the VMM (`paravirt.rs`) |
//! | `prlimit64`, `getrlimit` | the real limits (2 MiB stack, 3 files, 1 process); setting: `EPERM` |
//! | `fstat`, `newfstatat` | fds 0–2: a character device; `AT_FDCWD`: `/`; a path or fd 3..: the initramfs's (`fs.rs`) |
//! | `readlink`, `readlinkat` | a link of the initramfs; else `ENOENT` (`/proc/self/exe` included) |
//! | `getcwd` | `/`; `sched_getaffinity`: this CPU only |
//! | `set_robust_list`, `madvise` | accepted |
//! | `futex` | WAKE: 0; WAIT: `EAGAIN` if the word changed, else `ETIMEDOUT` after its timeout or `EDEADLK` without one |
//! | `rseq` | `ENOSYS` (not counted): a kernel without rseq, which the C libraries expect |
//! | `arch_prctl` | SET/GET FS and GS base |
//! | `set_tid_address` | the tid; `sched_yield` 0 |
//! | `rt_sigaction`, `rt_sigprocmask` | accepted (old values read as empty); no signal is ever delivered |
//! | `exit`, `exit_group` | end the instance |
//! | anything else (`clone`, `wait4`, `pipe2`, `mount`, …) | `ENOSYS`, counted per number and reported at exit |
//!
//! `rseq` is answered `ENOSYS` on purpose, as by a Linux built without
//! `CONFIG_RSEQ`: glibc and musl then run without it. Its point — telling a
//! thread it was preempted or migrated inside a critical section — has
//! nothing to report here (no preemption, no migration), so it is not
//! counted among the missing calls.

use crate::console;
use crate::cpu::{self, MSR_FS_BASE, MSR_GS_BASE};
use crate::entry::SyscallFrame;
use crate::errno::{EBADF, EFAULT, EINVAL, ENOSYS, ENOTTY, EPERM, Errno, neg};
use crate::fs;
use crate::layout::{PAGE_SIZE, USER_END, phys_to_virt};
use crate::mm;
use crate::paging::AddressSpace;
use crate::percpu::{ENOSYS_SLOTS, PerCpu};
use crate::process;
use crate::stdin;
use crate::sysinfo;
use crate::systime::{self, TSC_CLOCKS};
use crate::time::{self, NS_PER_SEC};
use crate::uaccess;

/// Linux x86-64 system-call numbers.
pub mod nr {
    #![allow(missing_docs)]
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const OPEN: u64 = 2;
    pub const CLOSE: u64 = 3;
    pub const STAT: u64 = 4;
    pub const FSTAT: u64 = 5;
    pub const LSTAT: u64 = 6;
    pub const LSEEK: u64 = 8;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const BRK: u64 = 12;
    pub const RT_SIGACTION: u64 = 13;
    pub const RT_SIGPROCMASK: u64 = 14;
    pub const IOCTL: u64 = 16;
    pub const PREAD64: u64 = 17;
    pub const WRITEV: u64 = 20;
    pub const SCHED_YIELD: u64 = 24;
    pub const MADVISE: u64 = 28;
    pub const NANOSLEEP: u64 = 35;
    pub const GETPID: u64 = 39;
    pub const EXIT: u64 = 60;
    pub const FCNTL: u64 = 72;
    pub const UNAME: u64 = 63;
    pub const GETCWD: u64 = 79;
    pub const READLINK: u64 = 89;
    pub const GETTIMEOFDAY: u64 = 96;
    pub const GETRLIMIT: u64 = 97;
    pub const GETUID: u64 = 102;
    pub const GETGID: u64 = 104;
    pub const GETEUID: u64 = 107;
    pub const GETEGID: u64 = 108;
    pub const GETPPID: u64 = 110;
    pub const ARCH_PRCTL: u64 = 158;
    pub const GETTID: u64 = 186;
    pub const TIME: u64 = 201;
    pub const FUTEX: u64 = 202;
    pub const SCHED_GETAFFINITY: u64 = 204;
    pub const GETDENTS64: u64 = 217;
    pub const SET_TID_ADDRESS: u64 = 218;
    pub const CLOCK_GETTIME: u64 = 228;
    pub const CLOCK_GETRES: u64 = 229;
    pub const CLOCK_NANOSLEEP: u64 = 230;
    pub const EXIT_GROUP: u64 = 231;
    pub const OPENAT: u64 = 257;
    pub const NEWFSTATAT: u64 = 262;
    pub const READLINKAT: u64 = 267;
    pub const SET_ROBUST_LIST: u64 = 273;
    pub const PRLIMIT64: u64 = 302;
    pub const GETRANDOM: u64 = 318;
    pub const RSEQ: u64 = 334;
}

/// The system-call handler the entry path calls: `frame` holds the
/// arguments, `nr` the number; returns RAX.
pub extern "C" fn dispatch(frame: &mut SyscallFrame, nr: u64) -> u64 {
    // SAFETY: the entry path puts the frame at the top of the entry stack,
    // immediately below this CPU's PerCpu (percpu.rs).
    let pc = unsafe { &mut *(frame as *mut SyscallFrame).add(1).cast::<PerCpu>() };
    // Every arm is a load or a tail call: no stack frame in this function.
    match nr {
        nr::GETPID | nr::GETTID | nr::SET_TID_ADDRESS => pc.pid,
        nr::GETPPID | nr::GETUID | nr::GETGID | nr::GETEUID | nr::GETEGID | nr::SCHED_YIELD => 0,
        // The initramfs's files; fds 0-2 take the console branch below.
        nr::READ if frame.rdi >= fs::FIRST_FD => fs::read(pc, frame.rdi, frame.rsi, frame.rdx),
        nr::WRITE => sys_write(pc, frame.rdi, frame.rsi, frame.rdx),
        nr::CLOCK_GETTIME => sys_clock_gettime(pc, frame.rdi, frame.rsi),
        nr::READ => sys_read(pc, frame.rdi, frame.rsi, frame.rdx),
        nr::CLOSE => sys_close(pc, frame.rdi),
        nr::WRITEV => sys_writev(pc, frame.rdi, frame.rsi, frame.rdx),
        nr::IOCTL => sys_ioctl(pc, frame.rdi),
        nr::OPENAT => sys_openat(pc, frame.rdi, frame.rsi, frame.rdx),
        nr::MMAP => mm::mmap(pc, frame),
        nr::MUNMAP => mm::munmap(pc, frame.rdi, frame.rsi),
        nr::MPROTECT => mm::mprotect(pc, frame.rdi, frame.rsi, frame.rdx),
        nr::BRK => mm::brk(pc, frame.rdi),
        nr::UNAME => sys_uname(pc, frame.rdi),
        nr::ARCH_PRCTL => sys_arch_prctl(pc, frame.rdi, frame.rsi),
        nr::RT_SIGACTION => sys_rt_sigaction(pc, frame.rdx, frame.r10),
        nr::RT_SIGPROCMASK => sys_rt_sigprocmask(pc, frame.rdx, frame.r10),
        _ => other(pc, frame, nr),
    }
}

/// `exit`, `exit_group`, the calls of `systime.rs` and `sysinfo.rs` and
/// every unknown call: out of line, so that [`dispatch`] needs no stack
/// frame (a call to a function that never returns could not be a tail
/// call) and its jump table stays small.
#[inline(never)]
fn other(pc: &mut PerCpu, frame: &SyscallFrame, nr: u64) -> u64 {
    let (a, b, c, d) = (frame.rdi, frame.rsi, frame.rdx, frame.r10);
    result(match nr {
        nr::EXIT | nr::EXIT_GROUP => process::exit(pc, (a & 0xff) as u32),
        nr::CLOCK_GETRES => systime::clock_getres(pc, a, b),
        nr::GETTIMEOFDAY => systime::gettimeofday(pc, a, b),
        nr::TIME => systime::time(pc, a),
        nr::NANOSLEEP => systime::nanosleep(pc, a),
        nr::CLOCK_NANOSLEEP => systime::clock_nanosleep(pc, a, b, c),
        nr::GETRANDOM => sysinfo::getrandom(pc, a, b, c),
        nr::SET_ROBUST_LIST => sysinfo::set_robust_list(b),
        nr::PRLIMIT64 => sysinfo::prlimit64(pc, a, b, c, d),
        nr::GETRLIMIT => sysinfo::getrlimit(pc, a, b),
        nr::READLINK => fs::readlinkat(pc, u64::from(fs::AT_FDCWD), a, b, c),
        nr::READLINKAT => fs::readlinkat(pc, a, b, c, d),
        nr::PREAD64 => fs::pread64(pc, a, b, c, d),
        // The old path calls musl makes: openat, newfstatat from AT_FDCWD.
        nr::OPEN => fs::openat(pc, u64::from(fs::AT_FDCWD), a, b),
        nr::STAT => fs::newfstatat(pc, u64::from(fs::AT_FDCWD), a, b, 0),
        nr::LSTAT => fs::newfstatat(pc, u64::from(fs::AT_FDCWD), a, b, fs::AT_SYMLINK_NOFOLLOW),
        nr::FCNTL => fs::fcntl(pc, a, b),
        nr::LSEEK => fs::lseek(pc, a, b, c),
        nr::GETDENTS64 => fs::getdents64(pc, a, b, c),
        nr::FSTAT => sysinfo::fstat(pc, a, b),
        nr::NEWFSTATAT => sysinfo::newfstatat(pc, a, b, c, d),
        nr::GETCWD => sysinfo::getcwd(pc, a, b),
        nr::SCHED_GETAFFINITY => sysinfo::sched_getaffinity(pc, a, b, c),
        nr::MADVISE => sysinfo::madvise(a, b),
        nr::FUTEX => match sysinfo::futex(pc, a, b, c, d) {
            Some(answer) => answer,
            None => return enosys(pc, nr),
        },
        // Deliberate, not missing: see the module documentation.
        nr::RSEQ => Err(ENOSYS),
        _ => return enosys(pc, nr),
    })
}

/// A result as RAX holds it: the value, or `-errno`.
#[inline(always)]
fn result(r: Result<u64, Errno>) -> u64 {
    match r {
        Ok(value) => value,
        Err(errno) => neg(errno),
    }
}

/// Counts an unknown call and answers `-ENOSYS`.
fn enosys(pc: &mut PerCpu, nr: u64) -> u64 {
    pc.enosys_total += 1;
    if (nr as usize) < ENOSYS_SLOTS {
        pc.enosys[nr as usize] += 1;
    } else {
        pc.enosys_other += 1;
    }
    neg(ENOSYS)
}

/// Whether `fd` is one of the console descriptors still open.
fn console_fd(pc: &PerCpu, fd: u64, writing: bool) -> bool {
    let ok = if writing { fd == 1 || fd == 2 } else { fd == 0 };
    ok && pc.open_fds & (1 << fd) != 0
}

#[inline(never)]
fn sys_write(pc: &mut PerCpu, fd: u64, buf: u64, len: u64) -> u64 {
    result(sys_write_inner(pc, fd, buf, len))
}

fn sys_write_inner(pc: &mut PerCpu, fd: u64, buf: u64, len: u64) -> Result<u64, Errno> {
    if !console_fd(pc, fd, true) {
        return Err(EBADF);
    }
    console::write_user(pc, console::Stream::of_fd(fd), buf, len)
}

#[inline(never)]
fn sys_writev(pc: &mut PerCpu, fd: u64, iov: u64, count: u64) -> u64 {
    result(sys_writev_inner(pc, fd, iov, count))
}

fn sys_writev_inner(pc: &mut PerCpu, fd: u64, iov: u64, count: u64) -> Result<u64, Errno> {
    if !console_fd(pc, fd, true) {
        return Err(EBADF);
    }
    if count > 1024 {
        return Err(EINVAL);
    }
    let mut total = 0;
    for i in 0..count {
        let base = uaccess::get_u64(pc, iov.wrapping_add(16 * i))?;
        let len = uaccess::get_u64(pc, iov.wrapping_add(16 * i + 8))?;
        let written = console::write_user(pc, console::Stream::of_fd(fd), base, len);
        match written {
            Ok(n) => total += n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
        if written != Ok(len) {
            break;
        }
    }
    Ok(total)
}

#[inline(never)]
fn sys_read(pc: &mut PerCpu, fd: u64, buf: u64, len: u64) -> u64 {
    result(sys_read_inner(pc, fd, buf, len))
}

fn sys_read_inner(pc: &mut PerCpu, fd: u64, buf: u64, len: u64) -> Result<u64, Errno> {
    if console_fd(pc, fd, false) {
        // fd 0 reads what the VMM holds for this VM (end of file when it
        // holds nothing), blocking on the host, not in the guest.
        stdin::read_user(pc, buf, len)
    } else {
        Err(EBADF)
    }
}

#[inline(never)]
fn sys_close(pc: &mut PerCpu, fd: u64) -> u64 {
    result(sys_close_inner(pc, fd))
}

fn sys_close_inner(pc: &mut PerCpu, fd: u64) -> Result<u64, Errno> {
    if fd >= fs::FIRST_FD {
        fs::close(pc, fd)
    } else if pc.open_fds & (1 << fd) != 0 {
        pc.open_fds &= !(1 << fd);
        Ok(0)
    } else {
        Err(EBADF)
    }
}

#[inline(never)]
fn sys_ioctl(pc: &mut PerCpu, fd: u64) -> u64 {
    result(sys_ioctl_inner(pc, fd))
}

fn sys_ioctl_inner(pc: &mut PerCpu, fd: u64) -> Result<u64, Errno> {
    if fd < 3 && pc.open_fds & (1 << fd) != 0 {
        Err(ENOTTY)
    } else {
        Err(EBADF)
    }
}

#[inline(never)]
fn sys_openat(pc: &mut PerCpu, dirfd: u64, path: u64, flags: u64) -> u64 {
    result(fs::openat(pc, dirfd, path, flags))
}

#[inline(never)]
fn sys_clock_gettime(pc: &mut PerCpu, clock: u64, ts: u64) -> u64 {
    result(sys_clock_gettime_inner(pc, clock, ts))
}

fn sys_clock_gettime_inner(pc: &mut PerCpu, clock: u64, ts: u64) -> Result<u64, Errno> {
    if clock >= 64 || TSC_CLOCKS & (1 << clock) == 0 {
        return Err(EINVAL);
    }
    let ns = time::now_ns(pc);
    let (sec, nsec) = (ns / NS_PER_SEC, ns % NS_PER_SEC);
    if ts & (PAGE_SIZE - 1) <= PAGE_SIZE - 16 {
        // The usual case: the timespec in one page, one translation.
        let (pa, _) = AddressSpace { pml4: pc.pml4 }
            .translate(ts, true)
            .ok_or(EFAULT)?;
        let p = phys_to_virt(pa) as *mut u64;
        // SAFETY: the 16 bytes lie in one user-writable frame (translated
        // above), reached through the direct map.
        unsafe {
            p.write_unaligned(sec);
            p.add(1).write_unaligned(nsec);
        }
        return Ok(0);
    }
    uaccess::put_u64(pc, ts, sec)?;
    uaccess::put_u64(pc, ts.wrapping_add(8), nsec)?;
    Ok(0)
}

/// Length of each `struct new_utsname` field.
const UTS_LEN: usize = 65;

const fn uts_field(text: &str) -> [u8; UTS_LEN] {
    let mut field = [0; UTS_LEN];
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && i < UTS_LEN - 1 {
        field[i] = bytes[i];
        i += 1;
    }
    field
}

/// `struct new_utsname` of this kernel: sysname, nodename, release,
/// version, machine, domainname.
pub static UTSNAME: [[u8; UTS_LEN]; 6] = [
    uts_field("versus"),
    uts_field("versus-vm"),
    uts_field(concat!(env!("CARGO_PKG_VERSION"), "-tiny")),
    uts_field("#1 SMP versus tiny kernel"),
    uts_field("x86_64"),
    uts_field("(none)"),
];

#[inline(never)]
fn sys_uname(pc: &mut PerCpu, buf: u64) -> u64 {
    result(sys_uname_inner(pc, buf))
}

fn sys_uname_inner(pc: &mut PerCpu, buf: u64) -> Result<u64, Errno> {
    uaccess::copy_to_user(pc, buf, UTSNAME.as_ptr().cast(), (6 * UTS_LEN) as u64)?;
    Ok(0)
}

/// `arch_prctl` codes.
const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

#[inline(never)]
fn sys_arch_prctl(pc: &mut PerCpu, code: u64, addr: u64) -> u64 {
    result(sys_arch_prctl_inner(pc, code, addr))
}

fn sys_arch_prctl_inner(pc: &mut PerCpu, code: u64, addr: u64) -> Result<u64, Errno> {
    let msr = match code {
        ARCH_SET_FS | ARCH_GET_FS => MSR_FS_BASE,
        ARCH_SET_GS | ARCH_GET_GS => MSR_GS_BASE,
        _ => return Err(EINVAL),
    };
    if code == ARCH_SET_FS || code == ARCH_SET_GS {
        if addr >= USER_END {
            return Err(EPERM);
        }
        // SAFETY: a user address as the user's own FS/GS base; in the
        // common path GS_BASE holds the user's value (the hardware entry
        // swaps back before it), so the kernel's KERNEL_GS_BASE is untouched.
        unsafe { cpu::wrmsr(msr, addr) };
        Ok(0)
    } else {
        uaccess::put_u64(pc, addr, cpu::rdmsr(msr))?;
        Ok(0)
    }
}

/// The kernel's `sigset_t` size.
const SIGSET_SIZE: u64 = 8;

#[inline(never)]
fn sys_rt_sigaction(pc: &mut PerCpu, old: u64, size: u64) -> u64 {
    result(sys_rt_sigaction_inner(pc, old, size))
}

fn sys_rt_sigaction_inner(pc: &mut PerCpu, old: u64, size: u64) -> Result<u64, Errno> {
    if size != SIGSET_SIZE {
        return Err(EINVAL);
    }
    if old != 0 {
        // struct sigaction: handler, flags, restorer, mask — all "default".
        uaccess::clear_user(pc, old, 32)?;
    }
    Ok(0)
}

#[inline(never)]
fn sys_rt_sigprocmask(pc: &mut PerCpu, old: u64, size: u64) -> u64 {
    result(sys_rt_sigprocmask_inner(pc, old, size))
}

fn sys_rt_sigprocmask_inner(pc: &mut PerCpu, old: u64, size: u64) -> Result<u64, Errno> {
    if size != SIGSET_SIZE {
        return Err(EINVAL);
    }
    if old != 0 {
        uaccess::put_u64(pc, old, 0)?;
    }
    Ok(0)
}

//! Raw Linux x86-64 system calls: numbers, constants, error names and thin
//! wrappers around the `syscall` instruction.
//!
//! This file is the workload's whole contract with a kernel. Every call it
//! makes is listed in `nr` below; a kernel that answers these (and returns
//! `-ENOSYS` for the rest) can run every task.

use core::arch::asm;
use core::ffi::CStr;
use core::ptr::NonNull;

/// System call numbers (x86-64), the only ones the workload uses.
pub mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const MMAP: usize = 9;
    pub const MUNMAP: usize = 11;
    pub const GETPID: usize = 39;
    pub const CLONE: usize = 56;
    pub const WAIT4: usize = 61;
    pub const UNAME: usize = 63;
    pub const GETUID: usize = 102;
    pub const GETGID: usize = 104;
    pub const GETPPID: usize = 110;
    pub const MOUNT: usize = 165;
    pub const UMOUNT2: usize = 166;
    pub const REBOOT: usize = 169;
    pub const SETHOSTNAME: usize = 170;
    pub const DELETE_MODULE: usize = 176;
    pub const CLOCK_GETTIME: usize = 228;
    pub const EXIT_GROUP: usize = 231;
    pub const KEXEC_LOAD: usize = 246;
    pub const OPENAT: usize = 257;
    pub const PIPE2: usize = 293;
}

pub const AT_FDCWD: i32 = -100;
pub const O_RDONLY: u32 = 0;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_CLOEXEC: u32 = 0o2_000_000;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;
const CLOCK_MONOTONIC: usize = 1;
const SIGCHLD: usize = 17;
/// Length of each field of `struct new_utsname`, including its NUL.
pub const UTS_FIELD_LEN: usize = 65;

/// A Linux error number, as returned (negated) by a failing system call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub u16);

impl Errno {
    pub const EINTR: Self = Self(4);
    pub const EINVAL: Self = Self(22);
    pub const ENOSYS: Self = Self(38);

    /// The symbolic name, for the numbers the workload knows; callers print
    /// the others as `E<number>`.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "EPERM",
            2 => "ENOENT",
            3 => "ESRCH",
            4 => "EINTR",
            5 => "EIO",
            6 => "ENXIO",
            7 => "E2BIG",
            8 => "ENOEXEC",
            9 => "EBADF",
            10 => "ECHILD",
            11 => "EAGAIN",
            12 => "ENOMEM",
            13 => "EACCES",
            14 => "EFAULT",
            15 => "ENOTBLK",
            16 => "EBUSY",
            17 => "EEXIST",
            18 => "EXDEV",
            19 => "ENODEV",
            20 => "ENOTDIR",
            21 => "EISDIR",
            22 => "EINVAL",
            23 => "ENFILE",
            24 => "EMFILE",
            25 => "ENOTTY",
            26 => "ETXTBSY",
            27 => "EFBIG",
            28 => "ENOSPC",
            29 => "ESPIPE",
            30 => "EROFS",
            31 => "EMLINK",
            32 => "EPIPE",
            33 => "EDOM",
            34 => "ERANGE",
            35 => "EDEADLK",
            36 => "ENAMETOOLONG",
            37 => "ENOLCK",
            38 => "ENOSYS",
            39 => "ENOTEMPTY",
            40 => "ELOOP",
            95 => "EOPNOTSUPP",
            _ => return None,
        })
    }
}

pub type SysResult<T> = Result<T, Errno>;

/// Linux returns `-errno` in `-4095..=-1` and anything else is a result.
pub fn check(ret: isize) -> SysResult<usize> {
    if (-4095..0).contains(&ret) {
        // In range: the magnitude is at most 4095 and fits in u16.
        Err(Errno(ret.unsigned_abs() as u16))
    } else {
        Ok(ret as usize)
    }
}

// The raw entry points. `syscall` takes the number in rax and arguments in
// rdi, rsi, rdx, r10, r8, r9; it returns in rax and overwrites rcx (return
// address) and r11 (saved flags). It never touches the user stack, hence
// `nostack`. None is `pure`: every call must really happen, in order.

/// # Safety
/// `nr` must be a call that takes no arguments and returns normally.
#[inline(always)]
pub unsafe fn syscall0(nr: usize) -> isize {
    let ret;
    // SAFETY: the caller picks a call without arguments; the asm declares
    // every register the instruction changes.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// Every pointer argument must be valid for what call `nr` does with it.
#[inline(always)]
pub unsafe fn syscall1(nr: usize, a1: usize) -> isize {
    let ret;
    // SAFETY: the caller vouches for the arguments; the asm declares every
    // register the instruction changes.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a1,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// Every pointer argument must be valid for what call `nr` does with it.
#[inline(always)]
pub unsafe fn syscall2(nr: usize, a1: usize, a2: usize) -> isize {
    let ret;
    // SAFETY: the caller vouches for the arguments; the asm declares every
    // register the instruction changes.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a1, in("rsi") a2,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// Every pointer argument must be valid for what call `nr` does with it.
#[inline(always)]
pub unsafe fn syscall3(nr: usize, a1: usize, a2: usize, a3: usize) -> isize {
    let ret;
    // SAFETY: the caller vouches for the arguments; the asm declares every
    // register the instruction changes.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a1, in("rsi") a2, in("rdx") a3,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// Every pointer argument must be valid for what call `nr` does with it.
#[inline(always)]
pub unsafe fn syscall4(nr: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret;
    // SAFETY: the caller vouches for the arguments; the asm declares every
    // register the instruction changes.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// # Safety
/// Every pointer argument must be valid for what call `nr` does with it.
#[inline(always)]
pub unsafe fn syscall6(
    nr: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    let ret;
    // SAFETY: the caller vouches for the arguments; the asm declares every
    // register the instruction changes.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4, in("r8") a5, in("r9") a6,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

// Safe wrappers: each takes Rust references, so the kernel only ever sees
// pointers to memory of the right size that lives through the call.

pub fn read(fd: i32, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    check(unsafe { syscall3(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) })
}

pub fn write(fd: i32, buf: &[u8]) -> SysResult<usize> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    check(unsafe { syscall3(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) })
}

pub fn close(fd: i32) -> SysResult<()> {
    // SAFETY: close takes no pointers; closing a descriptor the program no
    // longer uses cannot affect memory.
    check(unsafe { syscall1(nr::CLOSE, fd as usize) }).map(drop)
}

pub fn exit_group(status: u8) -> ! {
    // SAFETY: exit_group takes no pointers and never returns.
    unsafe {
        asm!("syscall", in("rax") nr::EXIT_GROUP, in("rdi") usize::from(status),
             options(noreturn, nostack));
    }
}

/// Maps `len` bytes of fresh zeroed, private, read-write memory.
pub fn mmap_anonymous(len: usize) -> SysResult<NonNull<u8>> {
    // SAFETY: with a null hint and no MAP_FIXED the kernel picks an unused
    // range, so no existing memory of this program changes.
    let ret = unsafe {
        syscall6(
            nr::MMAP,
            0,
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            usize::MAX,
            0,
        )
    };
    let addr = check(ret)?;
    NonNull::new(addr as *mut u8).ok_or(Errno::EINVAL)
}

/// # Safety
/// `addr..addr + len` must be a mapping that nothing references any more.
pub unsafe fn munmap(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is no longer used.
    check(unsafe { syscall2(nr::MUNMAP, addr.as_ptr() as usize, len) }).map(drop)
}

/// The raw `getpid` call, kept separate so that the benchmark loop and the
/// info tasks issue exactly the same instruction sequence.
#[inline(always)]
pub fn getpid() -> SysResult<usize> {
    // SAFETY: getpid takes no arguments.
    check(unsafe { syscall0(nr::GETPID) })
}

pub fn getppid() -> SysResult<usize> {
    // SAFETY: getppid takes no arguments.
    check(unsafe { syscall0(nr::GETPPID) })
}

pub fn getuid() -> SysResult<usize> {
    // SAFETY: getuid takes no arguments.
    check(unsafe { syscall0(nr::GETUID) })
}

pub fn getgid() -> SysResult<usize> {
    // SAFETY: getgid takes no arguments.
    check(unsafe { syscall0(nr::GETGID) })
}

/// `struct timespec` as the x86-64 kernel writes it.
#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

/// Nanoseconds on CLOCK_MONOTONIC.
pub fn monotonic_ns() -> SysResult<u64> {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: the kernel writes one `struct timespec` into `ts`.
    check(unsafe { syscall2(nr::CLOCK_GETTIME, CLOCK_MONOTONIC, (&raw mut ts) as usize) })?;
    // The monotonic clock is never negative; wrapping arithmetic keeps a
    // broken kernel's answer from trapping.
    Ok((ts.sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.nsec as u64))
}

/// `struct new_utsname`: six NUL-terminated fields.
#[repr(C)]
pub struct Utsname {
    pub sysname: [u8; UTS_FIELD_LEN],
    pub nodename: [u8; UTS_FIELD_LEN],
    pub release: [u8; UTS_FIELD_LEN],
    pub version: [u8; UTS_FIELD_LEN],
    pub machine: [u8; UTS_FIELD_LEN],
    pub domainname: [u8; UTS_FIELD_LEN],
}

pub fn uname() -> SysResult<Utsname> {
    let mut uts = Utsname {
        sysname: [0; UTS_FIELD_LEN],
        nodename: [0; UTS_FIELD_LEN],
        release: [0; UTS_FIELD_LEN],
        version: [0; UTS_FIELD_LEN],
        machine: [0; UTS_FIELD_LEN],
        domainname: [0; UTS_FIELD_LEN],
    };
    // SAFETY: the kernel writes one `struct new_utsname` into `uts`.
    check(unsafe { syscall1(nr::UNAME, (&raw mut uts) as usize) })?;
    Ok(uts)
}

pub fn openat(dir: i32, path: &CStr, flags: u32) -> SysResult<i32> {
    // SAFETY: `path` is NUL-terminated; no O_CREAT, so the mode is unused.
    let fd = check(unsafe {
        syscall4(
            nr::OPENAT,
            dir as usize,
            path.as_ptr() as usize,
            flags as usize,
            0,
        )
    })?;
    Ok(fd as i32)
}

/// Returns `[read end, write end]`.
pub fn pipe2(flags: u32) -> SysResult<[i32; 2]> {
    let mut fds = [-1i32; 2];
    // SAFETY: the kernel writes two ints into `fds`.
    check(unsafe { syscall2(nr::PIPE2, fds.as_mut_ptr() as usize, flags as usize) })?;
    Ok(fds)
}

/// `fork()` as a raw `clone(SIGCHLD, 0, …)`: the child gets a copy of the
/// address space and continues on (its copy of) the same stack. Returns 0 in
/// the child and the child's PID in the parent.
///
/// # Safety
/// The program must be single-threaded (it is: the workload never creates
/// threads), so the child's copy of memory is consistent.
pub unsafe fn fork() -> SysResult<usize> {
    // SAFETY: stack 0 means "keep the current stack pointer"; with no
    // CLONE_VM the child writes only to its own copy of it. The tid
    // pointers are unused without CLONE_*TID flags.
    check(unsafe { syscall6(nr::CLONE, SIGCHLD, 0, 0, 0, 0, 0) })
}

/// Reaps any one child; returns its PID. The status is not needed.
pub fn wait_any() -> SysResult<usize> {
    // SAFETY: null status and rusage pointers tell the kernel not to write
    // either.
    check(unsafe { syscall4(nr::WAIT4, usize::MAX, 0, 0, 0) })
}

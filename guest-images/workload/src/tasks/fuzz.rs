//! `fuzz SEED N`: N system calls with random numbers and hostile
//! arguments — null, kernel-half, non-canonical and unmapped pointers, huge
//! lengths, closed or negative descriptors — drawn from a fixed list by a
//! xorshift generator seeded with SEED, so a failing run can be repeated.
//!
//! The point is the kernel under the workload: in the VM the tiny kernel must
//! answer every call with a result or an errno, never panic, hang or hand
//! the fault to itself; in a container or on the host, Linux does the same.
//! The list holds only calls whose worst effect falls on this process, and
//! never a pointer into this process's own memory, so the run is harmless
//! on any backend: no `kill`, `reboot`, `fork` or `exec`, no `munmap` or
//! `mprotect` of a user address, no `close` of descriptors 0–2, no call that
//! can block.

use versus_protocol::catalog;

use super::{MAX_PARAMS, Outcome, Task};
use crate::out::{Line, STDOUT};
use crate::sys;

pub static FUZZ: Task = Task {
    spec: &catalog::FUZZ,
    run: fuzz,
};

/// What one argument of a call may be.
#[derive(Clone, Copy)]
enum Arg {
    /// A pointer the process does not own (see [`HOSTILE_POINTERS`]).
    Ptr,
    /// A hostile pointer other than null (for calls where null is a valid
    /// "no change" request that could still alter this process).
    NonNullPtr,
    /// An address no mapping of this process can start at (kernel half,
    /// non-canonical, unaligned): for `munmap`/`mprotect`/`brk`.
    BadAddr,
    /// A length: 0, small, page-sized, huge.
    Len,
    /// A descriptor above stdio: closed, negative or huge.
    Fd,
    /// A descriptor for output: 1, 2, or one of [`Arg::Fd`].
    OutFd,
    /// A directory descriptor: `AT_FDCWD` or one of [`Arg::Fd`].
    DirFd,
    /// Any 64-bit value.
    Any,
    /// A small integer (flags, codes, signal numbers): mostly below 64,
    /// often one of the `arch_prctl` codes (0x1000..0x1010), sometimes up
    /// to 0x2000.
    Small,
    /// Zero.
    Zero,
}

use Arg::{Any, BadAddr, DirFd, Fd, Len, NonNullPtr, OutFd, Ptr, Small, Zero};

/// Pointers that belong to nobody in this process: null, low unmapped
/// pages, the kernel half, non-canonical addresses, the very top.
const HOSTILE_POINTERS: [usize; 8] = [
    0,
    0x8,
    0x1000,
    0xffff_8000_0000_0000,
    0xffff_ffff_8000_0000,
    0x0000_8000_0000_0000,
    0x7fff_ffff_ffff_f000,
    usize::MAX,
];

/// Addresses no mapping can start at.
const BAD_ADDRESSES: [usize; 5] = [
    0xffff_8000_0000_0000,
    0x0000_8000_0000_0000,
    0x1001,
    0xdead_beef,
    usize::MAX,
];

const LENGTHS: [usize; 6] = [0, 1, 4096, 1 << 30, 0x7fff_ffff_ffff_ffff, usize::MAX];

/// Linux x86-64 system call numbers and what each argument may be.
const CALLS: &[(usize, &[Arg])] = &[
    (0, &[Fd, Ptr, Len]),                    // read
    (1, &[OutFd, Ptr, Len]),                 // write
    (3, &[Fd]),                              // close
    (5, &[Fd, Ptr]),                         // fstat
    (8, &[Fd, Any, Small]),                  // lseek
    (9, &[Ptr, Len, Small, Small, Fd, Any]), // mmap (never MAP_FIXED)
    (10, &[BadAddr, Len, Small]),            // mprotect
    (11, &[BadAddr, Len]),                   // munmap
    (12, &[BadAddr]),                        // brk
    (13, &[Small, NonNullPtr, Ptr, Small]),  // rt_sigaction
    (14, &[Small, NonNullPtr, Ptr, Small]),  // rt_sigprocmask
    (16, &[Fd, Any, Ptr]),                   // ioctl
    (20, &[OutFd, NonNullPtr, Small]),       // writev
    (24, &[]),                               // sched_yield
    (39, &[]),                               // getpid
    (63, &[Ptr]),                            // uname
    (79, &[Ptr, Len]),                       // getcwd
    (89, &[Ptr, Ptr, Len]),                  // readlink
    (96, &[Ptr, Ptr]),                       // gettimeofday
    (97, &[Small, Ptr]),                     // getrlimit
    (98, &[Small, Ptr]),                     // getrusage
    (99, &[Ptr]),                            // sysinfo
    (100, &[Ptr]),                           // times
    (102, &[]),                              // getuid
    (110, &[]),                              // getppid
    (158, &[Small, BadAddr]),                // arch_prctl
    (186, &[]),                              // gettid
    (204, &[Zero, Len, Ptr]),                // sched_getaffinity
    (217, &[Fd, Ptr, Len]),                  // getdents64
    (218, &[NonNullPtr]),                    // set_tid_address
    (228, &[Any, Ptr]),                      // clock_gettime
    (257, &[DirFd, Ptr, Any, Any]),          // openat
    (262, &[DirFd, Ptr, Ptr, Small]),        // newfstatat
    (273, &[NonNullPtr, Len]),               // set_robust_list
    (302, &[Zero, Small, Zero, Ptr]),        // prlimit64 (query only)
    (318, &[NonNullPtr, Len, Small]),        // getrandom
    (334, &[NonNullPtr, Small, Small, Any]), // rseq
    (463, &[Any, Any, Any]),                 // beyond the table: ENOSYS
    (1000, &[Any, Any]),                     // far beyond: ENOSYS
];

/// `MAP_FIXED` and `MAP_FIXED_NOREPLACE`: never asked for, so a hostile
/// hint cannot replace this process's own mappings.
const MAP_FIXED_BITS: usize = 0x10 | 0x10_0000;

/// xorshift64: small, deterministic, good enough to pick arguments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn arg(&mut self, kind: Arg) -> usize {
        let fd = |rng: &mut Self| -> usize {
            match rng.next() % 4 {
                0 => -1isize as usize,
                1 => 3 + (rng.next() % 1000) as usize,
                2 => i32::MAX as usize,
                _ => rng.next() as usize,
            }
        };
        match kind {
            Ptr => self.pick(&HOSTILE_POINTERS),
            NonNullPtr => self.pick(&HOSTILE_POINTERS[1..]),
            BadAddr => self.pick(&BAD_ADDRESSES),
            Len => self.pick(&LENGTHS),
            Fd => fd(self),
            OutFd => match self.next() % 3 {
                0 => 1,
                1 => 2,
                _ => fd(self),
            },
            DirFd => match self.next() % 2 {
                0 => sys::AT_FDCWD as isize as usize,
                _ => fd(self),
            },
            Any => self.next() as usize,
            Small => match self.next() % 4 {
                0 | 1 => (self.next() % 64) as usize,
                2 => 0x1000 + (self.next() % 0x10) as usize,
                _ => (self.next() % 0x2000) as usize,
            },
            Zero => 0,
        }
    }
}

fn fuzz(values: &[u64; MAX_PARAMS]) -> Outcome {
    let (seed, calls) = (values[0], values[1]);
    // xorshift must not start at zero.
    let mut rng = Rng(seed ^ 0x9E37_79B9_7F4A_7C15);
    let (mut succeeded, mut failed, mut enosys) = (0u64, 0u64, 0u64);
    for _ in 0..calls {
        let (nr, kinds) = rng.pick(CALLS);
        let mut args = [0usize; 6];
        for (slot, kind) in args.iter_mut().zip(kinds.iter()) {
            *slot = rng.arg(*kind);
        }
        if nr == 9 {
            args[3] &= !MAP_FIXED_BITS;
        }
        // SAFETY: every pointer argument is one of HOSTILE_POINTERS or
        // BAD_ADDRESSES, which this process does not own; no call in CALLS
        // can end, block or replace this process's memory (see the module
        // docs): the worst any can do is fail.
        let ret =
            unsafe { sys::syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
        match sys::check(ret) {
            Ok(address) => {
                succeeded += 1;
                if nr == 9 {
                    // A mapping we asked for (never fixed): give it back.
                    // SAFETY: `address` and `args[1]` describe the mapping
                    // the kernel just created for this call, used by nobody.
                    let _ = unsafe { sys::syscall2(sys::nr::MUNMAP, address, args[1]) };
                }
            }
            Err(sys::Errno::ENOSYS) => enosys += 1,
            Err(_) => failed += 1,
        }
    }
    Line::result("fuzz")
        .field_dec("seed", seed)
        .field_dec("calls", calls)
        .field_dec("succeeded", succeeded)
        .field_dec("failed", failed)
        .field_dec("enosys", enosys)
        .emit(STDOUT)?;
    Ok(())
}

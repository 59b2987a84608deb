//! `clone3` with `CLONE_INTO_CGROUP`: the child starts life in the container's
//! unified (v2) cgroup instead of being moved there afterwards.
//!
//! Writing a pid into `cgroup.procs` takes the write side of the kernel's global
//! `cgroup_threadgroup_rwsem`, a per-CPU rwsem whose writer first waits an RCU grace
//! period unless a writer came moments before (several milliseconds on a quiet host).
//! A fork into a cgroup (Linux ≥ 5.7, `cgroup_can_fork`/`cgroup_post_fork`) takes only
//! its read side, as every fork does: no grace period. glibc has no wrapper for a
//! fork-like `clone3` (its own one always switches stacks), so this is the raw system
//! call with no stack: the child continues on its copy of the parent's stack, like
//! after `fork`.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// `CLONE_INTO_CGROUP` (include/uapi/linux/sched.h, Linux 5.7): `cgroup` in
/// [`CloneArgs`] is a directory descriptor of the cgroup v2 directory to start in.
/// It does not fit the `int` of `clone(2)`'s flags, which is why only `clone3` has it.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` as of Linux 5.7 (`CLONE_ARGS_SIZE_VER2`, 88 bytes): the size
/// passed to the kernel tells it which fields exist; an older kernel answers `E2BIG`.
#[repr(C)]
#[derive(Debug, Default)]
struct CloneArgs {
    flags: u64,
    /// Where the kernel stores the child's pidfd (`CLONE_PIDFD`).
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    /// 0: the child runs on (its copy of) the caller's stack.
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    /// The cgroup directory descriptor (`CLONE_INTO_CGROUP`).
    cgroup: u64,
}

/// Which side of the fork this is.
#[derive(Debug)]
pub(super) enum Forked {
    /// The new process, already in the cgroup.
    Child,
    /// The caller, with the child's pid and a pidfd for it.
    Parent { pid: Pid, pidfd: OwnedFd },
}

/// Whether a failed `clone3` into the cgroup should be retried the classic way
/// (`clone`, then a `cgroup.procs` write) rather than reported: the kernel lacks
/// `clone3` or `CLONE_INTO_CGROUP` (`ENOSYS`, `E2BIG`, `EINVAL`), a sandbox filters it
/// (Docker's seccomp profile answers `ENOSYS`), or the cgroup refuses a fork into it
/// where it would accept a migration (`EACCES`/`EPERM` rootless: delegation rules
/// differ; `EBUSY`/`EOPNOTSUPP`: a directory that is not a plain domain leaf). A
/// genuine failure, e.g. a namespace the user may not create, fails the classic
/// `clone` again and is reported from there.
pub(super) fn falls_back_to_cgroup_procs(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::ENOSYS
            | Errno::E2BIG
            | Errno::EINVAL
            | Errno::EACCES
            | Errno::EPERM
            | Errno::EBUSY
            | Errno::EOPNOTSUPP
    )
}

/// Forks into the namespaces `flags` and into the cgroup v2 directory `cgroup`, with
/// `SIGCHLD` as exit signal and a pidfd for the parent.
///
/// # Safety
///
/// This is `fork` without glibc's fork handlers: in the child, locks that other
/// threads of the caller held (the allocator's among them) stay locked forever. On
/// [`Forked::Child`] the caller must therefore run only code that allocates nothing
/// and takes no lock, and end with `execve` or `_exit` — never return into code that
/// assumes it is the parent.
pub(super) unsafe fn fork_into_cgroup(
    flags: CloneFlags,
    cgroup: BorrowedFd<'_>,
) -> Result<Forked, Errno> {
    let mut pidfd: RawFd = -1;
    let args = CloneArgs {
        flags: flags.bits() as u64 | libc::CLONE_PIDFD as u64 | CLONE_INTO_CGROUP,
        pidfd: std::ptr::from_mut(&mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed, `pidfd` outlives the
    // call; with no stack and no CLONE_VM the child gets its own copy of this memory
    // and continues here like after fork. The caller upholds the contract above for
    // what the child runs next.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::from_ref(&args),
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match rc {
        0 => Ok(Forked::Child),
        pid if pid > 0 => Ok(Forked::Parent {
            pid: Pid::from_raw(pid as libc::pid_t),
            // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor that
            // nothing else owns.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
        _ => Err(Errno::last()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_args_has_the_size_of_linux_5_7() {
        // CLONE_ARGS_SIZE_VER2: the kernel reads `cgroup` only from a struct this big.
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
        assert_eq!(std::mem::offset_of!(CloneArgs, cgroup), 80);
    }

    #[test]
    fn old_kernels_and_refusing_cgroups_fall_back_and_real_errors_do_not() {
        for errno in [Errno::ENOSYS, Errno::E2BIG, Errno::EINVAL, Errno::EPERM] {
            assert!(falls_back_to_cgroup_procs(errno), "{errno}");
        }
        for errno in [Errno::ENOSPC, Errno::ENOMEM, Errno::EUSERS, Errno::EAGAIN] {
            assert!(!falls_back_to_cgroup_procs(errno), "{errno}");
        }
    }
}

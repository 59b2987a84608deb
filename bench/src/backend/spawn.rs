//! Starting a host process the way `posix_spawn` does — `clone` with
//! `CLONE_VM | CLONE_VFORK`, so nothing of versus' memory is copied and
//! versus waits only until the `execve` — with one thing `posix_spawn`
//! cannot do: the parent-death signal. The child asks for SIGKILL when
//! versus dies (`PR_SET_PDEATHSIG`), so not even a `kill -9` of versus leaves
//! the workload running.
//!
//! `std::process::Command` can set the signal only through `pre_exec`, and
//! that makes it `fork` instead: measured here, that doubled the host
//! launch (spawn about 480 µs instead of 270 µs), and the host launch is
//! the baseline every other backend is compared with.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};

/// The child's stack: it only makes system calls before its `execve`.
const CHILD_STACK_BYTES: usize = 64 * 1024;

/// What the child needs, all prepared by the parent: the child runs on
/// versus' own memory and must neither allocate nor take a lock.
struct ChildPlan {
    path: CString,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    /// Descriptors for 0, 1 and 2, each above 2.
    stdio: [RawFd; 3],
    /// versus' pid: if the child's parent is another by the time the
    /// parent-death signal is set, versus has already died.
    parent: libc::pid_t,
    /// The errno of the step that failed (0: `execve` succeeded).
    error: AtomicI32,
}

/// Starts `path` with `args` (argv\[0\] first) and versus' environment,
/// in a new process group whose id is its pid; stdin, stdout and stderr are
/// the given descriptors. Returns the pid once the `execve` has succeeded.
pub(crate) fn spawn(
    path: &OsStr,
    args: &[&OsStr],
    stdin: BorrowedFd<'_>,
    stdout: BorrowedFd<'_>,
    stderr: BorrowedFd<'_>,
) -> io::Result<libc::pid_t> {
    let c_string = |text: &OsStr| {
        CString::new(text.as_bytes()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "an argument holds a NUL byte")
        })
    };
    let argv_strings: Vec<CString> = args.iter().map(|a| c_string(a)).collect::<Result<_, _>>()?;
    let env_strings: Vec<CString> = std::env::vars_os()
        .map(|(key, value)| {
            let mut pair = key.into_encoded_bytes();
            pair.push(b'=');
            pair.extend_from_slice(value.as_encoded_bytes());
            CString::new(pair)
        })
        .filter_map(Result::ok)
        .collect();
    // Descriptors 0–2 of the child are made with dup2 from these; copies
    // above 2 make sure no dup2 overwrites the source of another (versus
    // may itself have been started with a closed stdin).
    let high = |fd: BorrowedFd<'_>| -> io::Result<OwnedFd> {
        // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor from a valid one.
        let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `copy` was just returned by fcntl and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(copy) })
    };
    let (stdin, stdout, stderr) = (high(stdin)?, high(stdout)?, high(stderr)?);
    let plan = ChildPlan {
        path: c_string(path)?,
        argv: null_terminated(&argv_strings),
        envp: null_terminated(&env_strings),
        stdio: [stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()],
        // SAFETY: getpid cannot fail and has no memory effects.
        parent: unsafe { libc::getpid() },
        error: AtomicI32::new(0),
    };
    let mut stack = vec![0u8; CHILD_STACK_BYTES];
    // SAFETY: the stack grows down from its end, which is 16-byte aligned
    // after rounding; the buffer outlives the child's use of it because
    // CLONE_VFORK suspends this thread until the child has exec'd or exited.
    let stack_top = unsafe { stack.as_mut_ptr().add(CHILD_STACK_BYTES) };
    let stack_top = (stack_top as usize & !0xf) as *mut libc::c_void;
    // No signal handler of versus may run on the child's stack between
    // clone and execve: block everything around the clone; the child
    // restores the mask just before its execve.
    let mut all: libc::sigset_t = blank_sigset();
    let mut previous: libc::sigset_t = blank_sigset();
    // SAFETY: `all` is valid for writes; sigfillset cannot fail.
    unsafe { libc::sigfillset(&mut all) };
    // SAFETY: both sets are valid; this changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut previous) };
    let context = (&plan, &previous);
    // SAFETY: `child_main` only makes system calls with pointers into
    // `plan` and `previous`, which live until clone returns (CLONE_VFORK:
    // after the child's execve or exit); CLONE_VM shares memory, so it
    // allocates nothing and takes no lock.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack_top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&context as *const (&ChildPlan, &libc::sigset_t))
                .cast_mut()
                .cast(),
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restores this thread's own mask, saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut()) };
    drop(stack);
    if pid < 0 {
        return Err(clone_error);
    }
    match plan.error.load(Ordering::SeqCst) {
        0 => Ok(pid),
        errno => {
            // The child has exited already (CLONE_VFORK); reap it.
            let mut status = 0;
            // SAFETY: `pid` is our child; status is valid for writes.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn blank_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; all zero is the empty set on Linux.
    unsafe { std::mem::zeroed() }
}

/// The child, between `clone` and `execve`. Returns only on failure (its
/// exit status); what failed is in `plan.error`.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's `(plan, mask)` pair, alive and
    // unchanged while the parent is suspended (CLONE_VFORK).
    let (plan, mask) = unsafe { *(arg as *const (&ChildPlan, &libc::sigset_t)) };
    let fail = |errno: libc::c_int| -> libc::c_int {
        plan.error.store(errno.max(1), Ordering::SeqCst);
        // SAFETY: _exit ends only this child and runs no atexit handlers.
        unsafe { libc::_exit(127) }
    };
    let last_errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    // 1. SIGKILL when versus dies; if it already has, end now.
    // SAFETY: prctl with a plain signal number has no memory effects.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return fail(last_errno());
    }
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } != plan.parent {
        return fail(libc::ESRCH);
    }
    // 1b. A process group of its own, led by the program: whatever it
    //     forks stays in the group, and versus kills the group when the
    //     program exits (see `backend/host.rs`), as a container's PID-1
    //     exit ends its namespace.
    // SAFETY: setpgid on the calling process has no memory effects.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        return fail(last_errno());
    }
    // 2. stdin, stdout, stderr (dup2 clears close-on-exec on the copies).
    for (target, &source) in plan.stdio.iter().enumerate() {
        // SAFETY: dup2 between descriptors the parent keeps open.
        if unsafe { libc::dup2(source, target as libc::c_int) } < 0 {
            return fail(last_errno());
        }
    }
    // 3. Signals: Rust ignores SIGPIPE, and an ignored signal stays ignored
    //    across execve; give the program the default, as Command does.
    //    Then the mask the parent had before the clone.
    // SAFETY: resetting a disposition to the default is always valid.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // SAFETY: `mask` is the parent's saved set, valid for the read.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
    // 4. execve; every other descriptor of versus is close-on-exec.
    // SAFETY: path, argv and envp are NUL-terminated C strings and
    // pointer arrays owned by the suspended parent.
    unsafe { libc::execve(plan.path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr()) };
    fail(last_errno())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    #[test]
    fn a_spawned_program_gets_its_arguments_output_and_exit_status() {
        let (mut out_read, out_write) = std::io::pipe().unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        let args = ["sh", "-c", "echo \"$0 $1\"; exit 3", "zero", "one"].map(OsStr::new);
        let pid = spawn(
            OsStr::new("/bin/sh"),
            &args,
            null.as_fd(),
            out_write.as_fd(),
            out_write.as_fd(),
        )
        .unwrap();
        drop(out_write);
        let mut text = String::new();
        out_read.read_to_string(&mut text).unwrap();
        assert_eq!(text, "zero one\n");
        let mut status = 0;
        // SAFETY: `pid` is our child; status is valid for writes.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert_eq!(libc::WEXITSTATUS(status), 3);
    }

    #[test]
    fn a_failed_exec_is_an_error_with_its_errno() {
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = null.as_fd();
        let error = spawn(
            OsStr::new("/nonexistent/program"),
            &[OsStr::new("x")],
            fd,
            fd,
            fd,
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}

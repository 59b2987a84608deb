//! Linux error numbers the kernel answers with (system calls return
//! `-errno`).

/// An error number.
pub type Errno = u64;

/// Operation not permitted.
pub const EPERM: Errno = 1;
/// No such file or directory.
pub const ENOENT: Errno = 2;
/// Bad file descriptor.
pub const EBADF: Errno = 9;
/// Out of memory.
pub const ENOMEM: Errno = 12;
/// Bad address.
pub const EFAULT: Errno = 14;
/// Invalid argument.
pub const EINVAL: Errno = 22;
/// Not a terminal.
pub const ENOTTY: Errno = 25;
/// No such process.
pub const ESRCH: Errno = 3;
/// Input/output error.
pub const EIO: Errno = 5;
/// Try again (a futex word that no longer holds the expected value).
pub const EAGAIN: Errno = 11;
/// Result too large (a `getcwd` buffer too small).
pub const ERANGE: Errno = 34;
/// Deadlock (waiting on a futex nothing could ever wake).
pub const EDEADLK: Errno = 35;
/// Timed out.
pub const ETIMEDOUT: Errno = 110;
/// Function not implemented.
pub const ENOSYS: Errno = 38;
/// No such device.
pub const ENODEV: Errno = 19;
/// Not a directory.
pub const ENOTDIR: Errno = 20;
/// Is a directory.
pub const EISDIR: Errno = 21;
/// Too many open files.
pub const EMFILE: Errno = 24;
/// Illegal seek (on the console).
pub const ESPIPE: Errno = 29;
/// Read-only file system.
pub const EROFS: Errno = 30;
/// File name too long.
pub const ENAMETOOLONG: Errno = 36;
/// Too many levels of symbolic links.
pub const ELOOP: Errno = 40;

/// The return value for `errno`: `-errno` as the register holds it.
pub const fn neg(errno: Errno) -> u64 {
    errno.wrapping_neg()
}

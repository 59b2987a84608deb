//! What the process can see about itself: kernel identity, its own ids,
//! and its capability and seccomp state.

use versus_protocol::catalog;

use super::{MAX_PARAMS, Outcome, Task};
use crate::out::{Line, STDOUT};
use crate::sys::{self, AT_FDCWD, O_CLOEXEC, O_RDONLY};

/// A `uname` field up to its NUL (or all 65 bytes if a kernel forgot it).
fn uts_field(field: &[u8]) -> &[u8] {
    let len = field
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(field.len());
    field.get(..len).unwrap_or_default()
}

pub static UNAME: Task = Task {
    spec: &catalog::UNAME,
    run: uname,
};

/// The kernel's identity: tells the host kernel, a container (same kernel,
/// own hostname) and a VM (another kernel) apart.
fn uname(_: &[u64; MAX_PARAMS]) -> Outcome {
    let uts = sys::uname()?;
    Line::result("uname")
        .field("sysname", uts_field(&uts.sysname))
        .field("nodename", uts_field(&uts.nodename))
        .field("release", uts_field(&uts.release))
        .field("version", uts_field(&uts.version))
        .field("machine", uts_field(&uts.machine))
        .emit(STDOUT)?;
    Ok(())
}

pub static IDS: Task = Task {
    spec: &catalog::IDS,
    run: ids,
};

/// The process' view of its identity: in a PID namespace it is PID 1 with
/// parent 0; in a user namespace its uid may be 0 without being root.
fn ids(_: &[u64; MAX_PARAMS]) -> Outcome {
    let pid = sys::getpid()?;
    let ppid = sys::getppid()?;
    let uid = sys::getuid()?;
    let gid = sys::getgid()?;
    let uts = sys::uname()?;
    Line::result("ids")
        .field_dec("pid", pid as u64)
        .field_dec("ppid", ppid as u64)
        .field_dec("uid", uid as u64)
        .field_dec("gid", gid as u64)
        .field("hostname", uts_field(&uts.nodename))
        .emit(STDOUT)?;
    Ok(())
}

pub static STATUS: Task = Task {
    spec: &catalog::STATUS,
    run: status,
};

/// `/proc/self/status` is about 1.5 KB; anything past 8 KiB is ignored.
const STATUS_BUF: usize = 8192;

/// (field in the output, key in /proc/self/status)
const STATUS_FIELDS: [(&str, &[u8]); 6] = [
    ("cap_eff", b"CapEff"),
    ("cap_prm", b"CapPrm"),
    ("cap_bnd", b"CapBnd"),
    ("no_new_privs", b"NoNewPrivs"),
    ("seccomp", b"Seccomp"),
    ("seccomp_filters", b"Seccomp_filters"),
];

/// The privileges the process really holds, as the kernel reports them:
/// effective/permitted/bounding capability sets, no_new_privs and seccomp.
/// No /proc (the tiny kernel, a bare container) is an answer, not an error.
fn status(_: &[u64; MAX_PARAMS]) -> Outcome {
    let fd = match sys::openat(AT_FDCWD, c"/proc/self/status", O_RDONLY | O_CLOEXEC) {
        Ok(fd) => fd,
        Err(errno) => {
            Line::result("status")
                .field_errno("unavailable", errno)
                .emit(STDOUT)?;
            return Ok(());
        }
    };
    let mut buf = [0u8; STATUS_BUF];
    let read = read_all(fd, &mut buf);
    // A close error after a complete read changes nothing we report.
    let _ = sys::close(fd);
    let text = buf.get(..read?).unwrap_or_default();

    let mut line = Line::result("status");
    for (field, key) in STATUS_FIELDS {
        line.field(field, lookup(text, key).unwrap_or(b"unknown"));
    }
    line.emit(STDOUT)?;
    Ok(())
}

/// Reads until end of file or a full buffer; returns the length read.
fn read_all(fd: i32, buf: &mut [u8]) -> sys::SysResult<usize> {
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|rest| !rest.is_empty()) {
        match sys::read(fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(sys::Errno::EINTR) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(len)
}

/// The value of `Key:\tvalue` in /proc's `status` format, trimmed.
fn lookup<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    text.split(|&byte| byte == b'\n').find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(b":")?;
        Some(value.trim_ascii())
    })
}

//! The seam between the container's setup logic and the kernel.
//!
//! Everything the child does between `clone` and `execve` — mounts, `pivot_root`,
//! `sethostname`, bringing `lo` up, capabilities, `no_new_privs`, seccomp — goes through
//! the [`Syscall`] trait. [`LinuxSyscall`] makes the real calls; in the unit tests a
//! recording fake stands in, so the exact sequence of a setup is checked without root.
//!
//! The real implementation is used in the child after `clone`, where the parent may
//! have had other threads: it therefore allocates nothing (paths arrive as prepared
//! `CStr`s, errors as bare `Errno`s).

use std::ffi::CStr;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use seccompiler::sock_filter;

/// What a step returns: nothing, or the kernel's error number.
pub type SysResult = Result<(), Errno>;

/// The calls the child makes to set itself up.
pub trait Syscall {
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> SysResult;
    /// Makes the mount at `target` read-only with a bind remount that keeps the flags
    /// the kernel locks in a user namespace (nosuid, nodev, noexec, atime flags).
    fn remount_read_only(&self, target: &CStr) -> SysResult;
    /// Remounts the bind mount at `target` `nodev`, keeping its other flags.
    fn remount_nodev(&self, target: &CStr) -> SysResult;
    /// `umount2(2)`.
    fn umount2(&self, target: &CStr, flags: MntFlags) -> SysResult;
    /// `pivot_root(2)`.
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult;
    /// `chdir(2)`.
    fn chdir(&self, path: &CStr) -> SysResult;
    /// `mkdir(2)` followed by `chmod` to exactly `mode`.
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult;
    /// Creates `path` (it must not exist), writes `data`, sets exactly `mode`.
    fn write_file(&self, path: &CStr, data: &[u8], mode: u32) -> SysResult;
    /// `symlink(2)`: `link` points to `target`.
    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult;
    /// `sethostname(2)`.
    fn sethostname(&self, name: &CStr) -> SysResult;
    /// Sets `IFF_UP` on `lo` with `SIOCSIFFLAGS` on a datagram socket.
    fn loopback_up(&self) -> SysResult;
    /// `unshare(2)`.
    fn unshare(&self, flags: CloneFlags) -> SysResult;
    /// `setresgid(0, 0, 0)` and `setresuid(0, 0, 0)`: become the user namespace's root.
    fn become_root(&self) -> SysResult;
    /// `setgroups(0, NULL)`: no supplementary groups.
    fn clear_groups(&self) -> SysResult;
    /// `setresgid(gid, gid, gid)` then `setresuid(uid, uid, uid)`: become `--user`.
    fn set_user(&self, uid: u32, gid: u32) -> SysResult;
    /// `prctl(PR_CAPBSET_DROP, cap)`.
    fn drop_bounding(&self, cap: u8) -> SysResult;
    /// `capset(2)` of the three base sets at once.
    fn set_capabilities(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult;
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`.
    fn clear_ambient(&self) -> SysResult;
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    fn set_no_new_privs(&self) -> SysResult;
    /// `seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)`.
    fn install_seccomp(&self, program: &[sock_filter]) -> SysResult;
}

/// The real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSyscall;

fn check(rc: libc::c_long) -> SysResult {
    if rc < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// `struct ifreq` with the flags member (`linux/if.h`): 16-byte name, then a 24-byte union.
#[repr(C)]
struct IfreqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// `_LINUX_CAPABILITY_VERSION_3`.
const CAP_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Bind-remounts `target` with `add` on top of the flags it has: a bind remount
/// replaces the per-mount flags, and in a user namespace the kernel refuses one that
/// would clear a locked flag (nosuid, nodev, noexec, read-only, atime flags).
fn remount_adding(target: &CStr, add: MsFlags) -> SysResult {
    // SAFETY: `st` is plain old data that statvfs fills; `target` is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path pointer and a valid out-pointer.
    check(unsafe { libc::statvfs(target.as_ptr(), &mut st) }.into())?;
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | add;
    for (st_flag, ms) in [
        (libc::ST_RDONLY, MsFlags::MS_RDONLY),
        (libc::ST_NOSUID, MsFlags::MS_NOSUID),
        (libc::ST_NODEV, MsFlags::MS_NODEV),
        (libc::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (libc::ST_NOATIME, MsFlags::MS_NOATIME),
        (libc::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (libc::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms;
        }
    }
    nix::mount::mount(None::<&CStr>, target, None::<&CStr>, flags, None::<&CStr>)
}

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> SysResult {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn remount_read_only(&self, target: &CStr) -> SysResult {
        remount_adding(target, MsFlags::MS_RDONLY)
    }

    fn remount_nodev(&self, target: &CStr) -> SysResult {
        remount_adding(target, MsFlags::MS_NODEV)
    }

    fn umount2(&self, target: &CStr, flags: MntFlags) -> SysResult {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &CStr) -> SysResult {
        nix::unistd::chdir(path)
    }

    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult {
        // SAFETY: NUL-terminated path.
        check(unsafe { libc::mkdir(path.as_ptr(), mode) }.into())?;
        // SAFETY: NUL-terminated path; mkdir's mode is reduced by the umask, chmod is not.
        check(unsafe { libc::chmod(path.as_ptr(), mode) }.into())
    }

    fn write_file(&self, path: &CStr, data: &[u8], mode: u32) -> SysResult {
        // SAFETY: NUL-terminated path; the flags create a new file only.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                mode,
            )
        };
        if fd < 0 {
            return Err(Errno::last());
        }
        let mut rest = data;
        let mut result = Ok(());
        while !rest.is_empty() {
            // SAFETY: `rest` is a valid readable buffer of the given length; fd is open.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n < 0 {
                let e = Errno::last();
                if e == Errno::EINTR {
                    continue;
                }
                result = Err(e);
                break;
            }
            rest = &rest[n as usize..];
        }
        if result.is_ok() {
            // SAFETY: fd is open; fchmod sets the exact mode (the umask reduced open's).
            result = check(unsafe { libc::fchmod(fd, mode) }.into());
        }
        // SAFETY: fd is open and owned here.
        unsafe { libc::close(fd) };
        result
    }

    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult {
        // SAFETY: both are NUL-terminated.
        check(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) }.into())
    }

    fn sethostname(&self, name: &CStr) -> SysResult {
        let bytes = name.to_bytes();
        // SAFETY: pointer and length describe `bytes`.
        check(unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) }.into())
    }

    fn loopback_up(&self) -> SysResult {
        // SAFETY: plain socket creation.
        let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if sock < 0 {
            return Err(Errno::last());
        }
        let mut req = IfreqFlags {
            name: [0; libc::IFNAMSIZ],
            flags: 0,
            _pad: [0; 22],
        };
        req.name[..2].copy_from_slice(b"lo");
        // SAFETY: `req` is a valid ifreq-sized buffer for SIOCGIFFLAGS.
        let mut rc = unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS as _, &mut req) };
        if rc == 0 {
            req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            // SAFETY: as above, for SIOCSIFFLAGS.
            rc = unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS as _, &req) };
        }
        let result = if rc < 0 { Err(Errno::last()) } else { Ok(()) };
        // SAFETY: `sock` is open and owned here.
        unsafe { libc::close(sock) };
        result
    }

    fn unshare(&self, flags: CloneFlags) -> SysResult {
        nix::sched::unshare(flags)
    }

    // Raw system calls, not glibc's wrappers: glibc's set*id/setgroups broadcast the
    // change to every thread it believes exists ("setxid"), and in a child cloned from a
    // multi-threaded launcher those threads are not there: the wrapper waits forever.
    fn become_root(&self) -> SysResult {
        // SAFETY: plain id changes, checked by the kernel.
        check(unsafe { libc::syscall(libc::SYS_setresgid, 0, 0, 0) })?;
        // SAFETY: as above.
        check(unsafe { libc::syscall(libc::SYS_setresuid, 0, 0, 0) })
    }

    fn set_user(&self, uid: u32, gid: u32) -> SysResult {
        // Raw calls, as in `become_root`. The group first: once the uid is not 0, the
        // capability to change the group is gone.
        // SAFETY: plain id changes, checked by the kernel.
        check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
        // SAFETY: as above.
        check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })
    }

    fn clear_groups(&self) -> SysResult {
        // SAFETY: size 0 with a null list clears the supplementary groups (raw call: see
        // `become_root`).
        check(unsafe { libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) })
    }

    fn drop_bounding(&self, cap: u8) -> SysResult {
        // SAFETY: prctl with integer arguments only.
        check(
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) }.into(),
        )
    }

    fn set_capabilities(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult {
        let mut header = CapHeader {
            version: CAP_V3,
            pid: 0,
        };
        let data = [
            CapData {
                effective: effective as u32,
                permitted: permitted as u32,
                inheritable: inheritable as u32,
            },
            CapData {
                effective: (effective >> 32) as u32,
                permitted: (permitted >> 32) as u32,
                inheritable: (inheritable >> 32) as u32,
            },
        ];
        // SAFETY: version 3 takes a header and two data structs, both valid here.
        check(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) })
    }

    fn clear_ambient(&self) -> SysResult {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        match check(rc.into()) {
            // Kernels before 4.3 have no ambient set: nothing to clear.
            Err(Errno::EINVAL) => Ok(()),
            other => other,
        }
    }

    fn set_no_new_privs(&self) -> SysResult {
        // SAFETY: prctl with integer arguments only.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.into())
    }

    fn install_seccomp(&self, program: &[sock_filter]) -> SysResult {
        let prog = libc::sock_fprog {
            len: program.len() as libc::c_ushort,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `program`, which outlives the call; the kernel copies it.
        check(unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        })
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A [`Syscall`] that records every call as a line of text and succeeds, or fails
    //! with a chosen errno on the first call whose text contains a chosen fragment.

    use super::*;
    use std::cell::RefCell;

    #[derive(Debug, Default)]
    pub(crate) struct RecordingSyscall {
        pub(crate) calls: RefCell<Vec<String>>,
        pub(crate) fail: Option<(String, Errno)>,
    }

    impl RecordingSyscall {
        pub(crate) fn failing_at(fragment: &str, errno: Errno) -> Self {
            Self {
                calls: RefCell::default(),
                fail: Some((fragment.to_owned(), errno)),
            }
        }

        pub(crate) fn calls(&self) -> Vec<String> {
            self.calls.borrow().clone()
        }

        fn record(&self, line: String) -> SysResult {
            let fail = matches!(&self.fail, Some((frag, _)) if line.contains(frag.as_str()));
            self.calls.borrow_mut().push(line);
            match (&self.fail, fail) {
                (Some((_, e)), true) => Err(*e),
                _ => Ok(()),
            }
        }
    }

    fn s(c: &CStr) -> String {
        c.to_string_lossy().into_owned()
    }

    fn o(c: Option<&CStr>) -> String {
        c.map(s).unwrap_or_else(|| "-".into())
    }

    fn flags(f: MsFlags) -> String {
        let mut names: Vec<&str> = f.iter_names().map(|(n, _)| n).collect();
        if names.is_empty() {
            names.push("0");
        }
        names.join("|")
    }

    impl Syscall for RecordingSyscall {
        fn mount(
            &self,
            source: Option<&CStr>,
            target: &CStr,
            fstype: Option<&CStr>,
            f: MsFlags,
            data: Option<&CStr>,
        ) -> SysResult {
            self.record(format!(
                "mount {} {} {} {} {}",
                o(source),
                s(target),
                o(fstype),
                flags(f),
                o(data)
            ))
        }
        fn remount_read_only(&self, target: &CStr) -> SysResult {
            self.record(format!("remount_ro {}", s(target)))
        }
        fn remount_nodev(&self, target: &CStr) -> SysResult {
            self.record(format!("remount_nodev {}", s(target)))
        }
        fn umount2(&self, target: &CStr, f: MntFlags) -> SysResult {
            let names: Vec<&str> = f.iter_names().map(|(n, _)| n).collect();
            self.record(format!("umount2 {} {}", s(target), names.join("|")))
        }
        fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult {
            self.record(format!("pivot_root {} {}", s(new_root), s(put_old)))
        }
        fn chdir(&self, path: &CStr) -> SysResult {
            self.record(format!("chdir {}", s(path)))
        }
        fn mkdir(&self, path: &CStr, mode: u32) -> SysResult {
            self.record(format!("mkdir {} {mode:o}", s(path)))
        }
        fn write_file(&self, path: &CStr, data: &[u8], mode: u32) -> SysResult {
            self.record(format!("write {} {}B {mode:o}", s(path), data.len()))
        }
        fn symlink(&self, target: &CStr, link: &CStr) -> SysResult {
            self.record(format!("symlink {} -> {}", s(link), s(target)))
        }
        fn sethostname(&self, name: &CStr) -> SysResult {
            self.record(format!("sethostname {}", s(name)))
        }
        fn loopback_up(&self) -> SysResult {
            self.record("loopback_up".into())
        }
        fn unshare(&self, f: CloneFlags) -> SysResult {
            let names: Vec<&str> = f.iter_names().map(|(n, _)| n).collect();
            self.record(format!("unshare {}", names.join("|")))
        }
        fn become_root(&self) -> SysResult {
            self.record("setresgid 0; setresuid 0".into())
        }
        fn clear_groups(&self) -> SysResult {
            self.record("setgroups []".into())
        }
        fn set_user(&self, uid: u32, gid: u32) -> SysResult {
            self.record(format!("setresgid {gid}; setresuid {uid}"))
        }
        fn drop_bounding(&self, cap: u8) -> SysResult {
            self.record(format!("capbset_drop {cap}"))
        }
        fn set_capabilities(&self, e: u64, p: u64, i: u64) -> SysResult {
            self.record(format!("capset eff={e:016x} prm={p:016x} inh={i:016x}"))
        }
        fn clear_ambient(&self) -> SysResult {
            self.record("ambient_clear".into())
        }
        fn set_no_new_privs(&self) -> SysResult {
            self.record("no_new_privs".into())
        }
        fn install_seccomp(&self, program: &[sock_filter]) -> SysResult {
            self.record(format!("seccomp {} instructions", program.len()))
        }
    }
}

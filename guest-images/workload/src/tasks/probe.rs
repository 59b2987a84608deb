//! Privileged operations, attempted harmlessly, to show what isolation
//! allows. Each call is built so that the kernel checks permission first
//! and then rejects an argument that is invalid on purpose:
//!
//! * a caller without the privilege (or behind a seccomp filter) gets EPERM;
//! * a privileged caller gets a harmless error (EINVAL, ENOENT, …) from the
//!   argument check that follows — the operation itself never happens.
//!
//! The check orders were read in the Linux sources (fs/namespace.c,
//! kernel/reboot.c, kernel/sys.c, kernel/kexec.c, kernel/module/main.c);
//! docs/en/workload.md explains each one.

use versus_protocol::catalog;

use super::{MAX_PARAMS, Outcome, Task};
use crate::out::{Line, STDOUT};
use crate::sys::{self, O_NONBLOCK, check, nr};

pub static PROBE: Task = Task {
    spec: &catalog::PROBE,
    run: probe,
};

const MNT_DETACH: usize = 2;
const MNT_EXPIRE: usize = 4;
const LINUX_REBOOT_MAGIC1: usize = 0xfee1_dead;
/// Not one of the four accepted second magic numbers.
const WRONG_MAGIC2: usize = 0;
const LINUX_REBOOT_CMD_CAD_OFF: usize = 0;
/// The kernel's hostname limit (`__NEW_UTS_LEN`) is 64 bytes.
const TOO_LONG_HOSTNAME: usize = 65;
/// `KEXEC_SEGMENT_MAX` is 16. Never 0: zero segments means "unload the
/// loaded kexec image", which a privileged caller would actually do.
const TOO_MANY_SEGMENTS: usize = 17;

fn probe(_: &[u64; MAX_PARAMS]) -> Outcome {
    // mount(NULL, "/", NULL, 0, NULL): after may_mount() passes, a new mount
    // without a filesystem type is rejected (EINVAL).
    // SAFETY: the target is a NUL-terminated string; the null source, type
    // and data pointers are valid "absent" values for mount(2).
    let mount = check(unsafe { sys::syscall6(nr::MOUNT, 0, c"/".as_ptr() as usize, 0, 0, 0, 0) });

    // umount2("/", MNT_EXPIRE | MNT_DETACH): after may_mount() passes,
    // do_umount() refuses MNT_EXPIRE together with MNT_DETACH, and also for
    // the caller's root (EINVAL). A missing path would not do: since Linux
    // 5.9 the path is looked up before the permission check, so an
    // unprivileged caller would see ENOENT instead of EPERM.
    // SAFETY: the path is a NUL-terminated string.
    let umount2 = check(unsafe {
        sys::syscall2(nr::UMOUNT2, c"/".as_ptr() as usize, MNT_EXPIRE | MNT_DETACH)
    });

    // reboot(MAGIC1, wrong magic2, CAD_OFF, NULL): CAP_SYS_BOOT is checked
    // before the magic numbers (EINVAL); the command is never looked at.
    // SAFETY: no pointer is dereferenced (the argument pointer is null and
    // unused by CAD_OFF).
    let reboot = check(unsafe {
        sys::syscall4(
            nr::REBOOT,
            LINUX_REBOOT_MAGIC1,
            WRONG_MAGIC2,
            LINUX_REBOOT_CMD_CAD_OFF,
            0,
        )
    });

    // sethostname(buf, 65): CAP_SYS_ADMIN (in the UTS namespace's owner)
    // is checked before the length (EINVAL); the name is never copied.
    let name = [b'v'; TOO_LONG_HOSTNAME];
    // SAFETY: `name` is readable for the length passed.
    let sethostname =
        check(unsafe { sys::syscall2(nr::SETHOSTNAME, name.as_ptr() as usize, name.len()) });

    // kexec_load(0, 17, NULL, 0): CAP_SYS_BOOT is checked before the
    // segment count (EINVAL); the null segment list is never read.
    // SAFETY: no pointer is dereferenced (see above).
    let kexec_load = check(unsafe { sys::syscall4(nr::KEXEC_LOAD, 0, TOO_MANY_SEGMENTS, 0, 0) });

    // delete_module("versus_probe_nonexistent", O_NONBLOCK): CAP_SYS_MODULE
    // is checked before the name is looked up (ENOENT).
    // SAFETY: the name is a NUL-terminated string.
    let delete_module = check(unsafe {
        sys::syscall2(
            nr::DELETE_MODULE,
            c"versus_probe_nonexistent".as_ptr() as usize,
            O_NONBLOCK as usize,
        )
    });

    Line::result("probe")
        .field_outcome("mount", mount)
        .field_outcome("umount2", umount2)
        .field_outcome("reboot", reboot)
        .field_outcome("sethostname", sethostname)
        .field_outcome("kexec_load", kexec_load)
        .field_outcome("delete_module", delete_module)
        .emit(STDOUT)?;
    Ok(())
}

//! Step 4c — seccomp: which system calls the container may make at all.
//!
//! The filter is Docker's default profile (moby `profiles/seccomp/default.json`) as of
//! **Docker 25.0**, for x86-64 only, with the same decisions. Two changes of that release
//! matter here: `io_uring_setup`, `io_uring_enter` and `io_uring_register` are denied
//! (moby PR 46762: io_uring's many kernel bugs, and its requests bypass seccomp), and
//! the calls of Linux 6.5–6.6 `cachestat`, `fchmodat2` and `map_shadow_stack` are allowed
//! (moby PR 47341, backported to 25.0). Linux 6.7's `futex_wake`, `futex_wait` and
//! `futex_requeue`, which Docker's profile does not list, are denied like every number
//! above [`MAX_KNOWN_SYSCALL`]. The decisions: a system call that Docker's profile allows is
//! allowed; every other one fails with `EPERM` (Docker's `defaultErrnoRet: 1`); groups
//! that Docker allows only with a capability (e.g. `mount`, `umount2`, `sethostname`,
//! `unshare` with `CAP_SYS_ADMIN`; `reboot` with `CAP_SYS_BOOT`) follow the kept
//! capability set; `clone` with a namespace flag is refused without `CAP_SYS_ADMIN`;
//! `clone3` answers `ENOSYS` (so a libc falls back to `clone`, whose flags the filter
//! can read); `socket(AF_VSOCK)` is refused; `personality` only takes Docker's five values.
//!
//! **Form: a deny list compiled from the allow list.** Docker writes its profile as an
//! allow list; libseccomp compiles it to a program that tests each allowed number.
//! Here the complement is computed once (the x86-64 numbers up to
//! [`MAX_KNOWN_SYSCALL`] that the profile does not allow: 63 with the default
//! capabilities) and compiled by `seccompiler` as rules whose match action is
//! `ERRNO(EPERM)` and whose default is `ALLOW`. A short hand-written prefix keeps the
//! allow-list meaning for everything the rules cannot name: a non-x86-64 architecture
//! is killed, x32 numbers (bit 30) and numbers above [`MAX_KNOWN_SYSCALL`] get `EPERM`
//! (unknown future calls are denied, as in Docker's profile), the unused range 335–423
//! gets `ENOSYS`. The result is about 420 BPF instructions, x86-64 only — docs/en/platforms.md
//! shows the filter's size (a libseccomp build for three architectures) to drive the
//! start cost (crun 43 ms with its profile, 16 ms without). Every path through it loads
//! only the number and the architecture except for `clone`, `socket` and
//! `personality`, so the kernel's seccomp action cache (Linux ≥ 5.11) allows the other
//! calls from a bitmap without running the program.
//! The program is compiled once per kept-capability mask and cached for the process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use caps::Capability;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};
use serde::{Deserialize, Serialize};

use crate::capabilities::CapabilitySet;
use crate::error::{Error, Result};

/// Whether a seccomp filter is installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompMode {
    /// Docker's default profile (x86-64): `Seccomp: 2` inside.
    #[default]
    Default,
    /// No filter: `Seccomp: 0` inside (Docker's `--security-opt seccomp=unconfined`).
    Unconfined,
}

impl std::str::FromStr for SeccompMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "default" => Ok(SeccompMode::Default),
            "unconfined" | "none" | "off" => Ok(SeccompMode::Unconfined),
            other => Err(Error::invalid(
                "--seccomp",
                format!("unknown seccomp mode '{other}'; use `default` or `unconfined`"),
            )),
        }
    }
}

impl std::fmt::Display for SeccompMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SeccompMode::Default => "default",
            SeccompMode::Unconfined => "unconfined",
        })
    }
}

/// The highest x86-64 system call number the profile names (`map_shadow_stack`).
/// Anything above is denied with `EPERM`, as Docker's allow list denies calls it does
/// not know.
pub const MAX_KNOWN_SYSCALL: i64 = SYS_MAP_SHADOW_STACK;

/// `cachestat` (Linux 6.5), x86-64 number; the libc crate has no constant for it.
const SYS_CACHESTAT: i64 = 451;
/// `map_shadow_stack` (Linux 6.6), x86-64 number; the libc crate has no constant for it.
const SYS_MAP_SHADOW_STACK: i64 = 453;

/// x86-64 numbers 335..=423 are unused (the table jumps from `rseq` to
/// `pidfd_send_signal`, the first call shared by every architecture).
const UNUSED_RANGE: (u32, u32) = (335, 424);

/// `__X32_SYSCALL_BIT`: x32 ABI calls carry this bit in the number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `AUDIT_ARCH_X86_64`.
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;

const EPERM: u32 = libc::EPERM as u32;
const ENOSYS: u32 = libc::ENOSYS as u32;

/// `CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET`: Docker's 2114060288.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// Calls Docker's profile allows unconditionally, x86-64 names only.
const ALLOWED: &[i64] = &[
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_access,
    libc::SYS_adjtimex,
    libc::SYS_alarm,
    libc::SYS_bind,
    libc::SYS_brk,
    SYS_CACHESTAT,
    libc::SYS_capget,
    libc::SYS_capset,
    libc::SYS_chdir,
    libc::SYS_chmod,
    libc::SYS_chown,
    libc::SYS_clock_adjtime,
    libc::SYS_clock_getres,
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_close,
    libc::SYS_close_range,
    libc::SYS_connect,
    libc::SYS_copy_file_range,
    libc::SYS_creat,
    libc::SYS_dup,
    libc::SYS_dup2,
    libc::SYS_dup3,
    libc::SYS_epoll_create,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_ctl_old,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_epoll_wait,
    libc::SYS_epoll_wait_old,
    libc::SYS_eventfd,
    libc::SYS_eventfd2,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_fadvise64,
    libc::SYS_fallocate,
    libc::SYS_fanotify_mark,
    libc::SYS_fchdir,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_fchmodat2,
    libc::SYS_fchown,
    libc::SYS_fchownat,
    libc::SYS_fcntl,
    libc::SYS_fdatasync,
    libc::SYS_fgetxattr,
    libc::SYS_flistxattr,
    libc::SYS_flock,
    libc::SYS_fork,
    libc::SYS_fremovexattr,
    libc::SYS_fsetxattr,
    libc::SYS_fstat,
    libc::SYS_fstatfs,
    libc::SYS_fsync,
    libc::SYS_ftruncate,
    libc::SYS_futex,
    libc::SYS_futex_waitv,
    libc::SYS_futimesat,
    libc::SYS_getcpu,
    libc::SYS_getcwd,
    libc::SYS_getdents,
    libc::SYS_getdents64,
    libc::SYS_getegid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getgroups,
    libc::SYS_getitimer,
    libc::SYS_getpeername,
    libc::SYS_getpgid,
    libc::SYS_getpgrp,
    libc::SYS_getpid,
    libc::SYS_getppid,
    libc::SYS_getpriority,
    libc::SYS_getrandom,
    libc::SYS_getresgid,
    libc::SYS_getresuid,
    libc::SYS_getrlimit,
    libc::SYS_get_robust_list,
    libc::SYS_getrusage,
    libc::SYS_getsid,
    libc::SYS_getsockname,
    libc::SYS_getsockopt,
    libc::SYS_get_thread_area,
    libc::SYS_gettid,
    libc::SYS_gettimeofday,
    libc::SYS_getuid,
    libc::SYS_getxattr,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_init,
    libc::SYS_inotify_init1,
    libc::SYS_inotify_rm_watch,
    libc::SYS_io_cancel,
    libc::SYS_ioctl,
    libc::SYS_io_destroy,
    libc::SYS_io_getevents,
    333, // io_pgetevents (no libc constant)
    libc::SYS_ioprio_get,
    libc::SYS_ioprio_set,
    libc::SYS_io_setup,
    libc::SYS_io_submit,
    libc::SYS_kill,
    libc::SYS_landlock_add_rule,
    libc::SYS_landlock_create_ruleset,
    libc::SYS_landlock_restrict_self,
    libc::SYS_lchown,
    libc::SYS_lgetxattr,
    libc::SYS_link,
    libc::SYS_linkat,
    libc::SYS_listen,
    libc::SYS_listxattr,
    libc::SYS_llistxattr,
    libc::SYS_lremovexattr,
    libc::SYS_lseek,
    libc::SYS_lsetxattr,
    libc::SYS_lstat,
    libc::SYS_madvise,
    SYS_MAP_SHADOW_STACK,
    libc::SYS_membarrier,
    libc::SYS_memfd_create,
    libc::SYS_memfd_secret,
    libc::SYS_mincore,
    libc::SYS_mkdir,
    libc::SYS_mkdirat,
    libc::SYS_mknod,
    libc::SYS_mknodat,
    libc::SYS_mlock,
    libc::SYS_mlock2,
    libc::SYS_mlockall,
    libc::SYS_mmap,
    libc::SYS_mprotect,
    libc::SYS_mq_getsetattr,
    libc::SYS_mq_notify,
    libc::SYS_mq_open,
    libc::SYS_mq_timedreceive,
    libc::SYS_mq_timedsend,
    libc::SYS_mq_unlink,
    libc::SYS_mremap,
    libc::SYS_msgctl,
    libc::SYS_msgget,
    libc::SYS_msgrcv,
    libc::SYS_msgsnd,
    libc::SYS_msync,
    libc::SYS_munlock,
    libc::SYS_munlockall,
    libc::SYS_munmap,
    libc::SYS_name_to_handle_at,
    libc::SYS_nanosleep,
    libc::SYS_newfstatat,
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_pause,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_send_signal,
    libc::SYS_pipe,
    libc::SYS_pipe2,
    libc::SYS_pkey_alloc,
    libc::SYS_pkey_free,
    libc::SYS_pkey_mprotect,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_prctl,
    libc::SYS_pread64,
    libc::SYS_preadv,
    libc::SYS_preadv2,
    libc::SYS_prlimit64,
    libc::SYS_process_mrelease,
    libc::SYS_pselect6,
    libc::SYS_pwrite64,
    libc::SYS_pwritev,
    libc::SYS_pwritev2,
    libc::SYS_read,
    libc::SYS_readahead,
    libc::SYS_readlink,
    libc::SYS_readlinkat,
    libc::SYS_readv,
    libc::SYS_recvfrom,
    libc::SYS_recvmmsg,
    libc::SYS_recvmsg,
    libc::SYS_remap_file_pages,
    libc::SYS_removexattr,
    libc::SYS_rename,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_restart_syscall,
    libc::SYS_rmdir,
    libc::SYS_rseq,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigpending,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigqueueinfo,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigsuspend,
    libc::SYS_rt_sigtimedwait,
    libc::SYS_rt_tgsigqueueinfo,
    libc::SYS_sched_getaffinity,
    libc::SYS_sched_getattr,
    libc::SYS_sched_getparam,
    libc::SYS_sched_get_priority_max,
    libc::SYS_sched_get_priority_min,
    libc::SYS_sched_getscheduler,
    libc::SYS_sched_rr_get_interval,
    libc::SYS_sched_setaffinity,
    libc::SYS_sched_setattr,
    libc::SYS_sched_setparam,
    libc::SYS_sched_setscheduler,
    libc::SYS_sched_yield,
    libc::SYS_seccomp,
    libc::SYS_select,
    libc::SYS_semctl,
    libc::SYS_semget,
    libc::SYS_semop,
    libc::SYS_semtimedop,
    libc::SYS_sendfile,
    libc::SYS_sendmmsg,
    libc::SYS_sendmsg,
    libc::SYS_sendto,
    libc::SYS_setfsgid,
    libc::SYS_setfsuid,
    libc::SYS_setgid,
    libc::SYS_setgroups,
    libc::SYS_setitimer,
    libc::SYS_setpgid,
    libc::SYS_setpriority,
    libc::SYS_setregid,
    libc::SYS_setresgid,
    libc::SYS_setresuid,
    libc::SYS_setreuid,
    libc::SYS_setrlimit,
    libc::SYS_set_robust_list,
    libc::SYS_setsid,
    libc::SYS_setsockopt,
    libc::SYS_set_thread_area,
    libc::SYS_set_tid_address,
    libc::SYS_setuid,
    libc::SYS_setxattr,
    libc::SYS_shmat,
    libc::SYS_shmctl,
    libc::SYS_shmdt,
    libc::SYS_shmget,
    libc::SYS_shutdown,
    libc::SYS_sigaltstack,
    libc::SYS_signalfd,
    libc::SYS_signalfd4,
    libc::SYS_socketpair,
    libc::SYS_splice,
    libc::SYS_stat,
    libc::SYS_statfs,
    libc::SYS_statx,
    libc::SYS_symlink,
    libc::SYS_symlinkat,
    libc::SYS_sync,
    libc::SYS_sync_file_range,
    libc::SYS_syncfs,
    libc::SYS_sysinfo,
    libc::SYS_tee,
    libc::SYS_tgkill,
    libc::SYS_time,
    libc::SYS_timer_create,
    libc::SYS_timer_delete,
    libc::SYS_timer_getoverrun,
    libc::SYS_timer_gettime,
    libc::SYS_timer_settime,
    libc::SYS_timerfd_create,
    libc::SYS_timerfd_gettime,
    libc::SYS_timerfd_settime,
    libc::SYS_times,
    libc::SYS_tkill,
    libc::SYS_truncate,
    libc::SYS_umask,
    libc::SYS_uname,
    libc::SYS_unlink,
    libc::SYS_unlinkat,
    libc::SYS_utime,
    libc::SYS_utimensat,
    libc::SYS_utimes,
    libc::SYS_vfork,
    libc::SYS_vmsplice,
    libc::SYS_wait4,
    libc::SYS_waitid,
    libc::SYS_write,
    libc::SYS_writev,
    // x86-64 only ("arches": amd64).
    libc::SYS_arch_prctl,
    libc::SYS_modify_ldt,
    // "minKernel": "4.8".
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
];

/// Calls Docker's profile allows only when the container keeps a capability.
fn capability_groups() -> Vec<(Capability, &'static [i64])> {
    vec![
        (
            Capability::CAP_DAC_READ_SEARCH,
            &[libc::SYS_open_by_handle_at],
        ),
        (
            Capability::CAP_SYS_ADMIN,
            &[
                libc::SYS_bpf,
                libc::SYS_fanotify_init,
                libc::SYS_fsconfig,
                libc::SYS_fsmount,
                libc::SYS_fsopen,
                libc::SYS_fspick,
                libc::SYS_lookup_dcookie,
                libc::SYS_mount,
                libc::SYS_mount_setattr,
                libc::SYS_move_mount,
                libc::SYS_open_tree,
                libc::SYS_perf_event_open,
                libc::SYS_quotactl,
                libc::SYS_quotactl_fd,
                libc::SYS_setdomainname,
                libc::SYS_sethostname,
                libc::SYS_setns,
                libc::SYS_syslog,
                libc::SYS_umount2,
                libc::SYS_unshare,
            ],
        ),
        (Capability::CAP_SYS_BOOT, &[libc::SYS_reboot]),
        (Capability::CAP_SYS_CHROOT, &[libc::SYS_chroot]),
        (
            Capability::CAP_SYS_MODULE,
            &[
                libc::SYS_delete_module,
                libc::SYS_init_module,
                libc::SYS_finit_module,
            ],
        ),
        (Capability::CAP_SYS_PACCT, &[libc::SYS_acct]),
        (
            Capability::CAP_SYS_PTRACE,
            &[
                libc::SYS_kcmp,
                libc::SYS_pidfd_getfd,
                libc::SYS_process_madvise,
            ],
        ),
        (
            Capability::CAP_SYS_RAWIO,
            &[libc::SYS_iopl, libc::SYS_ioperm],
        ),
        (
            Capability::CAP_SYS_TIME,
            &[libc::SYS_settimeofday, libc::SYS_clock_settime],
        ),
        (Capability::CAP_SYS_TTY_CONFIG, &[libc::SYS_vhangup]),
        (
            Capability::CAP_SYS_NICE,
            &[
                libc::SYS_get_mempolicy,
                libc::SYS_mbind,
                libc::SYS_set_mempolicy,
                libc::SYS_set_mempolicy_home_node,
            ],
        ),
        (Capability::CAP_SYSLOG, &[libc::SYS_syslog]),
        (Capability::CAP_BPF, &[libc::SYS_bpf]),
        (Capability::CAP_PERFMON, &[libc::SYS_perf_event_open]),
    ]
}

/// The system calls the profile allows for a container keeping `kept`
/// (those with argument conditions — `clone`, `socket`, `personality` — not included).
pub fn allowed_syscalls(kept: &CapabilitySet) -> BTreeSet<i64> {
    let mut allowed: BTreeSet<i64> = ALLOWED.iter().copied().collect();
    for (cap, calls) in capability_groups() {
        if kept.contains(cap) {
            allowed.extend(calls.iter().copied());
        }
    }
    allowed
}

/// The numbers the rules deny outright with `EPERM`: every x86-64 number up to
/// [`MAX_KNOWN_SYSCALL`], outside the unused range, that the profile does not allow.
pub fn denied_syscalls(kept: &CapabilitySet) -> BTreeSet<i64> {
    let allowed = allowed_syscalls(kept);
    let special = [
        libc::SYS_clone,
        libc::SYS_clone3,
        libc::SYS_socket,
        libc::SYS_personality,
    ];
    (0..=MAX_KNOWN_SYSCALL)
        .filter(|nr| !(i64::from(UNUSED_RANGE.0)..i64::from(UNUSED_RANGE.1)).contains(nr))
        .filter(|nr| !allowed.contains(nr) && !special.contains(nr))
        .collect()
}

fn cond(arg: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition> {
    SeccompCondition::new(arg, len, op, value).map_err(|e| Error::Seccomp(e.to_string()))
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule> {
    SeccompRule::new(conditions).map_err(|e| Error::Seccomp(e.to_string()))
}

/// Compiles the default profile for a container keeping `kept`: the prefix (see the
/// module doc) followed by the `seccompiler` rules.
pub fn compile(kept: &CapabilitySet) -> Result<BpfProgram> {
    let sys_admin = kept.contains(Capability::CAP_SYS_ADMIN);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = denied_syscalls(kept)
        .into_iter()
        .map(|nr| (nr, Vec::new()))
        .collect();
    // clone: refused with any namespace flag unless CAP_SYS_ADMIN is kept (Docker: allowed
    // only if flags & 0x7E020000 == 0). One rule per flag bit; rules are OR-ed.
    if !sys_admin {
        let mut clone_rules = Vec::new();
        for bit in 0..64 {
            let flag = 1u64 << bit;
            if CLONE_NAMESPACE_FLAGS & flag != 0 {
                clone_rules.push(rule(vec![cond(
                    0,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(flag),
                    flag,
                )?])?);
            }
        }
        rules.insert(libc::SYS_clone, clone_rules);
    }
    // socket(AF_VSOCK, …) is refused (Docker: allowed if arg0 != 40).
    rules.insert(
        libc::SYS_socket,
        vec![rule(vec![cond(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            libc::AF_VSOCK as u64,
        )?])?],
    );
    // personality: Docker allows only these five personas.
    let personas = [0u64, 0x8, 0x20000, 0x20008, 0xffff_ffff];
    rules.insert(
        libc::SYS_personality,
        vec![rule(
            personas
                .iter()
                .map(|&p| cond(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, p))
                .collect::<Result<_>>()?,
        )?],
    );

    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(EPERM),
        TargetArch::x86_64,
    )
    .map_err(|e| Error::Seccomp(e.to_string()))?;
    let body: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| Error::Seccomp(e.to_string()))?;

    let mut program = prefix(!sys_admin);
    program.extend(body);
    if program.len() > 4096 {
        return Err(Error::Seccomp(format!(
            "{} instructions, more than the kernel's 4096",
            program.len()
        )));
    }
    Ok(program)
}

/// The compiled default profile for `kept`, compiled once per process and mask.
pub fn cached(kept: &CapabilitySet) -> Result<Arc<BpfProgram>> {
    static CACHE: OnceLock<Mutex<HashMap<u64, Arc<BpfProgram>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = map.get(&kept.mask()) {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(compile(kept)?);
    map.insert(kept.mask(), Arc::clone(&p));
    Ok(p)
}

// Classic BPF opcodes (linux/bpf_common.h).
/// `BPF_LD | BPF_W | BPF_ABS` (0x00 | 0x00 | 0x20).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGT_K: u16 = 0x05 | 0x20;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The hand-written start of the program (see the module doc). Falls through to the
/// `seccompiler` body for numbers the rules decide.
fn prefix(clone3_enosys: bool) -> BpfProgram {
    // Layout (pc: instruction), jump offsets are relative to pc + 1:
    //  0 ld arch
    //  1 jeq X86_64 → 3
    //  2 ret KILL_PROCESS
    //  3 ld nr
    //  4 jge X32_BIT → EPERM
    //  5 jgt MAX_KNOWN → EPERM
    //  6 jge 424 → CHECK3 (7+1) else 7
    //  7 jge 335 → ENOSYS else CHECK3
    //  8 CHECK3: [jeq clone3 → ENOSYS]            (only when clone3 is refused)
    //  n ja → body (skip the two returns)
    //  n+1 EPERM: ret ERRNO|EPERM
    //  n+2 ENOSYS: ret ERRNO|ENOSYS
    let check3: usize = 8;
    let ja = check3 + usize::from(clone3_enosys);
    let eperm = ja + 1;
    let enosys = ja + 2;
    let off = |from: usize, to: usize| -> u8 { (to - from - 1) as u8 };
    let mut p = vec![
        stmt(BPF_LD_W_ABS, DATA_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, DATA_NR),
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, off(4, eperm), 0),
        jump(BPF_JMP_JGT_K, MAX_KNOWN_SYSCALL as u32, off(5, eperm), 0),
        jump(BPF_JMP_JGE_K, UNUSED_RANGE.1, off(6, check3), 0),
        jump(
            BPF_JMP_JGE_K,
            UNUSED_RANGE.0,
            off(7, enosys),
            off(7, check3),
        ),
    ];
    if clone3_enosys {
        p.push(jump(
            BPF_JMP_JEQ_K,
            libc::SYS_clone3 as u32,
            off(check3, enosys),
            0,
        ));
    }
    p.push(stmt(BPF_JMP_JA, 2));
    p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ERRNO | EPERM));
    p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ERRNO | ENOSYS));
    debug_assert_eq!(p.len(), enosys + 1);
    p
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capabilities::compute_kept;

    /// A classic-BPF interpreter for the instructions seccompiler and the prefix use,
    /// so that the filter's decisions are tested without installing it.
    pub(crate) fn run(prog: &[sock_filter], nr: i64, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let mut acc: u32 = 0;
        let mut pc = 0usize;
        loop {
            let ins = &prog[pc];
            pc += 1;
            match ins.code {
                0x20 => {
                    let k = ins.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                }
                0x54 => acc &= ins.k, // ALU AND K
                0x05 => pc += ins.k as usize,
                0x15 | 0x25 | 0x35 | 0x45 => {
                    let t = match ins.code {
                        0x15 => acc == ins.k,
                        0x25 => acc > ins.k,
                        0x35 => acc >= ins.k,
                        _ => acc & ins.k != 0,
                    };
                    pc += usize::from(if t { ins.jt } else { ins.jf });
                }
                0x06 => return ins.k,
                other => panic!("opcode {other:#x} not handled by the test interpreter"),
            }
        }
    }

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const DENY: u32 = libc::SECCOMP_RET_ERRNO | EPERM;
    const NOSYS: u32 = libc::SECCOMP_RET_ERRNO | ENOSYS;

    fn decide(prog: &[sock_filter], nr: i64, arg0: u64) -> u32 {
        run(prog, nr, AUDIT_ARCH_X86_64, [arg0, 0, 0, 0, 0, 0])
    }

    #[test]
    fn default_profile_compiles_for_x86_64_and_is_small() {
        let kept = compute_kept(&[], &[]).unwrap();
        let p = compile(&kept).unwrap();
        assert!(!p.is_empty());
        assert!(p.len() < 600, "{} instructions", p.len());
        eprintln!(
            "{} instructions, {} denied",
            p.len(),
            denied_syscalls(&kept).len()
        );
        let denied = denied_syscalls(&kept);
        assert!(denied.len() < 90, "{}", denied.len());
    }

    #[test]
    fn default_profile_decides_as_dockers() {
        let kept = compute_kept(&[], &[]).unwrap();
        let p = compile(&kept).unwrap();
        for nr in [
            libc::SYS_getpid,
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_execve,
            libc::SYS_mmap,
            libc::SYS_wait4,
            libc::SYS_pipe2,
            libc::SYS_openat,
            libc::SYS_clock_gettime,
            libc::SYS_exit_group,
            libc::SYS_chroot, // CAP_SYS_CHROOT is in Docker's default set
            libc::SYS_pidfd_open,
            libc::SYS_futex_waitv,
            // Linux 6.5–6.6, allowed since Docker 25 (moby PR 47341).
            SYS_CACHESTAT,
            libc::SYS_fchmodat2,
            SYS_MAP_SHADOW_STACK,
        ] {
            assert_eq!(decide(&p, nr, 0), ALLOW, "syscall {nr}");
        }
        for nr in [
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_reboot,
            libc::SYS_sethostname,
            libc::SYS_kexec_load,
            libc::SYS_kexec_file_load,
            libc::SYS_delete_module,
            libc::SYS_init_module,
            libc::SYS_swapon,
            libc::SYS_swapoff,
            libc::SYS_pivot_root,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_keyctl,
            libc::SYS_add_key,
            libc::SYS_bpf,
            libc::SYS_open_by_handle_at,
            libc::SYS_userfaultfd,
            libc::SYS_fsopen,
            // Denied since Docker 25 (moby PR 46762).
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
            // Linux 6.7's futex2 calls: not in Docker's profile.
            454,
            456,
            MAX_KNOWN_SYSCALL + 1,
            1000,
        ] {
            assert_eq!(decide(&p, nr, 0), DENY, "syscall {nr}");
        }
        // clone: fork-like flags pass, namespace flags do not.
        assert_eq!(decide(&p, libc::SYS_clone, libc::SIGCHLD as u64), ALLOW);
        assert_eq!(
            decide(&p, libc::SYS_clone, 0x3d0f00), // pthread_create's flags
            ALLOW
        );
        for flag in [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWPID,
        ] {
            assert_eq!(
                decide(&p, libc::SYS_clone, (flag | libc::SIGCHLD) as u64),
                DENY
            );
        }
        assert_eq!(decide(&p, libc::SYS_clone3, 0), NOSYS);
        // x32 numbers, other architectures, unused numbers.
        assert_eq!(
            decide(&p, libc::SYS_getpid | i64::from(X32_SYSCALL_BIT), 0),
            DENY
        );
        assert_eq!(
            run(&p, libc::SYS_getpid, 0x4000_0003, [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(decide(&p, 400, 0), NOSYS);
        // Argument rules.
        assert_eq!(decide(&p, libc::SYS_socket, libc::AF_INET as u64), ALLOW);
        assert_eq!(decide(&p, libc::SYS_socket, libc::AF_VSOCK as u64), DENY);
        assert_eq!(decide(&p, libc::SYS_personality, 0), ALLOW);
        assert_eq!(decide(&p, libc::SYS_personality, 0xffff_ffff), ALLOW);
        assert_eq!(decide(&p, libc::SYS_personality, 0x0040_0000), DENY);
    }

    #[test]
    fn capability_groups_follow_the_kept_set() {
        let kept = compute_kept(&["SYS_ADMIN".into(), "sys_boot".into()], &[]).unwrap();
        let p = compile(&kept).unwrap();
        assert_eq!(decide(&p, libc::SYS_mount, 0), ALLOW);
        assert_eq!(decide(&p, libc::SYS_sethostname, 0), ALLOW);
        assert_eq!(decide(&p, libc::SYS_reboot, 0), ALLOW);
        assert_eq!(decide(&p, libc::SYS_kexec_load, 0), DENY);
        assert_eq!(
            decide(&p, libc::SYS_clone, libc::CLONE_NEWUSER as u64),
            ALLOW
        );
        assert_eq!(decide(&p, libc::SYS_clone3, 0), ALLOW);

        let none = compute_kept(&[], &["ALL".into()]).unwrap();
        let p = compile(&none).unwrap();
        assert_eq!(decide(&p, libc::SYS_chroot, 0), DENY);
    }

    #[test]
    fn compiled_once_per_mask() {
        let kept = compute_kept(&[], &[]).unwrap();
        let a = cached(&kept).unwrap();
        let b = cached(&kept).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn modes_parse() {
        assert_eq!(
            "default".parse::<SeccompMode>().unwrap(),
            SeccompMode::Default
        );
        assert_eq!(
            "Unconfined".parse::<SeccompMode>().unwrap(),
            SeccompMode::Unconfined
        );
        assert!("strict".parse::<SeccompMode>().is_err());
    }
}

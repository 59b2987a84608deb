//! The profile compiled to BPF: the denied numbers and the argument filters become
//! `seccompiler` rules behind the hand-written prefix; the program is cached per
//! kept-capability mask, since every container of a run compiles the same one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use caps::Capability;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::prefix::{EPERM, prefix};
use super::profile::{CLONE_NAMESPACE_FLAGS, PERSONALITIES, denied_syscalls};
use crate::capabilities::CapabilitySet;
use crate::error::{Error, Result};

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
    rules.insert(
        libc::SYS_personality,
        vec![rule(
            PERSONALITIES
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capabilities::compute_kept;
    use crate::seccomp::prefix::{AUDIT_ARCH_X86_64, ENOSYS, X32_SYSCALL_BIT};
    use crate::seccomp::profile::{MAX_KNOWN_SYSCALL, SYS_CACHESTAT, SYS_MAP_SHADOW_STACK};
    use seccompiler::sock_filter;

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
}

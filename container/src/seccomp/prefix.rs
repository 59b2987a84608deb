//! The hand-written start of the seccomp program: what the `seccompiler` rules cannot
//! name (another architecture, x32 numbers, numbers above the profile's last call, the
//! unused range, `clone3`) is decided here before the rules run.

use seccompiler::{BpfProgram, sock_filter};

use super::profile::{MAX_KNOWN_SYSCALL, UNUSED_RANGE};

/// `__X32_SYSCALL_BIT`: x32 ABI calls carry this bit in the number.
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `AUDIT_ARCH_X86_64`.
pub(super) const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;

pub(super) const EPERM: u32 = libc::EPERM as u32;
pub(super) const ENOSYS: u32 = libc::ENOSYS as u32;

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
pub(super) fn prefix(clone3_enosys: bool) -> BpfProgram {
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

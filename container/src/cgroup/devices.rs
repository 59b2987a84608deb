//! The device allow-list: which device nodes the container may create (`mknod`) and
//! open, enforced by the kernel's device cgroup, as runc and crun do.
//!
//! Without it a root container could `mknod /dev/kvm c 10 232` (or a disk's block
//! device) and open it: CAP_MKNOD is kept (Docker keeps it too) and nodes may be made
//! on any file system without `nodev`. The list ([`ALLOWED`]) is Docker's default set
//! of character devices: `null`, `zero`, `full`, `random`, `urandom`, `tty`, `console`,
//! `ptmx` and every pseudo-terminal (`136:*`), each for read, write and mknod. Everything
//! else is refused with `EPERM`, both by `mknod` and by `open` of an existing node.
//!
//! - **cgroup v1**: the `devices` controller. The container's directory gets `a` in
//!   `devices.deny` (deny all), then one `devices.allow` line per entry ([`v1_lines`]).
//! - **cgroup v2** has no devices controller; the kernel asks a
//!   `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the cgroup instead. [`program`]
//!   assembles it from the same list and [`attach_program`] loads it with `bpf(2)` and
//!   attaches it (`BPF_CGROUP_DEVICE`, with `BPF_F_ALLOW_MULTI` so that programs of
//!   ancestor cgroups — systemd's — still run as well). The cgroup keeps the program:
//!   the descriptor is closed at once, and removing the cgroup frees it.
//!
//! Rootless containers get neither: they have no cgroup of their own to restrict, and
//! in a user namespace `mknod` of a device is refused by the kernel anyway.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};

/// Any minor number (`*` in a v1 rule).
pub const ANY_MINOR: Option<u32> = None;

/// Major number of the memory devices (`null`, `zero`, `full`, `random`, `urandom`).
pub const MEM_MAJOR: u32 = 1;
/// Minor of `/dev/null`.
pub const NULL_MINOR: u32 = 3;
/// Minor of `/dev/zero`.
pub const ZERO_MINOR: u32 = 5;
/// Minor of `/dev/full`.
pub const FULL_MINOR: u32 = 7;
/// Minor of `/dev/random`.
pub const RANDOM_MINOR: u32 = 8;
/// Minor of `/dev/urandom`.
pub const URANDOM_MINOR: u32 = 9;
/// Major number of the terminal devices (`tty`, `console`, `ptmx`).
pub const TTYAUX_MAJOR: u32 = 5;
/// Minor of `/dev/tty` (the controlling terminal).
pub const TTY_MINOR: u32 = 0;
/// Minor of `/dev/console`.
pub const CONSOLE_MINOR: u32 = 1;
/// Minor of `/dev/ptmx` (the pseudo-terminal multiplexer).
pub const PTMX_MINOR: u32 = 2;
/// Major number of pseudo-terminal secondaries (`/dev/pts/N`).
pub const PTS_MAJOR: u32 = 136;

/// One allowed device: a character device `major:minor` (`minor` `None`: any), for
/// read, write and mknod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedDevice {
    /// What it is, for people.
    pub name: &'static str,
    /// Major number.
    pub major: u32,
    /// Minor number, or `None` for all of the major's minors.
    pub minor: Option<u32>,
}

/// The devices a container may make and open (all character devices, `rwm`).
pub const ALLOWED: [AllowedDevice; 9] = [
    dev("null", MEM_MAJOR, Some(NULL_MINOR)),
    dev("zero", MEM_MAJOR, Some(ZERO_MINOR)),
    dev("full", MEM_MAJOR, Some(FULL_MINOR)),
    dev("random", MEM_MAJOR, Some(RANDOM_MINOR)),
    dev("urandom", MEM_MAJOR, Some(URANDOM_MINOR)),
    dev("tty", TTYAUX_MAJOR, Some(TTY_MINOR)),
    dev("console", TTYAUX_MAJOR, Some(CONSOLE_MINOR)),
    dev("ptmx", TTYAUX_MAJOR, Some(PTMX_MINOR)),
    dev("pts/*", PTS_MAJOR, ANY_MINOR),
];

const fn dev(name: &'static str, major: u32, minor: Option<u32>) -> AllowedDevice {
    AllowedDevice { name, major, minor }
}

/// How a container's device allow-list is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// The cgroup v1 `devices` controller (`devices.deny`, `devices.allow`).
    V1,
    /// A `BPF_PROG_TYPE_CGROUP_DEVICE` program on the cgroup v2 directory.
    V2Program,
}

/// The cgroup v1 lines: first the deny-all written to `devices.deny`, then the rules
/// written one by one to `devices.allow`.
pub fn v1_lines() -> (&'static str, Vec<String>) {
    let allow = ALLOWED
        .iter()
        .map(|d| match d.minor {
            Some(m) => format!("c {}:{m} rwm", d.major),
            None => format!("c {}:* rwm", d.major),
        })
        .collect();
    ("a", allow)
}

/// Writes the allow-list into the v1 `devices` cgroup directory `dir`.
pub fn apply_v1(dir: &Path) -> Result<()> {
    let (deny, allow) = v1_lines();
    super::write_file(&dir.join("devices.deny"), deny)?;
    for line in allow {
        super::write_file(&dir.join("devices.allow"), &line)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The cgroup v2 program
// ---------------------------------------------------------------------------------------

/// One eBPF instruction (`struct bpf_insn`): opcode, destination register (low nibble)
/// and source register (high nibble), offset, immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    /// `BPF_*` class | operation | source bits.
    pub code: u8,
    /// `dst_reg | src_reg << 4`.
    pub regs: u8,
    /// Jump offset (in instructions) or memory offset (in bytes).
    pub off: i16,
    /// Immediate operand.
    pub imm: i32,
}

/// `BPF_LDX | BPF_W | BPF_MEM`: `dst = *(u32 *)(src + off)`.
const LDX_W: u8 = 0x61;
/// `BPF_ALU64 | BPF_MOV | BPF_K`: `dst = imm`.
const MOV64_IMM: u8 = 0xb7;
/// `BPF_ALU64 | BPF_AND | BPF_K`: `dst &= imm`.
const AND64_IMM: u8 = 0x57;
/// `BPF_JMP | BPF_JNE | BPF_K`: `if dst != imm goto pc + off`.
const JNE_IMM: u8 = 0x55;
/// `BPF_JMP | BPF_EXIT`: return `r0`.
const EXIT: u8 = 0x95;

/// Offset of `access_type` in `struct bpf_cgroup_dev_ctx` (`(access << 16) | type`).
const CTX_ACCESS_TYPE: i16 = 0;
/// Offset of `major` in `struct bpf_cgroup_dev_ctx`.
const CTX_MAJOR: i16 = 4;
/// Offset of `minor` in `struct bpf_cgroup_dev_ctx`.
const CTX_MINOR: i16 = 8;
/// `BPF_DEVCG_DEV_CHAR`: the device type of a character device in `access_type`.
pub const DEVCG_DEV_CHAR: i32 = 2;
/// The low 16 bits of `access_type` hold the device type.
const DEVCG_TYPE_MASK: i32 = 0xffff;
/// The access bits (`BPF_DEVCG_ACC_MKNOD|READ|WRITE`) sit above the type.
pub const DEVCG_ACCESS_SHIFT: i32 = 16;
/// Program result: allow the access.
const VERDICT_ALLOW: i32 = 1;
/// Program result: refuse the access (`EPERM`).
const VERDICT_DENY: i32 = 0;

/// Register r0: the verdict the program returns.
const R0: u8 = 0;
/// Register r1: the `bpf_cgroup_dev_ctx` pointer on entry.
const R1: u8 = 1;
/// Register r2: the device type.
const R2: u8 = 2;
/// Register r3: the major number.
const R3: u8 = 3;
/// Register r4: the minor number.
const R4: u8 = 4;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The device program for [`ALLOWED`]. Every allowed entry grants read, write and
/// mknod, so only the type, major and minor are compared; the access bits are not.
pub fn program() -> Vec<BpfInsn> {
    let mut p = vec![
        // r2 = ctx->access_type
        insn(LDX_W, R2, R1, CTX_ACCESS_TYPE, 0),
        // r2 &= 0xffff: the device type (character or block)
        insn(AND64_IMM, R2, 0, 0, DEVCG_TYPE_MASK),
        // r3 = ctx->major
        insn(LDX_W, R3, R1, CTX_MAJOR, 0),
        // r4 = ctx->minor
        insn(LDX_W, R4, R1, CTX_MINOR, 0),
    ];
    for d in ALLOWED {
        // Each block is its comparisons, then "allow". A failed comparison jumps to
        // the next block: over the comparisons after it and the two allow instructions
        // (a jump's offset counts from the instruction after it).
        let checks: i16 = if d.minor.is_some() { 3 } else { 2 };
        let rest = |done: i16| checks - done + 2;
        // if r2 != character device goto next entry
        p.push(insn(JNE_IMM, R2, 0, rest(1), DEVCG_DEV_CHAR));
        // if r3 != major goto next entry
        p.push(insn(JNE_IMM, R3, 0, rest(2), d.major as i32));
        if let Some(minor) = d.minor {
            // if r4 != minor goto next entry
            p.push(insn(JNE_IMM, R4, 0, rest(3), minor as i32));
        }
        // r0 = allow
        p.push(insn(MOV64_IMM, R0, 0, 0, VERDICT_ALLOW));
        // return r0
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    // No entry matched: r0 = deny; return r0
    p.push(insn(MOV64_IMM, R0, 0, 0, VERDICT_DENY));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// `BPF_PROG_LOAD`: the `bpf(2)` command that verifies and loads a program.
const BPF_PROG_LOAD: libc::c_long = 5;
/// `BPF_PROG_ATTACH`: the `bpf(2)` command that attaches a program to a cgroup.
const BPF_PROG_ATTACH: libc::c_long = 8;
/// `BPF_PROG_TYPE_CGROUP_DEVICE`: the program type the device cgroup hook runs.
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`: the attach type of that hook.
const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: programs of the cgroup and of its ancestors all run, and all
/// must allow (so an ancestor's policy is kept, and ours cannot be overridden below).
const BPF_F_ALLOW_MULTI: u32 = 2;
/// Verifier log level 1: the reason a program was rejected.
const LOG_LEVEL_ERRORS: u32 = 1;
/// Size of the verifier log buffer; the program is tiny, so its log is too.
const LOG_SIZE: usize = 16 * 1024;
/// The program's name, as `bpftool prog` shows it (at most 15 bytes).
const PROG_NAME: &[u8] = b"versus_devices";
/// License string the kernel records; the program calls no GPL-only helper.
const PROG_LICENSE: &str = "MIT OR Apache-2.0";

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (fields up to `expected_attach_type`;
/// the kernel treats the missing tail as zero).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// What to do when the program cannot be loaded or attached.
const BPF_FIX: &str = "run as root (the bpf(2) call needs CAP_SYS_ADMIN or CAP_BPF) on a kernel \
                       built with CONFIG_BPF_SYSCALL=y and CONFIG_CGROUP_BPF=y (every major \
                       distribution's is); a seccomp profile or LSM that blocks bpf(2) for the \
                       launcher must let it through";

/// Loads [`program`] and returns its descriptor.
pub fn load_program() -> Result<OwnedFd> {
    let insns = program();
    let license = CString::new(PROG_LICENSE).expect("no NUL byte");
    let mut log = vec![0u8; LOG_SIZE];
    let mut name = [0u8; 16];
    name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: LOG_LEVEL_ERRORS,
        log_size: LOG_SIZE as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..ProgLoadAttr::default()
    };
    // SAFETY: `attr` is a valid `bpf_attr` prefix of the size passed; the instruction
    // array, the license string and the log buffer it points to outlive the call (the
    // kernel copies the instructions and writes at most `log_size` bytes of log).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        let text = String::from_utf8_lossy(&log);
        let text = text.trim_end_matches('\0').trim();
        let verifier = if text.is_empty() {
            String::new()
        } else {
            format!(" (verifier: {text})")
        };
        return Err(Error::Devices {
            reason: format!(
                "cgroup v2 has no devices controller, so the allow-list is a \
                 BPF_PROG_TYPE_CGROUP_DEVICE program, and bpf(BPF_PROG_LOAD) failed: {err}{verifier}"
            ),
            fix: BPF_FIX.into(),
        });
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads [`program`] and attaches it to the cgroup v2 directory `dir`. The cgroup holds
/// its own reference to the program; the descriptors are closed on return.
pub fn attach_program(dir: &Path) -> Result<()> {
    let prog = load_program()?;
    let cgroup = fs::File::open(dir).map_err(|source| Error::Cgroup {
        action: "open (to attach the device program to)".into(),
        path: dir.to_path_buf(),
        source,
    })?;
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: `attr` is a valid `bpf_attr` prefix of the size passed, naming two open
    // descriptors that stay open for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        return Err(Error::Devices {
            reason: format!(
                "bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE) to the cgroup {} failed: {err}",
                dir.display()
            ),
            fix: BPF_FIX.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `BPF_DEVCG_ACC_MKNOD`, `_READ`, `_WRITE`.
    const MKNOD: i32 = 1;
    const READ: i32 = 2;
    const WRITE: i32 = 4;
    /// `BPF_DEVCG_DEV_BLOCK`.
    const BLOCK: i32 = 1;

    /// Runs the device program on a context, as the kernel would.
    pub(crate) fn run(prog: &[BpfInsn], dev_type: i32, access: i32, major: u32, minor: u32) -> i64 {
        let ctx = [
            ((access << DEVCG_ACCESS_SHIFT) | dev_type) as u32,
            major,
            minor,
        ];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => {
                    assert_eq!(src, 1, "loads come from the context only");
                    r[dst] = i64::from(ctx[i.off as usize / 4]);
                }
                AND64_IMM => r[dst] &= i64::from(i.imm),
                MOV64_IMM => r[dst] = i64::from(i.imm),
                JNE_IMM => {
                    if r[dst] != i64::from(i.imm) {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                other => panic!("opcode {other:#x} not handled by the test interpreter"),
            }
        }
    }

    #[test]
    fn the_program_allows_exactly_the_list() {
        let p = program();
        assert_eq!(p.len(), 4 + 8 * 5 + 4 + 2);
        for access in [READ, WRITE, MKNOD, READ | WRITE | MKNOD] {
            for d in ALLOWED {
                let minor = d.minor.unwrap_or(7);
                assert_eq!(run(&p, DEVCG_DEV_CHAR, access, d.major, minor), 1, "{d:?}");
                // The same numbers as a block device are refused.
                assert_eq!(run(&p, BLOCK, access, d.major, minor), 0, "{d:?}");
            }
            for (major, minor) in [(10, 232), (1, 1), (1, 4), (1, 11), (5, 3), (4, 0), (8, 0)] {
                assert_eq!(run(&p, DEVCG_DEV_CHAR, access, major, minor), 0);
            }
        }
        // Every pseudo-terminal.
        assert_eq!(run(&p, DEVCG_DEV_CHAR, READ, PTS_MAJOR, 4095), 1);
    }

    #[test]
    fn v1_rules_deny_all_then_allow_the_list() {
        let (deny, allow) = v1_lines();
        assert_eq!(deny, "a");
        assert_eq!(
            allow,
            [
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm"
            ]
        );
    }

    #[test]
    fn the_load_attribute_matches_the_kernel_layout() {
        // `union bpf_attr`: expected_attach_type is at byte 68 (Linux ≥ 4.17).
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::size_of::<ProgAttachAttr>(), 16);
        assert_eq!(std::mem::size_of::<BpfInsn>(), 8);
        assert!(PROG_NAME.len() < 16);
    }
}

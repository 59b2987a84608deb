//! Every way into the kernel after boot, and the way out to user mode.
//!
//! All entry points live in `.text.vectors` at fixed addresses
//! (`layout::VECTORS_VA`), so the IDT is a compile-time constant:
//!
//! | offset | what |
//! |---|---|
//! | `32 * v` | exception vector `v`: push a dummy error code if the CPU pushed none, push `v`, go to `versus_exception_common` (all registers saved, `fault::exception` in Rust) |
//! | `0x400` | #PF — also the system-call path of the software backend |
//! | `0x800` | `syscall` (LSTAR) — the system-call path of hardware KVM |
//!
//! # One system call, two worlds
//!
//! **Hardware KVM**: `syscall` enters ring 0 at LSTAR with the user's RSP;
//! the stub swaps to the kernel GS base (the `PerCpu`), switches to the
//! entry stack and builds the frame an exception from user mode would have
//! pushed (SS, RSP, RFLAGS, CS, RIP, error code), then joins the common
//! path.
//!
//! **Software backend (`kvm_pvm`)**: `syscall` jumps to LSTAR but stays in
//! ring 3; fetching the first instruction of a supervisor-only page faults.
//! So a #PF whose saved RIP is LSTAR *is* a system call — nothing else can
//! fault there: kernel mode never faults on that fetch, and a user-mode jump
//! to LSTAR is as good as a `syscall`. The user's return RIP and RFLAGS are
//! in RCX and R11, as `syscall` left them; they replace RIP and RFLAGS in
//! the exception frame, and the common path runs.
//!
//! **Common path**: save the six argument registers (the Linux ABI keeps
//! everything but RAX, RCX and R11), call `syscall::dispatch(frame, nr)`
//! and `iretq` to RCX / R11 at CPL3 with RAX = the result. RFLAGS from R11 is
//! masked to the flags a user may set (IOPL, NT, TF… never come from R11:
//! a user can put anything there and jump to LSTAR), with IF set.
//!
//! # What a system call costs here
//!
//! Ring-0 instructions per system call on the software backend, where each
//! is emulated: 6 to recognise the fault and repair the frame, 9 to save the
//! argument registers and call, 8 to restore and `iretq` — 23 — plus the
//! Rust handler: 8 for `getpid` (`syscall::dispatch` is a leaf: a bounds
//! check, a jump table, one load), about 80 for `clock_gettime` (a page
//! walk to validate the timespec). So `getpid` is 31 emulated instructions
//! inside one exception round trip; the round trip itself (fault delivery,
//! `iretq`, back to native ring 3) costs more than all of them.
//! On hardware the `syscall` stub adds 13 native instructions instead of
//! the 6.

use core::arch::{asm, global_asm};

use versus_abi::{event, port, selector};

use crate::fault::exception;
use crate::layout::SYSCALL_VA;
use crate::syscall::dispatch;

/// RFLAGS bits a user may set: CF PF AF ZF SF DF OF AC ID.
pub const USER_FLAGS_MASK: u64 = 0x24_0cd5;
/// RFLAGS bits always set in user mode: IF and the reserved bit 1.
pub const USER_FLAGS_SET: u64 = 0x202;

global_asm!(
    ".pushsection .text.vectors, \"ax\"",
    // 32-byte stubs: vectors without an error code push a zero first.
    ".org 0 * 32", "push 0", "push 0", "jmp versus_exception_common",
    ".org 1 * 32", "push 0", "push 1", "jmp versus_exception_common",
    ".org 2 * 32", "push 0", "push 2", "jmp versus_exception_common",
    ".org 3 * 32", "push 0", "push 3", "jmp versus_exception_common",
    ".org 4 * 32", "push 0", "push 4", "jmp versus_exception_common",
    ".org 5 * 32", "push 0", "push 5", "jmp versus_exception_common",
    ".org 6 * 32", "push 0", "push 6", "jmp versus_exception_common",
    ".org 7 * 32", "push 0", "push 7", "jmp versus_exception_common",
    ".org 8 * 32", "push 8", "jmp versus_exception_common",
    ".org 9 * 32", "push 0", "push 9", "jmp versus_exception_common",
    ".org 10 * 32", "push 10", "jmp versus_exception_common",
    ".org 11 * 32", "push 11", "jmp versus_exception_common",
    ".org 12 * 32", "push 12", "jmp versus_exception_common",
    ".org 13 * 32", "push 13", "jmp versus_exception_common",
    ".org 14 * 32", "push 14", "jmp versus_exception_common",
    ".org 15 * 32", "push 0", "push 15", "jmp versus_exception_common",
    ".org 16 * 32", "push 0", "push 16", "jmp versus_exception_common",
    ".org 17 * 32", "push 17", "jmp versus_exception_common",
    ".org 18 * 32", "push 0", "push 18", "jmp versus_exception_common",
    ".org 19 * 32", "push 0", "push 19", "jmp versus_exception_common",
    ".org 20 * 32", "push 0", "push 20", "jmp versus_exception_common",
    ".org 21 * 32", "push 21", "jmp versus_exception_common",
    ".org 22 * 32", "push 0", "push 22", "jmp versus_exception_common",
    ".org 23 * 32", "push 0", "push 23", "jmp versus_exception_common",
    ".org 24 * 32", "push 0", "push 24", "jmp versus_exception_common",
    ".org 25 * 32", "push 0", "push 25", "jmp versus_exception_common",
    ".org 26 * 32", "push 0", "push 26", "jmp versus_exception_common",
    ".org 27 * 32", "push 0", "push 27", "jmp versus_exception_common",
    ".org 28 * 32", "push 0", "push 28", "jmp versus_exception_common",
    ".org 29 * 32", "push 29", "jmp versus_exception_common",
    ".org 30 * 32", "push 30", "jmp versus_exception_common",
    ".org 31 * 32", "push 0", "push 31", "jmp versus_exception_common",
    // #PF: a fault at LSTAR is a system call (software backend).
    ".org 0x400",
    "cmp qword ptr [rsp + 8], {syscall_va}",
    "jne 3f",
    "mov [rsp + 8], rcx",
    "and r11, {flags_mask}",
    "or r11, {flags_set}",
    "mov [rsp + 24], r11",
    // The common path: frame = error code, RIP, CS, RFLAGS, RSP, SS.
    ".global versus_syscall_common",
    "versus_syscall_common:",
    "push rdi",
    "push rsi",
    "push rdx",
    "push r10",
    "push r8",
    "push r9",
    "mov rdi, rsp",
    "mov rsi, rax",
    "call {dispatch}",
    "pop r9",
    "pop r8",
    "pop r10",
    "pop rdx",
    "pop rsi",
    "pop rdi",
    "add rsp, 8",
    ".global versus_syscall_iretq",
    "versus_syscall_iretq:",
    "iretq",
    "3:",
    "push 14",
    "jmp versus_exception_common",
    // syscall (LSTAR): ring 0 on hardware KVM.
    ".org 0x800",
    "swapgs",
    "mov qword ptr gs:[8], rsp",
    "mov rsp, qword ptr gs:[0]",
    "push {user_ds}",
    "push qword ptr gs:[8]",
    "swapgs",
    "and r11, {flags_mask}",
    "or r11, {flags_set}",
    "push r11",
    "push {user_cs}",
    "push rcx",
    "push 0",
    "jmp versus_syscall_common",
    ".popsection",
    // Everything else: save all registers, hand the frame to Rust.
    ".pushsection .text.versus_exception, \"ax\"",
    "versus_exception_common:",
    "push rax",
    "push rbx",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov rdi, rsp",
    "cld",
    "call {exception}",
    "ud2",
    ".popsection",
    syscall_va = const SYSCALL_VA as i64,
    flags_mask = const USER_FLAGS_MASK,
    flags_set = const USER_FLAGS_SET,
    dispatch = sym dispatch,
    exception = sym exception,
    user_ds = const selector::USER_DS,
    user_cs = const selector::USER_CS,
);

unsafe extern "C" {
    /// The `iretq` that ends every system call (a fault *on* it is the
    /// user's doing: a forged non-canonical return address).
    pub safe static versus_syscall_iretq: u8;
}

/// The frame of a system call, lowest address first: what the common path
/// pushed, then what the CPU (or the hardware `syscall` stub) pushed. The
/// CPU's `PerCpu` follows immediately.
#[repr(C)]
pub struct SyscallFrame {
    /// Argument 6.
    pub r9: u64,
    /// Argument 5.
    pub r8: u64,
    /// Argument 4.
    pub r10: u64,
    /// Argument 3.
    pub rdx: u64,
    /// Argument 2.
    pub rsi: u64,
    /// Argument 1.
    pub rdi: u64,
    /// The #PF error code (or 0).
    pub error: u64,
    /// User return address (from RCX).
    pub rip: u64,
    /// User CS.
    pub cs: u64,
    /// User RFLAGS (from R11, masked).
    pub rflags: u64,
    /// User RSP.
    pub rsp: u64,
    /// User SS.
    pub ss: u64,
}

/// The frame of any other exception, lowest address first.
#[repr(C)]
pub struct ExceptionFrame {
    /// Saved registers, in `push` order reversed.
    pub r15: u64,
    #[allow(missing_docs)]
    pub r14: u64,
    #[allow(missing_docs)]
    pub r13: u64,
    #[allow(missing_docs)]
    pub r12: u64,
    #[allow(missing_docs)]
    pub r11: u64,
    #[allow(missing_docs)]
    pub r10: u64,
    #[allow(missing_docs)]
    pub r9: u64,
    #[allow(missing_docs)]
    pub r8: u64,
    #[allow(missing_docs)]
    pub rbp: u64,
    #[allow(missing_docs)]
    pub rdi: u64,
    #[allow(missing_docs)]
    pub rsi: u64,
    #[allow(missing_docs)]
    pub rdx: u64,
    #[allow(missing_docs)]
    pub rcx: u64,
    #[allow(missing_docs)]
    pub rbx: u64,
    #[allow(missing_docs)]
    pub rax: u64,
    /// Vector number (pushed by the stub).
    pub vector: u64,
    /// Error code (0 if the vector has none).
    pub error: u64,
    /// Where it happened.
    pub rip: u64,
    /// CS at the time (RPL = the mode).
    pub cs: u64,
    /// RFLAGS at the time.
    pub rflags: u64,
    /// RSP at the time.
    pub rsp: u64,
    /// SS at the time.
    pub ss: u64,
}

/// Starts user mode: writes the `WORKLOAD_START` marker, clears every
/// general register (nothing of the kernel leaks; a static glibc reads RDX
/// as an exit hook) and `iretq`s to `rip` with `rsp`, IF set.
///
/// # Safety
/// The current address space must map `rip` as user-executable and `rsp`
/// as the user's stack; the entry stack and TSS must be loaded.
pub unsafe fn enter_user(rip: u64, rsp: u64) -> ! {
    // SAFETY: the caller vouches for the target; the frame is the one
    // `iretq` expects for a return to ring 3.
    unsafe {
        asm!(
            "push {ss}",
            "push {rsp}",
            "push {rflags}",
            "push {cs}",
            "push {rip}",
            "mov edx, {marker_port}",
            "mov eax, {workload_start}",
            "out dx, eax",
            "xor eax, eax",
            "xor ebx, ebx",
            "xor ecx, ecx",
            "xor edx, edx",
            "xor esi, esi",
            "xor edi, edi",
            "xor ebp, ebp",
            "xor r8d, r8d",
            "xor r9d, r9d",
            "xor r10d, r10d",
            "xor r11d, r11d",
            "xor r12d, r12d",
            "xor r13d, r13d",
            "xor r14d, r14d",
            "xor r15d, r15d",
            "iretq",
            ss = const selector::USER_DS,
            cs = const selector::USER_CS,
            rflags = const USER_FLAGS_SET,
            marker_port = const port::MARKER,
            workload_start = const event::WORKLOAD_START,
            rsp = in(reg) rsp,
            rip = in(reg) rip,
            options(noreturn),
        );
    }
}

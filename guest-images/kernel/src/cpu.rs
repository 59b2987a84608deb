//! Small wrappers around privileged instructions, and the per-CPU model
//! specific registers.

use core::arch::asm;

use versus_abi::port;

use crate::layout::SYSCALL_VA;
use crate::percpu::PerCpu;

/// EFER.
const MSR_EFER: u32 = 0xc000_0080;
/// SYSCALL/SYSRET selectors.
const MSR_STAR: u32 = 0xc000_0081;
/// The `syscall` entry point.
const MSR_LSTAR: u32 = 0xc000_0082;
/// RFLAGS bits `syscall` clears.
const MSR_SFMASK: u32 = 0xc000_0084;
/// FS base (the user's thread pointer).
pub const MSR_FS_BASE: u32 = 0xc000_0100;
/// GS base.
pub const MSR_GS_BASE: u32 = 0xc000_0101;
/// The GS base `swapgs` exchanges with.
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
/// EFER.NXE: the NX bit of page-table entries is honoured.
const EFER_NXE: u64 = 1 << 11;
/// TF | IF | DF | NT | AC: cleared on `syscall` (hardware path).
const SYSCALL_MASK: u64 = 0x4_7700;

/// Reads a model-specific register.
pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: only architectural MSRs that exist on every x86-64 CPU are read.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes a model-specific register.
///
/// # Safety
/// The value must be valid for `msr` and keep the kernel's invariants.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller's contract.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack, preserves_flags));
    }
}

/// Sets up this CPU's system-call MSRs and EFER.NXE.
pub fn init_msrs(pc: &PerCpu) {
    // SAFETY: LSTAR is the syscall stub of `entry.rs`; STAR's selectors are
    // the GDT's (kernel CS 0x10 / SS 0x18; sysret would use 0x23 + 16 =
    // 0x33 and 0x23 + 8 = 0x2b); KERNEL_GS_BASE is this CPU's PerCpu, what
    // the stub's `swapgs` expects; NXE only enables the NX bit the kernel's
    // own tables do not use.
    unsafe {
        wrmsr(MSR_LSTAR, SYSCALL_VA);
        wrmsr(MSR_STAR, (0x23u64 << 48) | (0x10u64 << 32));
        wrmsr(MSR_SFMASK, SYSCALL_MASK);
        wrmsr(MSR_KERNEL_GS_BASE, pc.self_ptr);
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    }
}

/// CR2: the address of the last page fault.
pub fn cr2() -> u64 {
    let value;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Writes a boot marker (`versus_abi::event`).
pub fn marker(event: u32) {
    // SAFETY: the VMM's marker port; one exit.
    unsafe {
        asm!("out dx, eax", in("dx") port::MARKER, in("eax") event, options(nomem, nostack, preserves_flags));
    }
}

/// Ends the VM with `status` (`versus_abi::status`): the VMM stops every vCPU.
pub fn exit_vm(status: u32) -> ! {
    // SAFETY: the VMM's exit port.
    unsafe {
        asm!("out dx, eax", in("dx") port::EXIT, in("eax") status, options(nomem, nostack, preserves_flags));
    }
    halt()
}

/// Stops this vCPU for good (no interrupts: nothing wakes it).
pub fn halt() -> ! {
    loop {
        // SAFETY: interrupts are off; hlt just stops the vCPU.
        unsafe { asm!("hlt", options(nomem, nostack, preserves_flags)) };
    }
}

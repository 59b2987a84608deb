//! Step 5: the register state every vCPU starts in — 64-bit long mode, set
//! up by the VMM the way firmware would (GDT, identity page tables, control
//! registers), so the guest's first instruction already runs at its ELF entry.
//!
//! Application processors start directly in this state: there is no
//! in-kernel irqchip (so no LAPIC to send INIT/SIPI through, and HLT exits
//! to the VMM), every vCPU is runnable from the start.

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs};
use kvm_ioctls::VcpuFd;
use serde::Serialize;
use versus_abi::selector;

use crate::gdt::{GDT_SIZE, boot_segment};
use crate::layout::{BOOT_INFO_START, GDT_START};

/// CR0: protected mode enable.
pub const CR0_PE: u64 = 1 << 0;
/// CR0: monitor coprocessor (WAIT/FWAIT honour TS).
pub const CR0_MP: u64 = 1 << 1;
/// CR0: x87 emulation — kept clear so SSE works.
pub const CR0_EM: u64 = 1 << 2;
/// CR0: extension type (always 1 on modern CPUs).
pub const CR0_ET: u64 = 1 << 4;
/// CR0: native x87 error reporting.
pub const CR0_NE: u64 = 1 << 5;
/// CR0: paging.
pub const CR0_PG: u64 = 1 << 31;
/// CR4: physical address extension (required for long mode).
pub const CR4_PAE: u64 = 1 << 5;
/// CR4: OS supports FXSAVE/FXRSTOR (SSE enabled).
pub const CR4_OSFXSR: u64 = 1 << 9;
/// CR4: OS handles SIMD floating-point exceptions.
pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
/// EFER: SYSCALL/SYSRET enable.
pub const EFER_SCE: u64 = 1 << 0;
/// EFER: long mode enable.
pub const EFER_LME: u64 = 1 << 8;
/// EFER: long mode active.
pub const EFER_LMA: u64 = 1 << 10;

/// Entry CR0.
pub const BOOT_CR0: u64 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
/// Entry CR4.
pub const BOOT_CR4: u64 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
/// Entry EFER.
pub const BOOT_EFER: u64 = EFER_SCE | EFER_LME | EFER_LMA;

/// Errors of setting a vCPU's registers.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// A register ioctl failed.
    #[error("{what} failed: {source}")]
    Ioctl {
        /// Which ioctl.
        what: &'static str,
        /// Why.
        source: kvm_ioctls::Error,
    },
}

/// Where one vCPU starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    /// RIP: the kernel's ELF entry.
    pub rip: u64,
    /// RSP: the top of this vCPU's stack.
    pub rsp: u64,
    /// CR3: the identity PML4.
    pub cr3: u64,
    /// RSI: the vCPU index.
    pub index: u32,
}

/// Long-mode system registers, starting from what KVM reported (`base`).
pub fn long_mode_sregs(mut sregs: kvm_sregs, cr3: u64) -> kvm_sregs {
    sregs.gdt.base = GDT_START;
    sregs.gdt.limit = (GDT_SIZE - 1) as u16;
    // No IDT: an exception before the kernel loads one is a triple fault.
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cs = boot_segment(selector::KERNEL_CS);
    let ds = boot_segment(selector::KERNEL_DS);
    sregs.ds = ds;
    sregs.es = ds;
    sregs.fs = ds;
    sregs.gs = ds;
    sregs.ss = ds;
    sregs.tr = boot_segment(selector::TSS);
    sregs.cr0 = BOOT_CR0;
    sregs.cr3 = cr3;
    sregs.cr4 = BOOT_CR4;
    sregs.efer = BOOT_EFER;
    sregs
}

/// General registers at entry: RIP, RSP, RDI = boot info, RSI = index.
pub fn entry_regs(entry: &EntryPoint) -> kvm_regs {
    kvm_regs {
        rip: entry.rip,
        rsp: entry.rsp,
        rbp: entry.rsp,
        rdi: BOOT_INFO_START,
        rsi: u64::from(entry.index),
        rflags: 0x2, // bit 1 is reserved and always 1; IF clear
        ..Default::default()
    }
}

/// x87/SSE state at entry: the power-on defaults firmware leaves.
pub fn entry_fpu() -> kvm_fpu {
    kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    }
}

/// Loads the entry state into `vcpu`.
pub fn configure(vcpu: &VcpuFd, entry: &EntryPoint) -> Result<(), CpuError> {
    let e = |what| move |source| CpuError::Ioctl { what, source };
    let sregs = vcpu.get_sregs().map_err(e("KVM_GET_SREGS"))?;
    vcpu.set_sregs(&long_mode_sregs(sregs, entry.cr3))
        .map_err(e("KVM_SET_SREGS"))?;
    vcpu.set_regs(&entry_regs(entry))
        .map_err(e("KVM_SET_REGS"))?;
    vcpu.set_fpu(&entry_fpu()).map_err(e("KVM_SET_FPU"))?;
    Ok(())
}

/// A snapshot of guest registers for reports (guest reset, internal error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GuestRegs {
    /// Instruction pointer.
    pub rip: u64,
    /// Stack pointer.
    pub rsp: u64,
    /// Flags.
    pub rflags: u64,
    /// RAX.
    pub rax: u64,
    /// RBX.
    pub rbx: u64,
    /// RCX.
    pub rcx: u64,
    /// RDX.
    pub rdx: u64,
    /// RSI.
    pub rsi: u64,
    /// RDI.
    pub rdi: u64,
    /// RBP.
    pub rbp: u64,
    /// CR0.
    pub cr0: u64,
    /// CR2 (last page-fault address).
    pub cr2: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// EFER.
    pub efer: u64,
    /// CS selector.
    pub cs: u16,
}

impl GuestRegs {
    /// From KVM's structs.
    pub fn new(r: &kvm_regs, s: Option<&kvm_sregs>) -> Self {
        let mut g = Self {
            rip: r.rip,
            rsp: r.rsp,
            rflags: r.rflags,
            rax: r.rax,
            rbx: r.rbx,
            rcx: r.rcx,
            rdx: r.rdx,
            rsi: r.rsi,
            rdi: r.rdi,
            rbp: r.rbp,
            ..Default::default()
        };
        if let Some(s) = s {
            g.cr0 = s.cr0;
            g.cr2 = s.cr2;
            g.cr3 = s.cr3;
            g.cr4 = s.cr4;
            g.efer = s.efer;
            g.cs = s.cs.selector;
        }
        g
    }

    /// Reads them from a stopped vCPU (`None` if KVM refuses).
    pub fn read(vcpu: &VcpuFd) -> Option<Self> {
        let r = vcpu.get_regs().ok()?;
        let s = vcpu.get_sregs().ok();
        Some(Self::new(&r, s.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_mode_control_registers() {
        let s = long_mode_sregs(kvm_sregs::default(), 0x1_0000);
        assert_eq!(s.cr0 & (CR0_PE | CR0_PG | CR0_MP), CR0_PE | CR0_PG | CR0_MP);
        assert_eq!(s.cr0 & CR0_EM, 0);
        assert_eq!(s.cr4, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT);
        assert_eq!(s.efer, EFER_LME | EFER_LMA | EFER_SCE);
        assert_eq!(s.cr3, 0x1_0000);
        assert_eq!((s.cs.selector, s.cs.l, s.cs.db), (0x10, 1, 0));
        assert_eq!((s.ss.selector, s.ds.selector), (0x18, 0x18));
        assert_eq!((s.tr.selector, s.tr.type_), (0x40, 0xb));
        assert_eq!((s.gdt.base, s.gdt.limit), (GDT_START, 79));
        assert_eq!(s.idt.limit, 0);
    }

    #[test]
    fn entry_registers() {
        let r = entry_regs(&EntryPoint {
            rip: 0x20_0000,
            rsp: 0x30_0000,
            cr3: 0x1_0000,
            index: 1,
        });
        assert_eq!(
            (r.rip, r.rsp, r.rdi, r.rsi, r.rflags),
            (0x20_0000, 0x30_0000, BOOT_INFO_START, 1, 2)
        );
        assert_eq!(r.rsp % 16, 0);
    }
}

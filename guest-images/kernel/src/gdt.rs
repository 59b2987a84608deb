//! The kernel's GDT and the per-CPU TSS.
//!
//! One GDT for every CPU, with Linux's selector layout
//! (`versus_abi::selector`) — on the software backend a user-mode `syscall`
//! lands with CS = 0x33 and SS = 0x2b, and an exception taken there saves
//! those, so `iretq` must find user descriptors at exactly those selectors.
//! The code and data descriptors are a constant (in `.data`, written by no
//! one); each CPU adds its own 16-byte TSS descriptor at slot
//! `8 + 2 * cpu` and loads it. The descriptors equal the VMM's, so the
//! segment registers need no reload after `lgdt`.

use versus_abi::selector;

use crate::layout::MAX_CPUS;
use crate::percpu::PerCpu;

/// The 64-bit task-state segment (Intel SDM vol. 3, 8.7).
#[repr(C, packed)]
#[derive(Default)]
pub struct Tss {
    _reserved0: u32,
    /// Stack for entries from ring 3 (unused: every vector has an IST).
    pub rsp0: u64,
    _rsp1: u64,
    _rsp2: u64,
    _reserved1: u64,
    /// IST1: the entry stack.
    pub ist1: u64,
    /// IST2: #DF.
    pub ist2: u64,
    /// IST3: NMI.
    pub ist3: u64,
    /// IST4: #MC.
    pub ist4: u64,
    _ist5: u64,
    _ist6: u64,
    _ist7: u64,
    _reserved2: u64,
    _reserved3: u16,
    /// Offset of the I/O permission bitmap; = size: none, user port I/O
    /// faults.
    pub iomap_base: u16,
}

const _: () = assert!(size_of::<Tss>() == 104);

/// First GDT slot of the TSS descriptors (`selector::TSS` for CPU 0).
const TSS_SLOT: usize = (selector::TSS >> 3) as usize;
/// GDT slots: the VMM's layout, then two per CPU.
const GDT_ENTRIES: usize = TSS_SLOT + 2 * MAX_CPUS;

/// Present, DPL 0, 64-bit code.
const KERNEL_CODE64: u64 = 0x00af_9b00_0000_ffff;
/// Present, DPL 0, 32-bit code.
const KERNEL_CODE32: u64 = 0x00cf_9b00_0000_ffff;
/// Present, DPL 0, data.
const KERNEL_DATA: u64 = 0x00cf_9300_0000_ffff;
/// Present, DPL 3, 32-bit code.
const USER_CODE32: u64 = 0x00cf_fb00_0000_ffff;
/// Present, DPL 3, data.
const USER_DATA: u64 = 0x00cf_f300_0000_ffff;
/// Present, DPL 3, 64-bit code.
const USER_CODE64: u64 = 0x00af_fb00_0000_ffff;

#[repr(C, align(16))]
struct Gdt([u64; GDT_ENTRIES]);

const fn gdt() -> Gdt {
    let mut g = [0u64; GDT_ENTRIES];
    g[(selector::KERNEL32_CS >> 3) as usize] = KERNEL_CODE32;
    g[(selector::KERNEL_CS >> 3) as usize] = KERNEL_CODE64;
    g[(selector::KERNEL_DS >> 3) as usize] = KERNEL_DATA;
    g[(selector::USER32_CS >> 3) as usize] = USER_CODE32;
    g[(selector::USER_DS >> 3) as usize] = USER_DATA;
    g[(selector::USER_CS >> 3) as usize] = USER_CODE64;
    Gdt(g)
}

static mut GDT: Gdt = gdt();

/// The operand of `lgdt`/`lidt`.
#[repr(C, packed)]
pub struct DescriptorTablePointer {
    /// Size in bytes minus one.
    pub limit: u16,
    /// Linear address.
    pub base: *const u8,
}

// SAFETY: a constant pointer to a static, only ever read.
unsafe impl Sync for DescriptorTablePointer {}

static GDTR: DescriptorTablePointer = DescriptorTablePointer {
    limit: (size_of::<Gdt>() - 1) as u16,
    base: (&raw const GDT).cast(),
};

/// Loads the kernel's GDT and this CPU's TSS.
pub fn load(pc: &mut PerCpu) {
    let cpu = pc.cpu as usize;
    let base = (&raw const pc.tss) as u64;
    let limit = (size_of::<Tss>() - 1) as u64;
    // Available 64-bit TSS (type 9), present.
    let low = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x89 << 40)
        | ((limit & 0xf_0000) << 32)
        | ((base & 0xff00_0000) << 32);
    let slot = TSS_SLOT + 2 * cpu;
    let selector = (slot << 3) as u16;
    // SAFETY: slots `slot` and `slot + 1` belong to this CPU alone
    // (cpu < MAX_CPUS, checked by the caller); the GDT is a static that
    // stays loaded for good; the descriptor describes this CPU's TSS,
    // which lives as long as the kernel.
    unsafe {
        let gdt = (&raw mut GDT).cast::<u64>();
        gdt.add(slot).write_volatile(low);
        gdt.add(slot + 1).write_volatile(base >> 32);
        core::arch::asm!(
            "lgdt [{gdtr}]",
            "ltr {sel:x}",
            gdtr = in(reg) &raw const GDTR,
            sel = in(reg) selector,
            options(nostack, preserves_flags),
        );
    }
}

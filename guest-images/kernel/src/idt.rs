//! The IDT: a constant, computed at compile time.
//!
//! The entry points sit at fixed addresses (`layout::VECTORS_VA`, checked
//! by `kernel.ld`), so every gate is known when the kernel is compiled and
//! the table lives in `.rodata`: loading it is one `lidt`, not 64 emulated
//! stores per CPU.
//!
//! Every gate is an interrupt gate (IF cleared) on an IST stack: IST1 (the
//! entry stack, see `percpu.rs`) for all vectors except #DF (IST2), NMI
//! (IST3) and #MC (IST4). #BP has DPL 3 so that a user `int3` arrives as
//! #BP (SIGTRAP), as on Linux.

use versus_abi::selector;

use crate::gdt::DescriptorTablePointer;
use crate::layout::{PAGE_FAULT_VA, VECTOR_STUB_SIZE, VECTORS_VA};

/// Exception vectors with a gate (the architecture's 32).
pub const VECTORS: usize = 32;

/// Vector numbers.
pub mod vector {
    /// Divide error.
    pub const DE: u64 = 0;
    /// Debug.
    pub const DB: u64 = 1;
    /// Non-maskable interrupt.
    pub const NMI: u64 = 2;
    /// Breakpoint (`int3`).
    pub const BP: u64 = 3;
    /// Invalid opcode.
    pub const UD: u64 = 6;
    /// Device not available.
    pub const NM: u64 = 7;
    /// Double fault.
    pub const DF: u64 = 8;
    /// Segment not present.
    pub const NP: u64 = 11;
    /// Stack-segment fault.
    pub const SS: u64 = 12;
    /// General protection.
    pub const GP: u64 = 13;
    /// Page fault.
    pub const PF: u64 = 14;
    /// x87 floating-point error.
    pub const MF: u64 = 16;
    /// Alignment check.
    pub const AC: u64 = 17;
    /// Machine check.
    pub const MC: u64 = 18;
    /// SIMD floating-point exception.
    pub const XM: u64 = 19;
}

/// The entry point of `vector`.
pub const fn handler(vector: u64) -> u64 {
    if vector == vector::PF {
        PAGE_FAULT_VA
    } else {
        VECTORS_VA + vector * VECTOR_STUB_SIZE
    }
}

/// The IST index of `vector`.
const fn ist(vector: u64) -> u64 {
    match vector {
        vector::DF => 2,
        vector::NMI => 3,
        vector::MC => 4,
        _ => 1,
    }
}

/// One 16-byte gate descriptor.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Gate([u64; 2]);

const fn gate(vector: u64) -> Gate {
    let offset = handler(vector);
    let dpl = if vector == vector::BP { 3 } else { 0 };
    // Present, DPL, type 0xE: 64-bit interrupt gate.
    let attributes = 0x80 | (dpl << 5) | 0xe;
    Gate([
        (offset & 0xffff)
            | ((selector::KERNEL_CS as u64) << 16)
            | (ist(vector) << 32)
            | (attributes << 40)
            | ((offset & 0xffff_0000) << 32),
        offset >> 32,
    ])
}

const fn idt() -> [Gate; VECTORS] {
    let mut table = [Gate([0; 2]); VECTORS];
    let mut v = 0;
    while v < VECTORS {
        table[v] = gate(v as u64);
        v += 1;
    }
    table
}

static IDT: [Gate; VECTORS] = idt();

static IDTR: DescriptorTablePointer = DescriptorTablePointer {
    limit: (size_of::<[Gate; VECTORS]>() - 1) as u16,
    base: (&raw const IDT).cast(),
};

/// Loads the IDT on this CPU (after its TSS: the gates use IST stacks).
pub fn load() {
    // SAFETY: the IDT is a static whose gates all point at the entry
    // stubs of `entry.rs`, and this CPU's TSS (with its IST stacks) is
    // loaded already.
    unsafe {
        core::arch::asm!("lidt [{}]", in(reg) &raw const IDTR, options(nostack, preserves_flags));
    }
}

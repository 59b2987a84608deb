//! The entry stub: the only code that runs at its physical address.
//!
//! The VMM starts every vCPU here at once, in long mode, on the VMM's
//! identity-mapped page tables (`versus_abi` "Entry state"). The stub
//!
//! 1. writes the `KERNEL_ENTRY` marker (its first instruction);
//! 2. stops an application processor that has no instance to run (`hlt`
//!    stops a vCPU for good; nothing else has been touched);
//! 3. installs the VMM's identity PDPT a second time at PML4\[256\] — one
//!    entry copy, and all RAM is mapped at [`DIRECT_MAP`] — and the
//!    kernel-image mapping at PML4\[511\] (a PDPT of the kernel's own whose
//!    entry 510 is the VMM's page directory of the first GiB);
//! 4. moves RSP and the boot-information pointer into the direct map and
//!    calls [`crate::kernel_main`] in the higher half.
//!
//! Every vCPU writes the same values to the same entries, so running the
//! stub on all of them at once is harmless. From `kernel_main` on, nothing
//! uses the identity map: each CPU switches to page tables of its own.
//!
//! About 20 instructions, all emulated at ring 0 on the software backend.

use core::arch::global_asm;
use core::mem::offset_of;

use versus_abi::{BootInfo, event, flags, port};

use crate::layout::{DIRECT_MAP, KERNEL_VMA};
use crate::paging::{KERNEL_PDPT, PTE_PRESENT, PTE_WRITE};

global_asm!(
    ".pushsection .boot, \"ax\"",
    ".global _start",
    "_start:",
    "mov edx, {marker_port}",
    "mov eax, {kernel_entry}",
    "out dx, eax",
    // An application processor with no instance to run stops here.
    "test esi, esi",
    "jz 2f",
    "test dword ptr [rdi + {flags_offset}], {run_on_every_vcpu}",
    "jnz 2f",
    "1: hlt",
    "jmp 1b",
    "2:",
    // rax = the VMM's PML4 (identity-mapped), rcx = its entry 0: the PDPT
    // that maps all RAM.
    "mov rax, cr3",
    "and rax, -4096",
    "mov rcx, [rax]",
    "mov [rax + 256 * 8], rcx",
    // The kernel PDPT's entry 510 = the VMM's PD of the first GiB, and
    // PML4[511] = the kernel PDPT (physical = virtual - KERNEL_VMA, which
    // is virtual + 0x8000_0000 modulo 2^64).
    "mov edx, ecx",
    "and edx, -4096",
    "mov rdx, [rdx]",
    "mov [{kernel_pdpt} + 0x80000000 + 510 * 8], rdx",
    "lea edx, [{kernel_pdpt} + 0x80000000 + {table_flags}]",
    "mov [rax + 511 * 8], rdx",
    // Into the higher half: stack and boot information via the direct map.
    "movabs rax, {direct_map}",
    "add rsp, rax",
    "add rdi, rax",
    "movabs rax, offset {main}",
    "call rax",
    "ud2",
    ".popsection",
    marker_port = const port::MARKER,
    kernel_entry = const event::KERNEL_ENTRY,
    flags_offset = const offset_of!(BootInfo, flags),
    run_on_every_vcpu = const flags::RUN_ON_EVERY_VCPU,
    kernel_pdpt = sym KERNEL_PDPT,
    table_flags = const PTE_PRESENT | PTE_WRITE,
    direct_map = const DIRECT_MAP,
    main = sym crate::kernel_main,
);

// The stub's `+ 0x8000_0000` is `- KERNEL_VMA` modulo 2^64.
const _: () = assert!(KERNEL_VMA.wrapping_add(0x8000_0000) == 0);

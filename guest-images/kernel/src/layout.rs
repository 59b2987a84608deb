//! Every virtual address the kernel invents, in one place.
//!
//! ```text
//! 0x0000_0000_0000_0000 ┌───────────────────────────────┐ user half (PML4[0..256], per instance)
//!                       │ (unmapped)                    │
//! 0x0000_0000_0040_0000 │ workload ELF, as linked       │ text/rodata in place, data/bss fresh
//!                       │ brk heap (grows up)           │ after the highest segment
//! 0x0000_7f00_0000_0000 │ mmap area (bump, grows up)    │ MMAP_BASE
//!                       │ (unmapped: stack guard)       │
//! 0x0000_7fff_ffc0_0000 │ user stack (one 2 MiB page)   │ USER_STACK_TOP - USER_STACK_SIZE
//! 0x0000_7fff_ffe0_0000 │ argv block, read-only         │ USER_STACK_TOP = ARGV_VA
//! 0x0000_8000_0000_0000 └───────────────────────────────┘ USER_END
//!                         (non-canonical hole)
//! 0xffff_8000_0000_0000 ┌───────────────────────────────┐ DIRECT_MAP (PML4[256]): all RAM,
//!                       │ physical address + DIRECT_MAP │ supervisor-only (the VMM's PDPT)
//!                       └───────────────────────────────┘
//! 0xffff_ffff_8000_0000 ┌───────────────────────────────┐ KERNEL_VMA (PML4[511], PDPT[510]):
//! 0xffff_ffff_8010_1000 │ entry points (VECTORS_VA)     │ the kernel image, physical + KERNEL_VMA
//!                       │ kernel text, rodata, data     │ (Linux's __START_KERNEL_map)
//!                       └───────────────────────────────┘
//! ```

/// Size of a small page.
pub const PAGE_SIZE: u64 = 0x1000;
/// Size of a large page (a PD leaf).
pub const LARGE_PAGE_SIZE: u64 = 0x20_0000;

/// Physical address the kernel is linked at (linux-loader's `highmem_start`,
/// the VMM's `layout::KERNEL_START`); the entry stub runs here, identity-mapped.
pub const KERNEL_PHYS: u64 = 0x10_0000;
/// The kernel image is linked at physical address + this (top 2 GiB, for
/// `-C code-model=kernel`). Must match `kernel.ld`.
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// Every byte of guest RAM at physical address + this (PML4 entry 256).
pub const DIRECT_MAP: u64 = 0xffff_8000_0000_0000;

/// The fixed-address entry points at the start of `.text` (`kernel.ld`
/// asserts it): one 32-byte stub per exception vector 0..32.
pub const VECTORS_VA: u64 = KERNEL_VMA + KERNEL_PHYS + PAGE_SIZE;
/// Bytes per exception stub.
pub const VECTOR_STUB_SIZE: u64 = 32;
/// The page-fault entry, which also takes system calls on the software
/// backend (after the 32 stubs).
pub const PAGE_FAULT_VA: u64 = VECTORS_VA + 0x400;
/// The `syscall` entry point (LSTAR).
pub const SYSCALL_VA: u64 = VECTORS_VA + 0x800;

/// One past the highest user address (the canonical lower half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// Lowest address a user mapping may start at (Linux's `mmap_min_addr`).
pub const USER_MIN: u64 = 0x1_0000;
/// Where anonymous `mmap`s start (bump-allocated upwards, never reused).
pub const MMAP_BASE: u64 = 0x0000_7f00_0000_0000;
/// Top of the user stack (2 MiB aligned); the argv block is mapped here.
pub const USER_STACK_TOP: u64 = 0x0000_7fff_ffe0_0000;
/// Size of the user stack: one large page.
pub const USER_STACK_SIZE: u64 = LARGE_PAGE_SIZE;
/// Where the VMM's argv block is mapped read-only.
pub const ARGV_VA: u64 = USER_STACK_TOP;

/// Most vCPUs the kernel supports: the ABI's bound, which the VMM enforces.
pub const MAX_CPUS: usize = versus_abi::MAX_VCPUS as usize;

/// Physical address of the kernel-image virtual address `va`.
pub const fn kernel_phys(va: u64) -> u64 {
    va - KERNEL_VMA
}

/// Direct-map address of physical address `pa`.
pub const fn phys_to_virt(pa: u64) -> u64 {
    pa + DIRECT_MAP
}

/// Physical address of direct-map address `va`.
pub const fn virt_to_phys(va: u64) -> u64 {
    va - DIRECT_MAP
}

/// `x` rounded up to a multiple of `align` (a power of two).
pub const fn align_up(x: u64, align: u64) -> u64 {
    (x + align - 1) & !(align - 1)
}

/// `x` rounded down to a multiple of `align` (a power of two).
pub const fn align_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}

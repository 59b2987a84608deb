//! Every guest-physical address and size the VMM invents, in one place.
//!
//! ```text
//! 0x0000_0000 ┌──────────────────────────────┐ region 0 (low RAM, starts at 0)
//!             │ (unused: real-mode IVT/BDA)  │
//! 0x0000_1000 │ GDT (1 page)                 │ GDT_START
//! 0x0000_2000 │ boot TSS (1 page)            │ BOOT_TSS_START
//! 0x0000_7000 │ boot information (1 page)    │ BOOT_INFO_START
//! 0x0001_0000 │ page tables (up to 448 KiB)  │ PAGE_TABLES_START..PAGE_TABLES_END
//! 0x0008_0000 │ (unused, like the EBDA/VGA)  │
//! 0x0010_0000 │ kernel ELF segments          │ KERNEL_START (1 MiB)
//!             │ workload image  (page align) │ placed after the kernel, like an initrd
//!             │ argv block      (page align) │
//!             │ initramfs       (page align) │ `--initrd`, if any
//!             │ vCPU stacks     (page align) │ STACK_SIZE each
//!             │ free …                       │ ← BootInfo::first_free_addr
//! 0xC000_0000 ├──────────────────────────────┤ MMIO_HOLE_START (3 GiB): no RAM
//! 0x1_0000_0000 ─────────────────────────────┤ HIGH_RAM_START (4 GiB): region 1
//!             │ high RAM …                   │
//!             └──────────────────────────────┘
//! ```

/// Size of a small page.
pub const PAGE_SIZE: u64 = 0x1000; // 4 KiB.
/// Size of a large (2 MiB) page, the unit of the identity map.
pub const LARGE_PAGE_SIZE: u64 = 0x20_0000; // 2 MiB.

/// Start of the low RAM region; the boot area below lives in it.
pub const LOW_RAM_START: u64 = 0x0;
/// The VMM's GDT (one page; `versus_abi::selector::GDT_ENTRIES` slots used).
pub const GDT_START: u64 = 0x1000;
/// The TSS that TR points at on entry (one page; the kernel loads its own).
pub const BOOT_TSS_START: u64 = 0x2000;
/// The `versus_abi::BootInfo` struct (one page); its address goes in RDI.
pub const BOOT_INFO_START: u64 = 0x7000;
/// First byte of the area the identity page tables are built in (PML4 first).
pub const PAGE_TABLES_START: u64 = 0x1_0000; // 64 KiB.
/// One past the last byte of the page-table area (112 pages of tables).
pub const PAGE_TABLES_END: u64 = 0x8_0000; // 512 KiB.
/// Lowest address of the kernel's ELF segments and entry point (linux-loader's
/// `highmem_start`): 1 MiB, like Linux and Firecracker's `HIMEM_START`.
pub const KERNEL_START: u64 = 0x10_0000; // 1 MiB.

/// Bytes of one vCPU's stack in the stack area after the argv block.
pub const STACK_SIZE: u64 = 0x4000; // 16 KiB.
/// Largest argv block (NUL-terminated strings) the VMM places.
pub const ARGV_MAX_SIZE: u64 = 0x1_0000; // 64 KiB.
/// Largest initramfs (cpio archive, `--initrd`) the VMM places: it lives
/// in region 0 next to the kernel, and the tiny kernel scans it linearly.
pub const INITRD_MAX_SIZE: u64 = 0x100_0000; // 16 MiB.
/// Most entries (files, directories, links) an initramfs may hold: the
/// tiny kernel finds a path by scanning every header in emulated ring 0
/// (about 0.2 ms per entry on a software backend), so an `open` in a full
/// archive costs a fraction of a second at most.
pub const INITRD_MAX_ENTRIES: usize = 1024;
/// Largest kernel image file the VMM accepts.
pub const KERNEL_MAX_SIZE: u64 = 0x400_0000; // 64 MiB.

/// Start of the 32-bit MMIO hole (no RAM may be placed in it).
pub const MMIO_HOLE_START: u64 = 0xC000_0000; // 3 GiB.
/// End of the 32-bit MMIO hole.
pub const MMIO_HOLE_END: u64 = 0x1_0000_0000; // 4 GiB.
/// Where the default layout puts the high RAM region.
pub const HIGH_RAM_START: u64 = 0x1_0000_0000; // 4 GiB.

/// Smallest RAM region 0 may be: the boot area plus 1 MiB for a kernel.
pub const MIN_LOW_RAM_SIZE: u64 = 0x20_0000; // 2 MiB.
/// Smallest total memory the default (split) layout accepts: the smallest
/// that boots the embedded workload on one vCPU. Below 8 MiB the split puts
/// 2 MiB at 0 (boot area, kernel, workload image, argv, stacks) and the rest
/// at 4 GiB, where the guest kernel takes its page tables and frames and the
/// workload's 2 MiB-aligned 2 MiB stack page: measured, 6 MiB runs it and
/// 6 MiB − 4 KiB ends with the kernel's out-of-memory status. Every further
/// vCPU that runs an instance needs another 2 MiB stack page (8 MiB for 2).
pub const MIN_MEM_SIZE: u64 = 0x60_0000; // 6 MiB.
/// Highest guest-physical address (exclusive) the identity map can cover:
/// one PDPT, i.e. one PML4 entry.
pub const MAX_GUEST_PHYS_ADDR: u64 = 0x80_0000_0000; // 512 GiB.

/// Most vCPUs the layout supports: the ABI's bound, which the guest kernel
/// sizes its tables with.
pub use versus_abi::MAX_VCPUS;

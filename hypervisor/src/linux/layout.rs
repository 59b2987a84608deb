//! Guest-physical addresses of what versus writes for a Linux guest, below
//! 1 MiB, beside the VMM's own boot area ([`crate::layout`]): the GDT (at
//! `GDT_START`) and the identity page tables (`PAGE_TABLES_START` ..
//! `PAGE_TABLES_END`) are shared with the tiny-kernel path.
//!
//! ```text
//! 0x0000_7000  zero page (struct boot_params) or hvm_start_info, 1 page
//! 0x0000_8000  PVH memory map (hvm_memmap_table_entry[]), 0xf00 bytes
//! 0x0000_8f00  PVH module list (the initramfs), 32 bytes
//! 0x0000_9000  kernel command line, up to 28 KiB (to 0x10000)
//! 0x0009_e000  MP configuration table (≤ 6 KiB, e820-reserved)
//! 0x0009_fc00  MP floating pointer (16 bytes, in the last KiB of base RAM)
//! 0x000a_0000  VGA, option ROMs, BIOS: reserved up to 1 MiB
//! ```

/// The zero page (`struct boot_params`) for the 64-bit entry, whose address
/// goes in RSI; for the PVH entry the `hvm_start_info` (address in RBX).
/// Same page as the tiny kernel's `BootInfo`: a guest has one or the other.
pub const ZERO_PAGE_START: u64 = crate::layout::BOOT_INFO_START;
/// The PVH entry's memory map, pointed at by `hvm_start_info.memmap_paddr`.
pub const PVH_MEMMAP_START: u64 = 0x8000;
/// The PVH entry's module list (one `hvm_modlist_entry`, the initramfs):
/// after room for 128 memory-map entries of 24 bytes.
pub const PVH_MODLIST_START: u64 = 0x8f00;
/// The kernel command line (NUL-terminated), pointed at by `cmd_line_ptr`.
pub const CMDLINE_START: u64 = 0x9000;
/// Room for the command line: up to the page tables at 64 KiB. Linux's own
/// `COMMAND_LINE_SIZE` on x86 is 2 KiB, so the kernel's limit always binds
/// first.
pub const CMDLINE_MAX_SIZE: u64 = crate::layout::PAGE_TABLES_START - CMDLINE_START;
/// Start of the area reserved in the e820 map below 1 MiB: the MP
/// configuration table, then the floating pointer, then the legacy
/// VGA/ROM/BIOS hole. Linux reserves the whole first MiB for itself anyway;
/// marking it reserved keeps the MP table out of any allocator's reach.
pub const LEGACY_RESERVED_START: u64 = 0x9_e000;
/// The MP configuration table (header and entries; 5284 bytes for 254
/// vCPUs, so it ends before the floating pointer).
pub const MP_CONFIG_START: u64 = LEGACY_RESERVED_START;
/// The MP floating pointer structure: Linux looks for it in the first KiB
/// of the EBDA, in the last KiB of base memory (639 KiB) and in the BIOS
/// ROM area; versus puts it at 639 KiB.
pub const MP_FLOATING_START: u64 = 0x9_fc00;
/// One past the legacy area: RAM resumes at 1 MiB.
pub const LEGACY_RESERVED_END: u64 = 0x10_0000;
/// The largest vmlinux a bzImage may unpack to (a distribution kernel's
/// vmlinux is 30–70 MiB; an allyesconfig one can be far more).
pub const VMLINUX_MAX_SIZE: u64 = 0x2000_0000; // 512 MiB.

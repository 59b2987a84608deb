//! Steps 2, 3 and 5: the command line, the e820 map and the boot
//! parameters a Linux kernel reads at its entry — the zero page (`struct
//! boot_params`, Documentation/arch/x86/zero-page.rst) for the 64-bit
//! entry, or `hvm_start_info` and its memory map for the PVH entry.

// loadflags: LOADED_HIGH (the protected-mode code is at 1 MiB), CAN_USE_HEAP
// (`heap_end_ptr` is valid).
use linux_loader::loader::bootparam::{
    CAN_USE_HEAP, E820_MAX_ENTRIES_ZEROPAGE, LOADED_HIGH, boot_e820_entry, boot_params,
    setup_header,
};
use linux_loader::loader::elf::start_info::{
    XEN_HVM_START_MAGIC_VALUE, hvm_memmap_table_entry, hvm_start_info,
};

use super::LinuxError;
use super::layout::{
    CMDLINE_MAX_SIZE, CMDLINE_START, LEGACY_RESERVED_END, LEGACY_RESERVED_START, PVH_MEMMAP_START,
    PVH_MODLIST_START,
};
use crate::layout::MMIO_HOLE_START;
use crate::memory::MemoryLayout;

/// e820 type of usable RAM.
pub const E820_RAM: u32 = 1;
/// e820 type of reserved memory.
pub const E820_RESERVED: u32 = 2;
/// `setup_header.type_of_loader`: 0xff, "undefined" (boot.rst: a loader
/// without an assigned id says so).
const LOADER_UNDEFINED: u8 = 0xff;
/// The "HdrS" magic as `setup_header.header` holds it.
const HDRS: u32 = u32::from_le_bytes(*b"HdrS");
/// `boot_flag`, the 0xAA55 signature at the end of the boot sector.
const BOOT_FLAG: u16 = 0xaa55;
/// The boot protocol versus speaks when the kernel gave no header (ELF):
/// 2.15, the one `cmdline_size` and the 64-bit fields are valid in.
const PROTOCOL_VERSION: u16 = 0x020f;
/// Linux's x86 `COMMAND_LINE_SIZE` minus its NUL: the limit when no setup
/// header says another (an ELF vmlinux, or a header older than 2.06).
pub const DEFAULT_CMDLINE_MAX: usize = 2047;
/// `hvm_start_info.version`: 1 has the memory map fields.
const PVH_VERSION: u32 = 1;

/// One e820 entry (address, size, type), as versus generates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    /// First byte.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// [`E820_RAM`] or [`E820_RESERVED`].
    pub kind: u32,
}

/// The e820 map of a memory layout: region 0 split around the legacy area
/// below 1 MiB (RAM below [`LEGACY_RESERVED_START`], reserved up to 1 MiB,
/// RAM from 1 MiB to the region's end, which is below the MMIO hole), then
/// every other region as RAM.
pub fn e820_map(layout: &MemoryLayout) -> Vec<E820Entry> {
    let mut map = Vec::with_capacity(layout.regions().len() + 2);
    for region in layout.regions() {
        if region.base == 0 {
            let low_end = region.end().min(LEGACY_RESERVED_START);
            map.push(E820Entry {
                addr: 0,
                size: low_end,
                kind: E820_RAM,
            });
            map.push(E820Entry {
                addr: LEGACY_RESERVED_START,
                size: LEGACY_RESERVED_END - LEGACY_RESERVED_START,
                kind: E820_RESERVED,
            });
            if region.end() > LEGACY_RESERVED_END {
                debug_assert!(region.end() <= MMIO_HOLE_START);
                map.push(E820Entry {
                    addr: LEGACY_RESERVED_END,
                    size: region.end() - LEGACY_RESERVED_END,
                    kind: E820_RAM,
                });
            }
        } else {
            map.push(E820Entry {
                addr: region.base,
                size: region.size,
                kind: E820_RAM,
            });
        }
    }
    map
}

/// The command line as the guest gets it (NUL-terminated), checked against
/// the kernel's limit: `cmdline_size` of its setup header (protocol 2.06+)
/// or [`DEFAULT_CMDLINE_MAX`].
pub fn command_line(text: &str, header: Option<&setup_header>) -> Result<Vec<u8>, LinuxError> {
    let max = match header {
        Some(h) if { h.version } >= 0x0206 && { h.cmdline_size } > 0 => h.cmdline_size as usize,
        _ => DEFAULT_CMDLINE_MAX,
    }
    .min(CMDLINE_MAX_SIZE as usize - 1);
    if text.as_bytes().contains(&0) {
        return Err(LinuxError::CmdlineNul);
    }
    if text.len() > max {
        return Err(LinuxError::CmdlineTooLong {
            len: text.len(),
            max,
        });
    }
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    Ok(bytes)
}

/// Where the initramfs lies in guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Initrd {
    /// Its guest-physical address.
    pub addr: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// The zero page for the 64-bit entry: the kernel's setup header (or one
/// versus writes for an ELF), with the loader's fields filled in — loader
/// type, LOADED_HIGH, the command line at [`CMDLINE_START`] of
/// `cmdline_len` bytes (its NUL not counted), the initramfs — and the e820
/// table.
pub fn zero_page(
    header: Option<&setup_header>,
    cmdline_len: usize,
    initrd: Option<Initrd>,
    e820: &[E820Entry],
) -> Result<boot_params, LinuxError> {
    if e820.len() > E820_MAX_ENTRIES_ZEROPAGE {
        return Err(LinuxError::TooManyE820 {
            count: e820.len(),
            max: E820_MAX_ENTRIES_ZEROPAGE,
        });
    }
    let mut params = boot_params::default();
    let mut hdr = header.copied().unwrap_or(setup_header {
        boot_flag: BOOT_FLAG,
        header: HDRS,
        version: PROTOCOL_VERSION,
        cmdline_size: DEFAULT_CMDLINE_MAX as u32,
        ..Default::default()
    });
    hdr.type_of_loader = LOADER_UNDEFINED;
    // The kernel is loaded at 1 MiB and there is no real-mode heap.
    hdr.loadflags = (hdr.loadflags | LOADED_HIGH) & !CAN_USE_HEAP;
    hdr.cmd_line_ptr = CMDLINE_START as u32;
    hdr.cmdline_size = cmdline_len as u32 + 1;
    if let Some(initrd) = initrd {
        let end = initrd.addr + initrd.size;
        if end > u64::from(u32::MAX) + 1 {
            return Err(LinuxError::InitrdAbove4G {
                addr: initrd.addr,
                size: initrd.size,
            });
        }
        hdr.ramdisk_image = initrd.addr as u32;
        hdr.ramdisk_size = initrd.size as u32;
    }
    params.hdr = hdr;
    params.e820_entries = e820.len() as u8;
    for (slot, entry) in params.e820_table.iter_mut().zip(e820) {
        *slot = boot_e820_entry {
            addr: entry.addr,
            size: entry.size,
            r#type: entry.kind,
        };
    }
    Ok(params)
}

/// The zero page's 4096 bytes, to be written at
/// [`ZERO_PAGE_START`](super::layout::ZERO_PAGE_START).
pub fn zero_page_bytes(params: &boot_params) -> Vec<u8> {
    // SAFETY: `boot_params` is `repr(C, packed)`, 4096 bytes of integers
    // and integer arrays with no padding; the slice borrows `params` and
    // covers exactly its size.
    unsafe {
        std::slice::from_raw_parts(
            (params as *const boot_params).cast::<u8>(),
            std::mem::size_of::<boot_params>(),
        )
    }
    .to_vec()
}

/// The PVH entry's `hvm_start_info` (at
/// [`ZERO_PAGE_START`](super::layout::ZERO_PAGE_START), RBX points at it)
/// and its memory map (at [`PVH_MEMMAP_START`]), as bytes: the start info
/// first, the map second (an initramfs, if any, appended to the map's
/// bytes at [`PVH_MODLIST_START`] as the one module: Linux takes the first
/// PVH module as its initramfs).
pub fn pvh_start_info(
    e820: &[E820Entry],
    initrd: Option<Initrd>,
) -> Result<(Vec<u8>, Vec<u8>), LinuxError> {
    if e820.len() > E820_MAX_ENTRIES_ZEROPAGE {
        return Err(LinuxError::TooManyE820 {
            count: e820.len(),
            max: E820_MAX_ENTRIES_ZEROPAGE,
        });
    }
    let info = hvm_start_info {
        magic: XEN_HVM_START_MAGIC_VALUE,
        version: PVH_VERSION,
        nr_modules: u32::from(initrd.is_some()),
        modlist_paddr: if initrd.is_some() {
            PVH_MODLIST_START
        } else {
            0
        },
        cmdline_paddr: CMDLINE_START,
        memmap_paddr: PVH_MEMMAP_START,
        memmap_entries: e820.len() as u32,
        ..Default::default()
    };
    let mut map = Vec::with_capacity(e820.len() * std::mem::size_of::<hvm_memmap_table_entry>());
    for entry in e820 {
        let e = hvm_memmap_table_entry {
            addr: entry.addr,
            size: entry.size,
            type_: entry.kind,
            reserved: 0,
        };
        map.extend_from_slice(&e.addr.to_le_bytes());
        map.extend_from_slice(&e.size.to_le_bytes());
        map.extend_from_slice(&e.type_.to_le_bytes());
        map.extend_from_slice(&e.reserved.to_le_bytes());
    }
    if let Some(initrd) = initrd {
        // hvm_modlist_entry: paddr, size, cmdline_paddr (none), reserved.
        map.resize((PVH_MODLIST_START - PVH_MEMMAP_START) as usize, 0);
        for field in [initrd.addr, initrd.size, 0, 0] {
            map.extend_from_slice(&field.to_le_bytes());
        }
    }
    let mut bytes = Vec::with_capacity(std::mem::size_of::<hvm_start_info>());
    bytes.extend_from_slice(&info.magic.to_le_bytes());
    bytes.extend_from_slice(&info.version.to_le_bytes());
    bytes.extend_from_slice(&info.flags.to_le_bytes());
    bytes.extend_from_slice(&info.nr_modules.to_le_bytes());
    bytes.extend_from_slice(&info.modlist_paddr.to_le_bytes());
    bytes.extend_from_slice(&info.cmdline_paddr.to_le_bytes());
    bytes.extend_from_slice(&info.rsdp_paddr.to_le_bytes());
    bytes.extend_from_slice(&info.memmap_paddr.to_le_bytes());
    bytes.extend_from_slice(&info.memmap_entries.to_le_bytes());
    bytes.extend_from_slice(&info.reserved.to_le_bytes());
    Ok((bytes, map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }

    #[test]
    fn e820_of_a_split_layout_has_the_hole_and_the_legacy_area() {
        let layout = MemoryLayout::explicit(&[(0, 512 << 20), (0x1_0000_0000, 256 << 20)]).unwrap();
        let map = e820_map(&layout);
        assert_eq!(
            map,
            vec![
                E820Entry {
                    addr: 0,
                    size: LEGACY_RESERVED_START,
                    kind: E820_RAM
                },
                E820Entry {
                    addr: LEGACY_RESERVED_START,
                    size: LEGACY_RESERVED_END - LEGACY_RESERVED_START,
                    kind: E820_RESERVED
                },
                E820Entry {
                    addr: 0x10_0000,
                    size: (512 << 20) - 0x10_0000,
                    kind: E820_RAM
                },
                E820Entry {
                    addr: 0x1_0000_0000,
                    size: 256 << 20,
                    kind: E820_RAM
                },
            ]
        );
        // Nothing in the MMIO hole, and no overlaps.
        for w in map.windows(2) {
            assert!(w[0].addr + w[0].size <= w[1].addr);
        }
        assert!(
            map.iter()
                .all(|e| e.addr + e.size <= MMIO_HOLE_START || e.addr >= 0x1_0000_0000)
        );
    }

    #[test]
    fn the_default_split_gives_half_below_and_half_from_4_gib() {
        let map = e820_map(&MemoryLayout::split(1 << 30).unwrap());
        let ram: u64 = map
            .iter()
            .filter(|e| e.kind == E820_RAM)
            .map(|e| e.size)
            .sum();
        assert_eq!(
            ram,
            (1 << 30) - (LEGACY_RESERVED_END - LEGACY_RESERVED_START)
        );
        assert_eq!(map.last().unwrap().addr, 0x1_0000_0000);
    }

    #[test]
    fn zero_page_fields_land_at_their_documented_offsets() {
        let layout = MemoryLayout::split(256 << 20).unwrap();
        let map = e820_map(&layout);
        let hdr = setup_header {
            version: 0x020f,
            cmdline_size: 2047,
            header: HDRS,
            loadflags: CAN_USE_HEAP,
            kernel_alignment: 0x20_0000,
            ..Default::default()
        };
        let initrd = Initrd {
            addr: 0x400_0000,
            size: 0x1234,
        };
        let p = zero_page(Some(&hdr), 12, Some(initrd), &map).unwrap();
        let b = zero_page_bytes(&p);
        assert_eq!(b.len(), 4096);
        // zero-page.rst: e820_entries at 0x1e8, e820_table at 0x2d0 (20
        // bytes each); the setup header at 0x1f1 (boot.rst offsets).
        assert_eq!(b[0x1e8] as usize, map.len());
        for (i, e) in map.iter().enumerate() {
            let off = 0x2d0 + 20 * i;
            assert_eq!(u64_at(&b, off), e.addr);
            assert_eq!(u64_at(&b, off + 8), e.size);
            assert_eq!(u32_at(&b, off + 16), e.kind);
        }
        assert_eq!(&b[0x202..0x206], b"HdrS");
        assert_eq!(b[0x210], LOADER_UNDEFINED, "type_of_loader");
        assert_eq!(b[0x211] & LOADED_HIGH, LOADED_HIGH, "loadflags");
        assert_eq!(b[0x211] & CAN_USE_HEAP, 0, "no real-mode heap");
        assert_eq!(u32_at(&b, 0x218), 0x400_0000, "ramdisk_image");
        assert_eq!(u32_at(&b, 0x21c), 0x1234, "ramdisk_size");
        assert_eq!(u32_at(&b, 0x228), CMDLINE_START as u32, "cmd_line_ptr");
        assert_eq!(u32_at(&b, 0x230), 0x20_0000, "kernel_alignment kept");
    }

    #[test]
    fn an_elf_kernel_gets_a_header_written_by_versus() {
        let p = zero_page(None, 0, None, &[]).unwrap();
        let b = zero_page_bytes(&p);
        assert_eq!(&b[0x202..0x206], b"HdrS");
        assert_eq!(u32_at(&b, 0x218), 0, "no initramfs");
        assert_eq!(b[0x1e8], 0);
    }

    #[test]
    fn an_initrd_above_4_gib_and_too_many_e820_entries_are_errors() {
        let far = Initrd {
            addr: 0xffff_f000,
            size: 0x2000,
        };
        assert!(matches!(
            zero_page(None, 0, Some(far), &[]),
            Err(LinuxError::InitrdAbove4G { .. })
        ));
        let e = E820Entry {
            addr: 0,
            size: 0x1000,
            kind: E820_RAM,
        };
        let many = vec![e; E820_MAX_ENTRIES_ZEROPAGE + 1];
        assert!(matches!(
            zero_page(None, 0, None, &many),
            Err(LinuxError::TooManyE820 { .. })
        ));
    }

    #[test]
    fn the_command_line_limit_is_the_kernels() {
        let hdr = setup_header {
            version: 0x020f,
            cmdline_size: 16,
            ..Default::default()
        };
        assert_eq!(
            command_line("console=ttyS0", Some(&hdr)).unwrap(),
            b"console=ttyS0\0"
        );
        assert_eq!(command_line(&"x".repeat(16), Some(&hdr)).unwrap().len(), 17);
        let err = command_line(&"x".repeat(17), Some(&hdr)).unwrap_err();
        assert!(matches!(
            err,
            LinuxError::CmdlineTooLong { len: 17, max: 16 }
        ));
        assert!(err.to_string().contains("--cmdline"));
        // Without a header (ELF), Linux's own 2047.
        assert!(command_line(&"x".repeat(2047), None).is_ok());
        assert!(command_line(&"x".repeat(2048), None).is_err());
        assert!(matches!(
            command_line("a\0b", None),
            Err(LinuxError::CmdlineNul)
        ));
    }

    #[test]
    fn the_pvh_start_info_points_at_its_memory_map() {
        let map = e820_map(&MemoryLayout::split(64 << 20).unwrap());
        let (info, memmap) = pvh_start_info(&map, None).unwrap();
        assert_eq!(info.len(), std::mem::size_of::<hvm_start_info>());
        assert_eq!(u32_at(&info, 0), XEN_HVM_START_MAGIC_VALUE);
        assert_eq!(u64_at(&info, 0x18), CMDLINE_START);
        assert_eq!(u64_at(&info, 0x28), PVH_MEMMAP_START);
        assert_eq!(u32_at(&info, 0x30) as usize, map.len());
        assert_eq!(memmap.len(), 24 * map.len());
        assert_eq!(u64_at(&memmap, 24 + 8), map[1].size);
        assert_eq!(u32_at(&memmap, 24 + 16), E820_RESERVED);
        assert_eq!(u32_at(&info, 0xc), 0, "no modules");
        let initrd = Initrd {
            addr: 0x200_0000,
            size: 0x5000,
        };
        let (info, memmap) = pvh_start_info(&map, Some(initrd)).unwrap();
        assert_eq!(u32_at(&info, 0xc), 1, "one module");
        assert_eq!(u64_at(&info, 0x10), PVH_MODLIST_START);
        let m = (PVH_MODLIST_START - PVH_MEMMAP_START) as usize;
        assert_eq!(u64_at(&memmap, m), 0x200_0000);
        assert_eq!(u64_at(&memmap, m + 8), 0x5000);
    }
}

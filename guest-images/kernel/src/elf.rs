//! Mapping the workload's ELF image — in place, where the VMM put it.
//!
//! The image is a static x86-64 file (no `PT_INTERP`): an `ET_EXEC` at its
//! link addresses, or a static-PIE (`ET_DYN`, `cc -static-pie`) at
//! [`PIE_BASE`] plus its link addresses — nothing more is needed, since such
//! a program relocates itself (glibc's `_dl_relocate_static_pie`) and finds
//! its headers through `AT_PHDR`, which carries the load address like every
//! other address this module reports. Every `PT_LOAD` segment becomes 4 KiB
//! user mappings:
//!
//! * **read-only** segments (text, rodata) map the image's own pages: no
//!   copy at all;
//! * **writable** segments: fully file-backed pages map in place when this
//!   is the only instance, and are copied into fresh pages when several
//!   instances share the image (each needs its own data, and copying
//!   before anyone runs avoids a race); the page where the file data ends
//!   is either mapped in place with its tail zeroed (`rep stosq`, when most
//!   of it is file data) or copied into a fresh page (when most of it is
//!   not: copying 24 bytes is cheaper than clearing 4072); the bss beyond
//!   is fresh pages, zero already. Copied and bss pages form one physically
//!   contiguous run from the high region, so a `write` from a bss buffer
//!   is one console exit.
//!
//! Read-only segments whose memory size exceeds their file size get fresh
//! zero pages beyond the file's last page (the end of that page shows
//! whatever the file holds there, as on Linux).

use crate::layout::{MMAP_BASE, PAGE_SIZE, USER_MIN, align_down, align_up, phys_to_virt};
use crate::memory;
use crate::paging::{Access, AddressSpace, MapError, Mapper};

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const EHDR_SIZE: u64 = 64;
const PHDR_SIZE: u64 = 56;
const MAX_PHDRS: u64 = 64;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

/// Where a static-PIE is mapped: its link addresses start at 0, and 4 MiB is
/// where a fixed-address x86-64 program usually starts (above [`USER_MIN`],
/// far below [`MMAP_BASE`], so `brk` grows after it as usual).
pub const PIE_BASE: u64 = 0x40_0000;

/// What the kernel learned from the image.
pub struct Image {
    /// Entry point.
    pub entry: u64,
    /// User address of the program headers (AT_PHDR), 0 if not mapped.
    pub phdr: u64,
    /// Number of program headers (AT_PHNUM).
    pub phnum: u64,
    /// One past the highest byte of any segment (where `brk` starts).
    pub end: u64,
}

/// Why the image cannot run.
#[derive(Clone, Copy)]
pub enum ElfError {
    /// Not a static x86-64 executable, or malformed (a `key=value`-safe word).
    Invalid(&'static str),
    /// Out of memory for pages or page tables.
    NoMemory,
}

impl From<MapError> for ElfError {
    fn from(e: MapError) -> Self {
        match e {
            MapError::NoMemory => ElfError::NoMemory,
            MapError::Conflict => ElfError::Invalid("overlapping-segments"),
        }
    }
}

/// The image bytes, through the direct map (bounds are checked by the
/// callers against the image size).
struct Bytes {
    base: *const u8,
}

impl Bytes {
    fn u16(&self, at: u64) -> u16 {
        // SAFETY: callers check `at + 2 <= size`.
        unsafe { self.base.add(at as usize).cast::<u16>().read_unaligned() }
    }
    fn u32(&self, at: u64) -> u32 {
        // SAFETY: callers check `at + 4 <= size`.
        unsafe { self.base.add(at as usize).cast::<u32>().read_unaligned() }
    }
    fn u64(&self, at: u64) -> u64 {
        // SAFETY: callers check `at + 8 <= size`.
        unsafe { self.base.add(at as usize).cast::<u64>().read_unaligned() }
    }
}

/// One `PT_LOAD` segment.
struct Segment {
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    access: Access,
}

/// Maps the image at physical `image_pa` (`size` bytes, page aligned) into
/// `space`. `alone`: this is the only instance, writable pages may be used
/// in place.
pub fn load(
    space: &AddressSpace,
    image_pa: u64,
    size: u64,
    alone: bool,
) -> Result<Image, ElfError> {
    let bytes = Bytes {
        base: phys_to_virt(image_pa) as *const u8,
    };
    if size < EHDR_SIZE || bytes.u32(0) != u32::from_le_bytes(*b"\x7fELF") {
        return Err(ElfError::Invalid("not-elf"));
    }
    // Class 64, little-endian, ET_EXEC or ET_DYN, x86-64, 56-byte program
    // headers.
    let base = match bytes.u16(16) {
        ET_EXEC => 0,
        ET_DYN => PIE_BASE,
        _ => return Err(ElfError::Invalid("not-x86-64-executable")),
    };
    if bytes.u16(4) != 0x0102 || bytes.u16(18) != 62 || bytes.u16(54) != 56 {
        return Err(ElfError::Invalid("not-x86-64-executable"));
    }
    // A wrong entry point only faults in user mode: no check needed.
    let entry = bytes.u64(24).wrapping_add(base);
    let phoff = bytes.u64(32);
    let phnum = u64::from(bytes.u16(56));
    if phnum > MAX_PHDRS || phoff > size || phnum * PHDR_SIZE > size - phoff {
        return Err(ElfError::Invalid("bad-program-headers"));
    }
    let mut image = Image {
        entry,
        phdr: 0,
        phnum,
        end: 0,
    };
    let mut mapper = Mapper::new(*space);
    // Page range of the last segment mapped: nothing yet.
    let mut previous_pages = (0, 0);
    for i in 0..phnum {
        let ph = phoff + i * PHDR_SIZE;
        let kind = bytes.u32(ph);
        if kind == PT_INTERP {
            return Err(ElfError::Invalid("dynamically-linked"));
        }
        if kind == PT_PHDR {
            image.phdr = bytes.u64(ph + 16).wrapping_add(base);
        }
        if kind != PT_LOAD {
            continue;
        }
        let flags = bytes.u32(ph + 4);
        let segment = Segment {
            offset: bytes.u64(ph + 8),
            // Saturating: an address that overflows fails the range check.
            vaddr: bytes.u64(ph + 16).saturating_add(base),
            filesz: bytes.u64(ph + 32),
            memsz: bytes.u64(ph + 40),
            access: Access {
                read: true,
                write: flags & PF_W != 0,
                exec: flags & PF_X != 0,
            },
        };
        if segment.memsz == 0 {
            continue;
        }
        if segment.filesz > segment.memsz
            || segment.offset > size
            || segment.filesz > size - segment.offset
            || segment.vaddr % PAGE_SIZE != segment.offset % PAGE_SIZE
            || segment.vaddr < USER_MIN
            || segment.vaddr >= MMAP_BASE
            || segment.memsz > MMAP_BASE - segment.vaddr
        {
            return Err(ElfError::Invalid("bad-segment"));
        }
        // Segments come in ascending, page-disjoint order (as the ELF
        // specification asks and `map_segment` relies on). One that shares a
        // page with the segment before it is named as an overlap; one that
        // lies wholly below it is out of order, a malformed segment table.
        let pages = (
            align_down(segment.vaddr, PAGE_SIZE),
            align_up(segment.vaddr + segment.memsz, PAGE_SIZE),
        );
        if pages.0 < previous_pages.1 {
            return Err(ElfError::Invalid(if pages.1 > previous_pages.0 {
                "overlapping-segments"
            } else {
                "bad-segment"
            }));
        }
        previous_pages = pages;
        if image.phdr == 0 && segment.offset <= phoff && phoff - segment.offset < segment.filesz {
            image.phdr = segment.vaddr + (phoff - segment.offset);
        }
        map_segment(&mut mapper, image_pa, &segment, alone)?;
        image.end = image.end.max(segment.vaddr + segment.memsz);
    }
    if image.end == 0 {
        return Err(ElfError::Invalid("no-segment"));
    }
    Ok(image)
}

/// Maps one segment (ascending and page-disjoint from the previous ones:
/// checked by the caller).
fn map_segment(
    mapper: &mut Mapper,
    image_pa: u64,
    s: &Segment,
    alone: bool,
) -> Result<(), ElfError> {
    let page_start = align_down(s.vaddr, PAGE_SIZE);
    // Physical address of the image page behind `page_start`.
    let file_page = image_pa + align_down(s.offset, PAGE_SIZE);
    let pa_of = |va: u64| file_page + (va - page_start);
    let file_end = s.vaddr + s.filesz;
    let mem_end = align_up(s.vaddr + s.memsz, PAGE_SIZE);
    let pages = |from: u64, to: u64| (to - from) / PAGE_SIZE;

    // [page_start, in_place_end): the image's own pages.
    // [run_start, mem_end): one fresh run (copied file bytes, then zeros).
    let (in_place_end, run_start) = if !s.access.write {
        let end = if s.filesz == 0 {
            page_start
        } else {
            align_up(file_end, PAGE_SIZE)
        };
        (end, end)
    } else if !alone {
        (page_start, page_start)
    } else {
        let full = align_down(file_end, PAGE_SIZE).max(page_start);
        let head = file_end - full;
        if head > PAGE_SIZE / 2 {
            // Mostly file data: in place, and clear the rest of the page.
            // SAFETY: `file_end..full + PAGE_SIZE` lies in the image's last
            // page of this segment, RAM that only this instance uses.
            unsafe {
                core::ptr::write_bytes(
                    phys_to_virt(pa_of(file_end)) as *mut u8,
                    0,
                    (PAGE_SIZE - head) as usize,
                );
            }
            (full + PAGE_SIZE, full + PAGE_SIZE)
        } else {
            (full, full)
        }
    };
    if in_place_end > page_start {
        mapper.map_pages(
            page_start,
            pa_of(page_start),
            pages(page_start, in_place_end),
            s.access,
        )?;
    }
    if mem_end > run_start {
        let run = memory::alloc_user(mem_end - run_start, PAGE_SIZE).ok_or(ElfError::NoMemory)?;
        if file_end > run_start {
            // SAFETY: the source is image bytes inside the file (checked by
            // the caller), the destination the fresh run, which is at least
            // `file_end - run_start` bytes long.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    phys_to_virt(pa_of(run_start)) as *const u8,
                    phys_to_virt(run) as *mut u8,
                    (file_end - run_start) as usize,
                );
            }
        }
        mapper.map_pages(run_start, run, pages(run_start, mem_end), s.access)?;
    }
    Ok(())
}

//! Step 4/5: identity-mapped 4-level page tables covering every RAM region,
//! built by the VMM (natively, in host code) so the guest starts in long mode
//! with paging on and never spends emulated ring-0 instructions on them.
//!
//! 2 MiB pages wherever a whole 2 MiB chunk is RAM; 4 KiB pages (one page
//! table) for a chunk that a region only partly covers. Leaves are present,
//! writable, supervisor-only; table entries also carry U/S so that a kernel
//! can hang user leaves under them.

use std::collections::BTreeMap;

use vm_memory::{Bytes, GuestAddress};

use crate::layout::{LARGE_PAGE_SIZE, PAGE_SIZE};
use crate::memory::{GuestMem, Region};

/// Page-table entry bit: present.
pub const PTE_PRESENT: u64 = 1 << 0;
/// Page-table entry bit: writable.
pub const PTE_WRITE: u64 = 1 << 1;
/// Page-table entry bit: user-accessible.
pub const PTE_USER: u64 = 1 << 2;
/// Page-table entry bit: page size (a 2 MiB leaf in a PD, 1 GiB in a PDPT).
pub const PTE_PS: u64 = 1 << 7;
/// The physical-address bits of an entry.
pub const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

const TABLE_FLAGS: u64 = PTE_PRESENT | PTE_WRITE | PTE_USER;
const LEAF_FLAGS: u64 = PTE_PRESENT | PTE_WRITE;
const ENTRIES: usize = 512;

/// Errors of building the page tables.
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    /// The tables do not fit the page-table area of the layout.
    #[error(
        "identity page tables need {needed} pages but the area {start:#x}..{end:#x} holds {available}"
    )]
    AreaFull {
        /// Pages needed (at least).
        needed: usize,
        /// Pages available.
        available: usize,
        /// Area start.
        start: u64,
        /// Area end.
        end: u64,
    },
    /// Writing the tables to guest memory failed.
    #[error("writing page tables at {addr:#x} failed: {source}")]
    Write {
        /// Where.
        addr: u64,
        /// Why.
        source: vm_memory::GuestMemoryError,
    },
}

/// Page tables built in host memory, ready to be written at `base`.
#[derive(Clone, Debug)]
pub struct IdentityMap {
    /// Guest-physical address of the first page (the PML4, = CR3).
    pub base: u64,
    /// The table pages, in address order from `base`.
    pub pages: Vec<[u64; ENTRIES]>,
}

impl IdentityMap {
    /// Builds tables mapping every byte of `regions` to itself, allocating
    /// table pages from `area_start` up to `area_end`.
    pub fn build(regions: &[Region], area_start: u64, area_end: u64) -> Result<Self, PagingError> {
        let available = ((area_end - area_start) / PAGE_SIZE) as usize;
        let mut b = Builder {
            base: area_start,
            pages: vec![[0; ENTRIES]],
            tables: BTreeMap::new(),
        };
        for r in regions {
            let mut chunk = r.base / LARGE_PAGE_SIZE * LARGE_PAGE_SIZE;
            while chunk < r.end() {
                let lo = chunk.max(r.base);
                let hi = (chunk + LARGE_PAGE_SIZE).min(r.end());
                let pd = b.table(Level::Pd, chunk);
                let pde = index(chunk, 21);
                if lo == chunk && hi == chunk + LARGE_PAGE_SIZE {
                    b.pages[pd][pde] = chunk | LEAF_FLAGS | PTE_PS;
                } else {
                    let pt = b.table(Level::Pt, chunk);
                    let mut page = lo;
                    while page < hi {
                        b.pages[pt][index(page, 12)] = page | LEAF_FLAGS;
                        page += PAGE_SIZE;
                    }
                }
                chunk += LARGE_PAGE_SIZE;
            }
        }
        if b.pages.len() > available {
            return Err(PagingError::AreaFull {
                needed: b.pages.len(),
                available,
                start: area_start,
                end: area_end,
            });
        }
        Ok(Self {
            base: area_start,
            pages: b.pages,
        })
    }

    /// Bytes of tables.
    pub fn size(&self) -> u64 {
        self.pages.len() as u64 * PAGE_SIZE
    }

    /// Writes the tables into guest memory at `base`.
    pub fn write(&self, mem: &GuestMem) -> Result<(), PagingError> {
        let mut bytes = Vec::with_capacity(self.size() as usize);
        for page in &self.pages {
            for e in page {
                bytes.extend_from_slice(&e.to_le_bytes());
            }
        }
        mem.write_slice(&bytes, GuestAddress(self.base))
            .map_err(|source| PagingError::Write {
                addr: self.base,
                source,
            })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Pdpt,
    Pd,
    Pt,
}

struct Builder {
    base: u64,
    pages: Vec<[u64; ENTRIES]>,
    /// (level, first address the table covers) -> page index.
    tables: BTreeMap<(Level, u64), usize>,
}

impl Builder {
    /// The table of `level` covering `addr`, created (with its parents) on demand.
    fn table(&mut self, level: Level, addr: u64) -> usize {
        // How many address bits one table of `level` covers (= the size an
        // entry of its parent maps), and that parent.
        let (span_shift, parent) = match level {
            Level::Pdpt => (39, None),
            Level::Pd => (30, Some(Level::Pdpt)),
            Level::Pt => (21, Some(Level::Pd)),
        };
        let key = (level, addr >> span_shift << span_shift);
        if let Some(&i) = self.tables.get(&key) {
            return i;
        }
        let parent_page = match parent {
            Some(p) => self.table(p, addr),
            None => 0, // the PML4
        };
        let i = self.pages.len();
        self.pages.push([0; ENTRIES]);
        let child_addr = self.base + i as u64 * PAGE_SIZE;
        let slot = index(addr, span_shift);
        self.pages[parent_page][slot] = child_addr | TABLE_FLAGS;
        self.tables.insert(key, i);
        i
    }
}

/// The 9-bit table index of `addr` at the level whose entries map `1 << shift` bytes.
fn index(addr: u64, shift: u32) -> usize {
    ((addr >> shift) & 0x1ff) as usize
}

/// Walks the tables at `cr3` in guest memory like the MMU would and returns
/// the physical address `va` maps to, or `None` if it is not mapped.
pub fn translate(mem: &GuestMem, cr3: u64, va: u64) -> Option<u64> {
    let read = |table: u64, i: usize| -> Option<u64> {
        mem.read_obj::<u64>(GuestAddress((table & PTE_ADDR_MASK) + 8 * i as u64))
            .ok()
    };
    let pml4e = read(cr3, index(va, 39))?;
    if pml4e & PTE_PRESENT == 0 {
        return None;
    }
    let pdpte = read(pml4e, index(va, 30))?;
    if pdpte & PTE_PRESENT == 0 {
        return None;
    }
    if pdpte & PTE_PS != 0 {
        return Some((pdpte & PTE_ADDR_MASK & !0x3fff_ffff) | (va & 0x3fff_ffff));
    }
    let pde = read(pdpte, index(va, 21))?;
    if pde & PTE_PRESENT == 0 {
        return None;
    }
    if pde & PTE_PS != 0 {
        return Some((pde & PTE_ADDR_MASK & !0x1f_ffff) | (va & 0x1f_ffff));
    }
    let pte = read(pde, index(va, 12))?;
    if pte & PTE_PRESENT == 0 {
        return None;
    }
    Some((pte & PTE_ADDR_MASK) | (va & 0xfff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{PAGE_TABLES_END, PAGE_TABLES_START};
    use crate::memory::{MemoryLayout, create_guest_memory};

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn mapped(regions: &[(u64, u64)]) -> (GuestMem, IdentityMap) {
        let layout = MemoryLayout::explicit(regions).unwrap();
        let mem = create_guest_memory(&layout).unwrap();
        let map = IdentityMap::build(layout.regions(), PAGE_TABLES_START, PAGE_TABLES_END).unwrap();
        map.write(&mem).unwrap();
        (mem, map)
    }

    #[test]
    fn default_layout_translates_identity() {
        let (mem, map) = mapped(&[(0, 256 * MIB), (4 * GIB, 256 * MIB)]);
        let cr3 = map.base;
        for va in [
            0,
            0x7000,
            0x10_0000,
            256 * MIB - 1,
            4 * GIB,
            4 * GIB + 0x0234_5678,
            4 * GIB + 256 * MIB - 1,
        ] {
            assert_eq!(translate(&mem, cr3, va), Some(va), "{va:#x}");
        }
        // The gap and the hole are not mapped.
        assert_eq!(translate(&mem, cr3, 256 * MIB), None);
        assert_eq!(translate(&mem, cr3, 3 * GIB), None);
        assert_eq!(translate(&mem, cr3, 4 * GIB + 256 * MIB), None);
        // PML4 + PDPT + 1 PD (low) + 1 PD (high): 4 pages, all 2 MiB leaves.
        assert_eq!(map.pages.len(), 4);
    }

    #[test]
    fn partial_chunks_use_small_pages() {
        // Region ends 12 KiB into a 2 MiB chunk; high region starts mid-chunk.
        let (mem, map) = mapped(&[(0, 4 * MIB + 12 * 1024), (4 * GIB + MIB, MIB + 4096)]);
        let cr3 = map.base;
        let last_low = 4 * MIB + 12 * 1024 - 1;
        assert_eq!(translate(&mem, cr3, last_low), Some(last_low));
        assert_eq!(translate(&mem, cr3, last_low + 1), None);
        assert_eq!(translate(&mem, cr3, 4 * GIB + MIB), Some(4 * GIB + MIB));
        assert_eq!(translate(&mem, cr3, 4 * GIB + MIB - 1), None);
        let last_high = 4 * GIB + 2 * MIB + 4096 - 1;
        assert_eq!(translate(&mem, cr3, last_high), Some(last_high));
        assert_eq!(translate(&mem, cr3, last_high + 1), None);
    }

    #[test]
    fn leaves_are_supervisor_tables_are_user() {
        let (mem, map) = mapped(&[(0, 4 * MIB), (4 * GIB, 4 * MIB)]);
        let pml4e: u64 = mem.read_obj(GuestAddress(map.base)).unwrap();
        assert_eq!(pml4e & 0xfff, TABLE_FLAGS);
        let pd_entry = map.pages[2][0];
        assert_eq!(pd_entry & 0xfff, LEAF_FLAGS | PTE_PS);
        assert_eq!(pd_entry & PTE_USER, 0);
    }

    #[test]
    fn area_too_small_is_an_error() {
        let regions = [
            Region {
                base: 0,
                size: 4 * MIB,
            },
            Region {
                base: 4 * GIB,
                size: 4 * MIB,
            },
        ];
        let e = IdentityMap::build(
            &regions,
            PAGE_TABLES_START,
            PAGE_TABLES_START + 2 * PAGE_SIZE,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            PagingError::AreaFull {
                needed: 4,
                available: 2,
                ..
            }
        ));
    }
}

//! 4-level page tables: the kernel's own mapping of its image, and one user
//! address space per instance (per CPU).
//!
//! Every table is a fresh page from the bump allocator, so it is already
//! zero; the kernel reaches tables through the direct map. User leaves get
//! U/S, W only where the mapping is writable, and NX (EFER.NXE is enabled at
//! boot) where it is not executable. Translating a user address walks the
//! tables with the user's permissions — the validation of every user
//! pointer the kernel touches.

use crate::layout::{
    DIRECT_MAP, LARGE_PAGE_SIZE, PAGE_SIZE, USER_END, USER_MIN, kernel_phys, phys_to_virt,
};
use crate::memory;

/// Entry bit: present.
pub const PTE_PRESENT: u64 = 1 << 0;
/// Entry bit: writable.
pub const PTE_WRITE: u64 = 1 << 1;
/// Entry bit: user-accessible.
pub const PTE_USER: u64 = 1 << 2;
/// Entry bit: a 2 MiB leaf in a page directory.
pub const PTE_LARGE: u64 = 1 << 7;
/// Entry bit: not executable (with EFER.NXE).
pub const PTE_NX: u64 = 1 << 63;
/// The physical-address bits of an entry.
pub const PTE_ADDR: u64 = 0x000f_ffff_ffff_f000;
/// Flags of every user non-leaf entry: permissions are decided at the leaf.
const USER_TABLE: u64 = PTE_PRESENT | PTE_WRITE | PTE_USER;

/// One page-table page.
#[repr(C, align(4096))]
pub struct PageTable(pub [u64; 512]);

/// The PDPT behind PML4\[511\]: entry 510 maps the first GiB of physical
/// memory at `KERNEL_VMA` (filled in by the entry stub, `boot.rs`).
pub static mut KERNEL_PDPT: PageTable = PageTable([0; 512]);

/// What a mapping may do, from the user's point of view (x86 cannot map
/// write- or execute-only: either implies read).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

impl Access {
    /// Read and write, no execute: data, heap, stack.
    pub const DATA: Access = Access {
        read: true,
        write: true,
        exec: false,
    };
    /// Read only.
    pub const READ: Access = Access {
        read: true,
        write: false,
        exec: false,
    };

    /// The leaf flags for this access. `PROT_NONE` keeps the frame present
    /// but supervisor-only, so any user access faults and `mprotect` can
    /// give it back.
    const fn leaf(self) -> u64 {
        let mut flags = PTE_PRESENT;
        if self.read || self.write || self.exec {
            flags |= PTE_USER;
        }
        if self.write {
            flags |= PTE_WRITE;
        }
        if !self.exec {
            flags |= PTE_NX;
        }
        flags
    }
}

/// What [`AddressSpace::change`] does to every mapped page of a range.
#[derive(Clone, Copy)]
pub enum Change {
    /// Remove the mapping (the frame is forgotten).
    Unmap,
    /// Give it these permissions.
    Protect(Access),
}

impl Change {
    /// The new value of a leaf entry `value` (`large`: a 2 MiB leaf).
    fn apply(self, value: u64, large: bool) -> u64 {
        match self {
            Change::Unmap => 0,
            Change::Protect(access) => {
                (value & PTE_ADDR) | access.leaf() | if large { PTE_LARGE } else { 0 }
            }
        }
    }
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapError {
    /// No memory for a page table.
    NoMemory,
    /// Something is already mapped there (or the range is not user space).
    Conflict,
}

/// The entries of the table at physical address `pa`.
fn entries(pa: u64) -> *mut u64 {
    phys_to_virt(pa) as *mut u64
}

/// Index of `va` in the table of the level whose entries cover `1 << shift`.
const fn index(va: u64, shift: u32) -> usize {
    ((va >> shift) & 511) as usize
}

/// A user address space: a PML4 whose upper half is the kernel's.
#[derive(Clone, Copy)]
pub struct AddressSpace {
    /// Physical address of the PML4 (= CR3 while it runs).
    pub pml4: u64,
}

impl AddressSpace {
    /// A fresh address space: an empty user half, the direct map at
    /// PML4\[256\] (the VMM's identity PDPT, `direct_map_pdpt`) and the
    /// kernel image at PML4\[511\]. Both kernel entries are supervisor-only.
    pub fn new(direct_map_pdpt: u64) -> Result<Self, MapError> {
        let pml4 = memory::alloc_table().ok_or(MapError::NoMemory)?;
        let table = entries(pml4);
        let kernel_pdpt = kernel_phys(&raw const KERNEL_PDPT as u64);
        // SAFETY: `pml4` is a fresh page of RAM, reached through the direct
        // map; 256 and 511 are inside its 512 entries.
        unsafe {
            table
                .add(index(DIRECT_MAP, 39))
                .write(direct_map_pdpt | PTE_PRESENT | PTE_WRITE);
            table.add(511).write(kernel_pdpt | PTE_PRESENT | PTE_WRITE);
        }
        Ok(Self { pml4 })
    }

    /// The entry for `va` in the table below `entry`, creating that table
    /// if `entry` is empty. Fails on a large page in the way.
    ///
    /// # Safety
    /// `entry` must point at a valid entry of one of this space's tables.
    unsafe fn descend(entry: *mut u64, va: u64, shift: u32) -> Result<*mut u64, MapError> {
        // SAFETY: the caller vouches for `entry`.
        let mut value = unsafe { entry.read() };
        if value & PTE_PRESENT == 0 {
            let table = memory::alloc_table().ok_or(MapError::NoMemory)?;
            value = table | USER_TABLE;
            // SAFETY: as above.
            unsafe { entry.write(value) };
        } else if value & PTE_LARGE != 0 {
            return Err(MapError::Conflict);
        }
        // SAFETY: a present non-leaf entry points at a table page.
        Ok(unsafe { entries(value & PTE_ADDR).add(index(va, shift)) })
    }

    /// The page-directory entry covering user address `va`, with the
    /// PDPT and PD created as needed.
    fn pd_entry(&self, va: u64) -> Result<*mut u64, MapError> {
        if !(USER_MIN..USER_END).contains(&va) {
            return Err(MapError::Conflict);
        }
        // SAFETY: the PML4 is this space's; each step returns an entry of
        // a table of this space.
        unsafe {
            let pml4e = entries(self.pml4).add(index(va, 39));
            let pdpte = Self::descend(pml4e, va, 30)?;
            Self::descend(pdpte, va, 21)
        }
    }

    /// Maps `pages` 4 KiB pages from `va` to physical `pa` onwards (see
    /// [`Mapper::map_pages`]).
    pub fn map_pages(&self, va: u64, pa: u64, pages: u64, access: Access) -> Result<(), MapError> {
        Mapper::new(*self).map_pages(va, pa, pages, access)
    }

    /// Maps `count` 2 MiB pages from `va` to physical `pa` (both 2 MiB
    /// aligned) onwards.
    pub fn map_large(&self, va: u64, pa: u64, count: u64, access: Access) -> Result<(), MapError> {
        let flags = access.leaf() | PTE_LARGE;
        for i in 0..count {
            let pde = self.pd_entry(va + i * LARGE_PAGE_SIZE)?;
            // SAFETY: `pd_entry` returns an entry of this space's PD.
            unsafe {
                if pde.read() != 0 {
                    return Err(MapError::Conflict);
                }
                pde.write((pa + i * LARGE_PAGE_SIZE) | flags);
            }
        }
        Ok(())
    }

    /// Physical address behind user address `va`, if the user may read it
    /// (and write it, with `write`), and how many bytes from there on lie
    /// in the same page. `None` for anything the user could not access:
    /// this is the check of every user pointer.
    pub fn translate(&self, va: u64, write: bool) -> Option<(u64, u64)> {
        if va >= USER_END {
            return None;
        }
        let need = PTE_PRESENT | PTE_USER | if write { PTE_WRITE } else { 0 };
        let mut table = self.pml4;
        let mut shift = 39;
        loop {
            // SAFETY: `table` is a table page of this space (the PML4, or
            // the target of a present non-leaf entry) and the index < 512.
            let entry = unsafe { entries(table).add(index(va, shift)).read() };
            if entry & need != need {
                return None;
            }
            if shift == 12 || (shift == 21 && entry & PTE_LARGE != 0) {
                let size = 1u64 << shift;
                let offset = va & (size - 1);
                return Some(((entry & PTE_ADDR & !(size - 1)) + offset, size - offset));
            }
            table = entry & PTE_ADDR;
            shift -= 9;
        }
    }

    /// Unmaps or re-protects every user mapping in `[va, va + len)` (page
    /// aligned; holes are skipped). A 2 MiB page that is only partly inside
    /// is split first. Unmapped frames are not reused. Returns `false` if a
    /// page table was needed for a split and none was left.
    pub fn change(&self, va: u64, len: u64, change: Change) -> bool {
        let end = va.saturating_add(len);
        let next = |at: u64, shift: u32| (at | ((1u64 << shift) - 1)).saturating_add(1);
        let mut at = va;
        while at < end {
            // SAFETY: the PML4 is this space's table; index < 512.
            let pml4e = unsafe { entries(self.pml4).add(index(at, 39)) };
            let Some(pdpte) = Self::existing_below(pml4e, at, 39) else {
                at = next(at, 39);
                continue;
            };
            let Some(pde) = Self::existing_below(pdpte, at, 30) else {
                at = next(at, 30);
                continue;
            };
            // SAFETY: `existing_below` returned an entry of a table of ours.
            let value = unsafe { pde.read() };
            let window_end = next(at, 21);
            if value & PTE_PRESENT == 0 {
                at = window_end;
                continue;
            }
            if value & PTE_LARGE != 0 {
                if at & (LARGE_PAGE_SIZE - 1) == 0 && window_end <= end {
                    // SAFETY: as above; the stale TLB entry goes too.
                    unsafe {
                        pde.write(change.apply(value, true));
                        invlpg(at);
                    }
                    at = window_end;
                    continue;
                }
                if !Self::split(pde, value) {
                    return false;
                }
            }
            let stop = window_end.min(end);
            // SAFETY: the PDE is a present table entry now.
            let pt = entries(unsafe { pde.read() } & PTE_ADDR);
            while at < stop {
                // SAFETY: `at` is inside this PDE's window, so the index
                // selects an entry of its PT.
                unsafe {
                    let pte = pt.add(index(at, 12));
                    let old = pte.read();
                    if old != 0 {
                        pte.write(change.apply(old, false));
                        invlpg(at);
                    }
                }
                at += PAGE_SIZE;
            }
        }
        true
    }

    /// The entry for `va` in the table that `entry` (at level `shift`)
    /// points at, if `entry` is a present non-leaf entry.
    fn existing_below(entry: *mut u64, va: u64, shift: u32) -> Option<*mut u64> {
        // SAFETY: `entry` is an entry of one of this space's tables.
        let value = unsafe { entry.read() };
        if value & PTE_PRESENT == 0 || value & PTE_LARGE != 0 {
            return None;
        }
        // SAFETY: a present non-leaf entry points at a table page.
        Some(unsafe { entries(value & PTE_ADDR).add(index(va, shift - 9)) })
    }

    /// Replaces the 2 MiB leaf `value` at `pde` by a page table of 512
    /// small pages with the same permissions.
    fn split(pde: *mut u64, value: u64) -> bool {
        let Some(pt) = memory::alloc_table() else {
            return false;
        };
        let flags = value & !PTE_ADDR & !PTE_LARGE;
        let base = value & PTE_ADDR;
        let table = entries(pt);
        for i in 0..512u64 {
            // SAFETY: a fresh table page has 512 entries. Volatile: one
            // scalar store each, never a vectorised loop (no SSE in ring 0).
            unsafe {
                table
                    .add(i as usize)
                    .write_volatile((base + i * PAGE_SIZE) | flags)
            };
        }
        // SAFETY: `pde` is the caller's entry; no TLB flush is needed, the
        // translations stay the same until they are unmapped (and flushed).
        unsafe { pde.write(pt | USER_TABLE) };
        true
    }

    /// Makes this the current address space.
    pub fn activate(&self) {
        // SAFETY: the PML4 maps the kernel (511) and the direct map (256)
        // exactly as the tables the kernel runs on now.
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) self.pml4, options(nostack)) };
    }
}

/// Maps runs of 4 KiB pages into an address space, remembering the page
/// table of the last 2 MiB window it wrote: the segments of one ELF image
/// share one walk. Every emulated ring-0 instruction counts — a walk is
/// about 40 of them, a page-table entry 5.
pub struct Mapper {
    space: AddressSpace,
    /// The 2 MiB window whose page table is `pt` (`u64::MAX`: none yet).
    window: u64,
    /// First entry of that page table.
    pt: *mut u64,
}

impl Mapper {
    /// A mapper for `space`.
    pub fn new(space: AddressSpace) -> Self {
        Self {
            space,
            window: u64::MAX,
            pt: core::ptr::null_mut(),
        }
    }

    /// Maps `pages` 4 KiB pages from `va` to physical `pa` onwards. The
    /// range must be unmapped (the callers' address ranges are fresh, or
    /// checked not to overlap); page tables are created as needed.
    pub fn map_pages(
        &mut self,
        va: u64,
        pa: u64,
        pages: u64,
        access: Access,
    ) -> Result<(), MapError> {
        let mut frame = pa | access.leaf();
        let mut va = va;
        let mut left = pages;
        while left != 0 {
            let window = va & !(LARGE_PAGE_SIZE - 1);
            if window != self.window {
                let pde = self.space.pd_entry(va)?;
                // SAFETY: `pd_entry` returns an entry of this space's PD;
                // entry 0 of the PT below it starts the window.
                self.pt = unsafe { AddressSpace::descend(pde, window, 12)? };
                self.window = window;
            }
            let first = index(va, 12);
            let count = (512 - first as u64).min(left);
            // SAFETY: entries `first..first + count` lie inside the PT.
            let (mut pte, end) =
                unsafe { (self.pt.add(first), self.pt.add(first + count as usize)) };
            while pte != end {
                // SAFETY: as above. Volatile: one scalar store per entry,
                // never a vectorised loop (no SSE in ring 0).
                unsafe {
                    pte.write_volatile(frame);
                    pte = pte.add(1);
                }
                frame += PAGE_SIZE;
            }
            va += count * PAGE_SIZE;
            left -= count;
        }
        Ok(())
    }
}

/// Flushes the TLB entry of `va`.
///
/// # Safety
/// None beyond being in ring 0; it only drops a cached translation.
unsafe fn invlpg(va: u64) {
    // SAFETY: see above.
    unsafe { core::arch::asm!("invlpg [{}]", in(reg) va, options(nostack)) };
}

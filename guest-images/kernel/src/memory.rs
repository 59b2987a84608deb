//! Physical memory: two bump allocators, no free list.
//!
//! RAM above `BootInfo::first_free_addr` is zero when the VM starts (the
//! VMM's fresh anonymous mappings; see `versus_abi`), and a frame handed out
//! here is never handed out again, so every frame is known to be zero: the
//! kernel never clears a page (clearing 4 KiB costs about 1 ms of emulated
//! ring 0 on the software backend). `munmap` forgets frames for good.
//!
//! * **low** — region 0 from `first_free_addr`: per-CPU areas and page
//!   tables (below 4 GiB, where the paravirtual console descriptor must be);
//! * **high** — the largest other region (RAM from 4 GiB in the default
//!   layout): user memory — stack, bss, heap, `mmap`. Falls back to low when
//!   there is no such region or it is full.
//!
//! Allocation is one `lock xadd` (or a `lock cmpxchg` loop for 2 MiB
//! alignment) on a shared counter: every CPU allocates at once, lock-free.

use core::sync::atomic::{AtomicU64, Ordering};

use versus_abi::BootInfo;

use crate::layout::{PAGE_SIZE, align_up};

/// One bump allocator: `[base, end)`, of which `used` bytes are taken.
pub struct Arena {
    base: AtomicU64,
    end: AtomicU64,
    used: AtomicU64,
}

impl Arena {
    const fn new() -> Self {
        Self {
            base: AtomicU64::new(0),
            end: AtomicU64::new(0),
            used: AtomicU64::new(0),
        }
    }

    /// `size` bytes (a multiple of 4 KiB) aligned to 4 KiB.
    fn alloc_pages(&self, size: u64) -> Option<u64> {
        let start =
            self.base.load(Ordering::Relaxed) + self.used.fetch_add(size, Ordering::Relaxed);
        (start + size <= self.end.load(Ordering::Relaxed)).then_some(start)
    }

    /// `size` bytes aligned to `align` (a power of two ≥ 4 KiB).
    fn alloc_aligned(&self, size: u64, align: u64) -> Option<u64> {
        let base = self.base.load(Ordering::Relaxed);
        let end = self.end.load(Ordering::Relaxed);
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let start = align_up(base + used, align);
            if start + size > end {
                return None;
            }
            match self.used.compare_exchange_weak(
                used,
                start + size - base,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(start),
                Err(now) => used = now,
            }
        }
    }
}

/// Region 0 above the VMM's boot area: kernel data and page tables.
pub static LOW: Arena = Arena::new();
/// The high region: user memory.
pub static HIGH: Arena = Arena::new();

/// Sets both arenas' bounds from the boot information. Every CPU calls it
/// and stores the same values, so no CPU needs to wait for another.
pub fn init(boot: &BootInfo) {
    let regions = boot.regions();
    let Some(low) = regions.first() else { return };
    let low_base = align_up(boot.first_free_addr, PAGE_SIZE);
    LOW.base.store(low_base, Ordering::Relaxed);
    LOW.end.store(low.end().max(low_base), Ordering::Relaxed);
    let mut high = *low;
    let mut high_base = low_base;
    for region in regions.iter().skip(1) {
        if region.size > high.size || high_base == low_base {
            high = *region;
            high_base = align_up(region.base, PAGE_SIZE);
        }
    }
    if high_base == low_base {
        // One region only: user memory comes from low.
        return;
    }
    HIGH.base.store(high_base, Ordering::Relaxed);
    HIGH.end.store(high.end().max(high_base), Ordering::Relaxed);
}

/// A zero page for a page table or kernel data (low).
pub fn alloc_table() -> Option<u64> {
    LOW.alloc_pages(PAGE_SIZE)
}

/// `size` bytes of zeroed, page-aligned kernel memory (low).
pub fn alloc_kernel(size: u64) -> Option<u64> {
    LOW.alloc_pages(align_up(size, PAGE_SIZE))
}

/// `size` bytes of zeroed user memory aligned to `align` (≥ 4 KiB):
/// from the high region, else from low.
pub fn alloc_user(size: u64, align: u64) -> Option<u64> {
    let size = align_up(size, PAGE_SIZE);
    if align <= PAGE_SIZE {
        HIGH.alloc_pages(size).or_else(|| LOW.alloc_pages(size))
    } else {
        HIGH.alloc_aligned(size, align)
            .or_else(|| LOW.alloc_aligned(size, align))
    }
}

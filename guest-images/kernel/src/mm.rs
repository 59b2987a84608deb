//! User memory: anonymous `mmap`, `munmap`, `brk`, `mprotect`.
//!
//! Mappings are made **eagerly**: `mmap` takes fresh (zero) frames from the
//! high region and writes the page-table entries at once — 2 MiB pages for
//! every whole, aligned 2 MiB of the request (one PD entry instead of 512
//! PTEs), 4 KiB pages for the rest. The workload's first touch of a page is
//! therefore no guest page fault at all (the VMM's host side still faults
//! the frame in): the VM's `memtouch` measures no guest page faults, and its
//! `ns_per_page` shows the cost of first touching host memory.
//!
//! Addresses are bump-allocated from `MMAP_BASE` upwards and frames are
//! never reused (see `memory.rs`): `munmap` removes the mappings and
//! forgets the frames. `brk` is a grow-only heap after the ELF image:
//! lowering the break is accepted, but the pages stay mapped (and are not
//! zeroed again if the break grows back over them). `mprotect` rewrites the
//! permissions of whatever is mapped in the range (holes are skipped, where
//! Linux would say `ENOMEM`); `PROT_NONE` memory stays mapped but
//! supervisor-only, so that `mprotect` can hand it back.
//!
//! `MAP_FIXED` replaces whatever is mapped in its range with fresh zero
//! pages at exactly that address, as Linux does (musl's malloc puts a
//! `PROT_NONE` guard page over its heap that way); the bump pointer does not
//! move, so later mappings without it still never overlap.

use crate::entry::SyscallFrame;
use crate::errno::{EINVAL, ENODEV, ENOMEM, Errno, neg};
use crate::layout::{
    LARGE_PAGE_SIZE, MMAP_BASE, PAGE_SIZE, USER_END, USER_MIN, USER_STACK_TOP, align_up,
};
use crate::memory;
use crate::paging::{Access, AddressSpace, Change};
use crate::percpu::PerCpu;

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
/// Flags that only advise or that anonymous private memory ignores:
/// MAP_NORESERVE, MAP_POPULATE, MAP_GROWSDOWN, MAP_STACK, MAP_LOCKED …
const MAP_HARMLESS: u64 = 0x0100 | 0x2000 | 0x4000 | 0x8000 | 0x1_0000 | 0x2_0000;
/// The end of the mmap area (below the stack, with a gap).
const MMAP_END: u64 = USER_STACK_TOP - (1 << 32);
/// The highest program break.
const BRK_END: u64 = MMAP_BASE;

/// `mmap(addr, len, prot, flags, fd, offset)`: anonymous private only.
#[inline(never)]
pub fn mmap(pc: &mut PerCpu, frame: &SyscallFrame) -> u64 {
    match mmap_inner(pc, frame) {
        Ok(value) => value,
        Err(errno) => neg(errno),
    }
}

fn mmap_inner(pc: &mut PerCpu, frame: &SyscallFrame) -> Result<u64, Errno> {
    let (len, prot, flags) = (frame.rsi, frame.rdx, frame.r10);
    if flags & MAP_ANONYMOUS == 0 {
        return Err(ENODEV);
    }
    if flags & (MAP_SHARED | MAP_PRIVATE) != MAP_PRIVATE
        || flags & !(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_HARMLESS) != 0
        || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0
        || len == 0
    {
        return Err(EINVAL);
    }
    if len > MMAP_END - MMAP_BASE {
        return Err(ENOMEM);
    }
    if flags & MAP_FIXED != 0 {
        return mmap_fixed(pc, frame.rdi, len, prot);
    }
    let len = align_up(len, PAGE_SIZE);
    let align = if len >= LARGE_PAGE_SIZE {
        LARGE_PAGE_SIZE
    } else {
        PAGE_SIZE
    };
    let va = align_up(pc.mmap_next, align);
    if va + len > MMAP_END {
        return Err(ENOMEM);
    }
    let pa = memory::alloc_user(len, align).ok_or(ENOMEM)?;
    let access = access(prot);
    let space = AddressSpace { pml4: pc.pml4 };
    let large = if align == LARGE_PAGE_SIZE {
        len / LARGE_PAGE_SIZE
    } else {
        0
    };
    let small_at = large * LARGE_PAGE_SIZE;
    let mapped = space.map_large(va, pa, large, access).and_then(|()| {
        space.map_pages(
            va + small_at,
            pa + small_at,
            (len - small_at) / PAGE_SIZE,
            access,
        )
    });
    if mapped.is_err() {
        space.change(va, len, Change::Unmap);
        return Err(ENOMEM);
    }
    pc.mmap_next = va + len;
    Ok(va)
}

/// `mmap` with `MAP_FIXED`: fresh zero pages at exactly `[addr, addr +
/// len)`, replacing what was mapped there (4 KiB pages: the range is
/// usually small and rarely 2 MiB aligned).
fn mmap_fixed(pc: &mut PerCpu, addr: u64, len: u64, prot: u64) -> Result<u64, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) || !(USER_MIN..USER_END).contains(&addr) {
        return Err(EINVAL);
    }
    let len = align_up(len, PAGE_SIZE);
    if len > USER_END - addr {
        return Err(ENOMEM);
    }
    let space = AddressSpace { pml4: pc.pml4 };
    if !space.change(addr, len, Change::Unmap) {
        return Err(ENOMEM);
    }
    let pa = memory::alloc_user(len, PAGE_SIZE).ok_or(ENOMEM)?;
    if space
        .map_pages(addr, pa, len / PAGE_SIZE, access(prot))
        .is_err()
    {
        space.change(addr, len, Change::Unmap);
        return Err(ENOMEM);
    }
    Ok(addr)
}

/// `munmap(addr, len)`.
#[inline(never)]
pub fn munmap(pc: &mut PerCpu, addr: u64, len: u64) -> u64 {
    match munmap_inner(pc, addr, len) {
        Ok(value) => value,
        Err(errno) => neg(errno),
    }
}

fn munmap_inner(pc: &mut PerCpu, addr: u64, len: u64) -> Result<u64, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) || len == 0 || addr >= USER_END || len > USER_END - addr {
        return Err(EINVAL);
    }
    let len = align_up(len, PAGE_SIZE).min(USER_END - addr);
    let space = AddressSpace { pml4: pc.pml4 };
    if space.change(addr, len, Change::Unmap) {
        Ok(0)
    } else {
        Err(ENOMEM)
    }
}

/// The user permissions of `prot`.
fn access(prot: u64) -> Access {
    Access {
        read: prot & PROT_READ != 0,
        write: prot & PROT_WRITE != 0,
        exec: prot & PROT_EXEC != 0,
    }
}

/// `mprotect(addr, len, prot)`.
#[inline(never)]
pub fn mprotect(pc: &mut PerCpu, addr: u64, len: u64, prot: u64) -> u64 {
    match mprotect_inner(pc, addr, len, prot) {
        Ok(value) => value,
        Err(errno) => neg(errno),
    }
}

fn mprotect_inner(pc: &mut PerCpu, addr: u64, len: u64, prot: u64) -> Result<u64, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE)
        || addr >= USER_END
        || len > USER_END - addr
        || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0
    {
        return Err(EINVAL);
    }
    let len = align_up(len, PAGE_SIZE).min(USER_END - addr);
    let space = AddressSpace { pml4: pc.pml4 };
    if space.change(addr, len, Change::Protect(access(prot))) {
        Ok(0)
    } else {
        Err(ENOMEM)
    }
}

/// `brk(addr)`: the new break, or the old one if it cannot move there
/// (Linux's raw `brk` never fails with an errno).
#[inline(never)]
pub fn brk(pc: &mut PerCpu, addr: u64) -> u64 {
    if addr < pc.brk_start || addr > BRK_END {
        return pc.brk;
    }
    let want = align_up(addr, PAGE_SIZE);
    if want > pc.brk_mapped {
        let size = want - pc.brk_mapped;
        let Some(pa) = memory::alloc_user(size, PAGE_SIZE) else {
            return pc.brk;
        };
        let space = AddressSpace { pml4: pc.pml4 };
        if space
            .map_pages(pc.brk_mapped, pa, size / PAGE_SIZE, Access::DATA)
            .is_err()
        {
            space.change(pc.brk_mapped, size, Change::Unmap);
            return pc.brk;
        }
        pc.brk_mapped = want;
    }
    pc.brk = addr;
    addr
}

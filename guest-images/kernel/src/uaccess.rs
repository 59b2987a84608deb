//! Reading and writing user memory.
//!
//! The kernel never dereferences a user pointer: it translates each page
//! with the user's own permissions (`AddressSpace::translate`) and touches
//! the physical page through the direct map. An address the user could not
//! use is `EFAULT`, never a kernel fault.

use crate::errno::{EFAULT, Errno};
use crate::layout::phys_to_virt;
use crate::paging::AddressSpace;
use crate::percpu::PerCpu;

fn space(pc: &PerCpu) -> AddressSpace {
    AddressSpace { pml4: pc.pml4 }
}

/// Copies `len` bytes from kernel memory `src` to user address `va`.
pub fn copy_to_user(pc: &PerCpu, va: u64, src: *const u8, len: u64) -> Result<(), Errno> {
    let space = space(pc);
    let mut done = 0;
    while done < len {
        let (pa, in_page) = space.translate(va.wrapping_add(done), true).ok_or(EFAULT)?;
        let take = in_page.min(len - done);
        // SAFETY: `pa..pa + take` is a user-writable frame (translated
        // above); `src` is readable for `len` bytes (the caller's contract).
        unsafe {
            core::ptr::copy_nonoverlapping(
                src.add(done as usize),
                phys_to_virt(pa) as *mut u8,
                take as usize,
            );
        }
        done += take;
    }
    Ok(())
}

/// Fills `len` bytes at user address `va` with zeros.
pub fn clear_user(pc: &PerCpu, va: u64, len: u64) -> Result<(), Errno> {
    let space = space(pc);
    let mut done = 0;
    while done < len {
        let (pa, in_page) = space.translate(va.wrapping_add(done), true).ok_or(EFAULT)?;
        let take = in_page.min(len - done);
        // SAFETY: `pa..pa + take` is a user-writable frame (translated above).
        unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, take as usize) };
        done += take;
    }
    Ok(())
}

/// Writes one `u64` to user address `va`.
pub fn put_u64(pc: &PerCpu, va: u64, value: u64) -> Result<(), Errno> {
    if va & 7 == 0 {
        let (pa, _) = space(pc).translate(va, true).ok_or(EFAULT)?;
        // SAFETY: an aligned u64 never crosses a page; the frame is
        // user-writable (translated above).
        unsafe { (phys_to_virt(pa) as *mut u64).write_volatile(value) };
        Ok(())
    } else {
        copy_to_user(pc, va, (&raw const value).cast(), 8)
    }
}

/// Reads one `u64` from user address `va`.
pub fn get_u64(pc: &PerCpu, va: u64) -> Result<u64, Errno> {
    let space = space(pc);
    if va & 7 == 0 {
        let (pa, _) = space.translate(va, false).ok_or(EFAULT)?;
        // SAFETY: an aligned u64 never crosses a page; the frame is
        // user-readable (translated above).
        return Ok(unsafe { (phys_to_virt(pa) as *const u64).read_volatile() });
    }
    let mut value = 0u64;
    for i in 0..8 {
        let (pa, _) = space.translate(va.wrapping_add(i), false).ok_or(EFAULT)?;
        // SAFETY: a user-readable byte (translated above).
        let byte = unsafe { (phys_to_virt(pa) as *const u8).read_volatile() };
        value |= u64::from(byte) << (8 * i);
    }
    Ok(value)
}

/// Reads one `u32` from user address `va` (futex words are aligned).
pub fn get_u32(pc: &PerCpu, va: u64) -> Result<u32, Errno> {
    if va & 3 != 0 {
        return Err(EFAULT);
    }
    let (pa, _) = space(pc).translate(va, false).ok_or(EFAULT)?;
    // SAFETY: an aligned u32 never crosses a page; the frame is
    // user-readable (translated above).
    Ok(unsafe { (phys_to_virt(pa) as *const u32).read_volatile() })
}

/// Reads the byte at user address `va`.
pub fn get_u8(pc: &PerCpu, va: u64) -> Result<u8, Errno> {
    let (pa, _) = space(pc).translate(va, false).ok_or(EFAULT)?;
    // SAFETY: a user-readable byte (translated above).
    Ok(unsafe { (phys_to_virt(pa) as *const u8).read_volatile() })
}

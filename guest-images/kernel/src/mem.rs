//! The memory functions the compiler calls (`core` does not provide them).
//!
//! Ring 0 pays per element for string instructions on the software backend
//! (about 1.7 µs per `movsb` and per `movsq`), so copies and fills move 8
//! bytes per step where they can: `rep movsq`/`rep stosq`, then the tail
//! byte by byte. They set DF clear themselves (`cld`): an exception from
//! user mode does not clear it. The comparisons are plain loops with
//! volatile reads (no vector code).

use core::arch::asm;

/// # Safety
/// `src` must be readable and `dest` writable for `n` bytes; the ranges must
/// not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges; rep movsq then rep movsb
    // touch exactly n bytes of each, forward.
    unsafe {
        asm!("cld", "rep movsq", "mov ecx, {tail:e}", "rep movsb",
             tail = in(reg) n & 7,
             inout("rcx") n / 8 => _, inout("rdi") dest => _, inout("rsi") src => _,
             options(nostack));
    }
    dest
}

/// # Safety
/// `dest` must be writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, value: i32, n: usize) -> *mut u8 {
    let pattern = u64::from(value as u8).wrapping_mul(0x0101_0101_0101_0101);
    // SAFETY: the caller guarantees the range; rep stosq then rep stosb
    // store exactly n bytes of the low byte of `value`, as C's memset does.
    unsafe {
        asm!("cld", "rep stosq", "mov ecx, {tail:e}", "rep stosb",
             tail = in(reg) n & 7,
             inout("rcx") n / 8 => _, inout("rdi") dest => _, in("rax") pattern,
             options(nostack));
    }
    dest
}

/// # Safety
/// `src` must be readable and `dest` writable for `n` bytes; the ranges may
/// overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: dest does not start inside src, so a forward copy never
        // reads a byte it has already overwritten.
        unsafe { memcpy(dest, src, n) }
    } else {
        // SAFETY: with DF set, rep movsb walks down from the last byte, so
        // overlapping bytes are read before they are written; DF is
        // cleared again.
        unsafe {
            asm!("std", "rep movsb", "cld",
                 inout("rcx") n => _,
                 inout("rdi") dest.wrapping_add(n).wrapping_sub(1) => _,
                 inout("rsi") src.wrapping_add(n).wrapping_sub(1) => _,
                 options(nostack));
        }
        dest
    }
}

/// # Safety
/// `a` and `b` must be readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, and the caller guarantees n readable bytes in each.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// `a` and `b` must be readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

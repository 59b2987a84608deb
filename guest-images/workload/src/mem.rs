//! The memory and string functions the compiler expects to exist (`core`
//! calls them and so does generated code) — normally libc's job. `strlen`
//! is here because `CStr::from_ptr` calls it.
//!
//! Copy and fill use `rep movsb`/`rep stosb` in inline assembly: a plain
//! byte loop may be recognised by the optimiser as "a memcpy" and turned
//! into a call to `memcpy` — that is, to itself (`strlen` likewise uses
//! `repne scasb`). The comparisons are plain
//! loops (no optimiser pass turns a compare loop into a call; checked in
//! the disassembly).
//! The direction flag is clear on entry to any function (System V ABI).

use core::arch::asm;

/// # Safety
/// `src` must be readable and `dest` writable for `n` bytes; the ranges must
/// not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges; rep movsb touches exactly
    // n bytes of each, forward, and only rcx/rsi/rdi change.
    unsafe {
        asm!("rep movsb", inout("rcx") n => _, inout("rdi") dest => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
    dest
}

/// # Safety
/// `dest` must be writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, value: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees the range; rep stosb stores exactly n
    // copies of al (the low byte of `value`, as C's memset specifies).
    unsafe {
        asm!("rep stosb", inout("rcx") n => _, inout("rdi") dest => _, in("al") value as u8,
             options(nostack, preserves_flags));
    }
    dest
}

/// # Safety
/// `src` must be readable and `dest` writable for `n` bytes; the ranges may
/// overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // A forward copy is correct unless dest starts inside src; only then
    // copy backwards, from the last byte down.
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: the caller guarantees both ranges; a forward copy never
        // reads a byte it has already overwritten when dest is not inside
        // src (checked above).
        unsafe { memcpy(dest, src, n) }
    } else {
        // SAFETY: as above for the ranges; with DF set, rep movsb walks down
        // from the last byte, so overlapping bytes are read before they are
        // written. DF is cleared again before returning, as the ABI requires.
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
        let (x, y) = unsafe { (a.add(i).read(), b.add(i).read()) };
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
    // SAFETY: the same contract as memcmp; bcmp only needs zero/non-zero.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// `s` must point to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let remaining: usize;
    // SAFETY: the caller guarantees a NUL before unreadable memory; repne
    // scasb scans forward from `s` and stops just past the first NUL.
    unsafe {
        asm!("repne scasb", inout("rcx") usize::MAX => remaining, inout("rdi") s => _,
             in("al") 0u8, options(nostack, readonly));
    }
    // rcx started at -1 and dropped by one per byte scanned, NUL included.
    !remaining - 1
}

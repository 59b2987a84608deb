//! The memory and string functions the compiler expects to exist — libc's
//! job on a normal system: the precompiled `core` calls `memcpy`, `memset`,
//! `memmove`, `memcmp` and `bcmp`, and `CStr::from_ptr` calls `strlen`.
//! Both guest images link this one copy (`extern crate versus_guest_rt`).
//!
//! They must be right in guest **ring 0** too, where the software KVM backend
//! emulates every instruction and pays per element for string instructions
//! (about 1.7 µs per `movsb` and per `movsq`): copies and fills move 8 bytes
//! per step where they can (`rep movsq`/`rep stosq`, then the tail byte by
//! byte), and set DF clear themselves (`cld`), because an exception taken
//! from user mode does not clear it. They are inline assembly so that the
//! optimiser cannot turn a copy loop into a call to `memcpy` — to itself.
//! The comparisons are plain loops with volatile reads, so no vector code is
//! generated (ring-0 SSE arithmetic fails emulation); `images/tests/
//! kernel_disassembly.rs` checks the kernel's copy of all of them.

#![no_std]

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

//! The command line, read straight from the initial process stack, and
//! decimal number parsing.

use core::ffi::{CStr, c_char};

/// `argc` and `argv` as the kernel laid them out at process entry:
/// `[rsp]` = argc, `[rsp + 8 ..]` = argc pointers to NUL-terminated strings,
/// then a null pointer (environment and auxiliary vector follow; unused).
pub struct Args {
    argc: usize,
    argv: *const *const c_char,
}

impl Args {
    /// # Safety
    /// `sp` must be the stack pointer the kernel handed to `_start`.
    pub unsafe fn from_initial_stack(sp: *const usize) -> Self {
        // SAFETY: per the x86-64 System V process-entry ABI, which Linux
        // follows, `sp` points at argc followed by the argv array.
        let argc = unsafe { sp.read() };
        // SAFETY: the argv array starts one word above argc (see above).
        let argv = unsafe { sp.add(1) }.cast::<*const c_char>();
        Self { argc, argv }
    }

    pub fn len(&self) -> usize {
        self.argc
    }

    /// Argument `index` without its NUL, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&'static [u8]> {
        if index >= self.argc {
            return None;
        }
        // SAFETY: index < argc, so the slot is inside the argv array.
        let ptr = unsafe { self.argv.add(index).read() };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: argv strings are NUL-terminated and stay in place, never
        // written, for the life of the process.
        Some(unsafe { CStr::from_ptr(ptr) }.to_bytes())
    }
}

/// A plain unsigned decimal: one or more ASCII digits, nothing else (no
/// sign, no spaces, no `0x`). `None` if malformed or above `u64::MAX`.
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |value, &byte| {
        let digit = byte.checked_sub(b'0').filter(|&d| d <= 9)?;
        value.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

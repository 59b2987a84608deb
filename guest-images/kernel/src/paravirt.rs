//! What the kernel asks the VMM to do for it, one `out` each (see
//! `hypervisor/src/devices/paravirt.rs`):
//!
//! * [`sleep_until`]: `port::SLEEP` with a number of microseconds — the
//!   vCPU thread sleeps on the host. The guest has no timer interrupt to
//!   `hlt` for (and a halted vCPU never wakes), and spinning on the TSC in
//!   ring 3 or 0 would burn a host CPU for the whole sleep.
//! * [`fill_user_random`]: `port::RANDOM` with a `{addr, len}` descriptor —
//!   the VMM fills the bytes from the host's `getrandom`. `rdrand` is not
//!   an option in ring 0 (it is outside the instructions the emulated ring
//!   0 is allowed, `images/tests/kernel_disassembly.rs`).

use core::arch::asm;

use versus_abi::{RANDOM_MAX_LEN, SLEEP_MAX_US, port};

use crate::errno::{EFAULT, EIO, Errno};
use crate::layout::PAGE_SIZE;
use crate::paging::AddressSpace;
use crate::percpu::PerCpu;
use crate::time;

/// Nanoseconds per microsecond.
const NS_PER_US: u64 = 1000;

/// Returns once this CPU's TSC clock reads `deadline` (ns) or later. Each
/// round asks the VMM for the remaining time, rounded up to a microsecond;
/// the VMM may return early (the VM is stopping, or the sleep was longer
/// than one request holds), so the clock decides when it is over. When the
/// VM is stopping, this vCPU never runs again after that exit.
pub fn sleep_until(pc: &PerCpu, deadline: u64) {
    loop {
        let now = time::now_ns(pc);
        if now >= deadline {
            return;
        }
        let micros = (deadline - now).div_ceil(NS_PER_US).min(SLEEP_MAX_US) as u32;
        // SAFETY: a port write the VMM handles by sleeping; no memory is
        // involved.
        unsafe {
            asm!("out dx, eax", in("dx") port::SLEEP, in("eax") micros, options(nomem, nostack, preserves_flags));
        }
    }
}

/// Fills `len` bytes at user address `va` with random bytes from the VMM,
/// page by page (each piece physically contiguous: one exit). Stops at the
/// first page the user cannot write: returns the bytes filled, or `EFAULT`
/// if that was the first.
pub fn fill_user_random(pc: &mut PerCpu, va: u64, len: u64) -> Result<u64, Errno> {
    let space = AddressSpace { pml4: pc.pml4 };
    let mut done = 0;
    while done < len {
        let Some((pa, in_page)) = space.translate(va.wrapping_add(done), true) else {
            break;
        };
        let take = in_page.min(len - done).min(PAGE_SIZE).min(RANDOM_MAX_LEN);
        pc.random.addr = pa;
        pc.random.len = take;
        let descriptor = pc.phys_of(&raw const pc.random) as u32;
        // SAFETY: the VMM reads the descriptor (below 4 GiB: the per-CPU
        // area is low memory) and writes `take` bytes at `pa`, a
        // user-writable frame of this address space (translated above).
        unsafe {
            asm!("out dx, eax", in("dx") port::RANDOM, in("eax") descriptor, options(nostack, preserves_flags));
        }
        // SAFETY: the descriptor is this CPU's own field; the VMM may have
        // zeroed `len` during the exit, hence the volatile read.
        if unsafe { (&raw const pc.random.len).read_volatile() } != take {
            // The VMM refused: a frame it does not consider RAM.
            return if done == 0 { Err(EIO) } else { Ok(done) };
        }
        done += take;
    }
    if done == 0 && len != 0 {
        return Err(EFAULT);
    }
    Ok(done)
}

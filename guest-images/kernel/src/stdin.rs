//! The workload's standard input: `read(0, …)` is a paravirtual request
//! (`port::STDIN`, see `hypervisor/src/devices/stdin.rs`). The guest has no
//! interrupt to wait for, so it cannot block itself: the vCPU thread blocks
//! on the host instead, inside the exit, until the VMM has input or end of
//! file — an idle reader costs no host CPU.

use core::arch::asm;

use versus_abi::{STDIN_FAILED, STDIN_MAX_LEN, port};

use crate::errno::{EFAULT, EIO, Errno};
use crate::layout::PAGE_SIZE;
use crate::paging::AddressSpace;
use crate::percpu::PerCpu;

/// Reads at most `len` bytes of standard input into user address `va`:
/// one request for the part of the buffer in its first page (a short
/// read, as a pipe gives). Returns the count, 0 at end of file.
pub fn read_user(pc: &mut PerCpu, va: u64, len: u64) -> Result<u64, Errno> {
    if len == 0 {
        return Ok(0);
    }
    let space = AddressSpace { pml4: pc.pml4 };
    let Some((pa, in_page)) = space.translate(va, true) else {
        return Err(EFAULT);
    };
    let take = in_page.min(len).min(PAGE_SIZE).min(STDIN_MAX_LEN);
    // The per-CPU `{addr, len}` descriptor of the random-bytes service
    // serves here too: a vCPU makes one request at a time.
    pc.random.addr = pa;
    pc.random.len = take;
    let descriptor = pc.phys_of(&raw const pc.random) as u32;
    // SAFETY: the VMM reads the descriptor (below 4 GiB: the per-CPU area
    // is low memory) and writes at most `take` bytes at `pa`, a
    // user-writable frame of this address space (translated above).
    unsafe {
        asm!("out dx, eax", in("dx") port::STDIN, in("eax") descriptor, options(nostack, preserves_flags));
    }
    // SAFETY: the descriptor is this CPU's own field; the VMM rewrote `len`
    // during the exit, hence the volatile read.
    let count = unsafe { (&raw const pc.random.len).read_volatile() };
    if count == STDIN_FAILED || count > take {
        return Err(EIO);
    }
    Ok(count)
}

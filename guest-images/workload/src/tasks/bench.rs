//! The timed micro-benchmarks: system call cost, pure computation, page
//! faults, and small writes.

use core::cell::UnsafeCell;
use core::hint::black_box;

use versus_protocol::catalog;

use super::{MAX_PARAMS, Outcome, Task, now};
use crate::out::{Line, STDOUT};
use crate::sys;

const PAGE_SIZE: usize = 4096;
const PAGES_PER_MIB: u64 = (1 << 20) / PAGE_SIZE as u64;

pub static GETPID: Task = Task {
    spec: &catalog::GETPID,
    run: getpid,
};

/// N raw `getpid` calls: the cheapest real round trip into the kernel.
fn getpid(values: &[u64; MAX_PARAMS]) -> Outcome {
    let iters = values[0];
    let start = now()?;
    for _ in 0..iters {
        // Each iteration is one `syscall` instruction: the asm is not pure,
        // so the compiler may neither hoist nor merge it.
        let _ = sys::getpid();
    }
    let total = now()?.saturating_sub(start);
    let pid = sys::getpid()?;
    Line::result("getpid")
        .field_dec("iters", iters)
        .field_per_op("ns_per_op", total, iters)
        .field_dec("total_ns", total)
        .field_dec("pid", pid as u64)
        .emit(STDOUT)?;
    Ok(())
}

pub static COMPUTE: Task = Task {
    spec: &catalog::COMPUTE,
    run: compute,
};

/// The compute loop's seed: 2^64 divided by the golden ratio.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// N xorshift64 steps, summed. No system calls and no memory traffic: the
/// same number on every backend unless the CPU itself is slowed down. The
/// checksum is deterministic, so every backend must print the same one.
fn compute(values: &[u64; MAX_PARAMS]) -> Outcome {
    let start = now()?;
    // black_box after the first clock read and before the second keeps the
    // compiler from folding the loop or moving it out of the timed span.
    let iters = black_box(values[0]);
    let mut x = black_box(SEED);
    let mut sum: u64 = 0;
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum = sum.wrapping_add(x);
    }
    let sum = black_box(sum);
    let total = now()?.saturating_sub(start);
    Line::result("compute")
        .field_dec("iters", iters)
        .field_per_op("ns_per_op", total, iters)
        .field_dec("total_ns", total)
        .field_hex64("checksum", sum)
        .emit(STDOUT)?;
    Ok(())
}

pub static MEMTOUCH: Task = Task {
    spec: &catalog::MEMTOUCH,
    run: memtouch,
};

/// Maps MIB MiB of anonymous memory, writes one byte per 4 KiB page (one
/// page fault each) and unmaps it: the cost of giving a process memory.
fn memtouch(values: &[u64; MAX_PARAMS]) -> Outcome {
    let mib = values[0];
    let pages = mib * PAGES_PER_MIB;
    let len = pages as usize * PAGE_SIZE;
    let start = now()?;
    let map = sys::mmap_anonymous(len)?;
    for page in 0..pages as usize {
        // SAFETY: page * PAGE_SIZE < len, inside the mapping just made; the
        // write is volatile so that every page is really faulted in.
        unsafe { map.add(page * PAGE_SIZE).write_volatile(1) };
    }
    // SAFETY: nothing refers to the mapping after this loop.
    unsafe { sys::munmap(map, len) }?;
    let total = now()?.saturating_sub(start);
    Line::result("memtouch")
        .field_dec("mib", mib)
        .field_dec("pages", pages)
        .field_per_op("ns_per_page", total, pages)
        .field_dec("total_ns", total)
        .emit(STDOUT)?;
    Ok(())
}

const WRITE_MAX: usize = 65536;

pub static WRITE: Task = Task {
    spec: &catalog::WRITE,
    run: write,
};

/// The `write` task's payload. Static rather than on the stack so that a
/// 64 KiB write needs no large stack from the kernel that runs us; in .bss,
/// so it costs nothing in the file.
static WRITE_BUF: WriteBuf = WriteBuf(UnsafeCell::new([0; WRITE_MAX]));

struct WriteBuf(UnsafeCell<[u8; WRITE_MAX]>);

// SAFETY: the workload is single-threaded (forked children get their own
// copy), so the buffer is never shared between threads.
unsafe impl Sync for WriteBuf {}

/// N `write(1, buf, BYTES)` calls, each one line of dots that the harness
/// ignores: the cost of output on each backend (in a VM, a console write
/// may be one exit per byte).
fn write(values: &[u64; MAX_PARAMS]) -> Outcome {
    let iters = values[0];
    let bytes = values[1];
    // SAFETY: this is the only place that touches WRITE_BUF, it is not
    // re-entered, and the reference does not outlive this call.
    let buf = unsafe { &mut *WRITE_BUF.0.get() };
    let line = buf.get_mut(..bytes as usize).ok_or(sys::Errno::EINVAL)?;
    if let Some((newline, dots)) = line.split_last_mut() {
        dots.fill(b'.');
        *newline = b'\n';
    }
    let line = &*line;
    let start = now()?;
    for _ in 0..iters {
        sys::write(STDOUT, line)?;
    }
    let total = now()?.saturating_sub(start);
    Line::result("write")
        .field_dec("iters", iters)
        .field_dec("bytes", bytes)
        .field_per_op("ns_per_op", total, iters)
        .field_dec("total_ns", total)
        .field_dec("fd", STDOUT as u64)
        .emit(STDOUT)?;
    Ok(())
}

//! The exit probe: what one VM exit round trip costs, measured from a loop
//! in the guest (`versus_abi::BootInfo::exit_probe_iters`).
//!
//! The bootstrap CPU, between `KERNEL_READY` and the workload, writes the
//! `EXIT_PROBE_START` marker, reads the TSC, does exactly N `out`s to
//! `port::PING` (the VMM does nothing for them but count them), reads the
//! TSC, writes `EXIT_PROBE_END` and prints
//!
//! ```text
//! @kernel exitprobe cpu=0 iters=N ns_per_exit=… total_ns=… tsc_cycles=…
//! ```
//!
//! Both sides measure the same loop: the guest with its TSC (this line),
//! the host with the arrival times of the two markers and, per exit, the
//! time its handler took. The loop runs in ring 0, where the software
//! backend emulates every instruction (~1 µs each): so the `out`s are
//! unrolled [`UNROLL`] times and only two loop instructions (`dec`, `jnz`)
//! come per [`UNROLL`] exits.

use core::arch::asm;

use versus_abi::{event, port};

use crate::console::Line;
use crate::cpu;
use crate::percpu::PerCpu;
use crate::time;

/// `out`s per loop round.
pub const UNROLL: u32 = 10;

/// Runs the probe with `iters` exits (nothing when 0) and prints its line.
pub fn run(pc: &mut PerCpu, iters: u32) {
    if iters == 0 {
        return;
    }
    cpu::marker(event::EXIT_PROBE_START);
    let start = time::rdtsc();
    ping(iters);
    let end = time::rdtsc();
    cpu::marker(event::EXIT_PROBE_END);
    let cycles = end.wrapping_sub(start);
    let total_ns = time::cycles_to_ns(pc, cycles);
    Line::new(pc, "exitprobe")
        .field("iters")
        .dec(u64::from(iters))
        .field("ns_per_exit")
        .dec(total_ns / u64::from(iters))
        .field("total_ns")
        .dec(total_ns)
        .field("tsc_cycles")
        .dec(cycles)
        .emit();
}

/// Exactly `iters` `out`s to `port::PING`: `iters / UNROLL` unrolled
/// rounds, then the rest one by one.
fn ping(iters: u32) {
    let rounds = iters / UNROLL;
    let rest = iters % UNROLL;
    // SAFETY: `out` to the VMM's ping port has no effect in the guest (the
    // VMM only counts it); the loop touches only its two counters.
    unsafe {
        asm!(
            "test {rounds:e}, {rounds:e}",
            "jz 3f",
            "2:",
            ".rept {unroll}",
            "out dx, al",
            ".endr",
            "dec {rounds:e}",
            "jnz 2b",
            "3:",
            "test {rest:e}, {rest:e}",
            "jz 5f",
            "4:",
            "out dx, al",
            "dec {rest:e}",
            "jnz 4b",
            "5:",
            rounds = inout(reg) rounds => _,
            rest = inout(reg) rest => _,
            unroll = const UNROLL,
            in("dx") port::PING,
            in("al") 0u8,
            options(nomem, nostack),
        );
    }
}

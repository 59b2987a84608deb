//! Time: the TSC, scaled with the rate the VMM passes in
//! `BootInfo::tsc_khz` (the guest TSC is the host's, so `rdtsc` at ring 3 or
//! ring 0 reads the same clock).
//!
//! `ns = tsc * mult >> 32` with `mult = 10^6 * 2^32 / tsc_khz` (computed once
//! per CPU): a multiplication, no 128-bit division helper, no floating point. The
//! clocks count from the TSC's zero (the host's boot), so
//! `CLOCK_MONOTONIC` inside the VM lies close to the host's; there is no
//! RTC, so `CLOCK_REALTIME` is the same count (since 1970, as far as the
//! workload can tell).

use crate::percpu::PerCpu;

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// The scale factor for `tsc_khz` (1 GHz when the VMM does not know).
pub fn multiplier(tsc_khz: u64) -> u64 {
    let khz = if tsc_khz == 0 { 1_000_000 } else { tsc_khz };
    (1_000_000u64 << 32) / khz
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the counter (CR4.TSD is clear).
    unsafe {
        core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Nanoseconds on the TSC clock: one 64×64→128-bit `mul` and a shift.
pub fn now_ns(pc: &PerCpu) -> u64 {
    cycles_to_ns(pc, rdtsc())
}

/// `cycles` TSC ticks in nanoseconds, with this CPU's multiplier.
pub fn cycles_to_ns(pc: &PerCpu, cycles: u64) -> u64 {
    ((u128::from(cycles) * u128::from(pc.tsc_mult)) >> 32) as u64
}

//! The time system calls beyond `clock_gettime` (which stays on the short
//! path in `syscall.rs`): the clocks' resolution, the old `gettimeofday`
//! and `time`, and sleeping. Every clock here is the one TSC count
//! (`time.rs`), so an absolute deadline on any of them is a point on that
//! count; a sleep is a paravirtual request to the VMM (`paravirt.rs`).

use crate::errno::{EFAULT, EINVAL, Errno};
use crate::paravirt;
use crate::percpu::PerCpu;
use crate::time::{self, NS_PER_SEC};
use crate::uaccess;

/// Clocks answered from the TSC: REALTIME, MONOTONIC, MONOTONIC_RAW,
/// REALTIME_COARSE, MONOTONIC_COARSE, BOOTTIME (bit = clock id).
pub const TSC_CLOCKS: u64 = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7);

/// Clocks a sleep may be measured on: REALTIME, MONOTONIC, BOOTTIME (as
/// Linux: the raw and coarse clocks cannot be slept on).
const SLEEP_CLOCKS: u64 = (1 << 0) | (1 << 1) | (1 << 7);

/// `clock_nanosleep` flag: the time is a deadline, not a duration.
const TIMER_ABSTIME: u64 = 1;

/// Nanoseconds per microsecond.
const NS_PER_US: u64 = 1000;

/// Whether `clock` is one of `set` (a bit mask of clock ids).
pub fn clock_in(set: u64, clock: u64) -> bool {
    clock < 64 && set & (1 << clock) != 0
}

/// Reads a `struct timespec` at `ts` as nanoseconds (saturating far in the
/// future); `EINVAL` for a negative or unnormalised one, as Linux.
pub fn read_timespec(pc: &PerCpu, ts: u64) -> Result<u64, Errno> {
    let sec = uaccess::get_u64(pc, ts)?;
    let nsec = uaccess::get_u64(pc, ts.wrapping_add(8))?;
    if (sec as i64) < 0 || nsec >= NS_PER_SEC {
        return Err(EINVAL);
    }
    Ok(sec.saturating_mul(NS_PER_SEC).saturating_add(nsec))
}

/// `clock_getres(clock, res)`: 1 ns for every TSC clock (the count is
/// scaled to nanoseconds; a TSC tick is shorter).
pub fn clock_getres(pc: &mut PerCpu, clock: u64, res: u64) -> Result<u64, Errno> {
    if !clock_in(TSC_CLOCKS, clock) {
        return Err(EINVAL);
    }
    if res != 0 {
        uaccess::put_u64(pc, res, 0)?;
        uaccess::put_u64(pc, res.wrapping_add(8), 1)?;
    }
    Ok(0)
}

/// `gettimeofday(tv, tz)`: CLOCK_REALTIME in microseconds; the time zone
/// (`tz`, obsolete) reads as UTC.
pub fn gettimeofday(pc: &mut PerCpu, tv: u64, tz: u64) -> Result<u64, Errno> {
    let ns = time::now_ns(pc);
    if tv != 0 {
        uaccess::put_u64(pc, tv, ns / NS_PER_SEC)?;
        uaccess::put_u64(pc, tv.wrapping_add(8), ns % NS_PER_SEC / NS_PER_US)?;
    }
    if tz != 0 {
        uaccess::clear_user(pc, tz, 8)?;
    }
    Ok(0)
}

/// `time(tloc)`: CLOCK_REALTIME in seconds, also stored at `tloc` if given.
pub fn time(pc: &mut PerCpu, tloc: u64) -> Result<u64, Errno> {
    let sec = time::now_ns(pc) / NS_PER_SEC;
    if tloc != 0 {
        uaccess::put_u64(pc, tloc, sec).map_err(|_| EFAULT)?;
    }
    Ok(sec)
}

/// `nanosleep(req, rem)`: sleeps the duration at `req`. No signal is ever
/// delivered, so the sleep is never cut short and `rem` is never written.
pub fn nanosleep(pc: &mut PerCpu, req: u64) -> Result<u64, Errno> {
    let duration = read_timespec(pc, req)?;
    paravirt::sleep_until(pc, time::now_ns(pc).saturating_add(duration));
    Ok(0)
}

/// `clock_nanosleep(clock, flags, req, rem)`: a duration, or with
/// `TIMER_ABSTIME` a deadline on `clock` (already past: returns at once).
pub fn clock_nanosleep(pc: &mut PerCpu, clock: u64, flags: u64, req: u64) -> Result<u64, Errno> {
    if !clock_in(SLEEP_CLOCKS, clock) || flags & !TIMER_ABSTIME != 0 {
        return Err(EINVAL);
    }
    let time = read_timespec(pc, req)?;
    let deadline = if flags & TIMER_ABSTIME != 0 {
        time
    } else {
        time::now_ns(pc).saturating_add(time)
    };
    paravirt::sleep_until(pc, deadline);
    Ok(0)
}

//! The paravirtual services the tiny kernel asks the VMM for because its
//! guest has no device for them: sleeping ([`port::SLEEP`]) and random
//! bytes ([`port::RANDOM`]). Each request is one `out`, handled here
//! during that exit.
//!
//! * **Sleep**: the guest has no timer interrupt to wait for (the VMM
//!   creates no irqchip), and spinning on the TSC would keep a host CPU
//!   busy for the whole sleep. So the vCPU thread sleeps on the host
//!   instead, in slices of [`SLEEP_SLICE`] that check the VM's stop flag:
//!   Ctrl-C, `--timeout` or another vCPU's exit end the sleep within a
//!   slice, and the vCPU loop then stops.
//! * **Random**: the host's `getrandom(2)`, copied into guest memory. The
//!   guest could use `rdrand` itself, but on the software KVM backends
//!   ring 0 is emulated and `rdrand` is not among the instructions the
//!   kernel allows itself (`images/tests/kernel_disassembly.rs`), and the
//!   CPU may not have it at all; one exit per page is cheap by comparison.
//!
//! [`port::SLEEP`]: versus_abi::port::SLEEP
//! [`port::RANDOM`]: versus_abi::port::RANDOM

use std::time::{Duration, Instant};

use versus_abi::{RANDOM_MAX_LEN, SLEEP_MAX_US};
use vm_memory::{Bytes, GuestAddress};

use crate::memory::GuestMem;

/// How long the vCPU thread sleeps before looking at the stop flag again:
/// a stop request waits at most this long for a sleeping vCPU.
pub const SLEEP_SLICE: Duration = Duration::from_millis(5);

/// Sleeps `micros` microseconds (clamped to [`SLEEP_MAX_US`]) on this
/// thread, returning early once `stopping()` says the VM is stopping.
/// Returns how long it slept.
pub fn sleep(micros: u64, stopping: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    let want = Duration::from_micros(micros.min(SLEEP_MAX_US));
    loop {
        let slept = start.elapsed();
        if slept >= want || stopping() {
            return slept;
        }
        std::thread::sleep((want - slept).min(SLEEP_SLICE));
    }
}

/// Why a paravirtual random-bytes request was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RandomError {
    /// The descriptor is not in RAM.
    #[error("random-bytes descriptor at {0:#x} is not in guest RAM")]
    Descriptor(u64),
    /// The buffer is longer than `RANDOM_MAX_LEN`.
    #[error("random-bytes buffer of {0} bytes exceeds the maximum of {RANDOM_MAX_LEN}")]
    TooLong(u64),
    /// The buffer is not in RAM.
    #[error("random-bytes buffer {addr:#x}+{len} is not in guest RAM")]
    Buffer {
        /// Address.
        addr: u64,
        /// Length.
        len: u64,
    },
    /// The host's `getrandom` failed.
    #[error("the host's getrandom failed: errno {0}")]
    Host(i32),
}

/// Fills the buffer the `{addr, len}` descriptor at guest-physical `desc`
/// names with random bytes from the host. On a refusal the descriptor's
/// `len` is set to 0 (when the descriptor itself is in RAM), so that the
/// guest sees it. Returns the number of bytes filled.
pub fn fill_random(mem: &GuestMem, desc: u64) -> Result<u64, RandomError> {
    let result = fill(mem, desc);
    if result.is_err() {
        // The guest reads `len` back: 0 means "nothing was filled". A
        // descriptor outside RAM has nowhere to say it.
        let _ = mem.write_obj(0u64, GuestAddress(desc.wrapping_add(8)));
    }
    result
}

fn fill(mem: &GuestMem, desc: u64) -> Result<u64, RandomError> {
    let (addr, len) = super::read_descriptor(mem, desc).ok_or(RandomError::Descriptor(desc))?;
    if len > RANDOM_MAX_LEN {
        return Err(RandomError::TooLong(len));
    }
    let mut buf = [0u8; RANDOM_MAX_LEN as usize];
    let buf = &mut buf[..len as usize];
    host_random(buf)?;
    mem.write_slice(buf, GuestAddress(addr))
        .map_err(|_| RandomError::Buffer { addr, len })?;
    Ok(len)
}

/// Fills `buf` from the host's `getrandom(2)` (blocking only until the
/// host's pool is initialised, as on any booted host it is).
fn host_random(buf: &mut [u8]) -> Result<(), RandomError> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is valid for writes of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if errno == libc::EINTR {
                continue;
            }
            return Err(RandomError::Host(errno));
        }
        done += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::memory::create_guest_memory;
    use crate::test_utils::two_region_layout;

    #[test]
    fn sleep_lasts_the_requested_time() {
        let slept = sleep(20_000, || false);
        assert!(slept >= Duration::from_millis(20), "{slept:?}");
    }

    #[test]
    fn sleep_ends_when_the_vm_stops() {
        // The stop flag rises after the first slice: the sleep of an hour
        // ends on the second look.
        let looks = AtomicU32::new(0);
        let slept = sleep(3_600_000_000, || looks.fetch_add(1, Ordering::SeqCst) >= 1);
        assert_eq!(looks.load(Ordering::SeqCst), 2);
        assert!(slept < Duration::from_secs(3600));
    }

    #[test]
    fn random_fills_the_described_buffer() {
        let mem = create_guest_memory(&two_region_layout()).unwrap();
        mem.write_obj(0x2000u64, GuestAddress(0x1000)).unwrap();
        mem.write_obj(64u64, GuestAddress(0x1008)).unwrap();
        assert_eq!(fill_random(&mem, 0x1000), Ok(64));
        let mut first = [0u8; 64];
        mem.read_slice(&mut first, GuestAddress(0x2000)).unwrap();
        assert_ne!(first, [0u8; 64]);
        // The byte after the buffer is untouched.
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x2040)).unwrap(), 0);
        fill_random(&mem, 0x1000).unwrap();
        let mut second = [0u8; 64];
        mem.read_slice(&mut second, GuestAddress(0x2000)).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn random_refusals_zero_the_length() {
        let mem = create_guest_memory(&two_region_layout()).unwrap();
        mem.write_obj(0x2000u64, GuestAddress(0x1000)).unwrap();
        mem.write_obj(RANDOM_MAX_LEN + 1, GuestAddress(0x1008))
            .unwrap();
        assert_eq!(
            fill_random(&mem, 0x1000),
            Err(RandomError::TooLong(RANDOM_MAX_LEN + 1))
        );
        assert_eq!(mem.read_obj::<u64>(GuestAddress(0x1008)).unwrap(), 0);
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x2000)).unwrap(), 0);
        // A buffer outside RAM.
        mem.write_obj(u64::MAX - 8, GuestAddress(0x1000)).unwrap();
        mem.write_obj(16u64, GuestAddress(0x1008)).unwrap();
        assert!(matches!(
            fill_random(&mem, 0x1000),
            Err(RandomError::Buffer { .. })
        ));
        assert_eq!(
            fill_random(&mem, u64::MAX - 4),
            Err(RandomError::Descriptor(u64::MAX - 4))
        );
    }
}

//! Step 6: the emulated devices — a 16550 UART, the paravirtual
//! services (sleep, random bytes, standard input) and, for a Linux guest,
//! the CMOS real-time clock; the versus ports are dispatched in
//! `exits/mod.rs` (marker, exit, paravirtual console and ping handled
//! there).

pub mod paravirt;
pub mod rtc;
pub mod serial;
pub mod stdin;

use vm_memory::{Bytes, GuestAddress};

use crate::memory::GuestMem;

/// Reads the `{addr, len}` pair of a `ConsoleDescriptor`-shaped request at
/// guest-physical `desc` — the shape of every paravirtual buffer request
/// (console, random bytes, stdin): `None` when the descriptor is not in
/// RAM. The caller bounds `len` and checks the buffer.
pub fn read_descriptor(mem: &GuestMem, desc: u64) -> Option<(u64, u64)> {
    let addr: u64 = mem.read_obj(GuestAddress(desc)).ok()?;
    let len: u64 = mem.read_obj(GuestAddress(desc.wrapping_add(8))).ok()?;
    Some((addr, len))
}

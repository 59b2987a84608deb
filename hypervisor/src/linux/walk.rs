//! Reading guest memory at a guest-virtual address (an instruction at RIP)
//! through the guest's own 4-level page tables, for the emulation-failure
//! report and the assists.

use vm_memory::{Bytes, GuestAddress};

use crate::memory::GuestMem;

/// Page-table entry bits.
const PRESENT: u64 = 1 << 0;
const LARGE: u64 = 1 << 7;
/// Physical address bits of an entry (bits 12..51).
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// CR0.PG: paging on.
pub const CR0_PG: u64 = 1 << 31;

/// Translates `virt` with the tables at `cr3` (4-level, 4 KiB, 2 MiB and
/// 1 GiB pages); `None` where an entry is missing or unreadable.
pub fn translate(mem: &GuestMem, cr3: u64, virt: u64) -> Option<u64> {
    let mut table = cr3 & ADDR_MASK;
    for level in (0..4).rev() {
        let shift = 12 + 9 * level;
        let index = (virt >> shift) & 0x1ff;
        let entry: u64 = mem.read_obj(GuestAddress(table + index * 8)).ok()?;
        if entry & PRESENT == 0 {
            return None;
        }
        // A large page at the PDPT (1 GiB) or page-directory (2 MiB) level.
        if level > 0 && level < 3 && entry & LARGE != 0 {
            let size = 1u64 << shift;
            return Some((entry & ADDR_MASK & !(size - 1)) | (virt & (size - 1)));
        }
        table = entry & ADDR_MASK;
    }
    Some(table | (virt & 0xfff))
}

/// Up to `len` bytes at guest-virtual `virt` (guest-physical when paging
/// is off), stopping at the first byte that cannot be read.
pub fn read_virt(mem: &GuestMem, cr0: u64, cr3: u64, virt: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    for i in 0..len as u64 {
        let addr = virt.wrapping_add(i);
        let phys = if cr0 & CR0_PG != 0 {
            translate(mem, cr3, addr)
        } else {
            Some(addr)
        };
        match phys.and_then(|p| mem.read_obj::<u8>(GuestAddress(p)).ok()) {
            Some(b) => out.push(b),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryLayout, create_guest_memory};

    #[test]
    fn a_4k_and_a_2m_mapping_are_followed_and_a_hole_stops_the_read() {
        let layout = MemoryLayout::split(64 << 20).unwrap();
        let mem = create_guest_memory(&layout).unwrap();
        // PML4 at 0x10000 -> PDPT 0x11000 -> PD 0x12000; PD[0] -> PT
        // 0x13000 (4 KiB pages), PD[1] a 2 MiB page at 0x40_0000.
        let w = |a: u64, v: u64| mem.write_obj(v, GuestAddress(a)).unwrap();
        w(0x10000 + 8 * 511, 0x11000 | PRESENT); // virt 0xffff_ff80_0000_0000
        w(0x11000, 0x12000 | PRESENT);
        w(0x12000, 0x13000 | PRESENT);
        w(0x12008, 0x40_0000 | PRESENT | LARGE);
        w(0x13000 + 8 * 5, 0x30_0000 | PRESENT); // page 5 -> 3 MiB
        let base = 0xffff_ff80_0000_0000u64;
        mem.write_slice(&[0xcc, 0x9b], GuestAddress(0x30_0010))
            .unwrap();
        assert_eq!(translate(&mem, 0x10000, base + 0x5010), Some(0x30_0010));
        assert_eq!(translate(&mem, 0x10000, base + 0x20_1234), Some(0x40_1234));
        assert_eq!(translate(&mem, 0x10000, base + 0x6000), None);
        assert_eq!(translate(&mem, 0x10000, 0x1000), None);
        assert_eq!(
            read_virt(&mem, CR0_PG, 0x10000, base + 0x5010, 2),
            vec![0xcc, 0x9b]
        );
        // The read stops where the mapping ends (page 6 is not mapped).
        assert_eq!(read_virt(&mem, CR0_PG, 0x10000, base + 0x5ffe, 8).len(), 2);
        // Paging off: physical.
        assert_eq!(read_virt(&mem, 0, 0, 0x30_0010, 1), vec![0xcc]);
    }
}

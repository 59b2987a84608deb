//! Step 4/5: the GDT the VMM builds, as firmware would, with Linux's selector
//! layout (`versus_abi::selector`), and the `kvm_segment`s loaded from it.
//!
//! Why Linux's layout: on the software KVM backend a user-mode `syscall`
//! lands at LSTAR with CS = 0x33 and SS = 0x2b whatever STAR says, so an
//! exception taken there saves those selectors, and `iretq` must find valid
//! user descriptors at them.

use kvm_bindings::kvm_segment;
use versus_abi::selector;
use vm_memory::{Bytes, GuestAddress};

use crate::layout::{BOOT_TSS_START, GDT_START};
use crate::memory::GuestMem;

/// Errors of writing the GDT.
#[derive(Debug, thiserror::Error)]
pub enum GdtError {
    /// The GDT or TSS page is not in guest RAM.
    #[error("writing the GDT/TSS at {addr:#x} failed: {source}")]
    Write {
        /// Where.
        addr: u64,
        /// Why.
        source: vm_memory::GuestMemoryError,
    },
}

/// Descriptor flag bits (the 16 bits around the limit's top nibble):
/// the access byte in bits 0–7, AVL/L/D-B/G in bits 12–15.
pub mod flags {
    /// Present, DPL 0, code, execute/read, accessed; 64-bit (L), 4 KiB granularity.
    pub const KERNEL_CODE64: u16 = 0xa09b;
    /// Present, DPL 0, code, execute/read, accessed; 32-bit (D), 4 KiB granularity.
    pub const KERNEL_CODE32: u16 = 0xc09b;
    /// Present, DPL 0, data, read/write, accessed; 32-bit (B), 4 KiB granularity.
    pub const KERNEL_DATA: u16 = 0xc093;
    /// Present, DPL 3, code, execute/read, accessed; 64-bit (L), 4 KiB granularity.
    pub const USER_CODE64: u16 = 0xa0fb;
    /// Present, DPL 3, code, execute/read, accessed; 32-bit (D), 4 KiB granularity.
    pub const USER_CODE32: u16 = 0xc0fb;
    /// Present, DPL 3, data, read/write, accessed; 32-bit (B), 4 KiB granularity.
    pub const USER_DATA: u16 = 0xc0f3;
    /// Present, DPL 0, system, type 0xb: busy 64-bit TSS (what TR must hold).
    pub const TSS64_BUSY: u16 = 0x008b;
}

/// Size of the 64-bit TSS structure, minus one (the descriptor's limit).
pub const TSS_LIMIT: u32 = 0x67;

/// Encodes one 8-byte segment descriptor.
pub const fn gdt_entry(flags: u16, base: u32, limit: u32) -> u64 {
    (((base as u64) & 0xff00_0000) << 32)
        | (((flags as u64) & 0xf0ff) << 40)
        | (((limit as u64) & 0x000f_0000) << 32)
        | (((base as u64) & 0x00ff_ffff) << 16)
        | ((limit as u64) & 0xffff)
}

/// The VMM's GDT: Linux's layout, plus a busy 64-bit TSS descriptor at
/// `selector::TSS` pointing at [`BOOT_TSS_START`].
pub fn boot_gdt() -> [u64; selector::GDT_ENTRIES] {
    let mut gdt = [0u64; selector::GDT_ENTRIES];
    let idx = |sel: u16| usize::from(sel >> 3);
    gdt[idx(selector::KERNEL32_CS)] = gdt_entry(flags::KERNEL_CODE32, 0, 0xfffff);
    gdt[idx(selector::KERNEL_CS)] = gdt_entry(flags::KERNEL_CODE64, 0, 0xfffff);
    gdt[idx(selector::KERNEL_DS)] = gdt_entry(flags::KERNEL_DATA, 0, 0xfffff);
    gdt[idx(selector::USER32_CS)] = gdt_entry(flags::USER_CODE32, 0, 0xfffff);
    gdt[idx(selector::USER_DS)] = gdt_entry(flags::USER_DATA, 0, 0xfffff);
    gdt[idx(selector::USER_CS)] = gdt_entry(flags::USER_CODE64, 0, 0xfffff);
    // A 64-bit system descriptor takes two slots: the second holds base[63:32].
    gdt[idx(selector::TSS)] = gdt_entry(flags::TSS64_BUSY, BOOT_TSS_START as u32, TSS_LIMIT);
    gdt[idx(selector::TSS) + 1] = BOOT_TSS_START >> 32;
    gdt
}

/// Size of the GDT in bytes (its limit is this minus one).
pub const GDT_SIZE: u64 = (selector::GDT_ENTRIES * 8) as u64;

/// Writes the GDT at [`GDT_START`] and a zeroed TSS at [`BOOT_TSS_START`]
/// (with the I/O bitmap offset past its end: no I/O bitmap).
pub fn write_gdt(mem: &GuestMem) -> Result<(), GdtError> {
    for (i, entry) in boot_gdt().iter().enumerate() {
        let addr = GDT_START + 8 * i as u64;
        mem.write_obj(*entry, GuestAddress(addr))
            .map_err(|source| GdtError::Write { addr, source })?;
    }
    // iomap_base (offset 0x66) = size of the TSS: no I/O permission bitmap.
    let addr = BOOT_TSS_START + 0x66;
    mem.write_obj((TSS_LIMIT + 1) as u16, GuestAddress(addr))
        .map_err(|source| GdtError::Write { addr, source })?;
    Ok(())
}

/// The `kvm_segment` a CPU would load for `selector` from descriptor `entry`
/// (`entry_high` is the second slot, for 16-byte system descriptors).
pub fn kvm_segment(entry: u64, entry_high: u64, selector: u16) -> kvm_segment {
    let access = ((entry >> 40) & 0xff) as u8;
    let fl = ((entry >> 52) & 0xf) as u8;
    let system = access & 0x10 == 0;
    let mut base = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000);
    if system {
        base |= entry_high << 32;
    }
    let raw_limit = ((entry & 0xffff) | ((entry >> 32) & 0x000f_0000)) as u32;
    let g = fl & 0x8 != 0;
    let present = access & 0x80 != 0;
    kvm_segment {
        base,
        limit: if g {
            (raw_limit << 12) | 0xfff
        } else {
            raw_limit
        },
        selector,
        type_: access & 0xf,
        present: u8::from(present),
        dpl: (access >> 5) & 0x3,
        db: (fl >> 2) & 1,
        s: u8::from(!system),
        l: (fl >> 1) & 1,
        g: u8::from(g),
        avl: fl & 1,
        unusable: u8::from(!present),
        padding: 0,
    }
}

/// The segment for a selector of the boot GDT.
pub fn boot_segment(sel: u16) -> kvm_segment {
    let gdt = boot_gdt();
    let i = usize::from(sel >> 3);
    let high = gdt.get(i + 1).copied().unwrap_or(0);
    kvm_segment(gdt[i], high, sel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(e: u64) -> u8 {
        (e >> 40) as u8
    }
    fn flag_nibble(e: u64) -> u8 {
        ((e >> 52) & 0xf) as u8
    }

    #[test]
    fn linux_selector_layout() {
        let g = boot_gdt();
        assert_eq!(g[0], 0, "null descriptor");
        // The well-known encodings Linux's GDT uses for these slots.
        assert_eq!(g[1], 0x00cf_9b00_0000_ffff, "0x08 kernel 32-bit code");
        assert_eq!(g[2], 0x00af_9b00_0000_ffff, "0x10 kernel 64-bit code");
        assert_eq!(g[3], 0x00cf_9300_0000_ffff, "0x18 kernel data");
        assert_eq!(g[4], 0x00cf_fb00_0000_ffff, "0x23 user 32-bit code");
        assert_eq!(g[5], 0x00cf_f300_0000_ffff, "0x2b user data");
        assert_eq!(g[6], 0x00af_fb00_0000_ffff, "0x33 user 64-bit code");
        assert_eq!(g[7], 0);
    }

    #[test]
    fn access_bytes_and_flags() {
        let g = boot_gdt();
        let at = |sel: u16| g[usize::from(sel >> 3)];
        assert_eq!(access(at(selector::KERNEL_CS)), 0x9b); // P, DPL0, code, R, A
        assert_eq!(flag_nibble(at(selector::KERNEL_CS)), 0xa); // G, L
        assert_eq!(access(at(selector::KERNEL_DS)), 0x93); // P, DPL0, data, W, A
        assert_eq!(flag_nibble(at(selector::KERNEL_DS)), 0xc); // G, B
        assert_eq!(access(at(selector::USER_CS)), 0xfb); // P, DPL3, code
        assert_eq!(flag_nibble(at(selector::USER_CS)), 0xa);
        assert_eq!(access(at(selector::USER_DS)), 0xf3); // P, DPL3, data
        // RPL of the user selectors is 3, kernel 0.
        assert_eq!(selector::USER_CS & 3, 3);
        assert_eq!(selector::USER_DS & 3, 3);
        assert_eq!(selector::KERNEL_CS & 3, 0);
        // TSS: busy 64-bit TSS, system descriptor, base split over two slots.
        let tss = at(selector::TSS);
        assert_eq!(access(tss), 0x8b);
        assert_eq!(tss & 0xffff, u64::from(TSS_LIMIT));
    }

    #[test]
    fn segments_decode() {
        let cs = boot_segment(selector::KERNEL_CS);
        assert_eq!(
            (cs.l, cs.db, cs.dpl, cs.s, cs.present, cs.g),
            (1, 0, 0, 1, 1, 1)
        );
        assert_eq!(
            (cs.type_, cs.base, cs.limit, cs.selector),
            (0xb, 0, 0xffff_ffff, 0x10)
        );
        let ds = boot_segment(selector::KERNEL_DS);
        assert_eq!((ds.l, ds.db, ds.type_, ds.limit), (0, 1, 3, 0xffff_ffff));
        let ucs = boot_segment(selector::USER_CS);
        assert_eq!((ucs.dpl, ucs.l), (3, 1));
        let tr = boot_segment(selector::TSS);
        assert_eq!(
            (tr.s, tr.type_, tr.base, tr.limit, tr.g),
            (0, 0xb, BOOT_TSS_START, TSS_LIMIT, 0)
        );
        let null = kvm_segment(0, 0, 0);
        assert_eq!(null.unusable, 1);
    }

    #[test]
    fn written_to_guest_memory() {
        let mem =
            crate::memory::create_guest_memory(&crate::test_utils::two_region_layout()).unwrap();
        write_gdt(&mem).unwrap();
        for (i, e) in boot_gdt().iter().enumerate() {
            let got: u64 = mem
                .read_obj(GuestAddress(GDT_START + 8 * i as u64))
                .unwrap();
            assert_eq!(got, *e, "slot {i}");
        }
        let iomap: u16 = mem.read_obj(GuestAddress(BOOT_TSS_START + 0x66)).unwrap();
        assert_eq!(u32::from(iomap), TSS_LIMIT + 1);
    }

    #[test]
    fn gdt_entry_encodes_base_and_limit() {
        let e = gdt_entry(0x0093, 0x1234_5678, 0xabcde);
        assert_eq!(e & 0xffff, 0xbcde);
        assert_eq!((e >> 16) & 0xff_ffff, 0x34_5678);
        assert_eq!((e >> 56) & 0xff, 0x12);
        assert_eq!((e >> 48) & 0xf, 0xa);
        let s = kvm_segment(e, 0, 0x18);
        assert_eq!((s.base, s.limit), (0x1234_5678, 0xabcde));
    }
}

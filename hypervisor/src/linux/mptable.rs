//! Step 4: the Intel MultiProcessor table (MP specification 1.4), which
//! tells Linux how many CPUs there are and how interrupts are wired, without
//! ACPI.
//!
//! Two structures, each summing to 0 modulo 256 over its bytes:
//!
//! - the **floating pointer** (16 bytes, at
//!   [`MP_FLOATING_START`], where Linux
//!   scans for it): `"_MP_"`, the configuration table's address (u32), its
//!   own length in 16-byte units (1), the spec revision (4), a checksum, and
//!   five feature bytes (all 0: a configuration table is present);
//! - the **configuration table** (at
//!   [`MP_CONFIG_START`]): a 44-byte header
//!   (`"PCMP"`, base table length u16, revision, checksum, 8-byte OEM id,
//!   12-byte product id, OEM table pointer and size (0), entry count u16,
//!   local APIC address u32, extended table length and checksum (0),
//!   reserved) and then the entries, in the order the spec asks for:
//!   1. one **processor** entry (20 bytes) per vCPU: type 0, local APIC id
//!      = the vCPU index (as versus' CPUID says), APIC version, flags
//!      (enabled; bootstrap processor for vCPU 0), CPU signature and
//!      feature flags, 8 reserved bytes;
//!   2. one **bus** entry (8 bytes): type 1, bus id 0, `"ISA   "`;
//!   3. one **I/O APIC** entry (8 bytes): type 2, id = the vCPU count (the
//!      first id no CPU has), version, enabled, address 0xFEC0_0000;
//!   4. one **I/O interrupt** entry (8 bytes) per ISA IRQ 0–15: type 3,
//!      vectored interrupt, flags 0 (ISA defaults: edge, active high),
//!      bus 0, IRQ n, to I/O APIC pin n — KVM's in-kernel irqchip routes
//!      GSI n to pin n;
//!   5. two **local interrupt** entries (8 bytes): LINT0 as ExtINT (the
//!      8259 PIC) and LINT1 as NMI, on every local APIC (id 0xff).

use super::LinuxError;
use super::layout::{MP_CONFIG_START, MP_FLOATING_START};

/// Most vCPUs an MP table describes: APIC ids 0..=253, the I/O APIC takes
/// the next id and 0xff means "all".
pub const MAX_CPUS: u32 = 254;
/// The local APIC's guest-physical address.
pub const LOCAL_APIC_ADDR: u32 = 0xfee0_0000;
/// The I/O APIC's guest-physical address.
pub const IO_APIC_ADDR: u32 = 0xfec0_0000;
/// MP specification revision 1.4.
const SPEC_REV: u8 = 4;
/// Local APIC version of an integrated APIC (what KVM's reports).
const APIC_VERSION: u8 = 0x14;
/// I/O APIC version (KVM's 82093AA-like model).
const IO_APIC_VERSION: u8 = 0x11;
/// ISA IRQs routed through the I/O APIC.
const ISA_IRQS: u8 = 16;
/// Size of the floating pointer structure.
pub const FLOATING_SIZE: usize = 16;
/// Size of the configuration table header.
const HEADER_SIZE: usize = 44;
/// Size of a processor entry.
const PROCESSOR_SIZE: usize = 20;
/// Size of every other entry.
const ENTRY_SIZE: usize = 8;
/// Entry types.
const ENTRY_PROCESSOR: u8 = 0;
const ENTRY_BUS: u8 = 1;
const ENTRY_IO_APIC: u8 = 2;
const ENTRY_IO_INTERRUPT: u8 = 3;
const ENTRY_LOCAL_INTERRUPT: u8 = 4;
/// Interrupt types of entries 3 and 4.
const INT_VECTORED: u8 = 0;
const INT_NMI: u8 = 1;
const INT_EXTINT: u8 = 3;
/// Processor flags: enabled, bootstrap processor.
const CPU_ENABLED: u8 = 1 << 0;
const CPU_BOOTSTRAP: u8 = 1 << 1;
/// "Every local APIC" as a destination id.
const ALL_LOCAL_APICS: u8 = 0xff;
/// CPU signature of the processor entries (family 6) and their feature
/// flags (FPU, APIC): Linux takes the real ones from CPUID, these only have
/// to be plausible.
const CPU_SIGNATURE: u32 = 0x600;
const CPU_FEATURES: u32 = (1 << 0) | (1 << 9);

/// The two structures' bytes, to be written at [`MP_FLOATING_START`] and
/// [`MP_CONFIG_START`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpTable {
    /// The floating pointer structure (16 bytes).
    pub floating: Vec<u8>,
    /// The configuration table (header and entries).
    pub config: Vec<u8>,
}

/// Size in bytes of the configuration table for `vcpus` CPUs.
pub fn config_size(vcpus: u32) -> usize {
    HEADER_SIZE + PROCESSOR_SIZE * vcpus as usize + ENTRY_SIZE * (4 + ISA_IRQS as usize)
}

/// Builds the MP table for `vcpus` vCPUs (1 to [`MAX_CPUS`]).
pub fn build(vcpus: u32) -> Result<MpTable, LinuxError> {
    if vcpus == 0 || vcpus > MAX_CPUS {
        return Err(LinuxError::MpTableCpus(vcpus));
    }
    let io_apic_id = vcpus as u8;
    let mut entries = Vec::with_capacity(config_size(vcpus) - HEADER_SIZE);
    for cpu in 0..vcpus {
        let flags = CPU_ENABLED | if cpu == 0 { CPU_BOOTSTRAP } else { 0 };
        entries.extend_from_slice(&[ENTRY_PROCESSOR, cpu as u8, APIC_VERSION, flags]);
        entries.extend_from_slice(&CPU_SIGNATURE.to_le_bytes());
        entries.extend_from_slice(&CPU_FEATURES.to_le_bytes());
        entries.extend_from_slice(&[0; 8]);
    }
    entries.extend_from_slice(&[ENTRY_BUS, 0]);
    entries.extend_from_slice(b"ISA   ");
    entries.extend_from_slice(&[ENTRY_IO_APIC, io_apic_id, IO_APIC_VERSION, CPU_ENABLED]);
    entries.extend_from_slice(&IO_APIC_ADDR.to_le_bytes());
    for irq in 0..ISA_IRQS {
        entries.extend_from_slice(&[
            ENTRY_IO_INTERRUPT,
            INT_VECTORED,
            0,
            0,
            0,
            irq,
            io_apic_id,
            irq,
        ]);
    }
    for (kind, lint) in [(INT_EXTINT, 0u8), (INT_NMI, 1)] {
        entries.extend_from_slice(&[
            ENTRY_LOCAL_INTERRUPT,
            kind,
            0,
            0,
            0,
            0,
            ALL_LOCAL_APICS,
            lint,
        ]);
    }
    let count = vcpus as u16 + 4 + u16::from(ISA_IRQS);

    let mut config = Vec::with_capacity(config_size(vcpus));
    config.extend_from_slice(b"PCMP");
    config.extend_from_slice(&((HEADER_SIZE + entries.len()) as u16).to_le_bytes());
    config.extend_from_slice(&[SPEC_REV, 0]); // checksum at byte 7, set below
    config.extend_from_slice(b"VERSUS  ");
    config.extend_from_slice(b"versusVMM   ");
    config.extend_from_slice(&0u32.to_le_bytes()); // OEM table pointer
    config.extend_from_slice(&0u16.to_le_bytes()); // OEM table size
    config.extend_from_slice(&count.to_le_bytes());
    config.extend_from_slice(&LOCAL_APIC_ADDR.to_le_bytes());
    config.extend_from_slice(&[0, 0, 0, 0]); // extended length (u16), checksum, reserved
    debug_assert_eq!(config.len(), HEADER_SIZE);
    config.extend_from_slice(&entries);
    config[7] = checksum(&config);

    let mut floating = Vec::with_capacity(FLOATING_SIZE);
    floating.extend_from_slice(b"_MP_");
    floating.extend_from_slice(&(MP_CONFIG_START as u32).to_le_bytes());
    floating.extend_from_slice(&[1, SPEC_REV, 0, 0, 0, 0, 0, 0]);
    floating[10] = checksum(&floating);
    debug_assert!(MP_CONFIG_START + config.len() as u64 <= MP_FLOATING_START);
    Ok(MpTable { floating, config })
}

/// The byte that makes `bytes` (with that byte still 0) sum to 0 mod 256.
fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |sum, b| sum.wrapping_add(*b))
        .wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
    }

    fn processors(config: &[u8]) -> Vec<(u8, u8)> {
        let mut out = Vec::new();
        let mut off = HEADER_SIZE;
        while off < config.len() && config[off] == ENTRY_PROCESSOR {
            out.push((config[off + 1], config[off + 3]));
            off += PROCESSOR_SIZE;
        }
        out
    }

    #[test]
    fn checksums_lengths_and_cpu_entries_for_1_2_and_8_vcpus() {
        for n in [1u32, 2, 8] {
            let t = build(n).unwrap();
            assert_eq!(t.floating.len(), FLOATING_SIZE);
            assert_eq!(sum(&t.floating), 0, "floating pointer checksum, {n} vCPUs");
            assert_eq!(sum(&t.config), 0, "configuration table checksum, {n} vCPUs");
            assert_eq!(&t.floating[..4], b"_MP_");
            assert_eq!(
                u32::from_le_bytes(t.floating[4..8].try_into().unwrap()),
                MP_CONFIG_START as u32
            );
            assert_eq!(&t.config[..4], b"PCMP");
            let len = u16::from_le_bytes([t.config[4], t.config[5]]) as usize;
            assert_eq!(len, t.config.len());
            assert_eq!(len, config_size(n));
            let count = u16::from_le_bytes([t.config[34], t.config[35]]) as u32;
            assert_eq!(count, n + 4 + 16, "bus, I/O APIC, 16 IRQs, 2 LINTs");
            let cpus = processors(&t.config);
            assert_eq!(cpus.len(), n as usize);
            for (i, (id, flags)) in cpus.iter().enumerate() {
                assert_eq!(*id as usize, i, "APIC id of vCPU {i}");
                assert_eq!(*flags & CPU_ENABLED, CPU_ENABLED);
                assert_eq!(
                    *flags & CPU_BOOTSTRAP != 0,
                    i == 0,
                    "only vCPU 0 is the BSP"
                );
            }
            // The I/O APIC follows the bus entry and takes id n.
            let io = HEADER_SIZE + PROCESSOR_SIZE * n as usize + ENTRY_SIZE;
            assert_eq!(t.config[io], ENTRY_IO_APIC);
            assert_eq!(t.config[io + 1] as u32, n);
            // IRQ 4 (the UART) goes to pin 4 of that I/O APIC.
            let irq4 = io + ENTRY_SIZE * 5;
            assert_eq!(&t.config[irq4..irq4 + 8], &[3, 0, 0, 0, 0, 4, n as u8, 4]);
        }
    }

    #[test]
    fn the_largest_table_fits_before_the_floating_pointer() {
        let t = build(MAX_CPUS).unwrap();
        assert_eq!(sum(&t.config), 0);
        assert!(MP_CONFIG_START + t.config.len() as u64 <= MP_FLOATING_START);
    }

    #[test]
    fn zero_or_too_many_vcpus_are_errors() {
        assert!(matches!(build(0), Err(LinuxError::MpTableCpus(0))));
        let err = build(MAX_CPUS + 1).unwrap_err();
        assert!(err.to_string().contains("1 to 254"), "{err}");
    }
}

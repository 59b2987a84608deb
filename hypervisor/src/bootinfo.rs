//! Step 4: the boot information (`versus_abi::BootInfo`) at
//! [`BOOT_INFO_START`]; its address is what every vCPU finds in RDI.
//!
//! The TSC rate is known only once a vCPU exists (`KVM_GET_TSC_KHZ` is a
//! vCPU ioctl), so step 5 fills in `tsc_khz` with [`set_tsc_khz`] after it
//! creates vCPU 0 and before any vCPU runs.

use std::mem::{offset_of, size_of};

use versus_abi::{ABI_VERSION, BOOT_INFO_MAGIC, BootInfo, MAX_MEM_REGIONS, MemRegion, flags};
use vm_memory::{ByteValued, Bytes, GuestAddress};

use crate::gdt::GDT_SIZE;
use crate::layout::{BOOT_INFO_START, GDT_START};
use crate::loader::Placement;
use crate::memory::GuestMem;
use crate::memory::MemoryLayout;
use crate::paging::IdentityMap;

/// Errors of step 4.
#[derive(Debug, thiserror::Error)]
pub enum BootInfoError {
    /// The boot-info page is not in guest RAM.
    #[error("writing the boot information at {addr:#x} failed: {source}")]
    Write {
        /// Where.
        addr: u64,
        /// Why.
        source: vm_memory::GuestMemoryError,
    },
}

/// `BootInfo` as plain bytes for vm-memory.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default)]
struct Raw(BootInfo);

// SAFETY: `BootInfo` is `#[repr(C)]`, made only of integers (and arrays of
// structs of integers) with no implicit padding — versus-abi pins its size and
// offsets at compile time — so every byte pattern is a valid value.
unsafe impl ByteValued for Raw {}

/// Everything the boot information describes.
#[derive(Debug)]
pub struct BootInfoInput<'a> {
    /// Guest RAM.
    pub layout: &'a MemoryLayout,
    /// Where step 3 put things.
    pub placement: &'a Placement,
    /// The identity map (address and size).
    pub page_tables: &'a IdentityMap,
    /// vCPU count.
    pub vcpus: u32,
    /// Run the workload on every vCPU (else on the BSP only).
    pub run_on_every_vcpu: bool,
    /// TSC kHz, if already known (else 0 until [`set_tsc_khz`]).
    pub tsc_khz: u32,
    /// `out`s to the ping port the kernel makes before the workload (0: none).
    pub exit_probe_iters: u32,
}

/// Builds the struct.
pub fn build(input: &BootInfoInput<'_>) -> BootInfo {
    let mut regions = [MemRegion::default(); MAX_MEM_REGIONS];
    for (slot, r) in regions.iter_mut().zip(input.layout.regions()) {
        *slot = MemRegion {
            base: r.base,
            size: r.size,
        };
    }
    let p = input.placement;
    BootInfo {
        magic: BOOT_INFO_MAGIC,
        version: ABI_VERSION,
        size: size_of::<BootInfo>() as u32,
        vcpu_count: input.vcpus,
        flags: if input.run_on_every_vcpu {
            flags::RUN_ON_EVERY_VCPU
        } else {
            0
        },
        tsc_khz: u64::from(input.tsc_khz),
        mem_region_count: input.layout.regions().len() as u32,
        _reserved0: 0,
        mem_regions: regions,
        kernel_start: p.kernel.start,
        kernel_end: p.kernel.end,
        workload_addr: p.workload_addr,
        workload_size: p.workload_size,
        argv_addr: p.argv_addr,
        argv_len: p.argv_len,
        argc: p.argc,
        _reserved1: 0,
        page_tables_addr: input.page_tables.base,
        page_tables_size: input.page_tables.size(),
        gdt_addr: GDT_START,
        gdt_size: GDT_SIZE,
        stacks_addr: p.stacks_addr,
        stack_size: p.stack_size,
        first_free_addr: p.first_free,
        exit_probe_iters: input.exit_probe_iters,
        _reserved2: 0,
        initrd_addr: if p.initrd_size == 0 { 0 } else { p.initrd_addr },
        initrd_size: p.initrd_size,
    }
}

/// Writes `info` at [`BOOT_INFO_START`].
pub fn write(mem: &GuestMem, info: &BootInfo) -> Result<(), BootInfoError> {
    mem.write_obj(Raw(*info), GuestAddress(BOOT_INFO_START))
        .map_err(|source| BootInfoError::Write {
            addr: BOOT_INFO_START,
            source,
        })
}

/// Reads the boot information back from guest memory.
pub fn read(mem: &GuestMem) -> Result<BootInfo, BootInfoError> {
    mem.read_obj::<Raw>(GuestAddress(BOOT_INFO_START))
        .map(|r| r.0)
        .map_err(|source| BootInfoError::Write {
            addr: BOOT_INFO_START,
            source,
        })
}

/// Fills in `tsc_khz` of the boot information already in guest memory.
pub fn set_tsc_khz(mem: &GuestMem, khz: u32) -> Result<(), BootInfoError> {
    let addr = BOOT_INFO_START + offset_of!(BootInfo, tsc_khz) as u64;
    mem.write_obj(u64::from(khz), GuestAddress(addr))
        .map_err(|source| BootInfoError::Write { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{PAGE_TABLES_END, PAGE_TABLES_START, STACK_SIZE};
    use crate::loader::{KernelInfo, plan};
    use crate::memory::create_guest_memory;
    use crate::test_utils::two_region_layout;

    #[test]
    fn abi_layout_is_pinned() {
        // The guest kernel reads these offsets with hand-written assembly too.
        assert_eq!(size_of::<BootInfo>(), 304);
        assert_eq!(offset_of!(BootInfo, magic), 0);
        assert_eq!(offset_of!(BootInfo, version), 8);
        assert_eq!(offset_of!(BootInfo, size), 12);
        assert_eq!(offset_of!(BootInfo, vcpu_count), 16);
        assert_eq!(offset_of!(BootInfo, flags), 20);
        assert_eq!(offset_of!(BootInfo, tsc_khz), 24);
        assert_eq!(offset_of!(BootInfo, mem_region_count), 32);
        assert_eq!(offset_of!(BootInfo, mem_regions), 40);
        assert_eq!(offset_of!(BootInfo, kernel_start), 168);
        assert_eq!(offset_of!(BootInfo, kernel_end), 176);
        assert_eq!(offset_of!(BootInfo, workload_addr), 184);
        assert_eq!(offset_of!(BootInfo, workload_size), 192);
        assert_eq!(offset_of!(BootInfo, argv_addr), 200);
        assert_eq!(offset_of!(BootInfo, argv_len), 208);
        assert_eq!(offset_of!(BootInfo, argc), 216);
        assert_eq!(offset_of!(BootInfo, page_tables_addr), 224);
        assert_eq!(offset_of!(BootInfo, page_tables_size), 232);
        assert_eq!(offset_of!(BootInfo, gdt_addr), 240);
        assert_eq!(offset_of!(BootInfo, gdt_size), 248);
        assert_eq!(offset_of!(BootInfo, stacks_addr), 256);
        assert_eq!(offset_of!(BootInfo, stack_size), 264);
        assert_eq!(offset_of!(BootInfo, first_free_addr), 272);
        assert_eq!(offset_of!(BootInfo, exit_probe_iters), 280);
        assert_eq!(offset_of!(BootInfo, initrd_addr), 288);
        assert_eq!(offset_of!(BootInfo, initrd_size), 296);
        assert_eq!(size_of::<MemRegion>(), 16);
        assert_eq!(size_of::<versus_abi::ConsoleDescriptor>(), 16);
        // Fits its page.
        assert!(size_of::<BootInfo>() as u64 <= crate::layout::PAGE_SIZE);
    }

    #[test]
    fn round_trip_through_guest_memory() {
        let layout = two_region_layout();
        let mem = create_guest_memory(&layout).unwrap();
        let kernel = KernelInfo {
            entry: 0x20_0000,
            start: 0x20_0000,
            end: 0x20_3000,
        };
        let placement = plan(&layout, kernel, 0x2345, 12, 2, 0x1800, 2).unwrap();
        let tables =
            IdentityMap::build(layout.regions(), PAGE_TABLES_START, PAGE_TABLES_END).unwrap();
        let info = build(&BootInfoInput {
            layout: &layout,
            placement: &placement,
            page_tables: &tables,
            vcpus: 2,
            run_on_every_vcpu: true,
            tsc_khz: 0,
            exit_probe_iters: 1000,
        });
        write(&mem, &info).unwrap();
        set_tsc_khz(&mem, 2_445_406).unwrap();
        let back = read(&mem).unwrap();
        assert!(back.is_valid());
        assert_eq!(back.tsc_khz, 2_445_406);
        assert_eq!(BootInfo { tsc_khz: 0, ..back }, info);
        assert_eq!(
            back.regions(),
            &[
                MemRegion {
                    base: 0,
                    size: 32 << 20
                },
                MemRegion {
                    base: 4 << 30,
                    size: 32 << 20
                }
            ]
        );
        assert!(back.run_on_every_vcpu());
        assert_eq!(back.exit_probe_iters(), 1000);
        assert_eq!(
            (back.workload_addr, back.workload_size),
            (0x20_3000, 0x2345)
        );
        assert_eq!(
            (back.argv_addr, back.argv_len, back.argc),
            (0x20_6000, 12, 2)
        );
        assert_eq!((back.initrd_addr, back.initrd_size), (0x20_7000, 0x1800));
        assert_eq!(back.page_tables_addr, PAGE_TABLES_START);
        assert_eq!(back.stack_top(1), back.stacks_addr + 2 * STACK_SIZE);
        assert_eq!(back.first_free_addr, back.stack_top(1));
        // The magic reads "versusBI" in memory.
        let mut magic = [0u8; 8];
        mem.read_slice(&mut magic, GuestAddress(BOOT_INFO_START))
            .unwrap();
        assert_eq!(&magic, b"versusBI");
    }

    proptest::proptest! {
        /// Whatever the memory size, image sizes and vCPU count, what the
        /// VMM writes is what the kernel will read, and the placement
        /// keeps its promises: kernel, workload, argv and stacks in that
        /// order (then the initramfs), without overlap, inside low RAM.
        #[test]
        fn every_placement_round_trips(
            pages in 1_536u64..16_384,
            workload_size in 1u64..(4 << 20),
            argv_len in 1u64..4096,
            argc in 1u32..64,
            initrd_size in 0u64..(2 << 20),
            vcpus in 1u32..8,
            iters in 0u32..1_000_000,
            tsc_khz: u32,
        ) {
            let layout = crate::memory::MemoryLayout::split(pages * crate::layout::PAGE_SIZE).unwrap();
            let kernel = KernelInfo { entry: 0x20_0000, start: 0x20_0000, end: 0x20_3000 };
            let Ok(placement) = plan(&layout, kernel, workload_size, argv_len, argc, initrd_size, vcpus) else {
                // Too big for this memory: refused with an error, checked elsewhere.
                return Ok(());
            };
            let mem = create_guest_memory(&layout).unwrap();
            let tables = IdentityMap::build(layout.regions(), PAGE_TABLES_START, PAGE_TABLES_END).unwrap();
            let info = build(&BootInfoInput {
                layout: &layout,
                placement: &placement,
                page_tables: &tables,
                vcpus,
                run_on_every_vcpu: vcpus > 1,
                tsc_khz: 0,
                exit_probe_iters: iters,
            });
            write(&mem, &info).unwrap();
            set_tsc_khz(&mem, tsc_khz).unwrap();
            let back = read(&mem).unwrap();
            proptest::prop_assert!(back.is_valid());
            proptest::prop_assert_eq!(back.tsc_khz, u64::from(tsc_khz));
            proptest::prop_assert_eq!(BootInfo { tsc_khz: 0, ..back }, info);
            proptest::prop_assert!(back.kernel_end <= back.workload_addr);
            proptest::prop_assert!(back.workload_addr + back.workload_size <= back.argv_addr);
            proptest::prop_assert!(back.argv_addr + back.argv_len <= placement.initrd_addr);
            proptest::prop_assert!(placement.initrd_addr + back.initrd_size <= back.stacks_addr);
            proptest::prop_assert_eq!(back.initrd_addr == 0, initrd_size == 0);
            proptest::prop_assert_eq!(back.first_free_addr, back.stack_top(vcpus - 1));
            proptest::prop_assert!(back.first_free_addr <= layout.low().end());
        }
    }
}

//! Steps 1–5 together: load an unpacked kernel into guest memory and write
//! everything it reads at its entry — command line, MP table, and the zero
//! page (64-bit entry) or `hvm_start_info` (PVH entry).

use std::io::Cursor;

use linux_loader::loader::{KernelLoader, elf::Elf, elf::PvhBootCapability};
use vm_memory::{Bytes, GuestAddress};

use super::layout::{
    CMDLINE_START, MP_CONFIG_START, MP_FLOATING_START, PVH_MEMMAP_START, ZERO_PAGE_START,
};
use super::zeropage::{self, Initrd};
use super::{KernelImage, LinuxError, mptable};
use crate::layout::KERNEL_START;
use crate::memory::{GuestMem, MemoryLayout};

/// Which of the kernel's entry points the vCPU starts at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryProtocol {
    /// The 64-bit entry (`startup_64`): long mode, RSI = the zero page.
    Linux64,
    /// The PVH entry (its ELF note): 32-bit protected mode, paging off,
    /// RBX = `hvm_start_info`.
    Pvh,
}

/// What the vCPUs need to start the loaded kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxBoot {
    /// The entry protocol used.
    pub protocol: EntryProtocol,
    /// The guest-physical address to start at.
    pub entry: u64,
    /// Where the boot structure is: RSI for [`EntryProtocol::Linux64`], RBX
    /// for [`EntryProtocol::Pvh`].
    pub boot_params: u64,
    /// One past the kernel's last loaded byte (an initramfs goes above).
    pub kernel_end: u64,
}

/// Loads `image` into `mem` and writes the command line, the MP table for
/// `vcpus` vCPUs and the boot parameters for `protocol` (falling back to
/// the 64-bit entry when the kernel has no PVH note). `initrd` must already
/// be in guest memory.
pub fn load(
    mem: &GuestMem,
    layout: &MemoryLayout,
    image: &KernelImage,
    cmdline: &str,
    vcpus: u32,
    initrd: Option<Initrd>,
    protocol: EntryProtocol,
) -> Result<LinuxBoot, LinuxError> {
    let cmdline = zeropage::command_line(cmdline, image.setup_header.as_ref())?;
    let table = mptable::build(vcpus)?;
    let e820 = zeropage::e820_map(layout);
    let loaded = Elf::load(
        mem,
        None,
        &mut Cursor::new(&image.vmlinux),
        Some(GuestAddress(KERNEL_START)),
    )
    .map_err(LinuxError::Load)?;
    let write = |bytes: &[u8], addr: u64| {
        mem.write_slice(bytes, GuestAddress(addr))
            .map_err(|source| LinuxError::GuestWrite { addr, source })
    };
    write(&cmdline, CMDLINE_START)?;
    write(&table.config, MP_CONFIG_START)?;
    write(&table.floating, MP_FLOATING_START)?;
    let pvh = match loaded.pvh_boot_cap {
        PvhBootCapability::PvhEntryPresent(addr) => Some(addr.0),
        _ => None,
    };
    let (protocol, entry) = match (protocol, pvh) {
        (EntryProtocol::Pvh, Some(entry)) => {
            let (info, memmap) = zeropage::pvh_start_info(&e820, initrd)?;
            write(&info, ZERO_PAGE_START)?;
            write(&memmap, PVH_MEMMAP_START)?;
            (EntryProtocol::Pvh, entry)
        }
        _ => {
            let params = zeropage::zero_page(
                image.setup_header.as_ref(),
                cmdline.len() - 1,
                initrd,
                &e820,
            )?;
            write(&zeropage::zero_page_bytes(&params), ZERO_PAGE_START)?;
            (EntryProtocol::Linux64, loaded.kernel_load.0)
        }
    };
    Ok(LinuxBoot {
        protocol,
        entry,
        boot_params: ZERO_PAGE_START,
        kernel_end: loaded.kernel_end,
    })
}

#[cfg(test)]
mod tests {
    use vm_memory::Bytes;

    use super::*;
    use crate::linux::KernelFormat;
    use crate::memory::create_guest_memory;
    use crate::test_utils::ElfBuilder;

    fn image() -> KernelImage {
        KernelImage {
            format: KernelFormat::Elf,
            vmlinux: ElfBuilder::new(0x20_0000).code(&[0xf4]).build(),
            setup_header: None,
        }
    }

    #[test]
    fn an_elf_without_a_pvh_note_boots_by_its_64_bit_entry() {
        let layout = MemoryLayout::split(64 << 20).unwrap();
        let mem = create_guest_memory(&layout).unwrap();
        let boot = load(
            &mem,
            &layout,
            &image(),
            "console=ttyS0",
            2,
            None,
            EntryProtocol::Pvh,
        )
        .unwrap();
        assert_eq!(
            boot.protocol,
            EntryProtocol::Linux64,
            "no PVH note: 64-bit entry"
        );
        assert_eq!(boot.entry, 0x20_0000);
        assert_eq!(boot.boot_params, ZERO_PAGE_START);
        let mut zp = [0u8; 4096];
        mem.read_slice(&mut zp, GuestAddress(ZERO_PAGE_START))
            .unwrap();
        assert_eq!(&zp[0x202..0x206], b"HdrS");
        assert_eq!(zp[0x1e8], 4, "four e820 entries for a split layout");
        let mut line = [0u8; 14];
        mem.read_slice(&mut line, GuestAddress(CMDLINE_START))
            .unwrap();
        assert_eq!(&line, b"console=ttyS0\0");
        let mut mp = [0u8; 4];
        mem.read_slice(&mut mp, GuestAddress(MP_FLOATING_START))
            .unwrap();
        assert_eq!(&mp, b"_MP_");
    }

    #[test]
    fn bad_command_lines_and_vcpu_counts_fail_before_anything_is_written() {
        let layout = MemoryLayout::split(64 << 20).unwrap();
        let mem = create_guest_memory(&layout).unwrap();
        let long = "x".repeat(4000);
        let err = load(
            &mem,
            &layout,
            &image(),
            &long,
            1,
            None,
            EntryProtocol::Linux64,
        );
        assert!(matches!(err, Err(LinuxError::CmdlineTooLong { .. })));
        let err = load(&mem, &layout, &image(), "", 0, None, EntryProtocol::Linux64);
        assert!(matches!(err, Err(LinuxError::MpTableCpus(0))));
        let mut zp = [0u8; 4];
        mem.read_slice(&mut zp, GuestAddress(ZERO_PAGE_START + 0x202))
            .unwrap();
        assert_eq!(zp, [0; 4]);
    }
}

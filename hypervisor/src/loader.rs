//! Step 3: load the kernel ELF (linux-loader puts each `PT_LOAD` segment at
//! its `p_paddr`) and place the workload image and its argv after it, page
//! aligned, the way an initrd is placed; then the initramfs (`--initrd`, a
//! cpio archive checked by [`crate::initramfs`]), if any; then the per-vCPU
//! stacks.
//!
//! The kernel's headers are checked here first, so that a wrong file gets a
//! clear error rather than linux-loader's generic one, and so that no segment
//! can land on the boot area below 1 MiB or outside region 0.

use std::io::Cursor;

use linux_loader::loader::{KernelLoader, elf::Elf};
use serde::Serialize;
use vm_memory::{Bytes, GuestAddress};

use crate::layout::{ARGV_MAX_SIZE, KERNEL_MAX_SIZE, KERNEL_START, PAGE_SIZE, STACK_SIZE};
use crate::memory::{GuestMem, MemoryLayout};

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ET_EXEC: u16 = 2;
const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;

/// Errors of step 3.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not an ELF file.
    #[error("the kernel is not an ELF file (no \\x7fELF magic)")]
    NotElf,
    /// A 32-bit or big-endian ELF.
    #[error("the kernel is not a 64-bit little-endian ELF")]
    Not64BitLittleEndian,
    /// An ELF for another machine.
    #[error("the kernel is an ELF for machine {0} (expected x86-64 = 62)")]
    WrongMachine(u16),
    /// Not an executable (e.g. a shared object or relocatable file).
    #[error(
        "the kernel ELF has type {0} (expected ET_EXEC = 2: link it statically at a fixed address)"
    )]
    NotExecutable(u16),
    /// Larger than the VMM accepts.
    #[error("the kernel image is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// Size given.
        size: u64,
        /// Maximum.
        max: u64,
    },
    /// Truncated headers or segment data.
    #[error("the kernel ELF is malformed: {0}")]
    Malformed(&'static str),
    /// Entry point below 1 MiB (linux-loader's `highmem_start`).
    #[error(
        "the kernel's entry point {entry:#x} is below {min:#x}: link the kernel at 1 MiB or above"
    )]
    EntryTooLow {
        /// Entry point.
        entry: u64,
        /// Minimum.
        min: u64,
    },
    /// A loadable segment below 1 MiB (where the boot area lives).
    #[error("kernel segment at {paddr:#x} lies below {min:#x}, in the VMM's boot area")]
    SegmentTooLow {
        /// The segment's physical address.
        paddr: u64,
        /// Minimum.
        min: u64,
    },
    /// No `PT_LOAD` segment.
    #[error("the kernel ELF has no loadable segment")]
    NoSegments,
    /// The kernel is linked entirely above region 0 (e.g. at 8 GiB).
    #[error(
        "the kernel is linked at {start:#x}..{end:#x}, outside guest RAM region 0 (0..{available:#x}) where the VMM loads kernels: link it at 1 MiB ({min:#x}), or give region 0 more than {end:#x} bytes"
    )]
    KernelOutsideRam {
        /// Lowest segment address.
        start: u64,
        /// One past its highest byte.
        end: u64,
        /// End of region 0.
        available: u64,
        /// [`KERNEL_START`].
        min: u64,
    },
    /// Something does not fit in region 0.
    #[error(
        "{what} needs {needed:#x} bytes up to {end:#x} but region 0 ends at {available:#x}: give the VM more memory"
    )]
    NoRoom {
        /// "kernel", "workload", "argv", "initramfs", "stacks".
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Where it would end.
        end: u64,
        /// End of region 0.
        available: u64,
    },
    /// An argv string contains NUL.
    #[error("argv[{0}] contains a NUL byte")]
    ArgvNul(usize),
    /// The argv block is too large.
    #[error("the argv block is {size} bytes; at most {max} are accepted")]
    ArgvTooLarge {
        /// Size.
        size: u64,
        /// Maximum.
        max: u64,
    },
    /// linux-loader refused the image.
    #[error("linux-loader: {0}")]
    Elf(#[from] linux_loader::loader::Error),
    /// Writing to guest memory failed.
    #[error("writing {what} to guest memory failed: {source}")]
    Write {
        /// What.
        what: &'static str,
        /// Why.
        source: vm_memory::GuestMemoryError,
    },
}

/// What the kernel ELF's headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KernelInfo {
    /// Entry point (RIP at start).
    pub entry: u64,
    /// Lowest `p_paddr` of a loadable segment.
    pub start: u64,
    /// One past the highest byte (`p_paddr + p_memsz`) of a loadable segment.
    pub end: u64,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap_or_default())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap_or_default())
}

/// Checks the kernel ELF's headers: 64-bit x86-64 executable, entry and
/// every loadable segment at or above 1 MiB, segment data inside the file.
pub fn inspect_kernel(image: &[u8]) -> Result<KernelInfo, LoadError> {
    if image.len() < 4 || &image[..4] != ELF_MAGIC {
        return Err(LoadError::NotElf);
    }
    if image.len() as u64 > KERNEL_MAX_SIZE {
        return Err(LoadError::TooLarge {
            size: image.len() as u64,
            max: KERNEL_MAX_SIZE,
        });
    }
    if image.len() < EHDR_SIZE {
        return Err(LoadError::Malformed("shorter than an ELF header"));
    }
    if image[4] != ELFCLASS64 || image[5] != ELFDATA2LSB {
        return Err(LoadError::Not64BitLittleEndian);
    }
    let e_type = u16_at(image, 16);
    let machine = u16_at(image, 18);
    if machine != EM_X86_64 {
        return Err(LoadError::WrongMachine(machine));
    }
    if e_type != ET_EXEC {
        return Err(LoadError::NotExecutable(e_type));
    }
    let entry = u64_at(image, 24);
    if entry < KERNEL_START {
        return Err(LoadError::EntryTooLow {
            entry,
            min: KERNEL_START,
        });
    }
    let phoff = u64_at(image, 32) as usize;
    let phentsize = u16_at(image, 54) as usize;
    let phnum = u16_at(image, 56) as usize;
    if phentsize != PHDR_SIZE {
        return Err(LoadError::Malformed("program header size is not 56"));
    }
    let table_end = phoff
        .checked_add(phnum * PHDR_SIZE)
        .ok_or(LoadError::Malformed("program headers overflow"))?;
    if phoff < EHDR_SIZE || table_end > image.len() {
        return Err(LoadError::Malformed("program headers outside the file"));
    }
    let (mut start, mut end) = (u64::MAX, 0u64);
    for i in 0..phnum {
        let ph = &image[phoff + i * PHDR_SIZE..phoff + (i + 1) * PHDR_SIZE];
        if u32_at(ph, 0) != PT_LOAD {
            continue;
        }
        let offset = u64_at(ph, 8);
        let paddr = u64_at(ph, 24);
        let filesz = u64_at(ph, 32);
        let memsz = u64_at(ph, 40);
        if filesz > memsz {
            return Err(LoadError::Malformed(
                "segment file size exceeds its memory size",
            ));
        }
        if offset
            .checked_add(filesz)
            .is_none_or(|e| e > image.len() as u64)
        {
            return Err(LoadError::Malformed("segment data outside the file"));
        }
        if memsz == 0 {
            continue;
        }
        if paddr < KERNEL_START {
            return Err(LoadError::SegmentTooLow {
                paddr,
                min: KERNEL_START,
            });
        }
        let seg_end = paddr
            .checked_add(memsz)
            .ok_or(LoadError::Malformed("segment address overflows"))?;
        start = start.min(paddr);
        end = end.max(seg_end);
    }
    if end == 0 {
        return Err(LoadError::NoSegments);
    }
    Ok(KernelInfo { entry, start, end })
}

/// Where everything of step 3 goes in region 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The kernel's extent and entry.
    pub kernel: KernelInfo,
    /// Workload image address (page aligned).
    pub workload_addr: u64,
    /// Workload image size.
    pub workload_size: u64,
    /// argv block address (page aligned).
    pub argv_addr: u64,
    /// argv block length, NULs included.
    pub argv_len: u64,
    /// Number of argv strings.
    pub argc: u32,
    /// Initramfs address (page aligned; where it would go when there is
    /// none).
    pub initrd_addr: u64,
    /// Initramfs size in bytes (0: none).
    pub initrd_size: u64,
    /// Stack area (page aligned): vCPU i owns `[stacks_addr + i*STACK_SIZE, +STACK_SIZE)`.
    pub stacks_addr: u64,
    /// Bytes per vCPU stack.
    pub stack_size: u64,
    /// First unused byte of region 0 (page aligned).
    pub first_free: u64,
}

impl Placement {
    /// Initial RSP of vCPU `index` (16-byte aligned top of its stack).
    pub fn stack_top(&self, index: u32) -> u64 {
        self.stacks_addr + (u64::from(index) + 1) * self.stack_size
    }
}

fn page_align(x: u64) -> u64 {
    x.div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// The argv block: every string followed by NUL.
pub fn argv_block(argv: &[String]) -> Result<Vec<u8>, LoadError> {
    let mut block = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        if a.as_bytes().contains(&0) {
            return Err(LoadError::ArgvNul(i));
        }
        block.extend_from_slice(a.as_bytes());
        block.push(0);
    }
    if block.len() as u64 > ARGV_MAX_SIZE {
        return Err(LoadError::ArgvTooLarge {
            size: block.len() as u64,
            max: ARGV_MAX_SIZE,
        });
    }
    Ok(block)
}

/// Computes where kernel, workload, argv, initramfs and stacks go,
/// checking that they fit in region 0.
pub fn plan(
    layout: &MemoryLayout,
    kernel: KernelInfo,
    workload_size: u64,
    argv_len: u64,
    argc: u32,
    initrd_size: u64,
    vcpus: u32,
) -> Result<Placement, LoadError> {
    let available = layout.low().end();
    let fits = |what, start: u64, needed: u64| {
        let end = start + needed;
        if end > available {
            Err(LoadError::NoRoom {
                what,
                needed,
                end,
                available,
            })
        } else {
            Ok(end)
        }
    };
    if kernel.start >= available {
        return Err(LoadError::KernelOutsideRam {
            start: kernel.start,
            end: kernel.end,
            available,
            min: KERNEL_START,
        });
    }
    fits("kernel", kernel.start, kernel.end - kernel.start)?;
    let workload_addr = page_align(kernel.end);
    let argv_addr = page_align(fits("workload", workload_addr, workload_size)?);
    let initrd_addr = page_align(fits("argv", argv_addr, argv_len)?);
    let stacks_addr = page_align(fits("initramfs", initrd_addr, initrd_size)?);
    let first_free = page_align(fits("stacks", stacks_addr, u64::from(vcpus) * STACK_SIZE)?);
    Ok(Placement {
        kernel,
        workload_addr,
        workload_size,
        argv_addr,
        argv_len,
        argc,
        initrd_addr,
        initrd_size,
        stacks_addr,
        stack_size: STACK_SIZE,
        first_free,
    })
}

/// Step 3: checks and loads the kernel, writes the workload image, argv
/// block and initramfs (empty: none), and returns where everything went.
pub fn load(
    mem: &GuestMem,
    layout: &MemoryLayout,
    kernel: &[u8],
    workload: &[u8],
    argv: &[String],
    initrd: &[u8],
    vcpus: u32,
) -> Result<Placement, LoadError> {
    let info = inspect_kernel(kernel)?;
    let block = argv_block(argv)?;
    let placement = plan(
        layout,
        info,
        workload.len() as u64,
        block.len() as u64,
        argv.len() as u32,
        initrd.len() as u64,
        vcpus,
    )?;
    let result = Elf::load(
        mem,
        None,
        &mut Cursor::new(kernel),
        Some(GuestAddress(KERNEL_START)),
    )?;
    debug_assert_eq!(result.kernel_load.0, info.entry);
    mem.write_slice(workload, GuestAddress(placement.workload_addr))
        .map_err(|source| LoadError::Write {
            what: "workload",
            source,
        })?;
    mem.write_slice(&block, GuestAddress(placement.argv_addr))
        .map_err(|source| LoadError::Write {
            what: "argv",
            source,
        })?;
    mem.write_slice(initrd, GuestAddress(placement.initrd_addr))
        .map_err(|source| LoadError::Write {
            what: "initramfs",
            source,
        })?;
    Ok(placement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::create_guest_memory;
    use crate::test_utils::{ElfBuilder, two_region_layout};

    const CODE: &[u8] = &[0xf4]; // hlt

    #[test]
    fn good_elf_loads_at_paddr() {
        let layout = two_region_layout();
        let mem = create_guest_memory(&layout).unwrap();
        let elf = ElfBuilder::new(0x20_0000)
            .code(CODE)
            .data(0x20_1000, b"hello")
            .bss(0x4000)
            .build();
        let argv = vec![
            "workload".to_string(),
            "getpid".to_string(),
            "10".to_string(),
        ];
        let workload = b"\x7fELF-not-really".to_vec();
        let initrd = b"070701-archive-bytes";
        let p = load(&mem, &layout, &elf, &workload, &argv, initrd, 2).unwrap();
        assert_eq!(p.kernel.entry, 0x20_0000);
        assert_eq!(p.kernel.start, 0x20_0000);
        assert_eq!(p.kernel.end, 0x20_1000 + 5 + 0x4000);
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x20_0000)).unwrap(), 0xf4);
        let mut hello = [0u8; 5];
        mem.read_slice(&mut hello, GuestAddress(0x20_1000)).unwrap();
        assert_eq!(&hello, b"hello");
        // Workload, argv, stacks: page aligned, in order, after the kernel.
        assert_eq!(p.workload_addr, 0x20_6000);
        assert_eq!(p.argv_addr, 0x20_7000);
        assert_eq!((p.argc, p.argv_len), (3, 19));
        assert_eq!((p.initrd_addr, p.initrd_size), (0x20_8000, 20));
        assert_eq!(p.stacks_addr, 0x20_9000);
        assert_eq!(p.first_free, 0x20_9000 + 2 * STACK_SIZE);
        assert_eq!(p.stack_top(1), p.first_free);
        let mut got = vec![0u8; workload.len()];
        mem.read_slice(&mut got, GuestAddress(p.workload_addr))
            .unwrap();
        assert_eq!(got, workload);
        let mut block = vec![0u8; 19];
        mem.read_slice(&mut block, GuestAddress(p.argv_addr))
            .unwrap();
        assert_eq!(&block, b"workload\0getpid\x0010\0");
        let mut archive = vec![0u8; initrd.len()];
        mem.read_slice(&mut archive, GuestAddress(p.initrd_addr))
            .unwrap();
        assert_eq!(&archive, initrd);
    }

    #[test]
    fn rejects_bad_kernels() {
        assert!(matches!(
            inspect_kernel(b"MZ\x90\x00 definitely not an elf"),
            Err(LoadError::NotElf)
        ));
        assert!(matches!(inspect_kernel(b""), Err(LoadError::NotElf)));
        assert!(matches!(
            inspect_kernel(b"\x7fELF"),
            Err(LoadError::Malformed(_))
        ));
        let aarch64 = ElfBuilder::new(0x20_0000).code(CODE).machine(183).build();
        assert!(matches!(
            inspect_kernel(&aarch64),
            Err(LoadError::WrongMachine(183))
        ));
        let low = ElfBuilder::new(0x8000).code(CODE).build();
        assert!(matches!(
            inspect_kernel(&low),
            Err(LoadError::EntryTooLow { entry: 0x8000, .. })
        ));
        let low_seg = ElfBuilder::new(0x20_0000)
            .code(CODE)
            .data(0x7000, b"x")
            .build();
        assert!(matches!(
            inspect_kernel(&low_seg),
            Err(LoadError::SegmentTooLow { paddr: 0x7000, .. })
        ));
        let mut elf32 = ElfBuilder::new(0x20_0000).code(CODE).build();
        elf32[4] = 1;
        assert!(matches!(
            inspect_kernel(&elf32),
            Err(LoadError::Not64BitLittleEndian)
        ));
        let mut dyn_ = ElfBuilder::new(0x20_0000).code(CODE).build();
        dyn_[16] = 3;
        assert!(matches!(
            inspect_kernel(&dyn_),
            Err(LoadError::NotExecutable(3))
        ));
        let mut big = ElfBuilder::new(0x20_0000).code(CODE).build();
        big.resize(KERNEL_MAX_SIZE as usize + 1, 0);
        assert!(matches!(
            inspect_kernel(&big),
            Err(LoadError::TooLarge { .. })
        ));
    }

    #[test]
    fn linux_loader_itself_rejects_low_entry() {
        // Our own check comes first, but the loader agrees (highmem_start).
        let layout = two_region_layout();
        let mem = create_guest_memory(&layout).unwrap();
        let low = ElfBuilder::new(0x8000).code(CODE).build();
        let r = Elf::load(
            &mem,
            None,
            &mut Cursor::new(&low),
            Some(GuestAddress(KERNEL_START)),
        );
        assert!(r.is_err());
    }

    #[test]
    fn does_not_fit() {
        let layout = MemoryLayout::explicit(&[(0, 4 << 20), (4 << 30, 4 << 20)]).unwrap();
        let info = KernelInfo {
            entry: 0x10_0000,
            start: 0x10_0000,
            end: 0x20_0000,
        };
        let e = plan(&layout, info, 3 << 20, 0, 0, 0, 1).unwrap_err();
        assert!(
            matches!(
                e,
                LoadError::NoRoom {
                    what: "workload",
                    ..
                }
            ),
            "{e}"
        );
        let e = plan(&layout, info, 0, 0, 0, 0, 200).unwrap_err();
        assert!(matches!(e, LoadError::NoRoom { what: "stacks", .. }), "{e}");
        // A 16 MiB initramfs in a 4 MiB region 0: named, with the fix.
        let e = plan(&layout, info, 0, 0, 0, 16 << 20, 1).unwrap_err();
        assert!(
            matches!(
                e,
                LoadError::NoRoom {
                    what: "initramfs",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("give the VM more memory"), "{e}");
        let huge = KernelInfo {
            entry: 0x10_0000,
            start: 0x10_0000,
            end: 0x50_0000,
        };
        assert!(matches!(
            plan(&layout, huge, 0, 0, 0, 0, 1),
            Err(LoadError::NoRoom { what: "kernel", .. })
        ));
    }

    #[test]
    fn kernel_linked_above_region_0_says_where() {
        let layout = MemoryLayout::explicit(&[(0, 4 << 20), (4 << 30, 4 << 20)]).unwrap();
        let at_8g = KernelInfo {
            entry: 0x2_0000_0000,
            start: 0x2_0000_0000,
            end: 0x2_0010_0000,
        };
        let e = plan(&layout, at_8g, 0, 0, 0, 0, 1).unwrap_err();
        let message = e.to_string();
        assert!(
            matches!(e, LoadError::KernelOutsideRam { .. })
                && message.contains("0x200000000")
                && message.contains("0..0x400000")
                && message.contains("link it at 1 MiB"),
            "{message}"
        );
    }

    #[test]
    fn argv_rules() {
        assert!(matches!(
            argv_block(&["a\0b".into()]),
            Err(LoadError::ArgvNul(0))
        ));
        let long = vec!["x".repeat(70_000)];
        assert!(matches!(
            argv_block(&long),
            Err(LoadError::ArgvTooLarge { .. })
        ));
        assert_eq!(argv_block(&[]).unwrap(), b"");
    }

    // Byte offsets of the header fields the malformed-input tests change:
    // the ELF header's, and (from a program header's start) a program
    // header's, as the System V ABI lays them out.
    const E_TYPE: usize = 16;
    const E_MACHINE: usize = 18;
    const E_ENTRY: usize = 24;
    const E_PHOFF: usize = 32;
    const E_PHENTSIZE: usize = 54;
    const E_PHNUM: usize = 56;
    const P_TYPE: usize = 0;
    const P_OFFSET: usize = 8;
    const P_PADDR: usize = 24;
    const P_FILESZ: usize = 32;
    const P_MEMSZ: usize = 40;

    /// A good kernel of two `PT_LOAD` segments: code at 2 MiB, then data
    /// with a bss.
    fn two_segment_kernel() -> Vec<u8> {
        ElfBuilder::new(0x20_0000)
            .code(&[0xf4, 0xeb, 0xfd]) // hlt; jmp back
            .data(0x20_1000, b"hello")
            .bss(0x100)
            .build()
    }

    /// Where program header `index`'s field `field` is in the file.
    fn ph(index: usize, field: usize) -> usize {
        EHDR_SIZE + index * PHDR_SIZE + field
    }

    fn put_u16(elf: &mut [u8], at: usize, v: u16) {
        elf[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn put_u64(elf: &mut [u8], at: usize, v: u64) {
        elf[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// `inspect_kernel` of the good kernel with `patch` applied.
    fn inspect_patched(patch: impl FnOnce(&mut Vec<u8>)) -> Result<KernelInfo, LoadError> {
        let mut elf = two_segment_kernel();
        patch(&mut elf);
        inspect_kernel(&elf)
    }

    fn malformed(r: Result<KernelInfo, LoadError>) -> &'static str {
        match r {
            Err(LoadError::Malformed(why)) => why,
            other => panic!("expected a malformed-ELF error, got {other:?}"),
        }
    }

    #[test]
    fn every_malformed_header_is_named() {
        assert!(inspect_patched(|_| {}).is_ok());
        assert_eq!(
            malformed(inspect_patched(|e| put_u16(e, E_PHENTSIZE, 64))),
            "program header size is not 56"
        );
        // The table starts inside the ELF header, or runs past the end.
        for phoff in [0, 8, 63] {
            assert_eq!(
                malformed(inspect_patched(|e| put_u64(e, E_PHOFF, phoff))),
                "program headers outside the file",
                "phoff {phoff}"
            );
        }
        assert_eq!(
            malformed(inspect_patched(|e| put_u16(e, E_PHNUM, 3))),
            "program headers outside the file"
        );
        assert_eq!(
            malformed(inspect_patched(|e| put_u64(e, E_PHOFF, u64::MAX - 8))),
            "program headers overflow"
        );
        // Segment data: one byte past the end, and an offset that wraps.
        assert_eq!(
            malformed(inspect_patched(|e| {
                let len = e.len() as u64;
                put_u64(e, ph(1, P_OFFSET), len - 4);
            })),
            "segment data outside the file"
        );
        assert_eq!(
            malformed(inspect_patched(|e| put_u64(e, ph(0, P_OFFSET), u64::MAX))),
            "segment data outside the file"
        );
        assert_eq!(
            malformed(inspect_patched(|e| put_u64(e, ph(1, P_MEMSZ), 4))),
            "segment file size exceeds its memory size"
        );
        assert_eq!(
            malformed(inspect_patched(|e| {
                put_u64(e, ph(1, P_PADDR), u64::MAX - 0x10);
            })),
            "segment address overflows"
        );
        // No PT_LOAD at all, and only empty ones.
        assert!(matches!(
            inspect_patched(|e| {
                e[ph(0, P_TYPE)] = 4; // PT_NOTE
                e[ph(1, P_TYPE)] = 4;
            }),
            Err(LoadError::NoSegments)
        ));
        assert!(matches!(
            inspect_patched(|e| {
                for i in 0..2 {
                    put_u64(e, ph(i, P_FILESZ), 0);
                    put_u64(e, ph(i, P_MEMSZ), 0);
                }
            }),
            Err(LoadError::NoSegments)
        ));
        assert!(matches!(
            inspect_patched(|e| put_u16(e, E_PHNUM, 0)),
            Err(LoadError::NoSegments)
        ));
    }

    /// Values a mutated header field takes: the edges where checks sit, and
    /// anything at all.
    fn field_value() -> impl proptest::strategy::Strategy<Value = u64> {
        use proptest::prelude::*;
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            (0u64..0x40).prop_map(|d| u64::MAX - d),
            (0u64..0x100),
            (0u64..0x40).prop_map(|d| KERNEL_START - 0x20 + d),
            (0x20_0000u64..0x20_2000),
            any::<u64>(),
        ]
    }

    /// Where a mutation writes, as (offset, width in bytes): every ELF
    /// header field the loader reads and every field of both program
    /// headers.
    const MUTABLE_FIELDS: &[(usize, usize)] = &[
        (4, 1), // EI_CLASS
        (5, 1), // EI_DATA
        (E_TYPE, 2),
        (E_MACHINE, 2),
        (E_ENTRY, 8),
        (E_PHOFF, 8),
        (E_PHENTSIZE, 2),
        (E_PHNUM, 2),
        (EHDR_SIZE + P_TYPE, 4),
        (EHDR_SIZE + P_OFFSET, 8),
        (EHDR_SIZE + P_PADDR, 8),
        (EHDR_SIZE + P_FILESZ, 8),
        (EHDR_SIZE + P_MEMSZ, 8),
        (EHDR_SIZE + PHDR_SIZE + P_TYPE, 4),
        (EHDR_SIZE + PHDR_SIZE + P_OFFSET, 8),
        (EHDR_SIZE + PHDR_SIZE + P_PADDR, 8),
        (EHDR_SIZE + PHDR_SIZE + P_FILESZ, 8),
        (EHDR_SIZE + PHDR_SIZE + P_MEMSZ, 8),
    ];

    /// The loadable segments of `elf` as (offset, paddr, filesz, memsz),
    /// read straight from the bytes (the table's place is given: the
    /// caller only asks once `inspect_kernel` accepted it).
    fn load_segments(elf: &[u8]) -> Vec<(u64, u64, u64, u64)> {
        let phoff = u64_at(elf, E_PHOFF) as usize;
        let phnum = usize::from(u16_at(elf, E_PHNUM));
        (0..phnum)
            .map(|i| phoff + i * PHDR_SIZE)
            .filter(|&at| u32_at(elf, at) == PT_LOAD)
            .map(|at| {
                (
                    u64_at(elf, at + P_OFFSET),
                    u64_at(elf, at + P_PADDR),
                    u64_at(elf, at + P_FILESZ),
                    u64_at(elf, at + P_MEMSZ),
                )
            })
            .collect()
    }

    proptest::proptest! {
        /// Any header field set to any value, the file cut anywhere: the
        /// kernel is refused with an error (never a panic), or accepted with
        /// an extent that holds every loadable segment whole, inside the
        /// file and at or above 1 MiB — and then loading it either fails
        /// with an error or puts every segment's file bytes at its address.
        #[test]
        fn mutated_kernels_are_loaded_whole_or_refused(
            mutations in proptest::collection::vec(
                (0..MUTABLE_FIELDS.len(), field_value()),
                1..4,
            ),
            cut in proptest::option::of(0usize..0x1100),
        ) {
            let mut elf = two_segment_kernel();
            for (field, value) in mutations {
                let (at, width) = MUTABLE_FIELDS[field];
                elf[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            }
            if let Some(cut) = cut {
                elf.truncate(cut);
            }
            let Ok(info) = inspect_kernel(&elf) else {
                return Ok(());
            };
            proptest::prop_assert!(info.entry >= KERNEL_START);
            proptest::prop_assert!(KERNEL_START <= info.start && info.start < info.end);
            let segments: Vec<_> = load_segments(&elf)
                .into_iter()
                .filter(|&(_, _, _, memsz)| memsz != 0)
                .collect();
            proptest::prop_assert!(!segments.is_empty());
            for &(offset, paddr, filesz, memsz) in &segments {
                proptest::prop_assert!(filesz <= memsz);
                proptest::prop_assert!(offset + filesz <= elf.len() as u64);
                proptest::prop_assert!(info.start <= paddr && paddr + memsz <= info.end);
            }
            proptest::prop_assert!(segments.iter().any(|s| s.1 == info.start));
            proptest::prop_assert!(segments.iter().any(|s| s.1 + s.3 == info.end));

            let layout = two_region_layout();
            let mem = create_guest_memory(&layout).unwrap();
            if load(&mem, &layout, &elf, b"", &[], b"", 1).is_ok() {
                for &(offset, paddr, filesz, _) in &segments {
                    let mut got = vec![0u8; filesz as usize];
                    mem.read_slice(&mut got, GuestAddress(paddr)).unwrap();
                    proptest::prop_assert_eq!(
                        &got[..],
                        &elf[offset as usize..(offset + filesz) as usize]
                    );
                }
            }
        }

        /// A segment's file size decides its fate on its own: above its
        /// memory size, or past the end of the file, it is refused with
        /// that reason; otherwise the kernel is accepted.
        #[test]
        fn a_segments_file_size_is_checked_against_memory_and_file(filesz in field_value()) {
            let mut elf = two_segment_kernel();
            put_u64(&mut elf, ph(1, P_FILESZ), filesz);
            let (offset, memsz) = (u64_at(&elf, ph(1, P_OFFSET)), u64_at(&elf, ph(1, P_MEMSZ)));
            let result = inspect_kernel(&elf);
            if filesz > memsz {
                proptest::prop_assert_eq!(malformed(result), "segment file size exceeds its memory size");
            } else if offset + filesz > elf.len() as u64 {
                proptest::prop_assert_eq!(malformed(result), "segment data outside the file");
            } else {
                proptest::prop_assert!(result.is_ok());
            }
        }

        /// A segment's address: below 1 MiB it is named as too low, where
        /// its end would pass 2^64 the overflow is named, anywhere else it
        /// is accepted and the extent reaches its end.
        #[test]
        fn a_segments_address_is_refused_low_or_overflowing(paddr in field_value()) {
            let mut elf = two_segment_kernel();
            put_u64(&mut elf, ph(1, P_PADDR), paddr);
            let memsz = u64_at(&elf, ph(1, P_MEMSZ));
            match inspect_kernel(&elf) {
                Err(LoadError::SegmentTooLow { paddr: named, min }) => {
                    proptest::prop_assert!(paddr < KERNEL_START);
                    proptest::prop_assert_eq!((named, min), (paddr, KERNEL_START));
                }
                Err(LoadError::Malformed(why)) => {
                    proptest::prop_assert!(paddr >= KERNEL_START && paddr.checked_add(memsz).is_none());
                    proptest::prop_assert_eq!(why, "segment address overflows");
                }
                Ok(info) => {
                    proptest::prop_assert!(paddr >= KERNEL_START);
                    proptest::prop_assert_eq!(info.end, (paddr + memsz).max(0x20_0003));
                    proptest::prop_assert_eq!(info.start, paddr.min(0x20_0000));
                }
                Err(other) => proptest::prop_assert!(false, "{other:?}"),
            }
        }

        /// The file cut short anywhere: each length gets the error of the
        /// first thing missing.
        #[test]
        fn a_truncated_kernel_names_what_is_missing(len in 0usize..0x1100) {
            let mut elf = two_segment_kernel();
            let whole = elf.len();
            elf.truncate(len);
            let result = inspect_kernel(&elf);
            if len < 4 {
                proptest::prop_assert!(matches!(result, Err(LoadError::NotElf)));
            } else if len < EHDR_SIZE {
                proptest::prop_assert_eq!(malformed(result), "shorter than an ELF header");
            } else if len < EHDR_SIZE + 2 * PHDR_SIZE {
                proptest::prop_assert_eq!(malformed(result), "program headers outside the file");
            } else if len < whole {
                proptest::prop_assert_eq!(malformed(result), "segment data outside the file");
            } else {
                proptest::prop_assert!(result.is_ok());
            }
        }
    }
}

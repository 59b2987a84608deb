//! Step 2 (second half): the guest-physical memory layout, its host mappings
//! and its KVM memory slots — and, at step 7, how much of it was touched.
//!
//! Guest RAM is at least two regions with a gap between them, like a PC's RAM
//! around the 32-bit PCI/MMIO hole: region 0 starts at 0 (the boot area and
//! the kernel live in it), the others lie anywhere else that is not in the
//! hole at 3–4 GiB. Each region is one anonymous `MAP_NORESERVE` mapping in
//! this process (so untouched guest memory costs no host RAM) and one KVM
//! memory slot.

use std::fs;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use serde::Serialize;
use vm_memory::mmap::MmapRegionBuilder;
use vm_memory::{
    GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, GuestRegionMmap,
};

use crate::layout::{
    HIGH_RAM_START, LARGE_PAGE_SIZE, LOW_RAM_START, MAX_GUEST_PHYS_ADDR, MIN_LOW_RAM_SIZE,
    MIN_MEM_SIZE, MMIO_HOLE_END, MMIO_HOLE_START, PAGE_SIZE,
};

/// Guest memory as the rest of the crate sees it.
pub type GuestMem = GuestMemoryMmap<()>;

/// Errors of step 2 (memory).
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// No region was given.
    #[error("the memory layout has no regions")]
    NoRegions,
    /// A size of zero (total or one region).
    #[error("memory size is zero (region at {base:#x})")]
    ZeroSize {
        /// Start of the offending region (0 for a total size).
        base: u64,
    },
    /// A base or size that is not a multiple of 4 KiB.
    #[error("region {base:#x}+{size:#x} is not 4 KiB aligned")]
    Unaligned {
        /// Region start.
        base: u64,
        /// Region size.
        size: u64,
    },
    /// Two regions overlap.
    #[error("regions {a_base:#x}+{a_size:#x} and {b_base:#x}+{b_size:#x} overlap")]
    Overlap {
        /// First region start.
        a_base: u64,
        /// First region size.
        a_size: u64,
        /// Second region start.
        b_base: u64,
        /// Second region size.
        b_size: u64,
    },
    /// A region reaches into the reserved MMIO hole.
    #[error(
        "region {base:#x}+{size:#x} overlaps the MMIO hole {:#x}..{:#x} (3-4 GiB), where no RAM may be",
        MMIO_HOLE_START,
        MMIO_HOLE_END
    )]
    InMmioHole {
        /// Region start.
        base: u64,
        /// Region size.
        size: u64,
    },
    /// A region ends above what can be mapped (page tables or the host's
    /// physical address width).
    #[error(
        "region {base:#x}+{size:#x} ends above {limit:#x}, the highest guest-physical address this host/VMM can map"
    )]
    AboveLimit {
        /// Region start.
        base: u64,
        /// Region size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More regions than the boot information can describe.
    #[error("{count} regions given; at most {max} are supported")]
    TooManyRegions {
        /// Regions given.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// No region starts at guest-physical 0 (the boot area lives there).
    #[error("no region starts at guest-physical 0; the boot area and kernel need low RAM")]
    NoLowRegion,
    /// Too little memory for the boot area, kernel, workload and tables.
    #[error(
        "{what} is {size:#x} bytes; at least {min:#x} are needed for the boot area, kernel, workload and tables"
    )]
    TooSmall {
        /// "total memory" or "region 0".
        what: &'static str,
        /// Size given.
        size: u64,
        /// Minimum.
        min: u64,
    },
    /// A total size (`--mem`) below [`MIN_MEM_SIZE`] (zero included).
    #[error(
        "--mem {} is too small: the VM needs at least {} (MIN_MEM_SIZE: the boot area, the kernel, the workload, its stack and page tables)",
        fmt_size(*size),
        fmt_size(*min)
    )]
    TotalTooSmall {
        /// Size given.
        size: u64,
        /// [`MIN_MEM_SIZE`].
        min: u64,
    },
    /// A total size (`--mem`) that is not a whole number of 4 KiB pages.
    #[error("--mem {size} bytes is not a multiple of 4 KiB (guest RAM is mapped in pages)")]
    TotalUnaligned {
        /// Size given.
        size: u64,
    },
    /// A total size (`--mem`) whose high half would end above what the
    /// identity map or the host's physical address width can cover.
    #[error(
        "--mem {} is more than the VM can address: at most {} (the rest above 3 GiB goes at 4 GiB, and guest RAM must end below {})",
        fmt_size(*size),
        fmt_size(*max),
        fmt_size(max_guest_phys_addr())
    )]
    TotalTooLarge {
        /// Size given.
        size: u64,
        /// The largest total the default layout can place.
        max: u64,
    },
    /// More guest RAM than the host has: the guest would be killed (or the
    /// host thrash) once it touched it.
    #[error(
        "guest memory of {} is more than this host's RAM ({}): give the VM at most that much (--mem)",
        fmt_size(*size),
        fmt_size(*host)
    )]
    MoreThanHost {
        /// Guest RAM asked for.
        size: u64,
        /// Host RAM (`sysconf(_SC_PHYS_PAGES)` pages).
        host: u64,
    },
    /// The host refused a mapping.
    #[error("mapping guest region {base:#x}+{size:#x} failed: {source}")]
    Mmap {
        /// Region start.
        base: u64,
        /// Region size.
        size: u64,
        /// What mmap said.
        source: vm_memory::mmap::MmapRegionError,
    },
    /// vm-memory refused the region collection.
    #[error("building guest memory: {0}")]
    Collection(#[from] vm_memory::GuestRegionCollectionError),
    /// KVM_SET_USER_MEMORY_REGION failed.
    #[error("KVM_SET_USER_MEMORY_REGION for slot {slot} ({base:#x}+{size:#x}) failed: {source}")]
    SetSlot {
        /// Slot number.
        slot: u32,
        /// Region start.
        base: u64,
        /// Region size.
        size: u64,
        /// What KVM said.
        source: kvm_ioctls::Error,
    },
    /// `mincore` failed while measuring residency.
    #[error("mincore over guest memory failed: {0}")]
    Mincore(std::io::Error),
}

/// One RAM region of the guest-physical address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Region {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// A validated guest memory layout: sorted, non-overlapping, 4 KiB-aligned
/// regions, one at 0, none in the MMIO hole.
///
/// # Example
/// ```
/// use hypervisor::memory::MemoryLayout;
/// let layout = MemoryLayout::split(512 << 20).unwrap();
/// assert_eq!(layout.regions().len(), 2);
/// assert_eq!(layout.regions()[1].base, 4 << 30);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryLayout {
    regions: Vec<Region>,
}

impl MemoryLayout {
    /// The default layout for `total` bytes: half (rounded down to 2 MiB,
    /// capped below the MMIO hole at 3 GiB) as low RAM at 0, the rest as high
    /// RAM at 4 GiB.
    pub fn split(total: u64) -> Result<Self, MemoryError> {
        Self::split_with_limit(total, max_guest_phys_addr())
    }

    /// [`MemoryLayout::split`] for a host whose guests can address
    /// `limit` bytes of physical memory: the host's own limit is a fact of
    /// the machine, so tests give one to reach layouts (a low region capped
    /// at the hole, a total too large) on any host.
    fn split_with_limit(total: u64, limit: u64) -> Result<Self, MemoryError> {
        // Too small first: `--mem 1K` or `--mem 0` need the minimum, not a
        // remark about alignment.
        if total < MIN_MEM_SIZE {
            return Err(MemoryError::TotalTooSmall {
                size: total,
                min: MIN_MEM_SIZE,
            });
        }
        if !total.is_multiple_of(PAGE_SIZE) {
            return Err(MemoryError::TotalUnaligned { size: total });
        }
        let low =
            ((total / 2) / LARGE_PAGE_SIZE * LARGE_PAGE_SIZE).min(MMIO_HOLE_START - LOW_RAM_START);
        let max = low + limit.saturating_sub(HIGH_RAM_START);
        if total > max {
            return Err(MemoryError::TotalTooLarge { size: total, max });
        }
        Self::explicit_with_limit(
            &[(LOW_RAM_START, low), (HIGH_RAM_START, total - low)],
            limit,
        )
    }

    /// An explicit layout from `(base, size)` pairs, in any order.
    pub fn explicit(regions: &[(u64, u64)]) -> Result<Self, MemoryError> {
        Self::explicit_with_limit(regions, max_guest_phys_addr())
    }

    /// [`MemoryLayout::explicit`] with the address limit given (for tests).
    pub fn explicit_with_limit(regions: &[(u64, u64)], limit: u64) -> Result<Self, MemoryError> {
        if regions.is_empty() {
            return Err(MemoryError::NoRegions);
        }
        let mut sorted: Vec<Region> = Vec::with_capacity(regions.len());
        for &(base, size) in regions {
            if size == 0 {
                return Err(MemoryError::ZeroSize { base });
            }
            if !base.is_multiple_of(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
                return Err(MemoryError::Unaligned { base, size });
            }
            let end =
                base.checked_add(size)
                    .ok_or(MemoryError::AboveLimit { base, size, limit })?;
            if base < MMIO_HOLE_END && end > MMIO_HOLE_START {
                return Err(MemoryError::InMmioHole { base, size });
            }
            if end > limit {
                return Err(MemoryError::AboveLimit { base, size, limit });
            }
            sorted.push(Region { base, size });
        }
        sorted.sort();
        for w in sorted.windows(2) {
            if w[0].end() > w[1].base {
                return Err(MemoryError::Overlap {
                    a_base: w[0].base,
                    a_size: w[0].size,
                    b_base: w[1].base,
                    b_size: w[1].size,
                });
            }
        }
        if sorted.len() > versus_abi::MAX_MEM_REGIONS {
            return Err(MemoryError::TooManyRegions {
                count: sorted.len(),
                max: versus_abi::MAX_MEM_REGIONS,
            });
        }
        if sorted[0].base != LOW_RAM_START {
            return Err(MemoryError::NoLowRegion);
        }
        if sorted[0].size < MIN_LOW_RAM_SIZE {
            return Err(MemoryError::TooSmall {
                what: "region 0",
                size: sorted[0].size,
                min: MIN_LOW_RAM_SIZE,
            });
        }
        Ok(Self { regions: sorted })
    }

    /// The regions, sorted by address.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Region 0, the one at guest-physical 0.
    pub fn low(&self) -> Region {
        self.regions[0]
    }

    /// Total RAM in bytes.
    pub fn total(&self) -> u64 {
        self.regions.iter().map(|r| r.size).sum()
    }
}

/// A byte count as people write it: exact in the largest unit that divides
/// it with fewer than five digits (`6 MiB`, `6140 KiB`, `2000 GiB`), else
/// with one decimal in the largest unit it reaches (`23.5 GiB`); below
/// 1 KiB in bytes.
pub fn fmt_size(bytes: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")];
    const MAX_EXACT: u64 = 10_000;
    let exact = UNITS.iter().find(|(shift, _)| {
        bytes >> shift != 0 && bytes.trailing_zeros() >= *shift && bytes >> shift < MAX_EXACT
    });
    if let Some((shift, unit)) = exact {
        return format!("{} {unit}", bytes >> shift);
    }
    match UNITS.iter().find(|(shift, _)| bytes >> shift != 0) {
        Some((shift, unit)) => format!("{:.1} {unit}", bytes as f64 / (1u64 << shift) as f64),
        None => format!("{bytes} bytes"),
    }
}

/// Refuses a layout with more RAM than the host has. Mappings are
/// `MAP_NORESERVE`, so mmap itself would succeed; a guest that touched
/// that much would not.
pub fn check_host_ram(layout: &MemoryLayout) -> Result<(), MemoryError> {
    let Some(host) = host_ram_bytes() else {
        return Ok(());
    };
    if layout.total() > host {
        return Err(MemoryError::MoreThanHost {
            size: layout.total(),
            host,
        });
    }
    Ok(())
}

/// Physical RAM of the host, if `sysconf` knows it.
fn host_ram_bytes() -> Option<u64> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    let pages = u64::try_from(pages).ok().filter(|&p| p > 0)?;
    Some(pages * host_page_size() as u64)
}

/// The highest guest-physical address (exclusive) guest RAM may reach: what
/// one PDPT of identity map covers, and no more than the host CPU's
/// physical-address width (CPUID 0x8000_0008).
pub fn max_guest_phys_addr() -> u64 {
    let bits = host_phys_addr_bits();
    MAX_GUEST_PHYS_ADDR.min(1u64 << bits)
}

fn host_phys_addr_bits() -> u32 {
    let max_ext = crate::cpuid::host_cpuid(0x8000_0000).eax;
    if max_ext >= 0x8000_0008 {
        crate::cpuid::host_cpuid(0x8000_0008).eax & 0xff
    } else {
        36
    }
}

/// Maps every region of `layout` (anonymous, private, `MAP_NORESERVE`).
pub fn create_guest_memory(layout: &MemoryLayout) -> Result<GuestMem, MemoryError> {
    let mut regions = Vec::with_capacity(layout.regions().len());
    for r in layout.regions() {
        let mapping = MmapRegionBuilder::<()>::new(r.size as usize)
            .with_mmap_prot(libc::PROT_READ | libc::PROT_WRITE)
            .with_mmap_flags(libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_NORESERVE)
            .build()
            .map_err(|source| MemoryError::Mmap {
                base: r.base,
                size: r.size,
                source,
            })?;
        let region =
            GuestRegionMmap::new(mapping, GuestAddress(r.base)).ok_or(MemoryError::AboveLimit {
                base: r.base,
                size: r.size,
                limit: u64::MAX,
            })?;
        regions.push(region);
    }
    Ok(GuestMemoryMmap::from_regions(regions)?)
}

/// Gives KVM one memory slot per region (slot `i` = region `i`).
///
/// The VM must be dropped before `mem` is: KVM keeps the host addresses.
pub fn register_slots(vm: &VmFd, mem: &GuestMem) -> Result<(), MemoryError> {
    for (slot, region) in mem.iter().enumerate() {
        let slot = slot as u32;
        let base = region.start_addr().0;
        let size = region.len();
        let desc = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: base,
            memory_size: size,
            userspace_addr: region.as_ptr() as u64,
        };
        // SAFETY: `userspace_addr..+memory_size` is exactly one live mapping owned by
        // `mem`, and the caller keeps `mem` alive for as long as the VM exists
        // (`vm::run` drops the VM fd and every vCPU before the memory).
        unsafe { vm.set_user_memory_region(desc) }.map_err(|source| MemoryError::SetSlot {
            slot,
            base,
            size,
            source,
        })?;
    }
    Ok(())
}

/// Pages whose residency one `mincore(2)` call reports in [`resident_bytes`]:
/// one byte each, so the buffer is one 4 KiB page on the stack (16 MiB of
/// guest memory per call). A buffer for a whole 256 MiB region would be
/// 64 KiB of fresh heap, 16 page faults at ~10 µs each on a nested machine,
/// paid after every run; 16 more system calls per region cost ~10 µs.
pub const MINCORE_CHUNK_PAGES: usize = 4096;

/// Bytes of each region whose pages are resident in host RAM (`mincore`):
/// the guest memory that was actually touched, by the guest or the VMM.
pub fn resident_bytes(mem: &GuestMem) -> Result<Vec<u64>, MemoryError> {
    let page = host_page_size();
    let mut flags = [0u8; MINCORE_CHUNK_PAGES];
    let mut out = Vec::with_capacity(mem.num_regions());
    for region in mem.iter() {
        let len = region.len() as usize;
        let mut resident_pages = 0u64;
        let mut offset = 0;
        while offset < len {
            let chunk = (len - offset).min(MINCORE_CHUNK_PAGES * page);
            let pages = chunk.div_ceil(page);
            // Inside the region (`offset < len`): plain address arithmetic.
            let start = region.as_ptr().wrapping_add(offset);
            // SAFETY: `start..start + chunk` lies inside one live mapping owned
            // by `mem` and starts on a page boundary (`offset` is a multiple of
            // the chunk size, itself whole pages); `flags` has a byte for each of
            // the `pages` pages, as mincore(2) requires.
            let rc = unsafe { libc::mincore(start.cast(), chunk, flags.as_mut_ptr()) };
            if rc != 0 {
                return Err(MemoryError::Mincore(std::io::Error::last_os_error()));
            }
            resident_pages += flags[..pages].iter().filter(|&&b| b & 1 != 0).count() as u64;
            offset += chunk;
        }
        out.push(resident_pages * page as u64);
    }
    Ok(out)
}

fn host_page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 { v as usize } else { 4096 }
}

/// Resident set size of this whole process (`VmRSS` of `/proc/self/status`),
/// or `None` if it cannot be read.
///
/// The VMM's own overhead is this minus the resident guest memory
/// ([`resident_bytes`]). (Splitting `/proc/self/smaps` by address does not
/// work reliably: the kernel merges adjacent guest mappings into one VMA.)
pub fn process_rss() -> Option<u64> {
    parse_vmrss(&fs::read_to_string("/proc/self/status").ok()?)
}

/// The parser behind [`process_rss`].
pub fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line["VmRSS:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_memory::Bytes;

    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    const LIMIT: u64 = 64 * GIB;

    #[test]
    fn default_split_is_low_plus_high() {
        let l = MemoryLayout::split(512 * MIB).unwrap();
        assert_eq!(
            l.regions(),
            &[
                Region {
                    base: 0,
                    size: 256 * MIB
                },
                Region {
                    base: 4 * GIB,
                    size: 256 * MIB
                }
            ]
        );
        assert_eq!(l.total(), 512 * MIB);
        // Low RAM is capped below the hole: half of 16 GiB would run into it.
        let l = MemoryLayout::split_with_limit(16 * GIB, LIMIT).unwrap();
        assert_eq!(
            l.regions()[0],
            Region {
                base: 0,
                size: 3 * GIB
            }
        );
        assert_eq!(
            l.regions()[1],
            Region {
                base: 4 * GIB,
                size: 13 * GIB
            }
        );
    }

    #[test]
    fn split_errors() {
        assert!(matches!(
            MemoryLayout::split(0),
            Err(MemoryError::TotalTooSmall { .. })
        ));
        assert!(matches!(
            MemoryLayout::split(MIB),
            Err(MemoryError::TotalTooSmall { .. })
        ));
        assert!(matches!(
            MemoryLayout::split(512 * MIB + 1),
            Err(MemoryError::TotalUnaligned { .. })
        ));
        // Above what the guest can address: 3 GiB low plus 60 GiB from 4 GiB
        // up to a 64 GiB limit.
        assert!(matches!(
            MemoryLayout::split_with_limit(128 * GIB, LIMIT),
            Err(MemoryError::TotalTooLarge { size, max }) if size == 128 * GIB && max == 63 * GIB
        ));
        assert_eq!(
            MemoryLayout::split_with_limit(63 * GIB, LIMIT)
                .unwrap()
                .total(),
            63 * GIB
        );
    }

    #[test]
    fn explicit_errors() {
        let e = |r: &[(u64, u64)]| MemoryLayout::explicit_with_limit(r, LIMIT).unwrap_err();
        assert!(matches!(e(&[]), MemoryError::NoRegions));
        assert!(matches!(e(&[(0, 0)]), MemoryError::ZeroSize { base: 0 }));
        assert!(matches!(
            e(&[(0, 4 * MIB), (4 * GIB, 0)]),
            MemoryError::ZeroSize { .. }
        ));
        assert!(matches!(
            e(&[(0, 4 * MIB + 12)]),
            MemoryError::Unaligned { .. }
        ));
        assert!(matches!(
            e(&[(0, 4 * MIB), (4 * GIB + 0x800, 4096)]),
            MemoryError::Unaligned { .. }
        ));
        assert!(matches!(
            e(&[(0, 4 * MIB), (2 * MIB, 4 * MIB)]),
            MemoryError::Overlap { .. }
        ));
        assert!(matches!(
            e(&[(0, 4 * MIB), (3 * GIB - 4096, 8192)]),
            MemoryError::InMmioHole { .. }
        ));
        assert!(matches!(
            e(&[(0, 3 * GIB + 4096)]),
            MemoryError::InMmioHole { .. }
        ));
        assert!(matches!(
            e(&[(0, 4 * MIB), (3 * GIB + 4096, 4096)]),
            MemoryError::InMmioHole { .. }
        ));
        assert!(matches!(
            e(&[(0, 4 * MIB), (LIMIT, 4096)]),
            MemoryError::AboveLimit { .. }
        ));
        assert!(matches!(
            e(&[(0, 4 * MIB), (u64::MAX - 4095, 4096)]),
            MemoryError::AboveLimit { .. }
        ));
        assert!(matches!(e(&[(4 * GIB, 4 * MIB)]), MemoryError::NoLowRegion));
        assert!(matches!(e(&[(0, MIB)]), MemoryError::TooSmall { .. }));
        let many: Vec<(u64, u64)> = (0..9).map(|i| (i * 16 * MIB, 4 * MIB)).collect();
        assert!(matches!(
            e(&many),
            MemoryError::TooManyRegions { count: 9, .. }
        ));
    }

    #[test]
    fn explicit_accepts_unsorted_and_sorts() {
        let l = MemoryLayout::explicit_with_limit(
            &[(8 * GIB, 2 * MIB), (0, 4 * MIB), (4 * GIB, 4096)],
            LIMIT,
        )
        .unwrap();
        let bases: Vec<u64> = l.regions().iter().map(|r| r.base).collect();
        assert_eq!(bases, vec![0, 4 * GIB, 8 * GIB]);
    }

    #[test]
    fn host_limit_is_sane() {
        let limit = max_guest_phys_addr();
        assert!(limit > 8 * GIB && limit <= MAX_GUEST_PHYS_ADDR);
        // The default layout fits under it.
        MemoryLayout::split(512 * MIB).unwrap();
    }

    #[test]
    fn too_small_totals_name_the_minimum() {
        for total in [0, 1024, MIN_MEM_SIZE - PAGE_SIZE, MIN_MEM_SIZE - 1] {
            let message = MemoryLayout::split(total).unwrap_err().to_string();
            assert!(
                message.contains("is too small")
                    && message.contains(&fmt_size(MIN_MEM_SIZE))
                    && !message.contains("region"),
                "{message}"
            );
        }
        assert!(
            MemoryLayout::split(0)
                .unwrap_err()
                .to_string()
                .starts_with("--mem 0 bytes is too small")
        );
        assert!(
            MemoryLayout::split(1024)
                .unwrap_err()
                .to_string()
                .starts_with("--mem 1 KiB is too small")
        );
        assert!(MemoryLayout::split(MIN_MEM_SIZE).is_ok());
        assert_eq!(fmt_size(6 * MIB), "6 MiB");
        assert_eq!(fmt_size(1000), "1000 bytes");
        assert_eq!(fmt_size(2000 << 30), "2000 GiB");
        assert_eq!(fmt_size(6140 << 10), "6140 KiB");
        assert_eq!(fmt_size(24_684_084 << 10), "23.5 GiB");
        assert_eq!(fmt_size(3 << 29), "1536 MiB");
    }

    #[test]
    fn a_total_beyond_the_address_limit_says_so() {
        let message = MemoryLayout::split(1 << 50).unwrap_err().to_string();
        assert!(
            message.starts_with("--mem 1024 TiB is more than the VM can address"),
            "{message}"
        );
    }

    #[test]
    fn more_than_the_host_is_refused() {
        let host = host_ram_bytes().expect("sysconf knows the host's RAM");
        let huge = MemoryLayout::explicit(&[(0, 64 * MIB), (4 * GIB, host)]).unwrap();
        let message = check_host_ram(&huge).unwrap_err().to_string();
        assert!(message.contains("more than this host's RAM"), "{message}");
        assert!(check_host_ram(&MemoryLayout::split(512 * MIB).unwrap()).is_ok());
    }

    #[test]
    fn noreserve_mapping_costs_nothing_until_touched() {
        let l = MemoryLayout::split(512 * MIB).unwrap();
        let mem = create_guest_memory(&l).unwrap();
        assert_eq!(mem.num_regions(), 2);
        assert_eq!(resident_bytes(&mem).unwrap(), vec![0, 0]);
        mem.write_obj(0xdead_beefu32, GuestAddress(4 * GIB + 8192))
            .unwrap();
        mem.write_obj(1u8, GuestAddress(0x7000)).unwrap();
        // One page each (a whole 2 MiB if transparent huge pages are "always").
        for r in resident_bytes(&mem).unwrap() {
            assert!((4096..=2 * MIB).contains(&r), "{r}");
        }
        // Gap: nothing between the regions.
        assert!(mem.write_obj(1u8, GuestAddress(3 * GIB)).is_err());
        assert!(process_rss().unwrap() > 8192);
    }

    #[test]
    fn resident_pages_are_counted_across_every_mincore_chunk() {
        let l = MemoryLayout::split(512 * MIB).unwrap();
        let mem = create_guest_memory(&l).unwrap();
        let page = host_page_size() as u64;
        let chunk = MINCORE_CHUNK_PAGES as u64 * page;
        // The first and last page of a chunk, the first of the next, and the
        // region's very last page (its last chunk).
        for addr in [
            0,
            chunk - page,
            chunk,
            3 * chunk + 5 * page,
            256 * MIB - page,
        ] {
            mem.write_obj(1u8, GuestAddress(addr)).unwrap();
        }
        // The same count from one mincore(2) call over the whole region.
        let region = mem.iter().next().unwrap();
        let mut whole = vec![0u8; (region.len() / page) as usize];
        // SAFETY: the region is one live page-aligned mapping owned by `mem`,
        // and `whole` has one byte per page of it.
        let rc = unsafe {
            libc::mincore(
                region.as_ptr().cast(),
                region.len() as usize,
                whole.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0);
        let expected = whole.iter().filter(|&&b| b & 1 != 0).count() as u64 * page;
        assert!(expected >= 5 * page, "{expected}");
        assert_eq!(resident_bytes(&mem).unwrap(), vec![expected, 0]);
    }

    #[test]
    fn vmrss_parser() {
        let text = "Name:\tx\nVmHWM:\t  100 kB\nVmRSS:\t    6748 kB\nRssAnon: 1 kB\n";
        assert_eq!(parse_vmrss(text), Some(6748 * 1024));
        assert_eq!(parse_vmrss("Name: x\n"), None);
    }
}

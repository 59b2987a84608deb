//! Booting a real Linux kernel (issue 14, its groundwork): the x86 boot
//! protocol pieces versus writes for a Linux guest, each testable without
//! KVM.
//!
//! The steps, numbered as in `docs/en/hypervisor.md` ("Booting Linux"):
//!
//! 1. **Read the kernel image** ([`image`]): an ELF `vmlinux` is taken as
//!    it is; a bzImage's setup header is parsed and its compressed payload
//!    (gzip, LZ4 or zstd) unpacked on the host into the ELF `vmlinux` it
//!    holds, since decompressing in guest ring 0 would be emulated one
//!    instruction at a time on a software KVM backend.
//! 2. **Check the command line** ([`zeropage::command_line`]) against the
//!    kernel's own limit (`cmdline_size` of its setup header).
//! 3. **Describe memory** ([`zeropage::e820_map`]): an e820 map generated
//!    from versus' own [`MemoryLayout`](crate::memory::MemoryLayout) — low
//!    RAM below the MMIO hole, high RAM from 4 GiB, and the legacy area
//!    below 1 MiB (where the MP table lies) reserved.
//! 4. **Describe the CPUs** ([`mptable`]): an Intel MultiProcessor table
//!    with one processor entry per vCPU, the ISA bus, the I/O APIC and the
//!    interrupt routing, so `--vcpus N` brings up N CPUs in Linux.
//! 5. **Write the boot parameters**: for the 64-bit entry the zero page
//!    ([`zeropage::zero_page`], `struct boot_params`: setup header, command
//!    line pointer, initramfs address and size, e820 table); for the PVH
//!    entry the `hvm_start_info` and its memory map ([`zeropage::pvh_start_info`]).
//!
//! [`load`] does steps 2–5 after loading the unpacked kernel with
//! linux-loader's ELF loader (which also reports a PVH entry note).

pub mod boot;
pub mod cmdline;
pub mod decode;
pub mod image;
pub mod initrd;
pub mod layout;
pub mod milestones;
pub mod mptable;
pub mod run;
pub mod symbols;
pub mod walk;
pub mod zeropage;

pub use boot::{EntryProtocol, LinuxBoot, load};

/// Where `make linux-guest` leaves the minimal kernel (a bzImage built from
/// Debian's linux-source with `guest-images/linux/versus.config`):
/// `versus vm run --linux` boots it when no `--linux-kernel` is given.
pub const MINIMAL_KERNEL_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../guest-images/linux/out/bzImage"
);
pub use image::{Compression, KernelFormat, KernelImage};

impl LinuxError {
    /// Wraps a vCPU error (boxed: it is large).
    pub fn vcpu(e: crate::vcpu::VcpuError) -> Self {
        LinuxError::Vcpu(Box::new(e))
    }
}

/// Errors of the Linux boot protocol.
#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    /// The file is neither an ELF nor a bzImage.
    #[error(
        "the kernel image is neither an ELF vmlinux nor a bzImage (no ELF magic, no \"HdrS\" at 0x202): give a Linux kernel such as /boot/vmlinuz-* or a vmlinux"
    )]
    UnknownFormat,
    /// The file ends inside a structure it announces.
    #[error("the kernel image is truncated: {what} needs {need} bytes, the file has {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: u64,
        /// Bytes present.
        have: u64,
    },
    /// A bzImage older than boot protocol 2.08, which has no payload fields.
    #[error(
        "the bzImage speaks boot protocol {major}.{minor:02}; versus needs 2.08 or later (Linux 2.6.26+) to find its payload: give a newer kernel or its vmlinux"
    )]
    OldProtocol {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// A payload compressed with a format versus does not unpack.
    #[error(
        "the bzImage's payload is {0}-compressed; versus unpacks gzip, LZ4 and zstd: give the uncompressed vmlinux instead (linux-source's scripts/extract-vmlinux makes one)"
    )]
    UnsupportedCompression(&'static str),
    /// The payload did not decompress.
    #[error("unpacking the bzImage's {format} payload failed: {reason}")]
    Decompress {
        /// The compression format.
        format: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The unpacked payload is larger than versus accepts.
    #[error(
        "the bzImage's payload unpacks to {size} bytes, more than the {max} versus accepts for a vmlinux"
    )]
    TooLarge {
        /// Size announced or reached.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The unpacked payload is not an ELF.
    #[error("the bzImage's payload did not unpack to an ELF vmlinux (first bytes {0:02x?})")]
    PayloadNotElf([u8; 4]),
    /// The command line is longer than the kernel accepts.
    #[error(
        "the kernel command line is {len} bytes; this kernel takes at most {max} (cmdline_size of its setup header): shorten --cmdline"
    )]
    CmdlineTooLong {
        /// Length given.
        len: usize,
        /// The kernel's limit.
        max: usize,
    },
    /// The command line contains a NUL byte.
    #[error("the kernel command line contains a NUL byte, which would end it early: remove it")]
    CmdlineNul,
    /// More memory regions than the e820 table of the zero page holds.
    #[error("the memory layout needs {count} e820 entries; the zero page holds at most {max}")]
    TooManyE820 {
        /// Entries needed.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More vCPUs than an MP table can describe next to its I/O APIC.
    #[error(
        "{0} vCPUs cannot be described in an MP table: 1 to {max} are possible (APIC ids are 8 bits and the I/O APIC takes the next one)",
        max = mptable::MAX_CPUS
    )]
    MpTableCpus(u32),
    /// linux-loader refused the vmlinux.
    #[error("loading the vmlinux: {0}")]
    Load(linux_loader::loader::Error),
    /// Guest memory refused a write (the layout is too small for it).
    #[error("writing the Linux boot data at guest address {addr:#x}: {source}")]
    GuestWrite {
        /// Where.
        addr: u64,
        /// What vm-memory said.
        source: vm_memory::GuestMemoryError,
    },
    /// Guest memory could not be laid out or mapped.
    #[error(transparent)]
    Memory(crate::memory::MemoryError),
    /// `/dev/kvm` could not be opened or lacks what versus needs.
    #[error(transparent)]
    Kvm(crate::kvm::KvmError),
    /// A KVM ioctl failed while setting the machine up.
    #[error("{0} failed: {1}")]
    Ioctl(&'static str, kvm_ioctls::Error),
    /// The GDT or the identity page tables could not be written.
    #[error("writing the boot GDT and page tables: {0}")]
    Setup(String),
    /// A vCPU count KVM refuses, or the kick signal.
    #[error(transparent)]
    Vcpu(Box<crate::vcpu::VcpuError>),
    /// An initramfs that does not fit where the zero page can point.
    #[error(
        "the initramfs at {addr:#x}+{size:#x} ends above 4 GiB; the zero page's 32-bit fields cannot point at it"
    )]
    InitrdAbove4G {
        /// Its address.
        addr: u64,
        /// Its size.
        size: u64,
    },
    /// An initramfs larger than the room between the kernel and the
    /// highest address the kernel takes one at.
    #[error(
        "the initramfs is {size} bytes; only {room} fit between the kernel and the highest address it accepts (initrd_addr_max, or the end of low RAM): give more --mem or a smaller initramfs"
    )]
    InitrdTooLarge {
        /// Its size.
        size: u64,
        /// The room there is.
        room: u64,
    },
    /// An argument for `/init` that Linux's command line cannot carry.
    #[error(
        "the argument {0:?} cannot reach /init: Linux passes init's arguments as words of its command line, so none may be empty or hold whitespace, a quote or a control character"
    )]
    InitArgument(String),
}

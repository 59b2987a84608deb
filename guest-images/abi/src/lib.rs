//! The contract between the versus VMM (`hypervisor/`) and the tiny guest
//! kernel: everything both sides must agree on, and nothing else.
//!
//! `#![no_std]`, no dependencies, no `unsafe`: the VMM uses it as an ordinary
//! dependency, the freestanding guest kernel compiles it into ring-0 code.
//!
//! # Entry state (what the VMM leaves behind, per vCPU)
//!
//! The VMM prepares what a firmware would, natively, before the first guest
//! instruction runs (guest ring 0 is slow on software KVM backends):
//!
//! * 64-bit long mode, paging on: CR0 = PE|MP|ET|NE|PG (EM clear), CR4 =
//!   PAE|OSFXSR|OSXMMEXCPT, EFER = SCE|LME|LMA. RFLAGS = 0x2 (interrupts off).
//! * CR3 = [`BootInfo::page_tables_addr`]: identity-mapped 4-level tables that
//!   cover every RAM region of [`BootInfo::mem_regions`] (2 MiB pages, 4 KiB
//!   pages at region edges that are not 2 MiB aligned), read/write,
//!   supervisor-only leaves. Non-leaf entries have U/S set, so a kernel may
//!   add user leaves below them.
//! * GDT = [`BootInfo::gdt_addr`] with Linux's selector layout ([`selector`]);
//!   CS = [`selector::KERNEL_CS`], DS/ES/SS/FS/GS = [`selector::KERNEL_DS`],
//!   TR = [`selector::TSS`] (a VMM-owned TSS, good enough to enter the guest;
//!   the kernel should load its own). IDT limit 0: any exception before the
//!   kernel loads an IDT is a triple fault (the VMM reports a guest reset).
//! * RIP = ELF entry point, RDI = guest-physical address of [`BootInfo`],
//!   RSI = vCPU index (0 = bootstrap processor), RSP = top of that vCPU's
//!   stack (16-byte aligned; see [`BootInfo::stack_top`]).
//! * Every vCPU starts in this state at once — application processors need no
//!   INIT/SIPI (the VMM creates no in-kernel interrupt controller). A vCPU
//!   that executes `hlt` is stopped for good: nothing can wake it.
//!
//! # Memory
//!
//! Everything in `[0, first_free_addr)` of region 0 is in use (boot info,
//! GDT, page tables, the kernel, the workload image, argv, the initramfs,
//! the stacks); the
//! rest of every region in [`BootInfo::mem_regions`] is free RAM, and it
//! is **zero** when the guest starts (the VMM maps guest memory fresh and
//! anonymous and writes nothing there). A kernel may rely on it: the tiny
//! kernel hands out frames from there without clearing them.
//!
//! # Ports
//!
//! See [`port`]. Port I/O from ring 0 costs one VM exit per `in`/`out`
//! instruction: the paravirtual console ([`port::CONSOLE`]) moves a whole
//! buffer in one exit, the UART ([`port::COM1`]) one byte per exit.

#![no_std]

/// `BootInfo::magic`: the bytes `"versusBI"` read as a little-endian u64.
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"versusBI");

/// `BootInfo::version`: bumped on every incompatible change of this crate.
pub const ABI_VERSION: u32 = 3;

/// The most `out`s to [`port::PING`] the exit probe
/// ([`BootInfo::exit_probe_iters`]) may ask for: at the 6–45 µs an exit
/// costs on a software KVM backend, a million keep one probe under a
/// minute; the VMM refuses more, the kernel clamps to it.
pub const EXIT_PROBE_MAX_ITERS: u32 = 1_000_000;

/// How many RAM regions [`BootInfo::mem_regions`] can describe.
pub const MAX_MEM_REGIONS: usize = 8;

/// The most vCPUs a guest may have (xAPIC ids stay below 255, the broadcast
/// id). The VMM refuses more; the kernel sizes its per-CPU tables (the
/// GDT's TSS slots) with it.
pub const MAX_VCPUS: u32 = 254;

/// Bits of [`BootInfo::flags`].
pub mod flags {
    /// Run one workload instance on every vCPU (otherwise on the BSP only;
    /// the other vCPUs may `hlt`).
    pub const RUN_ON_EVERY_VCPU: u32 = 1 << 0;
    /// Console output through the UART ([`crate::port::COM1`], one exit
    /// per byte) instead of the paravirtual console
    /// ([`crate::port::CONSOLE`], one exit per buffer) — for comparing the
    /// two.
    pub const CONSOLE_UART: u32 = 1 << 1;
}

/// I/O ports the VMM handles. Every access is one VM exit.
pub mod port {
    /// 16550 UART (COM1), 8 registers at `COM1..COM1 + 8`. Guest console,
    /// one exit per byte.
    pub const COM1: u16 = 0x3f8;
    /// Number of UART registers starting at [`COM1`].
    pub const COM1_LEN: u16 = 8;
    /// Boot marker: `out` an event code ([`crate::event`]; 1, 2 or 4 bytes,
    /// zero-extended). The VMM timestamps it per vCPU on arrival.
    pub const MARKER: u16 = 0x600;
    /// Exit: `out` the guest's exit status (1, 2 or 4 bytes, zero-extended;
    /// see [`crate::status`]). Stops every vCPU; the VMM reports the status.
    pub const EXIT: u16 = 0x604;
    /// Paravirtual console: `out` (4 bytes) the guest-physical address of a
    /// [`crate::ConsoleDescriptor`]; the VMM reads the whole buffer it
    /// describes during that one exit. The descriptor must lie below 4 GiB
    /// and inside RAM; the buffer anywhere in RAM, at most
    /// [`crate::CONSOLE_MAX_LEN`] bytes.
    pub const CONSOLE: u16 = 0x608;
    /// Ping: does nothing (`in` reads 0). For measuring the exit round trip.
    pub const PING: u16 = 0x60c;
    /// Paravirtual sleep: `out` (4 bytes) a number of microseconds (at
    /// most [`crate::SLEEP_MAX_US`]); the VMM's vCPU thread sleeps that long
    /// on the host before the guest continues — less when the VM is
    /// stopping (Ctrl-C, `--timeout`, another vCPU's exit), so a caller
    /// checks its clock and asks again. Keeps a sleeping guest off the host
    /// CPU (the guest has no timer interrupt to wait for).
    pub const SLEEP: u16 = 0x610;
    /// Paravirtual random bytes: `out` (4 bytes) the guest-physical address
    /// of a [`crate::ConsoleDescriptor`]-shaped `{addr, len}` pair (below
    /// 4 GiB, in RAM); the VMM fills the `len` bytes at `addr` (in RAM, at
    /// most [`crate::RANDOM_MAX_LEN`]) from the host's `getrandom` during
    /// that one exit. A refused request leaves the buffer untouched and
    /// sets `len` to 0 in the descriptor, so the guest can tell.
    pub const RANDOM: u16 = 0x614;
    /// Paravirtual console for the workload's standard error (`write(2,
    /// …)`): the same [`crate::ConsoleDescriptor`] protocol as [`CONSOLE`],
    /// on a port of its own so that the VMM keeps stderr apart from stdout
    /// (as a host process's two pipes are). With
    /// [`crate::flags::CONSOLE_UART`] both streams share the one UART.
    pub const CONSOLE_STDERR: u16 = 0x618;
    /// Paravirtual standard input (`read(0, …)`): `out` (4 bytes) the
    /// guest-physical address of a [`crate::ConsoleDescriptor`]-shaped
    /// `{addr, len}` pair (below 4 GiB, in RAM). The vCPU thread blocks on
    /// the host — no spinning, no CPU — until the VMM has input for this VM
    /// or end of file, then writes at most `len` bytes (at most
    /// [`crate::STDIN_MAX_LEN`]) at `addr` and sets `len` to the count: 0
    /// is end of file, [`crate::STDIN_FAILED`] a refused request. When the
    /// VM is stopping (Ctrl-C, `--timeout`, another vCPU's exit) the wait
    /// ends at once and this vCPU does not run again.
    pub const STDIN: u16 = 0x61c;
    /// Reads from any port the VMM does not handle return all ones
    /// (`0xff` per byte); writes are ignored. Both are counted by the VMM.
    pub const UNHANDLED_READ_BYTE: u8 = 0xff;
}

/// Event codes for [`port::MARKER`].
pub mod event {
    /// The kernel's first instruction ran.
    pub const KERNEL_ENTRY: u32 = 0x01;
    /// The kernel finished its own initialisation.
    pub const KERNEL_READY: u32 = 0x02;
    /// The workload's first instruction is about to run (the "start marker"
    /// that startup figures are measured to).
    pub const WORKLOAD_START: u32 = 0x10;
    /// The workload exited (its status follows on [`crate::port::EXIT`]).
    pub const WORKLOAD_EXIT: u32 = 0x11;
    /// The exit probe ([`crate::BootInfo::exit_probe_iters`]) begins: its
    /// `out`s to [`crate::port::PING`] follow, nothing else in between.
    pub const EXIT_PROBE_START: u32 = 0x20;
    /// The exit probe's last `out` to [`crate::port::PING`] is done.
    pub const EXIT_PROBE_END: u32 = 0x21;
    /// First code free for guest-defined events.
    pub const USER_BASE: u32 = 0x100;
}

/// Exit status conventions for [`port::EXIT`].
pub mod status {
    /// Success.
    pub const SUCCESS: u32 = 0;
    /// Values below this are the workload's own exit code (0..=255).
    /// Values from here on are reserved for the kernel itself
    /// (e.g. `KERNEL_BASE + exception vector` for an unhandled fault).
    pub const KERNEL_BASE: u32 = 0x100;
    /// The kernel panicked (a Rust panic in the kernel).
    pub const KERNEL_PANIC: u32 = KERNEL_BASE + 0x100;
    /// The boot information is missing or of another ABI version.
    pub const KERNEL_BAD_BOOT_INFO: u32 = KERNEL_BASE + 0x101;
    /// There is no workload, or it is not a static x86-64 executable.
    pub const KERNEL_BAD_WORKLOAD: u32 = KERNEL_BASE + 0x102;
    /// The kernel ran out of guest memory before the workload started.
    pub const KERNEL_OUT_OF_MEMORY: u32 = KERNEL_BASE + 0x103;
}

/// GDT selectors the VMM's GDT provides — Linux's layout, because on
/// software KVM a user-mode `syscall` lands at LSTAR with CS = 0x33 and
/// SS = 0x2b whatever STAR says.
pub mod selector {
    /// 32-bit flat kernel code (GDT index 1).
    pub const KERNEL32_CS: u16 = 0x08;
    /// 64-bit kernel code (GDT index 2).
    pub const KERNEL_CS: u16 = 0x10;
    /// Kernel data (GDT index 3).
    pub const KERNEL_DS: u16 = 0x18;
    /// 32-bit user code, RPL 3 (GDT index 4).
    pub const USER32_CS: u16 = 0x23;
    /// User data, RPL 3 (GDT index 5).
    pub const USER_DS: u16 = 0x2b;
    /// 64-bit user code, RPL 3 (GDT index 6).
    pub const USER_CS: u16 = 0x33;
    /// 64-bit TSS, 16-byte descriptor (GDT indices 8 and 9).
    pub const TSS: u16 = 0x40;
    /// Number of 8-byte GDT slots in the VMM's GDT.
    pub const GDT_ENTRIES: usize = 10;
}

/// The hypervisor CPUID leaves the VMM sets (visible to ring-0 `cpuid`; on
/// software KVM ring-3 `cpuid` runs natively and shows the host's).
pub mod cpuid {
    /// Leaf 0x4000_0000: EAX = highest hypervisor leaf, EBX:ECX:EDX =
    /// [`SIGNATURE`].
    pub const HYPERVISOR_LEAF: u32 = 0x4000_0000;
    /// Leaf 0x4000_0001: EAX = [`crate::ABI_VERSION`], EBX = vCPU count.
    pub const VERSUS_INFO_LEAF: u32 = 0x4000_0001;
    /// The 12-byte hypervisor signature (EBX, ECX, EDX in that order).
    pub const SIGNATURE: [u8; 12] = *b"versusVMM\0\0\0";
}

/// The largest buffer [`port::CONSOLE`] accepts in one exit.
pub const CONSOLE_MAX_LEN: u64 = 64 * 1024;

/// The longest sleep one `out` to [`port::SLEEP`] asks for, in
/// microseconds (about 71 minutes: what fits in the 32-bit `out`).
pub const SLEEP_MAX_US: u64 = u32::MAX as u64;

/// The most bytes one `out` to [`port::RANDOM`] fills: one page, so that a
/// guest fills a user buffer page by page without ever crossing a
/// physical discontinuity.
pub const RANDOM_MAX_LEN: u64 = 4096;

/// The longest path in the initramfs ([`BootInfo::initrd_addr`]), in
/// bytes without the NUL: the VMM refuses an archive with a longer name,
/// and the kernel resolves paths (symbolic links expanded) in buffers of
/// this size, answering `ENAMETOOLONG` beyond it.
pub const INITRD_PATH_MAX: usize = 255;

/// The most bytes one `out` to [`port::STDIN`] reads: one page, as
/// [`RANDOM_MAX_LEN`], so that a piece never crosses a physical
/// discontinuity.
pub const STDIN_MAX_LEN: u64 = 4096;

/// The `len` the VMM writes back for a [`port::STDIN`] request it refused
/// (descriptor or buffer outside RAM, a host read error); a count can never
/// be this large.
pub const STDIN_FAILED: u64 = u64::MAX;

/// What the guest points [`port::CONSOLE`] at.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleDescriptor {
    /// Guest-physical address of the bytes.
    pub addr: u64,
    /// Number of bytes.
    pub len: u64,
}

/// One RAM region of the guest-physical address space.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemRegion {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl MemRegion {
    /// One past the last byte.
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// The boot information the VMM writes before the first instruction; its
/// guest-physical address arrives in RDI. All fields are little-endian and
/// naturally aligned; there is no implicit padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootInfo {
    /// [`BOOT_INFO_MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`].
    pub version: u32,
    /// `size_of::<BootInfo>()` as the VMM built it.
    pub size: u32,
    /// Number of vCPUs; all start at the ELF entry at once.
    pub vcpu_count: u32,
    /// Bits from [`flags`].
    pub flags: u32,
    /// TSC frequency in kHz (KVM_GET_TSC_KHZ), for turning `rdtsc` into time.
    pub tsc_khz: u64,
    /// How many entries of `mem_regions` are valid.
    pub mem_region_count: u32,
    /// Zero.
    pub _reserved0: u32,
    /// RAM regions, sorted by address, non-overlapping.
    pub mem_regions: [MemRegion; MAX_MEM_REGIONS],
    /// Lowest guest-physical address of the kernel's loaded segments.
    pub kernel_start: u64,
    /// One past the highest byte of the kernel's segments (incl. bss).
    pub kernel_end: u64,
    /// Guest-physical address of the workload ELF image (page aligned), as
    /// the VMM received it (not loaded: the kernel maps it in place).
    pub workload_addr: u64,
    /// Size of the workload image in bytes (0: none).
    pub workload_size: u64,
    /// Guest-physical address of the argv block: `argc` NUL-terminated
    /// strings back to back (argv\[0\] first).
    pub argv_addr: u64,
    /// Length of the argv block in bytes, NULs included.
    pub argv_len: u64,
    /// Number of strings in the argv block.
    pub argc: u32,
    /// Zero.
    pub _reserved1: u32,
    /// The PML4 the VMM built (= CR3 at entry).
    pub page_tables_addr: u64,
    /// Bytes of page tables the VMM built, contiguous from `page_tables_addr`.
    pub page_tables_size: u64,
    /// Guest-physical address of the VMM's GDT.
    pub gdt_addr: u64,
    /// Size of that GDT in bytes (limit + 1).
    pub gdt_size: u64,
    /// Base of the per-vCPU stack area: vCPU `i` owns
    /// `[stacks_addr + i * stack_size, stacks_addr + (i + 1) * stack_size)`.
    pub stacks_addr: u64,
    /// Size of one vCPU's stack in bytes.
    pub stack_size: u64,
    /// First byte of region 0 that the VMM left unused (page aligned).
    pub first_free_addr: u64,
    /// Exit probe: when non-zero, the bootstrap CPU, after
    /// [`event::KERNEL_READY`] and before the workload starts, writes
    /// [`event::EXIT_PROBE_START`], does this many `out`s to
    /// [`port::PING`] (at most [`EXIT_PROBE_MAX_ITERS`]), writes
    /// [`event::EXIT_PROBE_END`] and prints an `@kernel exitprobe` line
    /// with its own TSC measurement. 0: no probe.
    pub exit_probe_iters: u32,
    /// Zero.
    pub _reserved2: u32,
    /// Guest-physical address of the initramfs (page aligned): an SVR4
    /// "newc" cpio archive (`070701` headers, 4-byte alignment, ending in
    /// `TRAILER!!!`) that the VMM checked before placing it. The kernel
    /// reads it in place, read-only, as the root directory `/`.
    pub initrd_addr: u64,
    /// Size of the initramfs in bytes (0: none; every path is then
    /// `ENOENT`).
    pub initrd_size: u64,
}

impl BootInfo {
    /// True when magic, version and size match what this crate describes.
    pub const fn is_valid(&self) -> bool {
        self.magic == BOOT_INFO_MAGIC
            && self.version == ABI_VERSION
            && self.size as usize == core::mem::size_of::<BootInfo>()
    }

    /// The valid part of the memory map.
    pub fn regions(&self) -> &[MemRegion] {
        let n = if (self.mem_region_count as usize) < MAX_MEM_REGIONS {
            self.mem_region_count as usize
        } else {
            MAX_MEM_REGIONS
        };
        &self.mem_regions[..n]
    }

    /// Initial RSP of vCPU `index`: the top of its stack.
    pub const fn stack_top(&self, index: u32) -> u64 {
        self.stacks_addr + (index as u64 + 1) * self.stack_size
    }

    /// Whether [`flags::RUN_ON_EVERY_VCPU`] is set.
    pub const fn run_on_every_vcpu(&self) -> bool {
        self.flags & flags::RUN_ON_EVERY_VCPU != 0
    }

    /// Whether [`flags::CONSOLE_UART`] is set.
    pub const fn console_uart(&self) -> bool {
        self.flags & flags::CONSOLE_UART != 0
    }

    /// How many `out`s the exit probe makes: `exit_probe_iters`, clamped
    /// to [`EXIT_PROBE_MAX_ITERS`] (0: no probe).
    pub const fn exit_probe_iters(&self) -> u32 {
        if self.exit_probe_iters < EXIT_PROBE_MAX_ITERS {
            self.exit_probe_iters
        } else {
            EXIT_PROBE_MAX_ITERS
        }
    }
}

// The layout is the contract: pin it at compile time on both sides.
const _: () = assert!(core::mem::size_of::<MemRegion>() == 16);
const _: () = assert!(core::mem::size_of::<ConsoleDescriptor>() == 16);
const _: () = assert!(core::mem::size_of::<BootInfo>() == 304);
const _: () = assert!(core::mem::align_of::<BootInfo>() == 8);
const _: () = assert!(core::mem::offset_of!(BootInfo, vcpu_count) == 16);
const _: () = assert!(core::mem::offset_of!(BootInfo, tsc_khz) == 24);
const _: () = assert!(core::mem::offset_of!(BootInfo, mem_regions) == 40);
const _: () = assert!(core::mem::offset_of!(BootInfo, kernel_start) == 168);
const _: () = assert!(core::mem::offset_of!(BootInfo, argc) == 216);
const _: () = assert!(core::mem::offset_of!(BootInfo, page_tables_addr) == 224);
const _: () = assert!(core::mem::offset_of!(BootInfo, first_free_addr) == 272);
const _: () = assert!(core::mem::offset_of!(BootInfo, exit_probe_iters) == 280);
const _: () = assert!(core::mem::offset_of!(BootInfo, initrd_addr) == 288);

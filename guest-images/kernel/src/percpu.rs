//! Per-CPU state: one [`CpuArea`] per CPU, allocated at boot from zeroed
//! low memory.
//!
//! The area's first part is the *entry stack*: TSS.RSP0 and IST1 both point
//! at its top, so every exception and system call (from user or kernel
//! mode) finds its frame at the same place, immediately below the
//! [`PerCpu`] struct — the entry code gets from its frame to its CPU's
//! state with a constant offset, no `swapgs`, no memory load. The other
//! IST stacks (#DF, NMI, #MC) keep a pointer to the `PerCpu` just above
//! their top for the same purpose.
//!
//! Exceptions in kernel mode are always fatal here (the kernel never faults
//! on user memory: it translates user pointers first), so reusing the
//! entry stack's top for a kernel-mode fault can only overwrite a frame that
//! will never be returned to.

use core::ptr::addr_of_mut;

use versus_abi::{BootInfo, ConsoleDescriptor};

use crate::console::LineBuf;
use crate::fs::FsState;
use crate::gdt::Tss;
use crate::layout::{phys_to_virt, virt_to_phys};
use crate::memory;

/// Bytes of the entry stack (RSP0 = IST1).
pub const ENTRY_STACK_SIZE: usize = 16 * 1024;
/// Bytes of each of the #DF, NMI and #MC stacks.
pub const IST_STACK_SIZE: usize = 4096;
/// System-call numbers whose `-ENOSYS` answers are counted one by one.
pub const ENOSYS_SLOTS: usize = 512;

/// What the kernel knows about one CPU and the workload instance on it.
#[repr(C)]
pub struct PerCpu {
    /// Its own address (offset 0: the hardware `syscall` entry loads its
    /// stack from `gs:[0]`).
    pub self_ptr: u64,
    /// The user RSP during the hardware `syscall` entry (offset 8).
    pub scratch: u64,
    /// CPU index (= the vCPU index the VMM passed in RSI).
    pub cpu: u64,
    /// This instance's process id.
    pub pid: u64,
    /// The boot information (direct map).
    pub boot: *const BootInfo,
    /// Physical address of the instance's PML4.
    pub pml4: u64,
    /// Console: the 16550 UART instead of the paravirtual console.
    pub console_uart: bool,
    /// Set while a kernel-mode fault is being reported (a second one exits
    /// at once).
    pub in_fault: bool,
    /// This CPU's last console output did not end with a newline.
    pub mid_line: bool,
    /// Bit `fd` set: console descriptor `fd` (0, 1, 2) is open (the
    /// initramfs's descriptors are in `fs`).
    pub open_fds: u64,
    /// TSC → ns: multiplier (ns = tsc * mult >> 32).
    pub tsc_mult: u64,
    /// Start of the heap (`brk` cannot go below).
    pub brk_start: u64,
    /// The current program break.
    pub brk: u64,
    /// The heap is mapped up to here (page aligned).
    pub brk_mapped: u64,
    /// The next `mmap` address.
    pub mmap_next: u64,
    /// `-ENOSYS` answers in total.
    pub enosys_total: u64,
    /// `-ENOSYS` answers to numbers ≥ [`ENOSYS_SLOTS`].
    pub enosys_other: u64,
    /// `-ENOSYS` answers per system-call number.
    pub enosys: [u32; ENOSYS_SLOTS],
    /// The paravirtual console request (must lie below 4 GiB: it does, low
    /// memory).
    pub console: ConsoleDescriptor,
    /// The paravirtual random-bytes request (below 4 GiB, as `console`).
    pub random: ConsoleDescriptor,
    /// The kernel's own output line.
    pub line: LineBuf,
    /// Open files of the initramfs and path scratch (`fs.rs`).
    pub fs: FsState,
    /// This CPU's task-state segment.
    pub tss: Tss,
}

/// The top of an IST stack: the pointer to its CPU's [`PerCpu`].
#[repr(C, align(16))]
pub struct IstStack {
    stack: [u8; IST_STACK_SIZE - 16],
    /// IST points here; the exception frame ends here.
    percpu: u64,
    _pad: u64,
}

/// Everything one CPU owns, in one allocation.
#[repr(C, align(4096))]
pub struct CpuArea {
    /// The entry stack; its top is `percpu`.
    pub entry_stack: [u8; ENTRY_STACK_SIZE],
    /// The per-CPU state (page aligned).
    pub percpu: PerCpu,
    /// Stack for double faults (IST2).
    pub df: IstStack,
    /// Stack for NMIs (IST3).
    pub nmi: IstStack,
    /// Stack for machine checks (IST4).
    pub mc: IstStack,
}

impl CpuArea {
    /// Allocates (zeroed) and fills in the area of CPU `cpu`. Returns its
    /// `PerCpu`, or `None` when low memory is exhausted.
    pub fn allocate(cpu: u32, boot: *const BootInfo) -> Option<&'static mut PerCpu> {
        let pa = memory::alloc_kernel(size_of::<CpuArea>() as u64)?;
        let area = phys_to_virt(pa) as *mut CpuArea;
        // SAFETY: `area` is a fresh, zeroed, page-aligned allocation of
        // `size_of::<CpuArea>()` bytes that no one else references, and
        // all-zero is a valid `CpuArea`.
        let area = unsafe { &mut *area };
        let percpu_addr = addr_of_mut!(area.percpu) as u64;
        area.df.percpu = percpu_addr;
        area.nmi.percpu = percpu_addr;
        area.mc.percpu = percpu_addr;
        let pc = &mut area.percpu;
        pc.self_ptr = percpu_addr;
        pc.cpu = u64::from(cpu);
        pc.pid = 1 + u64::from(cpu);
        pc.boot = boot;
        pc.open_fds = 0b111;
        let tss = &mut pc.tss;
        tss.rsp0 = percpu_addr;
        tss.ist1 = percpu_addr;
        tss.ist2 = addr_of_mut!(area.df.percpu) as u64;
        tss.ist3 = addr_of_mut!(area.nmi.percpu) as u64;
        tss.ist4 = addr_of_mut!(area.mc.percpu) as u64;
        tss.iomap_base = size_of::<Tss>() as u16;
        Some(&mut area.percpu)
    }
}

impl PerCpu {
    /// The boot information.
    pub fn boot(&self) -> &'static BootInfo {
        // SAFETY: set at allocation to the VMM's boot information (direct
        // map), which nothing writes after boot.
        unsafe { &*self.boot }
    }

    /// Physical address of a field of this struct (it lives in the direct
    /// map).
    pub fn phys_of<T>(&self, field: *const T) -> u64 {
        virt_to_phys(field as u64)
    }
}

// The entry code in `entry.rs` relies on these offsets.
const _: () = assert!(core::mem::offset_of!(PerCpu, self_ptr) == 0);
const _: () = assert!(core::mem::offset_of!(PerCpu, scratch) == 8);
const _: () = assert!(core::mem::offset_of!(CpuArea, percpu) == ENTRY_STACK_SIZE);

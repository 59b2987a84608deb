//! versus-kernel: the tiny guest kernel the versus VMM boots to run the
//! shared workload — a real, small kernel, built for a machine whose ring 0
//! is slow.
//!
//! # Who does what
//!
//! | the VMM (`hypervisor/`), natively, like firmware | this kernel, like a kernel |
//! |---|---|
//! | long mode, identity page tables, a GDT with Linux's selectors | its own GDT + per-CPU TSS (IST stacks) and a constant IDT |
//! | loads this ELF at its physical addresses | the higher half: direct map of all RAM, kernel image at −2 GiB |
//! | places the workload ELF file (as an initrd: *not* loaded) and argv | maps the workload ELF *in place*, user/supervisor separation, NX |
//! | places the `--initrd` cpio archive, checked | serves its files read-only, in place ([`fs`]) |
//! | one stack per vCPU, boot information (`versus_abi::BootInfo`) | per-CPU state and address spaces; one workload instance per CPU |
//! | starts every vCPU at the entry point at once | the system-call entry (both worlds), Linux system calls, faults |
//!
//! Guest ring 0 on the project's machines is *emulated* (`kvm_pvm`, see
//! `docs/en/platforms.md`): roughly 0.5–2 µs per instruction, on top of a
//! fault/`iretq` round trip of tens of µs. So the kernel is built to execute
//! few ring-0 instructions: the identity tables come from the VMM and the
//! IDT from the compiler, memory is not cleared (free RAM is zero and frames
//! are never reused), the workload is mapped rather than copied, anonymous
//! memory is mapped eagerly with 2 MiB pages, and a system call is one
//! short, uniform path (`getpid`: 31 instructions in ring 0). Its ring-0
//! code uses only instructions the emulator accepts — no SSE beyond plain
//! moves, no x87, no `popcnt`… — which `images/tests/kernel_disassembly.rs`
//! checks on every build.
//!
//! # Address space (per CPU)
//!
//! See [`layout`] for the table: the user half holds the workload as
//! linked (0x400000…), its heap, an mmap area at `0x7f00_0000_0000` and a
//! 2 MiB stack under `0x7fff_ffe0_0000` with the argv block mapped
//! read-only above it. The kernel half holds the direct map at
//! `0xffff_8000_0000_0000` (PML4\[256\], the VMM's identity PDPT reused) and
//! the kernel image at `0xffff_ffff_8000_0000 + physical` (PML4\[511\],
//! `-C code-model=kernel`), as Linux lays it out.
//!
//! # Boot, per CPU
//!
//! 1. [`boot`]: the identity-mapped entry stub — `KERNEL_ENTRY` marker, the
//!    two kernel PML4 entries, jump high.
//! 2. [`kernel_main`]: per-CPU area ([`percpu`]), GDT + TSS ([`gdt`]), IDT
//!    ([`idt`]), system-call MSRs ([`cpu`]) — `KERNEL_READY` marker; on
//!    CPU 0, if the VMM asked for it, the exit probe ([`probe`]).
//! 3. [`process::start`]: a fresh PML4, the ELF image ([`elf`]), argv, the
//!    stack with argc/argv/auxv, `WORKLOAD_START` marker, `iretq`.
//!
//! # Entry paths
//!
//! [`entry`]: every exception vector and the `syscall` instruction. On
//! hardware KVM `syscall` enters ring 0 at LSTAR; on the software backend
//! it stays in ring 3 and faults fetching the supervisor-only LSTAR page —
//! the page-fault entry recognises that fault as a system call. Both join
//! one path into [`syscall::dispatch`] and return with `iretq`.
//!
//! # Output
//!
//! `@kernel <what> cpu=<n> key=value…` lines on the console ([`console`]):
//! `fault` (a user exception, with signal, RIP, address, error code),
//! `enosys` (system calls answered `-ENOSYS`, with their numbers), `exit`,
//! `panic` (a kernel-mode exception), `error` (the workload cannot start),
//! `exitprobe` (the exit probe's own measurement).

#![no_std]
#![no_main]

// memcpy & co., which `core` calls (this crate only links them in).
extern crate versus_guest_rt;

mod boot;
mod console;
mod cpu;
mod elf;
mod entry;
mod errno;
mod fault;
mod fs;
mod gdt;
mod idt;
mod layout;
mod memory;
mod mm;
mod paging;
mod paravirt;
mod percpu;
mod probe;
mod process;
mod stdin;
mod syscall;
mod sysinfo;
mod systime;
mod time;
mod uaccess;

use versus_abi::{BootInfo, event, status};

use crate::console::Line;
use crate::layout::MAX_CPUS;
use crate::percpu::CpuArea;

/// Every CPU's first Rust code, in the higher half, called by the entry
/// stub with the boot information (direct-map address) and the CPU index.
///
/// # Safety
/// Only the entry stub calls it: `boot` is the VMM's `BootInfo` (through
/// the direct map), `cpu` the vCPU index the VMM passed.
pub unsafe extern "C" fn kernel_main(boot: *const BootInfo, cpu: u64) -> ! {
    // SAFETY: the caller's contract; the magic/version/size check follows.
    let info = unsafe { &*boot };
    if !info.is_valid() || cpu >= MAX_CPUS as u64 {
        cpu::exit_vm(status::KERNEL_BAD_BOOT_INFO);
    }
    memory::init(info);
    let Some(pc) = CpuArea::allocate(cpu as u32, boot) else {
        cpu::exit_vm(status::KERNEL_OUT_OF_MEMORY);
    };
    pc.console_uart = info.console_uart();
    pc.tsc_mult = time::multiplier(info.tsc_khz);
    gdt::load(pc);
    idt::load();
    cpu::init_msrs(pc);
    cpu::marker(event::KERNEL_READY);
    // The bootstrap CPU alone: one probe per boot, whatever the vCPU count.
    if cpu == 0 {
        probe::run(pc, info.exit_probe_iters());
    }
    process::start(pc)
}

/// A kernel bug: `@kernel panic cpu=<n> file=<file> line=<line>` (no
/// message: formatting it would pull `core::fmt` into ring 0), then exit
/// with `status::KERNEL_PANIC`.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // KERNEL_GS_BASE holds this CPU's PerCpu once it is set up.
    let pc = cpu::rdmsr(0xc000_0102) as *mut percpu::PerCpu;
    if !pc.is_null() {
        // SAFETY: a non-zero KERNEL_GS_BASE is this CPU's PerCpu (cpu.rs).
        let pc = unsafe { &mut *pc };
        if !pc.in_fault {
            pc.in_fault = true;
            let mut line = Line::new(pc, "panic");
            if let Some(location) = info.location() {
                line.field("file")
                    .text(location.file())
                    .field("line")
                    .dec(u64::from(location.line()));
            }
            line.emit();
        }
    }
    cpu::exit_vm(status::KERNEL_PANIC)
}

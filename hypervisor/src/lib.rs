//! A small KVM VMM on the rust-vmm crates: a VM is a process that owns guest
//! memory (several regions, with a gap, like real RAM around the PCI hole)
//! and vCPU threads; the guest runs its own kernel, and the host only sees
//! *exits* — which this crate counts, times and reports.
//!
//! # The boot path
//!
//! [`Vm::run`] calls these steps in order; the modules, comments and `docs/`
//! use the same numbers.
//!
//! 1. **Open `/dev/kvm`**, check API version 12 and the capabilities used
//!    ([`kvm`]). A missing device says "load kvm_intel/kvm_amd", a permission
//!    error "run as root or join the kvm group".
//! 2. **Create the VM and its memory** ([`memory`]): at least two regions
//!    with a gap — by default half of `--mem` at 0 and half at 4 GiB, never
//!    in the MMIO hole at 3–4 GiB — each one `MAP_NORESERVE` mapping
//!    (untouched guest memory costs no host RAM) and one KVM memory slot.
//! 3. **Load the kernel ELF** ([`loader`]) with linux-loader at its
//!    `p_paddr` (≥ 1 MiB), then place the workload image (bytes, not
//!    loaded: the guest kernel maps it in place, as an initrd), its argv and
//!    one stack per vCPU after it, page aligned.
//! 4. **Write what firmware would** ([`gdt`], [`paging`], [`bootinfo`]): a GDT
//!    with Linux's selectors, identity-mapped 4-level page tables over every
//!    region, and the `versus_abi::BootInfo` struct (memory map, vCPU count,
//!    TSC kHz, workload and argv, tables, stacks) at
//!    [`layout::BOOT_INFO_START`].
//! 5. **Create N vCPUs** ([`vcpu`], [`cpuid`], [`cpu`]): KVM's supported
//!    CPUID with a `versusVMM` hypervisor leaf and per-vCPU APIC ids; 64-bit
//!    long mode set directly (CR0/CR3/CR4/EFER, segments from the GDT);
//!    RIP = ELF entry, RDI = boot info, RSI = vCPU index, RSP = its stack.
//!    There is no in-kernel irqchip: application processors start in this
//!    same state at once (no INIT/SIPI) and HLT exits to the VMM.
//!    Optionally (`--count-instructions`) every vCPU is single-stepped, an
//!    exit per instruction, to count how much guest kernel-mode work a
//!    boot or a system call is.
//! 6. **Run** every vCPU on its own thread and handle exits ([`exits`];
//!    the state the vCPU threads keep and share is [`vm_state`]):
//!    the 16550 UART ([`devices::serial`]), the boot-marker, exit,
//!    paravirtual-console and ping ports of `versus_abi::port`, HLT,
//!    shutdown (guest reset), internal errors, unknown ports/MMIO (all ones).
//!    A watchdog stops a guest that runs past its timeout. With
//!    [`VmConfig::exit_probe`] the guest kernel makes N ping exits before
//!    its workload, timed on both sides ([`exit_probe`]).
//! 7. **Tear down and report** ([`report`]): every thread joined, the VM
//!    closed, memory unmapped; a [`VmReport`] with the outcome, phase
//!    durations, per-vCPU markers and exit accounting, console output and
//!    memory figures.
//!
//! # Example
//!
//! ```no_run
//! use hypervisor::{Outcome, Vm, VmConfig};
//! let kernel = std::fs::read("kernel.elf")?;
//! let report = Vm::run(&VmConfig::new(kernel).vcpus(2).memory_size(512 << 20))?;
//! if let Outcome::Exited { status, .. } = report.outcome {
//!     println!("guest exited with {status}; {} exits", report.exits.total().count);
//! }
//! print!("{}", report.console.uart.head);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The software KVM backend
//!
//! On the project's machines KVM is `kvm_pvm`: guest ring 3 runs natively,
//! guest ring 0 is emulated instruction by instruction (~1 µs each), and some
//! ring-0 instructions (`popcnt`, `int3`, SSE arithmetic, …) end the VM with
//! an internal error. Reports carry [`kvm::HostInfo`] so numbers are never
//! mistaken for hardware numbers.

pub mod bootinfo;
pub mod config;
pub mod console;
pub mod cpu;
pub mod cpuid;
pub mod devices;
pub mod exit_probe;
pub mod exits;
pub mod gdt;
pub mod initramfs;
pub mod kvm;
pub mod layout;
pub mod linux;
pub mod loader;
pub mod memory;
pub mod paging;
pub mod report;
pub mod status;
pub mod vcpu;
pub mod vm;
pub mod vm_state;

#[cfg(test)]
pub(crate) mod test_utils;

pub use config::{ConfigError, MAX_EXIT_PROBE_ITERS, MemoryConfig, Trace, VmConfig};
pub use exit_probe::ExitProbeReport;
pub use exits::{ExitCount, ExitKind, ExitStats, TraceEvent};
pub use report::{InstructionCount, Outcome, VmReport};
pub use status::GuestStatus;
pub use versus_abi as abi;
pub use vm::{Error, Vm};

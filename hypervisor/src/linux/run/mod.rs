//! A first boot of a real Linux kernel in versus' VMM, reporting how far it
//! got: the console's milestones with their times, its last lines, the
//! exits by reason, the assists, and how the run ended (for an emulation
//! failure the guest RIP and the instruction bytes there).
//!
//! The machine: KVM's in-kernel irqchip (PIC, I/O APIC, local APICs) and
//! PIT (`KVM_CREATE_IRQCHIP`, `KVM_CREATE_PIT2`), the 16550 on 0x3f8 with
//! its IRQ 4 raised through an irqfd (the kernel's own console polls the
//! UART, but the tty `/init` writes to waits for the transmit interrupt;
//! no input is offered), the CMOS clock on 0x70/0x71 ([`Rtc`]), the
//! i8042's reset line (an `out` of 0xfe to port 0x64 ends the run as a
//! reboot), CPUID from
//! `KVM_GET_SUPPORTED_CPUID` with per-vCPU APIC ids, and on a software
//! backend CX16, XSAVE and KVM's hypercall features hidden (a `vmcall`
//! never returns there) and the PIT's missed ticks not reinjected.
//! vCPU 0 starts at the kernel's 64-bit
//! entry (long mode, identity page tables, RSI = the zero page); the
//! others wait, as on a PC, for the INIT/SIPI Linux sends them.
//!
//! The initramfs (the workload as `/init`, or the user's) goes high in low
//! RAM ([`initrd::place`]); the task's words follow `--` on the command
//! line, which Linux hands to `/init` as its arguments. On a software
//! backend the run stops when the console says "Run /init as init
//! process": the boot is done, and user space could not make a system call
//! there. Elsewhere `/init` runs to its end, and its exit status comes back
//! from the kernel's "Attempted to kill init! exitcode=…" panic line.
//!
//! Assists (each counted): an `int3` the emulator refuses becomes the
//! `#BP` it would raise (injected with RIP past the `int3`, as the trap
//! leaves it); an `fwait` is skipped (no x87 exception is ever pending:
//! the kernel does not unmask them).

mod devices;
mod report;
mod setup;
mod supervise;
mod vcpu_loop;

pub use report::{LinuxEnd, LinuxRunReport, VcpuActivity, VcpuState, hex};
pub use setup::linux_cpuid;
pub use supervise::{STALL_SILENCE, STALL_SILENCE_OTHER_KERNEL};

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vm_superio::Serial;
use vmm_sys_util::eventfd::EventFd;

use super::milestones::BootProgress;
use super::{EntryProtocol, LinuxError, cmdline, image, initrd};
use crate::console::ConsoleObserver;
use crate::devices::rtc::Rtc;
use crate::exits::ExitStats;
use crate::kvm;
use crate::memory::{self, MemoryLayout};
use crate::vcpu;
use devices::{COM1_GSI, Devices, IrqLine, ProgressSink, Uart};
use supervise::{RunShared, VCPU_THREAD_PREFIX, lock, supervise};
use vcpu_loop::vcpu_loop;

/// What to boot, and how.
#[derive(Debug, Clone)]
pub struct LinuxRunConfig {
    /// The kernel file's bytes (bzImage or ELF vmlinux).
    pub kernel: Vec<u8>,
    /// The user's command line, after versus' defaults.
    pub cmdline: Option<String>,
    /// vCPUs.
    pub vcpus: u32,
    /// Guest RAM in bytes (split as for the tiny kernel).
    pub memory: u64,
    /// How long the guest may run.
    pub timeout: Duration,
    /// How long a boot may show no progress (no console output, no exit to
    /// versus) while its vCPUs could run before it ends as stalled:
    /// [`STALL_SILENCE`] for the minimal kernel,
    /// [`STALL_SILENCE_OTHER_KERNEL`] for a distribution's, shorter where a
    /// test wants a quick end.
    pub stall_silence: Duration,
    /// Sees every console write as it happens (for printing it live), as
    /// [`crate::VmConfig::console_observer`] does for the tiny kernel.
    pub console_observer: Option<ConsoleObserver>,
    /// Stop the guest when this becomes true (versus' Ctrl-C/SIGTERM flag).
    pub stop_flag: Option<&'static AtomicBool>,
    /// The initramfs archive (versus' [`initrd::workload_archive`] or the
    /// user's, compressed or not: the kernel unpacks it).
    pub initrd: Option<Vec<u8>>,
    /// Arguments for `/init` (the task and its arguments), passed after
    /// `--` on the command line.
    pub init_args: Vec<String>,
}

/// Boots `config`'s kernel until it ends, panics, fails or times out.
pub fn boot(config: &LinuxRunConfig) -> Result<LinuxRunReport, LinuxError> {
    // 1. The kernel and the memory layout, checked before KVM is touched.
    let layout = MemoryLayout::split(config.memory).map_err(LinuxError::Memory)?;
    let image = image::parse(&config.kernel)?;
    let launch = Instant::now();
    // 2. KVM, its backend, and the command line chosen for that backend
    //    (with `/init`'s arguments after `--`).
    let kvm = kvm::open().map_err(LinuxError::Kvm)?;
    let host = kvm::host_info(&kvm);
    let backend = host.backend_kind.clone();
    let mut line = cmdline::compose(&backend, config.cmdline.as_deref());
    if config.initrd.is_some() {
        line.push(' ');
        line.push_str(&initrd::init_arguments(&config.init_args)?);
    }
    let defaults = cmdline::defaults(&backend);
    vcpu::check_count(config.vcpus, host.max_vcpus).map_err(LinuxError::vcpu)?;
    // 3. Guest memory, then the VM with its irqchip and PIT. `mem` is
    //    declared first so that the VM (and its memory slots) goes first.
    let mem;
    let vm = setup::create_vm(&kvm, backend.is_software())?;
    mem = memory::create_guest_memory(&layout).map_err(LinuxError::Memory)?;
    memory::register_slots(&vm, &mem).map_err(LinuxError::Memory)?;
    // 4. The initramfs, the kernel, the command line, the MP table and the
    //    zero page with versus' e820 map.
    let ramdisk = match &config.initrd {
        Some(archive) => Some(setup::place_initrd(
            &mem,
            &layout,
            image.setup_header.as_ref(),
            archive,
        )?),
        None => None,
    };
    let boot = super::load(
        &mem,
        &layout,
        &image,
        &line,
        config.vcpus,
        ramdisk,
        EntryProtocol::Linux64,
    )?;
    setup::check_initrd(ramdisk, &boot)?;
    // 5. The GDT and identity page tables of the 64-bit entry, and the
    //    vCPUs (vCPU 0 at the entry; the others wait for INIT/SIPI).
    let page_tables = setup::write_long_mode_tables(&mem, &layout)?;
    let fds = setup::create_vcpus(
        &kvm,
        &vm,
        config.vcpus,
        backend.is_software(),
        &boot,
        page_tables,
    )?;
    vcpu::install_kick_handler().map_err(LinuxError::vcpu)?;

    let shared = Arc::new(RunShared {
        launch,
        stop: AtomicBool::new(false),
        end: Mutex::new(None),
        progress: Mutex::new(BootProgress::default()),
        assists: Mutex::new(BTreeMap::new()),
        stop_at_init: backend.is_software(),
        watch: Default::default(),
    });
    // 6. The devices: the 16550 (its IRQ 4 through an irqfd) and the RTC.
    let irq = EventFd::new(libc::EFD_NONBLOCK)
        .map_err(|e| LinuxError::Setup(format!("the UART's eventfd: {e}")))?;
    vm.register_irqfd(&irq, COM1_GSI)
        .map_err(|e| LinuxError::Ioctl("KVM_IRQFD", e))?;
    let rtc = Arc::new(Mutex::new(Rtc::default()));
    let uart: Arc<Mutex<Uart>> = Arc::new(Mutex::new(Serial::new(
        IrqLine(irq),
        ProgressSink {
            shared: shared.clone(),
            observer: config.console_observer.clone(),
        },
    )));
    // 7. One thread per vCPU, watched by the supervisor until the run ends.
    let setup = launch.elapsed();
    let mut handles: Vec<JoinHandle<ExitStats>> = Vec::with_capacity(fds.len());
    for (index, fd) in fds.into_iter().enumerate() {
        let devices = Devices {
            uart: uart.clone(),
            rtc: rtc.clone(),
        };
        let (run_shared, mem) = (shared.clone(), mem.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("{VCPU_THREAD_PREFIX}{index}"))
            .spawn(move || vcpu_loop(fd, index as u32, &run_shared, &devices, &mem));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                shared.finish(LinuxEnd::VcpuError {
                    vcpu: index as u32,
                    message: format!("spawning its thread: {e}"),
                });
                break;
            }
        }
    }
    supervise(
        &shared,
        &handles,
        config.timeout,
        config.stall_silence,
        config.stop_flag,
    );
    // 8. The exits of every vCPU, the memory the guest touched, then
    //    teardown (the UART's irqfd before the VM, the VM before its memory).
    let mut exits = ExitStats::default();
    for h in handles {
        // A vCPU thread that panicked has nothing more to report.
        if let Ok(stats) = h.join() {
            exits.merge(&stats);
        }
    }
    let elapsed = launch.elapsed();
    // Whatever the kernel touched, as resident host pages; an unreadable
    // figure (no /proc/self/pagemap) counts as none.
    let memory_touched = memory::resident_bytes(&mem)
        .map(|per_region| per_region.iter().sum())
        .unwrap_or(0);
    let process_rss = memory::process_rss();
    let teardown_start = Instant::now();
    drop(uart);
    drop(vm);
    drop(mem);
    let teardown = teardown_start.elapsed();
    let end = lock(&shared.end).clone().unwrap_or(LinuxEnd::Timeout);
    let mut progress = std::mem::take(&mut *lock(&shared.progress));
    progress.finish(elapsed);
    Ok(LinuxRunReport {
        backend,
        format: image.format,
        entry: boot.protocol,
        cmdline: line,
        defaults,
        end,
        milestones: progress.milestones(),
        last_lines: progress.last_lines().map(str::to_owned).collect(),
        console_lines: progress.total_lines(),
        workload_lines: progress.workload_lines().to_vec(),
        exits,
        assists: std::mem::take(&mut *lock(&shared.assists)),
        elapsed,
        setup,
        teardown,
        process_rss,
        memory_touched,
        initrd_size: config.initrd.as_ref().map_or(0, |a| a.len() as u64),
    })
}

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
//! backend CX16 and XSAVE hidden. vCPU 0 starts at the kernel's 64-bit
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

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES, KVM_PIT_SPEAKER_DUMMY, kvm_pit_config};
use kvm_ioctls::{VcpuExit, VcpuFd};
use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

use super::milestones::{BootProgress, InitStatus, Milestone};
use super::walk::read_virt;
use super::{EntryProtocol, KernelFormat, LinuxError, cmdline, image, initrd};
use crate::console::{ConsoleObserver, ConsoleStream, ConsoleWrite};
use crate::devices::rtc::Rtc;
use crate::exits::{ExitKind, ExitStats};
use crate::kvm::{self, KvmBackend};
use crate::layout::{KERNEL_START, PAGE_TABLES_END, PAGE_TABLES_START};
use crate::memory::{self, GuestMem, MemoryLayout};
use crate::paging::IdentityMap;
use crate::{cpu, gdt, vcpu};

/// COM1's first port and its 8 registers.
const COM1: u16 = 0x3f8;
const COM1_PORTS: u16 = 8;
/// COM1's interrupt line: ISA IRQ 4, which KVM's in-kernel irqchip routes
/// to GSI 4 (the MP table's interrupt entries say the same to Linux).
const COM1_GSI: u32 = 4;
/// The i8042 command port; 0xfe pulses the CPU reset line.
const I8042_COMMAND: u16 = 0x64;
const I8042_RESET: u8 = 0xfe;
/// KVM_INTERNAL_ERROR_EMULATION.
const SUBERROR_EMULATION: u32 = 1;
/// Opcodes versus assists with.
const INT3: u8 = 0xcc;
const FWAIT: u8 = 0x9b;
/// The #BP vector.
const BP_VECTOR: u8 = 3;
/// Bytes of an x86 instruction at most.
const INSN_MAX: usize = 15;
/// Where KVM's VMX wants its real-mode TSS (three pages just below the
/// BIOS at the top of 4 GiB, as QEMU and Firecracker place it): the other
/// CPUs start in real mode.
const KVM_TSS_ADDRESS: usize = 0xfffb_d000;
/// CPUID.1:ECX bits hidden on a software backend: CX16 (cmpxchg16b) and
/// XSAVE/OSXSAVE (xrstor), which its emulator refuses.
const CPUID1_ECX_HIDE: u32 = (1 << 13) | (1 << 26) | (1 << 27);
/// How long the console keeps printing after "Kernel panic" before the
/// run ends (the panic's own lines follow it).
const PANIC_GRACE: Duration = Duration::from_secs(2);
/// How often the supervisor looks at the run (and re-kicks vCPUs).
const POLL: Duration = Duration::from_millis(20);

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

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinuxEnd {
    /// The timeout passed.
    Timeout,
    /// versus was asked to stop (Ctrl-C, SIGTERM).
    Interrupted,
    /// The kernel panicked (its lines are in the console).
    Panic,
    /// The guest reset the machine through the i8042.
    Reboot,
    /// The console said "Run /init as init process" on a backend where
    /// Linux user space cannot make system calls: versus stops there.
    InitReached,
    /// `/init` ended (the kernel's "Attempted to kill init!" panic line).
    InitEnded(InitStatus),
    /// Shutdown (triple fault).
    Shutdown {
        /// The vCPU.
        vcpu: u32,
        /// Its RIP, if readable.
        rip: Option<u64>,
    },
    /// The emulator refused an instruction versus does not assist with.
    EmulationFailure {
        /// The vCPU.
        vcpu: u32,
        /// Its RIP.
        rip: u64,
        /// The bytes at RIP (read through the guest's page tables).
        bytes: Vec<u8>,
    },
    /// Another KVM internal error.
    InternalError {
        /// The vCPU.
        vcpu: u32,
        /// `kvm_run.internal.suberror`.
        suberror: u32,
    },
    /// KVM_RUN failed, or KVM reported an exit versus cannot continue from.
    VcpuError {
        /// The vCPU.
        vcpu: u32,
        /// What happened.
        message: String,
    },
}

impl std::fmt::Display for LinuxEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinuxEnd::Timeout => write!(f, "the timeout passed"),
            LinuxEnd::Interrupted => write!(f, "versus was interrupted"),
            LinuxEnd::Panic => write!(f, "the kernel panicked"),
            LinuxEnd::Reboot => write!(f, "the guest rebooted (i8042 reset)"),
            LinuxEnd::InitReached => write!(f, "the boot reached \"Run /init as init process\""),
            LinuxEnd::InitEnded(InitStatus::Exited(code)) => {
                write!(f, "/init exited with status {code}")
            }
            LinuxEnd::InitEnded(InitStatus::Signaled(signal)) => {
                write!(f, "/init was killed by signal {signal}")
            }
            LinuxEnd::Shutdown { vcpu, rip } => match rip {
                Some(rip) => write!(f, "vCPU {vcpu} shut down (triple fault) at RIP {rip:#x}"),
                None => write!(f, "vCPU {vcpu} shut down (triple fault)"),
            },
            LinuxEnd::EmulationFailure { vcpu, rip, bytes } => write!(
                f,
                "vCPU {vcpu}: KVM could not emulate the instruction at RIP {rip:#x} (bytes {})",
                hex(bytes)
            ),
            LinuxEnd::InternalError { vcpu, suberror } => {
                write!(f, "vCPU {vcpu}: KVM internal error, suberror {suberror}")
            }
            LinuxEnd::VcpuError { vcpu, message } => write!(f, "vCPU {vcpu}: {message}"),
        }
    }
}

/// Bytes as `cc 9b …`.
pub fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "unreadable".into();
    }
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a Linux boot got to.
#[derive(Debug)]
pub struct LinuxRunReport {
    /// The KVM backend.
    pub backend: KvmBackend,
    /// What the kernel file was.
    pub format: KernelFormat,
    /// The entry protocol the boot used.
    pub entry: EntryProtocol,
    /// The command line the kernel got.
    pub cmdline: String,
    /// The defaults in it, with their reasons (for `--trace`).
    pub defaults: Vec<cmdline::Param>,
    /// How it ended.
    pub end: LinuxEnd,
    /// Milestones seen, with their time since launch.
    pub milestones: Vec<(Milestone, Duration)>,
    /// The console's last lines.
    pub last_lines: Vec<String>,
    /// Console lines in all.
    pub console_lines: u64,
    /// Exits by reason, with the host time spent on them, every vCPU's
    /// together (the tiny kernel's accounting, [`ExitStats`]).
    pub exits: ExitStats,
    /// Assists by instruction.
    pub assists: BTreeMap<&'static str, u64>,
    /// Launch to the end of the run.
    pub elapsed: Duration,
    /// Guest memory the run touched (resident in the host), in bytes.
    pub memory_touched: u64,
    /// The initramfs' size in bytes (0 without one).
    pub initrd_size: u64,
}

/// The console writer: the boot progress, and the observer (live output).
#[derive(Debug)]
struct ProgressSink {
    shared: Arc<RunShared>,
    observer: Option<ConsoleObserver>,
}

impl Write for ProgressSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let at = self.shared.launch.elapsed();
        let end = {
            let mut progress = lock(&self.shared.progress);
            progress.push(buf, at);
            if let Some(status) = progress.init_status() {
                Some(LinuxEnd::InitEnded(status))
            } else if self.shared.stop_at_init && progress.time_of(Milestone::RunInit).is_some() {
                Some(LinuxEnd::InitReached)
            } else {
                None
            }
        };
        if let Some(end) = end {
            self.shared.finish(end);
        }
        if let Some(observer) = &self.observer {
            observer.observe(ConsoleWrite {
                vcpu: None,
                stream: ConsoleStream::Uart,
                bytes: buf,
            });
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the vCPU threads and the supervisor share.
#[derive(Debug)]
struct RunShared {
    launch: Instant,
    stop: AtomicBool,
    end: Mutex<Option<LinuxEnd>>,
    progress: Mutex<BootProgress>,
    assists: Mutex<BTreeMap<&'static str, u64>>,
    /// End the run at "Run /init" (a software backend).
    stop_at_init: bool,
}

/// The UART's interrupt line: an eventfd KVM's irqchip listens on
/// (`KVM_IRQFD`), so a write raises COM1's GSI without a trip through the
/// VM file descriptor.
#[derive(Debug)]
struct IrqLine(EventFd);

impl Trigger for IrqLine {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

type Uart = Serial<IrqLine, vm_superio::serial::NoEvents, ProgressSink>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RunShared {
    fn finish(&self, end: LinuxEnd) {
        let mut slot = lock(&self.end);
        if slot.is_none() {
            *slot = Some(end);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The CPUID one vCPU gets: KVM's supported table (KVM's own leaves kept,
/// so Linux finds kvm-clock), the vCPU's APIC id in leaves 1 and 0xb, and on
/// a software backend CX16 and XSAVE hidden.
pub fn linux_cpuid(supported: &CpuId, index: u32, software: bool) -> CpuId {
    let mut table = supported.clone();
    for entry in table.as_mut_slice() {
        match entry.function {
            1 => {
                entry.ebx = (entry.ebx & 0x00ff_ffff) | (index << 24);
                if software {
                    entry.ecx &= !CPUID1_ECX_HIDE;
                }
            }
            0xb => entry.edx = index,
            0xd if software => {
                entry.eax = 0;
                entry.ebx = 0;
                entry.ecx = 0;
                entry.edx = 0;
            }
            _ => {}
        }
    }
    table
}

/// Boots `config`'s kernel until it ends, panics, fails or times out.
pub fn boot(config: &LinuxRunConfig) -> Result<LinuxRunReport, LinuxError> {
    let layout = MemoryLayout::split(config.memory).map_err(LinuxError::Memory)?;
    let image = image::parse(&config.kernel)?;
    let launch = Instant::now();
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
    let mem;
    let vm = kvm
        .create_vm()
        .map_err(|e| LinuxError::Ioctl("KVM_CREATE_VM", e))?;
    // VMX runs the other CPUs' real-mode start through this TSS; other
    // backends do not need it and may refuse it, which is harmless.
    let _ = vm.set_tss_address(KVM_TSS_ADDRESS);
    vm.create_irq_chip()
        .map_err(|e| LinuxError::Ioctl("KVM_CREATE_IRQCHIP", e))?;
    let pit = kvm_pit_config {
        flags: KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    vm.create_pit2(pit)
        .map_err(|e| LinuxError::Ioctl("KVM_CREATE_PIT2", e))?;
    mem = memory::create_guest_memory(&layout).map_err(LinuxError::Memory)?;
    memory::register_slots(&vm, &mem).map_err(LinuxError::Memory)?;
    // Placed before the kernel is loaded (the zero page points at it), and
    // checked against the kernel's end once that is known.
    let ramdisk = match &config.initrd {
        Some(archive) => {
            let placed = initrd::place(
                &layout,
                image.setup_header.as_ref(),
                KERNEL_START,
                archive.len() as u64,
            )?;
            vm_memory::Bytes::write_slice(&mem, archive, vm_memory::GuestAddress(placed.addr))
                .map_err(|source| LinuxError::GuestWrite {
                    addr: placed.addr,
                    source,
                })?;
            Some(placed)
        }
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
    if let Some(placed) = ramdisk
        && placed.addr < boot.kernel_end
    {
        return Err(LinuxError::InitrdTooLarge {
            size: placed.size,
            room: (placed.addr + placed.size).saturating_sub(boot.kernel_end),
        });
    }
    gdt::write_gdt(&mem).map_err(|e| LinuxError::Setup(e.to_string()))?;
    let tables = IdentityMap::build(layout.regions(), PAGE_TABLES_START, PAGE_TABLES_END)
        .map_err(|e| LinuxError::Setup(e.to_string()))?;
    tables
        .write(&mem)
        .map_err(|e| LinuxError::Setup(e.to_string()))?;

    let supported = kvm
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(|e| LinuxError::Ioctl("KVM_GET_SUPPORTED_CPUID", e))?;
    let mut fds = Vec::with_capacity(config.vcpus as usize);
    for index in 0..config.vcpus {
        let fd = vm
            .create_vcpu(u64::from(index))
            .map_err(|e| LinuxError::Ioctl("KVM_CREATE_VCPU", e))?;
        fd.set_cpuid2(&linux_cpuid(&supported, index, backend.is_software()))
            .map_err(|e| LinuxError::Ioctl("KVM_SET_CPUID2", e))?;
        if index == 0 {
            let sregs = fd
                .get_sregs()
                .map_err(|e| LinuxError::Ioctl("KVM_GET_SREGS", e))?;
            fd.set_sregs(&cpu::long_mode_sregs(sregs, tables.base))
                .map_err(|e| LinuxError::Ioctl("KVM_SET_SREGS", e))?;
            let regs = kvm_bindings::kvm_regs {
                rip: boot.entry,
                rsi: boot.boot_params,
                rflags: 0x2, // bit 1 is reserved and always 1; IF clear
                ..Default::default()
            };
            fd.set_regs(&regs)
                .map_err(|e| LinuxError::Ioctl("KVM_SET_REGS", e))?;
            fd.set_fpu(&cpu::entry_fpu())
                .map_err(|e| LinuxError::Ioctl("KVM_SET_FPU", e))?;
        }
        fds.push(fd);
    }
    vcpu::install_kick_handler().map_err(LinuxError::vcpu)?;

    let shared = Arc::new(RunShared {
        launch,
        stop: AtomicBool::new(false),
        end: Mutex::new(None),
        progress: Mutex::new(BootProgress::default()),
        assists: Mutex::new(BTreeMap::new()),
        stop_at_init: backend.is_software(),
    });
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
    let mut handles: Vec<JoinHandle<ExitStats>> = Vec::with_capacity(fds.len());
    for (index, fd) in fds.into_iter().enumerate() {
        let devices = Devices {
            uart: uart.clone(),
            rtc: rtc.clone(),
        };
        let (run_shared, mem) = (shared.clone(), mem.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("linux-vcpu{index}"))
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
    supervise(&shared, &handles, config.timeout, config.stop_flag);
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
    drop(uart);
    drop(vm);
    drop(mem);
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
        exits,
        assists: std::mem::take(&mut *lock(&shared.assists)),
        elapsed,
        memory_touched,
        initrd_size: config.initrd.as_ref().map_or(0, |a| a.len() as u64),
    })
}

/// Waits for the end (a vCPU's, a panic's grace, or the timeout), then
/// kicks every vCPU thread out of KVM_RUN until all have left.
fn supervise(
    shared: &RunShared,
    handles: &[JoinHandle<ExitStats>],
    timeout: Duration,
    stop_flag: Option<&AtomicBool>,
) {
    let start = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        if stop_flag.is_some_and(|f| f.load(Ordering::SeqCst)) {
            shared.finish(LinuxEnd::Interrupted);
            break;
        }
        if start.elapsed() >= timeout {
            shared.finish(LinuxEnd::Timeout);
            break;
        }
        let panicked = lock(&shared.progress).time_of(Milestone::Panic);
        if panicked.is_some_and(|t| shared.launch.elapsed() >= t + PANIC_GRACE) {
            shared.finish(LinuxEnd::Panic);
            break;
        }
        std::thread::sleep(POLL);
    }
    while handles.iter().any(|h| !h.is_finished()) {
        for h in handles.iter().filter(|h| !h.is_finished()) {
            use std::os::unix::thread::JoinHandleExt;
            // SAFETY: the thread has not finished, so its pthread_t is
            // valid (its JoinHandle is not joined yet); the kick signal has
            // a handler installed, so delivering it only interrupts KVM_RUN.
            unsafe { libc::pthread_kill(h.as_pthread_t(), vcpu::kick_signal()) };
        }
        std::thread::sleep(POLL);
    }
}

/// The devices every vCPU reaches by port I/O.
struct Devices {
    uart: Arc<Mutex<Uart>>,
    rtc: Arc<Mutex<Rtc>>,
}

/// One vCPU's loop.
fn vcpu_loop(
    mut fd: VcpuFd,
    index: u32,
    shared: &RunShared,
    devices: &Devices,
    mem: &GuestMem,
) -> ExitStats {
    let _kick = vcpu::KickTarget::set(&mut fd);
    let mut stats = ExitStats::default();
    while !shared.stop.load(Ordering::SeqCst) {
        let exit = fd.run();
        let exited = Instant::now();
        let mut kind = ExitKind::Other;
        let end = match exit {
            Ok(VcpuExit::IoOut(port, data)) => {
                kind = ExitKind::IoOut { port };
                let value = data.first().copied().unwrap_or(0);
                if (COM1..COM1 + COM1_PORTS).contains(&port) {
                    // The sink never fails; a failed interrupt write (the
                    // eventfd's counter full) only delays the guest's tty.
                    let _ = lock(&devices.uart).write((port - COM1) as u8, value);
                    None
                } else if Rtc::handles(port) {
                    lock(&devices.rtc).pio_write(port, value);
                    None
                } else if port == I8042_COMMAND && value == I8042_RESET {
                    Some(LinuxEnd::Reboot)
                } else {
                    None
                }
            }
            Ok(VcpuExit::IoIn(port, data)) => {
                kind = ExitKind::IoIn { port };
                let device = if (COM1..COM1 + COM1_PORTS).contains(&port) {
                    Some(lock(&devices.uart).read((port - COM1) as u8))
                } else if Rtc::handles(port) {
                    Some(lock(&devices.rtc).pio_read(port))
                } else {
                    None
                };
                if let Some(v) = device {
                    data.fill(0);
                    if let Some(b) = data.first_mut() {
                        *b = v;
                    }
                } else {
                    // No device: the bus floats high.
                    data.fill(0xff);
                }
                None
            }
            Ok(VcpuExit::MmioRead(_, data)) => {
                kind = ExitKind::MmioRead;
                data.fill(0xff);
                None
            }
            Ok(VcpuExit::MmioWrite(..)) => {
                kind = ExitKind::MmioWrite;
                None
            }
            Ok(VcpuExit::Hlt) => {
                kind = ExitKind::Hlt;
                None
            }
            Ok(VcpuExit::Shutdown) => {
                kind = ExitKind::Shutdown;
                Some(LinuxEnd::Shutdown {
                    vcpu: index,
                    rip: fd.get_regs().ok().map(|r| r.rip),
                })
            }
            Ok(VcpuExit::InternalError) => {
                kind = ExitKind::InternalError;
                internal_error(&mut fd, index, shared, mem)
            }
            Ok(VcpuExit::SystemEvent(kind, _)) => Some(LinuxEnd::VcpuError {
                vcpu: index,
                message: format!("KVM system event {kind} (reset or shutdown)"),
            }),
            Ok(other) => Some(LinuxEnd::VcpuError {
                vcpu: index,
                message: format!("unexpected exit {other:?}"),
            }),
            Err(e) if e.errno() == libc::EINTR => {
                kind = ExitKind::Interrupted;
                fd.set_kvm_immediate_exit(0);
                None
            }
            Err(e) if e.errno() == libc::EAGAIN => None,
            Err(e) => Some(LinuxEnd::VcpuError {
                vcpu: index,
                message: format!("KVM_RUN: {e}"),
            }),
        };
        stats.record(kind, exited.elapsed().as_nanos() as u64);
        if let Some(end) = end {
            shared.finish(end);
        }
    }
    stats
}

/// An internal error: assist with `int3` and `fwait`, or end the run with
/// RIP and the bytes there.
fn internal_error(
    fd: &mut VcpuFd,
    index: u32,
    shared: &RunShared,
    mem: &GuestMem,
) -> Option<LinuxEnd> {
    let suberror = {
        let run = fd.get_kvm_run();
        // SAFETY: the exit was KVM_EXIT_INTERNAL_ERROR, so KVM filled the
        // `internal` member of the exit union; it is plain integers.
        unsafe { run.__bindgen_anon_1.internal.suberror }
    };
    if suberror != SUBERROR_EMULATION {
        return Some(LinuxEnd::InternalError {
            vcpu: index,
            suberror,
        });
    }
    let (Ok(mut regs), Ok(sregs)) = (fd.get_regs(), fd.get_sregs()) else {
        return Some(LinuxEnd::VcpuError {
            vcpu: index,
            message: "emulation failure, and its registers could not be read".into(),
        });
    };
    let rip = regs.rip;
    // The first byte decides an assist (the common case, on every int3 and
    // fwait); the whole instruction is read only for a failure's report.
    let first = read_virt(mem, sregs.cr0, sregs.cr3, rip, 1);
    let assisted = match first.first() {
        Some(&INT3) => {
            regs.rip = regs.rip.wrapping_add(1);
            let injected = fd.get_vcpu_events().ok().and_then(|mut events| {
                events.exception.injected = 1;
                events.exception.nr = BP_VECTOR;
                events.exception.has_error_code = 0;
                events.exception.pending = 0;
                fd.set_regs(&regs).ok()?;
                fd.set_vcpu_events(&events).ok()
            });
            injected.map(|()| "int3 (#BP injected)")
        }
        Some(&FWAIT) => {
            regs.rip = regs.rip.wrapping_add(1);
            fd.set_regs(&regs).ok().map(|()| "fwait (skipped)")
        }
        _ => None,
    };
    match assisted {
        Some(what) => {
            *lock(&shared.assists).entry(what).or_default() += 1;
            None
        }
        None => Some(LinuxEnd::EmulationFailure {
            vcpu: index,
            rip,
            bytes: read_virt(mem, sregs.cr0, sregs.cr3, rip, INSN_MAX),
        }),
    }
}

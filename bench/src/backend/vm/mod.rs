//! The workload inside a KVM virtual machine, on versus' tiny kernel.
//!
//! The VMM (`hypervisor` crate) follows its own numbered boot path; this
//! backend turns its [`hypervisor::VmReport`] into the common [`RunReport`]: the phases
//! (create VM · memory · load · vCPUs · boot→marker · run · teardown), the
//! workload's lines from every vCPU, the exit accounting, and the memory
//! figures (guest memory touched, VMM overhead).
//!
//! Its parts:
//! - this file: the settings, the kernel image and the backend, which
//!   configures one VM per run and runs it;
//! - `live.rs`: the guest's own output printed as it arrives;
//! - `convert.rs`: the VMM's report turned into the common one;
//! - `outcome.rs`: how the VM ended, as a shell sees a process end.

mod convert;
mod live;
mod outcome;

use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use hypervisor::console::{ConsoleObserver, ConsoleStream};
use hypervisor::{MemoryConfig, Trace, VmConfig};

use super::{Backend, BackendError, HeldBackend, HeldStdin, Launch};
use crate::report::RunReport;
use crate::workload::{self, Record};

pub use outcome::describe_outcome;

/// The guest kernel image: the embedded tiny kernel or a file.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Where it came from (for reports).
    pub source: String,
    /// The ELF bytes.
    pub bytes: Vec<u8>,
}

impl Kernel {
    /// The tiny kernel built into versus.
    pub fn embedded() -> Self {
        Self {
            source: "embedded tiny kernel".into(),
            bytes: versus_images::KERNEL.to_vec(),
        }
    }

    /// A kernel ELF file: a regular file of at most
    /// [`workload::file::KERNEL_MAX_BYTES`], read by the same
    /// [`workload::file::read_image`] as a workload.
    pub fn from_file(path: &std::path::Path) -> Result<Self, workload::file::ImageFileError> {
        let bytes = workload::file::read_image(path, workload::file::ImageKind::Kernel)?;
        Ok(Self {
            source: format!("kernel {}", path.display()),
            bytes,
        })
    }
}

/// Everything about a VM that is not per launch, apart from the kernel
/// image (which, like the workload image, is bytes rather than an option):
/// what `versus vm run`'s flags set, what `versus compare` varies, and what
/// a run request carries to a fresh process. [`VmSettings::config`] is the
/// one place it becomes a [`VmConfig`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VmSettings {
    /// Number of vCPUs.
    pub vcpus: u32,
    /// Guest memory: a total size (split low/high) or explicit regions.
    pub memory: MemoryConfig,
    /// Run one workload instance on every vCPU (else on the BSP only).
    pub every_vcpu: bool,
    /// Print every exit with a timestamp on stderr.
    pub trace: bool,
    /// Measure the exit round trip first: the guest kernel makes this many
    /// ping exits before the workload starts (`VmConfig::exit_probe`; at most
    /// `hypervisor::MAX_EXIT_PROBE_ITERS`). It delays the start marker, so
    /// leave it `None` when measuring startup.
    pub exit_probe: Option<u32>,
    /// Console through the 16550 UART (one exit per byte) instead of the
    /// paravirtual console (one exit per write) — to compare the two.
    pub console_uart: bool,
    /// Single-step the guest and count its kernel-mode instructions
    /// (slow: an exit per instruction; for short tasks).
    pub count_instructions: bool,
}

impl Default for VmSettings {
    /// One vCPU running the workload, the default memory layout, the
    /// paravirtual console.
    fn default() -> Self {
        Self {
            vcpus: 1,
            memory: MemoryConfig::Total(hypervisor::config::DEFAULT_MEM_SIZE),
            every_vcpu: true,
            trace: false,
            exit_probe: None,
            console_uart: false,
            count_instructions: false,
        }
    }
}

impl VmSettings {
    /// The VMM configuration for booting `kernel` with these settings, no
    /// workload and no timeout yet (those are per launch). `versus compare`
    /// also uses it to check a layout before the first round.
    pub fn config(&self, kernel: Vec<u8>) -> VmConfig {
        let mut config = VmConfig::new(kernel)
            .vcpus(self.vcpus)
            .run_on_every_vcpu(self.every_vcpu)
            .console_uart(self.console_uart)
            .count_kernel_instructions(self.count_instructions)
            .trace(if self.trace {
                Trace::Stderr
            } else {
                Trace::Off
            });
        config.memory = self.memory.clone();
        if let Some(iters) = self.exit_probe {
            config = config.exit_probe(iters);
        }
        config
    }
}

/// Runs the workload in a VM.
#[derive(Debug, Clone)]
pub struct VmBackend {
    /// How every VM of this backend is configured.
    pub settings: VmSettings,
    /// The guest kernel.
    pub kernel: Kernel,
    /// The initramfs, a newc cpio archive (`--initrd`, see
    /// [`hypervisor::initramfs`]); empty for none. Bytes, like the kernel,
    /// rather than a setting.
    pub initrd: Vec<u8>,
}

impl VmBackend {
    /// The default settings with the embedded kernel.
    pub fn new() -> Self {
        Self::with_settings(VmSettings::default())
    }

    /// `settings` with the embedded kernel.
    pub fn with_settings(settings: VmSettings) -> Self {
        Self {
            settings,
            kernel: Kernel::embedded(),
            initrd: Vec::new(),
        }
    }
}

impl Default for VmBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// The prefix of the guest kernel's own console lines.
pub const KERNEL_LINE_PREFIX: &str = versus_protocol::line::KERNEL_PREFIX;

impl Backend for VmBackend {
    fn name(&self) -> &str {
        "vm"
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        self.run_with(launch, None)
    }
}

impl HeldBackend for VmBackend {
    fn run_held(&self, launch: &Launch, stdin: HeldStdin) -> Result<RunReport, BackendError> {
        self.run_with(launch, Some(stdin))
    }
}

impl VmBackend {
    /// One run; the guest's `read(0, …)` reads `held`'s pipe through the
    /// VMM (`port::STDIN`), or end of file at once without one.
    fn run_with(
        &self,
        launch: &Launch,
        held: Option<HeldStdin>,
    ) -> Result<RunReport, BackendError> {
        let argv: Vec<String> = std::iter::once(launch.workload.program_name().to_string())
            .chain(launch.argv.iter().cloned())
            .collect();
        let mut config = self
            .settings
            .config(self.kernel.bytes.clone())
            .workload(launch.workload.bytes().to_vec(), argv)
            .initrd(self.initrd.clone());
        if let Some(timeout) = launch.timeout {
            config = config.timeout(timeout);
        }
        // Ctrl-C and SIGTERM stop the guest and tear the VM down (when the
        // handler is installed; see `crate::interrupt`).
        config = config.stop_flag(&crate::interrupt::INTERRUPTED);
        let mut printer = None;
        let mut observer = None;
        if launch.echo {
            let (live, live_observer) = live::LivePrinter::start();
            observer = Some(live_observer);
            printer = Some(live);
        }
        if let Some(held) = held {
            // The VM lives in versus' own process: its vCPU threads and
            // guest memory have no process of their own.
            let _ = held.process.set(super::InstanceProcess::default());
            config = config.stdin(held.pipe.into());
            observer = Some(start_watcher(held.started, observer));
        }
        if let Some(observer) = observer {
            config = config.console_observer(observer);
        }
        let vm = hypervisor::Vm::run(&config);
        // The observer's sender goes with the configuration: the printer
        // then prints what is left and ends, before any table is printed.
        drop(config);
        if let Some(printer) = printer {
            printer.finish();
        }
        let vm = vm.map_err(|err| BackendError::Vm {
            kernel: self.kernel.source.clone(),
            source: Box::new(err),
        })?;
        convert::convert(self, launch, &vm)
    }
}

/// An observer that sends the instant the guest's start marker was written
/// (once), and passes every write on to `then` (the live printer).
fn start_watcher(started: mpsc::Sender<Instant>, then: Option<ConsoleObserver>) -> ConsoleObserver {
    let started = Mutex::new(Some(started));
    ConsoleObserver::new(move |write| {
        if write.stream == ConsoleStream::Stdout {
            let mut pending = started.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.is_some()
                && matches!(
                    workload::parse_line(&String::from_utf8_lossy(write.bytes)),
                    Ok(Some(Record::Start(_)))
                )
                && let Some(tx) = pending.take()
            {
                let _ = tx.send(Instant::now());
            }
        }
        if let Some(then) = &then {
            then.observe(write);
        }
    })
}

//! What to run: [`VmConfig`], built step by step.

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::console::ConsoleObserver;
use crate::exits::{TraceEvent, TraceFn};
use crate::memory::{MemoryError, MemoryLayout};

/// Default guest memory (`--mem 512M`), split low/high.
pub const DEFAULT_MEM_SIZE: u64 = 512 << 20;

/// The most exits [`VmConfig::exit_probe`] accepts: the guest kernel's own
/// bound (`versus_abi::EXIT_PROBE_MAX_ITERS`), so that a probe stays well
/// under a minute even at the 45 µs an exit can cost on a software backend.
pub const MAX_EXIT_PROBE_ITERS: u32 = versus_abi::EXIT_PROBE_MAX_ITERS;

/// A configuration the VMM refuses before touching `/dev/kvm`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An exit probe of zero exits measures nothing.
    #[error("the exit probe needs at least 1 iteration")]
    ExitProbeEmpty,
    /// An exit probe longer than [`MAX_EXIT_PROBE_ITERS`].
    #[error(
        "an exit probe of {iters} iterations exceeds the limit of {max} (MAX_EXIT_PROBE_ITERS)"
    )]
    ExitProbeTooLarge {
        /// Requested.
        iters: u32,
        /// [`MAX_EXIT_PROBE_ITERS`].
        max: u32,
    },
}

/// Guest memory: a total size (default layout) or explicit regions.
/// Serializable so that a run request can carry it to a fresh process.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryConfig {
    /// The default layout for this many bytes ([`MemoryLayout::split`]).
    Total(u64),
    /// Explicit `(base, size)` regions ([`MemoryLayout::explicit`]).
    Regions(Vec<(u64, u64)>),
}

/// Per-exit tracing.
#[derive(Clone, Default)]
pub enum Trace {
    /// None.
    #[default]
    Off,
    /// Print every exit to stderr with its timestamp (`--trace`).
    Stderr,
    /// Call this for every exit (on the vCPU thread).
    Callback(TraceFn),
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trace::Off => f.write_str("Off"),
            Trace::Stderr => f.write_str("Stderr"),
            Trace::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

impl Trace {
    pub(crate) fn callback(&self) -> Option<TraceFn> {
        match self {
            Trace::Off => None,
            // A closed or full stderr must not take a vCPU thread down.
            Trace::Stderr => Some(Arc::new(|e: &TraceEvent| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "{e}");
            })),
            Trace::Callback(f) => Some(f.clone()),
        }
    }
}

/// A VM to run.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use hypervisor::{Vm, VmConfig};
/// let kernel = std::fs::read("kernel.elf").unwrap();
/// let workload = std::fs::read("versus-workload").unwrap();
/// let config = VmConfig::new(kernel)
///     .vcpus(2)
///     .memory_size(512 << 20)
///     .workload(workload, ["versus-workload", "getpid", "1000"])
///     .timeout(Duration::from_secs(10));
/// let report = Vm::run(&config).unwrap();
/// println!("{:?} after {} ns", report.outcome, report.phases.total_ns);
/// ```
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Number of vCPUs (1 ..= min(KVM_CAP_MAX_VCPUS, layout::MAX_VCPUS)).
    pub vcpus: u32,
    /// Guest memory.
    pub memory: MemoryConfig,
    /// The kernel ELF image.
    pub kernel: Vec<u8>,
    /// The workload image (placed, not loaded; may be empty).
    pub workload: Vec<u8>,
    /// The workload's argv (argv\[0\] first).
    pub argv: Vec<String>,
    /// The initramfs: a newc cpio archive (see [`crate::initramfs`]),
    /// placed after argv; empty for none.
    pub initrd: Vec<u8>,
    /// Run the workload on every vCPU (else on the BSP only).
    pub run_on_every_vcpu: bool,
    /// Stop the guest after this long (reported as `Outcome::Timeout`).
    pub timeout: Option<Duration>,
    /// Per-exit tracing.
    pub trace: Trace,
    /// Sees every console write as it happens (stdout, stderr, UART), for
    /// printing the guest's output live; see [`ConsoleObserver`].
    pub console_observer: Option<ConsoleObserver>,
    /// Ask the guest kernel to use the UART (one exit per byte) instead of
    /// the paravirtual console (`versus_abi::flags::CONSOLE_UART`).
    pub console_uart: bool,
    /// Single-step every vCPU and count its instructions by privilege
    /// (step 5c). Slow: one exit per instruction.
    pub count_kernel_instructions: bool,
    /// Exit probe: the guest kernel makes this many `out`s to
    /// `versus_abi::port::PING` before the workload starts
    /// (`BootInfo::exit_probe_iters`; see [`VmConfig::exit_probe`]).
    pub exit_probe: Option<u32>,
    /// Stop the guest when this becomes true (checked every few
    /// milliseconds; reported as `Outcome::Interrupted`). Set it from a
    /// SIGINT/SIGTERM handler so that Ctrl-C still tears the VM down.
    pub stop_flag: Option<&'static AtomicBool>,
    /// The workload's standard input: what the tiny kernel's `read(0, …)`
    /// reads, the vCPU blocking on the host until it has bytes or ends
    /// (`devices/stdin.rs`). `None`: end of file at once.
    pub stdin: Option<Arc<OwnedFd>>,
}

impl VmConfig {
    /// One vCPU, 512 MiB (default layout), no workload, no timeout.
    pub fn new(kernel: impl Into<Vec<u8>>) -> Self {
        Self {
            vcpus: 1,
            memory: MemoryConfig::Total(DEFAULT_MEM_SIZE),
            kernel: kernel.into(),
            workload: Vec::new(),
            argv: Vec::new(),
            initrd: Vec::new(),
            run_on_every_vcpu: false,
            timeout: None,
            trace: Trace::Off,
            console_observer: None,
            console_uart: false,
            count_kernel_instructions: false,
            exit_probe: None,
            stop_flag: None,
            stdin: None,
        }
    }
    /// Sets the vCPU count.
    pub fn vcpus(mut self, n: u32) -> Self {
        self.vcpus = n;
        self
    }
    /// Total memory, default layout (low half at 0, high half at 4 GiB).
    pub fn memory_size(mut self, bytes: u64) -> Self {
        self.memory = MemoryConfig::Total(bytes);
        self
    }
    /// Explicit `(base, size)` regions.
    pub fn memory_regions(mut self, regions: &[(u64, u64)]) -> Self {
        self.memory = MemoryConfig::Regions(regions.to_vec());
        self
    }
    /// The workload image and its argv.
    pub fn workload<S: Into<String>>(
        mut self,
        image: impl Into<Vec<u8>>,
        argv: impl IntoIterator<Item = S>,
    ) -> Self {
        self.workload = image.into();
        self.argv = argv.into_iter().map(Into::into).collect();
        self
    }
    /// The initramfs, a newc cpio archive such as
    /// [`crate::initramfs::from_path`] returns; the guest kernel reads it
    /// as its root directory.
    pub fn initrd(mut self, archive: impl Into<Vec<u8>>) -> Self {
        self.initrd = archive.into();
        self
    }
    /// Run the workload on every vCPU.
    pub fn run_on_every_vcpu(mut self, yes: bool) -> Self {
        self.run_on_every_vcpu = yes;
        self
    }
    /// Gives the workload `source` as its standard input (see
    /// [`VmConfig::stdin`]).
    pub fn stdin(mut self, source: OwnedFd) -> Self {
        self.stdin = Some(Arc::new(source));
        self
    }
    /// Stop the guest when `flag` becomes true (see [`VmConfig::stop_flag`]).
    pub fn stop_flag(mut self, flag: &'static AtomicBool) -> Self {
        self.stop_flag = Some(flag);
        self
    }
    /// Watchdog timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// Tracing.
    pub fn trace(mut self, t: Trace) -> Self {
        self.trace = t;
        self
    }
    /// Hand every console write to `observer` while the guest runs.
    pub fn console_observer(mut self, observer: ConsoleObserver) -> Self {
        self.console_observer = Some(observer);
        self
    }
    /// Console through the UART instead of the paravirtual console (sets
    /// `versus_abi::flags::CONSOLE_UART` in the boot information).
    pub fn console_uart(mut self, yes: bool) -> Self {
        self.console_uart = yes;
        self
    }
    /// Measure the exit round trip before the workload starts: the guest
    /// kernel's bootstrap CPU makes `iters` port-I/O exits between two
    /// markers and reports its own timing; the report's
    /// [`exit_probe`](crate::VmReport::exit_probe) holds both sides' figures.
    /// 1 ..= [`MAX_EXIT_PROBE_ITERS`] (checked by [`VmConfig::validate`]).
    /// It delays the workload's start marker by the probe's duration.
    pub fn exit_probe(mut self, iters: u32) -> Self {
        self.exit_probe = Some(iters);
        self
    }
    /// Checks what can be checked without KVM (the memory layout is checked
    /// by [`VmConfig::layout`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.exit_probe {
            Some(0) => Err(ConfigError::ExitProbeEmpty),
            Some(iters) if iters > MAX_EXIT_PROBE_ITERS => Err(ConfigError::ExitProbeTooLarge {
                iters,
                max: MAX_EXIT_PROBE_ITERS,
            }),
            _ => Ok(()),
        }
    }
    /// Single-step every vCPU and count guest instructions by privilege —
    /// how much kernel-mode work a boot or a system call is (one exit per
    /// instruction, so use it with short tasks).
    pub fn count_kernel_instructions(mut self, yes: bool) -> Self {
        self.count_kernel_instructions = yes;
        self
    }
    /// The validated memory layout, no larger than the host's RAM
    /// ([`crate::memory::check_host_ram`]).
    pub fn layout(&self) -> Result<MemoryLayout, MemoryError> {
        let layout = match &self.memory {
            MemoryConfig::Total(t) => MemoryLayout::split(*t)?,
            MemoryConfig::Regions(r) => MemoryLayout::explicit(r)?,
        };
        crate::memory::check_host_ram(&layout)?;
        Ok(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_probe_is_bounded() {
        let config = VmConfig::new(Vec::new());
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.clone().exit_probe(1).validate(), Ok(()));
        let max = config.clone().exit_probe(MAX_EXIT_PROBE_ITERS);
        assert_eq!(max.validate(), Ok(()));
        assert_eq!(
            config.clone().exit_probe(0).validate(),
            Err(ConfigError::ExitProbeEmpty)
        );
        let err = config
            .exit_probe(MAX_EXIT_PROBE_ITERS + 1)
            .validate()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::ExitProbeTooLarge {
                iters: MAX_EXIT_PROBE_ITERS + 1,
                max: MAX_EXIT_PROBE_ITERS
            }
        );
        let message = err.to_string();
        assert!(
            message.contains(&MAX_EXIT_PROBE_ITERS.to_string())
                && message.contains("MAX_EXIT_PROBE_ITERS"),
            "{message}"
        );
    }
}

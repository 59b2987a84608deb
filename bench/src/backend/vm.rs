//! The workload inside a KVM virtual machine, on versus' tiny kernel.
//!
//! The VMM (`hypervisor` crate) follows its own numbered boot path; this
//! backend turns its [`VmReport`] into the common [`RunReport`]: the phases
//! (create VM · memory · load · vCPUs · boot→marker · run · teardown), the
//! workload's lines from every vCPU, the exit accounting, and the memory
//! figures (guest memory touched, VMM overhead).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hypervisor::abi::event;
use hypervisor::console::{
    ConsoleCapture, ConsoleObserver, ConsoleStream, PROTOCOL_LINE_MAX, PROTOCOL_PREFIXES,
};
use hypervisor::{ExitKind, GuestStatus, MemoryConfig, Outcome, Trace, VmConfig, VmReport};
use versus_protocol::line;

use super::{Backend, BackendError, HeldBackend, HeldStdin, Launch, MAX_LINE_BYTES};
use crate::report::vm::{ExitProbe, ExitRow, Instance, KernelInstructions, RegionRow, VmDetails};
use crate::report::{ExitOutcome, MemoryFigures, Nanos, Phase, RunReport};
use crate::workload::{self, Record};

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

impl From<&hypervisor::ExitProbeReport> for ExitProbe {
    fn from(r: &hypervisor::ExitProbeReport) -> Self {
        Self {
            iters: r.iters,
            ping_exits: r.ping_exits,
            guest_ns_per_exit: r.guest_ns_per_exit,
            host_ns_per_exit: r.host_ns_per_exit,
            handler_ns_per_exit: r.handler_ns_per_exit,
        }
    }
}

/// The prefix of the guest kernel's own console lines.
pub const KERNEL_LINE_PREFIX: &str = versus_protocol::line::KERNEL_PREFIX;

/// The guest kernel's line about a user-mode fault (`kernel/src/fault.rs`):
/// `@kernel fault cpu=0 pid=1 signal=SIGSEGV vector=14 …`, printed just
/// before the instance ends with status 128 + signal, as Linux ends a
/// process on that signal.
const KERNEL_FAULT: &str = "fault";
/// The guest kernel's line about an instance's end (`kernel/src/process.rs`):
/// `@kernel exit cpu=0 pid=1 status=139`.
const KERNEL_EXIT: &str = "exit";
/// The field of [`KERNEL_FAULT`] naming the signal.
const KEY_SIGNAL: &str = "signal";
/// The field of [`KERNEL_EXIT`] holding the instance's status.
const KEY_STATUS: &str = "status";
/// The signals the guest kernel turns user-mode exceptions into (the
/// names it prints, with Linux's numbers).
const FAULT_SIGNALS: [(&str, i32); 5] = [
    ("SIGSEGV", libc::SIGSEGV),
    ("SIGBUS", libc::SIGBUS),
    ("SIGILL", libc::SIGILL),
    ("SIGFPE", libc::SIGFPE),
    ("SIGTRAP", libc::SIGTRAP),
];

/// Console writes waiting for the live printer: enough to ride out a slow
/// terminal for a moment (at most this many × `CONSOLE_MAX_LEN` bytes
/// held) before a vCPU waits, as a program waits on a full pipe.
const LIVE_OUTPUT_QUEUE: usize = 256;
/// How long a vCPU waits for room in that queue before looking again (and
/// at the stop flag: Ctrl-C must not be stuck behind a blocked terminal).
const LIVE_OUTPUT_RETRY: Duration = Duration::from_millis(1);
/// How often the end of a run looks whether the live printer is done (and
/// at the stop flag, so that a blocked terminal cannot hold versus).
const LIVE_OUTPUT_POLL: Duration = Duration::from_millis(20);

/// One console write on its way to the live printer.
type LiveChunk = (Option<u32>, ConsoleStream, Vec<u8>);

/// The guest's own output printed as it arrives (`Launch::echo`): stdout
/// lines that are not protocol records to versus' stdout, stderr to its
/// stderr, whole lines at a time so that several vCPUs' lines interleave
/// line by line. The vCPU only queues the bytes; a thread of its own
/// prints them, so a slow terminal does not stall the guest.
struct LivePrinter {
    /// Closed (dropped) by the printer thread when it has printed all.
    done: Receiver<()>,
}

impl LivePrinter {
    /// Starts the printer; the observer goes into the VM's configuration.
    fn start() -> (Self, ConsoleObserver) {
        let (tx, rx) = mpsc::sync_channel::<LiveChunk>(LIVE_OUTPUT_QUEUE);
        let (done_tx, done) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            print_live(rx);
            drop(done_tx);
        });
        let observer = ConsoleObserver::new(move |write| queue(&tx, write));
        (Self { done }, observer)
    }

    /// Waits until everything queued was printed (every sender is gone once
    /// the VM and its configuration are), or until versus is stopping.
    fn finish(self) {
        loop {
            match self.done.recv_timeout(LIVE_OUTPUT_POLL) {
                Err(RecvTimeoutError::Timeout)
                    if !crate::interrupt::INTERRUPTED.load(Ordering::SeqCst) => {}
                _ => return,
            }
        }
    }
}

/// Queues one console write for the printer, waiting while the queue is
/// full unless versus is stopping (then the rest is not shown).
fn queue(tx: &SyncSender<LiveChunk>, write: hypervisor::console::ConsoleWrite<'_>) {
    let mut chunk = (write.vcpu, write.stream, write.bytes.to_vec());
    loop {
        match tx.try_send(chunk) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(back)) => {
                if crate::interrupt::INTERRUPTED.load(Ordering::SeqCst) {
                    return;
                }
                chunk = back;
                std::thread::sleep(LIVE_OUTPUT_RETRY);
            }
        }
    }
}

/// A line being assembled for the live printer.
#[derive(Default)]
struct PendingLine {
    bytes: Vec<u8>,
    /// The start of this line was already printed (it was too long to
    /// hold): the rest is printed whatever it looks like.
    continued: bool,
}

/// The printer thread: whole lines per vCPU and stream, until every sender
/// is gone; then what is left of unterminated lines, each given its
/// newline (as the other backends do) so that the report starts on a line
/// of its own.
fn print_live(rx: Receiver<LiveChunk>) {
    let mut pending: BTreeMap<(Option<u32>, ConsoleStream), PendingLine> = BTreeMap::new();
    for (vcpu, stream, bytes) in rx {
        let line = pending.entry((vcpu, stream)).or_default();
        line.bytes.extend_from_slice(&bytes);
        let mut start = 0;
        while let Some(newline) = line.bytes[start..].iter().position(|&b| b == b'\n') {
            let end = start + newline + 1;
            print_line(stream, &line.bytes[start..end], line.continued);
            line.continued = false;
            start = end;
        }
        line.bytes.drain(..start);
        // A longer line than anyone would hold whole goes out in pieces.
        if line.bytes.len() >= MAX_LINE_BYTES {
            print_line(stream, &line.bytes, true);
            line.bytes.clear();
            line.continued = true;
        }
    }
    for ((_, stream), line) in pending {
        if !line.bytes.is_empty() {
            print_line(stream, &line.bytes, line.continued);
            print_line(stream, b"\n", true);
        }
    }
}

/// Prints one line (or piece) of guest output where it belongs: stderr to
/// stderr; stdout and UART output to stdout, except protocol records (a
/// whole line, `continued` false, that the harness parses).
fn print_line(stream: ConsoleStream, bytes: &[u8], continued: bool) {
    match stream {
        ConsoleStream::Stderr => {
            // Like every message on stderr, best effort (see `output`).
            crate::output::write_stderr(bytes);
        }
        ConsoleStream::Stdout | ConsoleStream::Uart => {
            if !continued && is_protocol_line(bytes) {
                return;
            }
            // A failed write stops the run (see `output`); what follows is
            // dropped there.
            let _ = crate::output::write_stdout(bytes);
        }
    }
}

/// Whether a whole console line is a protocol record, by the rule the VMM
/// keeps them by ([`hypervisor::console`]): a known prefix, not too long.
fn is_protocol_line(bytes: &[u8]) -> bool {
    bytes.len() <= PROTOCOL_LINE_MAX && PROTOCOL_PREFIXES.iter().any(|p| bytes.starts_with(p))
}

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
        let argv: Vec<String> = std::iter::once(crate::workload::ARGV0.to_string())
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
            let (live, live_observer) = LivePrinter::start();
            observer = Some(live_observer);
            printer = Some(live);
        }
        if let Some(held) = held {
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
        convert(self, launch, &vm)
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

/// Turns the VMM's report into the common one.
fn convert(backend: &VmBackend, launch: &Launch, vm: &VmReport) -> Result<RunReport, BackendError> {
    // Every vCPU's console, parsed separately.
    let mut instances = Vec::new();
    let mut other_lines: u64 = 0;
    for vcpu in &vm.per_vcpu {
        let mut instance = Instance {
            vcpu: vcpu.index,
            startup_ns: vcpu
                .markers
                .iter()
                .find(|m| m.code == event::WORKLOAD_START)
                .map(|m| m.at_ns),
            start: None,
            results: Vec::new(),
            kernel_lines: Vec::new(),
            kernel_instructions: vcpu.instructions.map(|count| KernelInstructions {
                to_workload_start: vcpu
                    .markers
                    .iter()
                    .find(|m| m.code == event::WORKLOAD_START)
                    .and_then(|m| m.kernel_instructions),
                total: count.kernel,
                user: count.user,
            }),
        };
        // The VMM kept protocol lines as lines and only counted the rest.
        other_lines += vcpu.console.other_lines;
        for line in vcpu.console.lines() {
            if let Some(kernel_line) = line.strip_prefix(KERNEL_LINE_PREFIX) {
                instance.kernel_lines.push(kernel_line.to_string());
                continue;
            }
            match workload::parse_line(line)? {
                Some(Record::Start(marker)) if instance.start.is_none() => {
                    instance.start = Some(marker);
                }
                Some(Record::Start(_)) | None => other_lines += 1,
                Some(Record::Result(result)) => instance.results.push(result),
            }
        }
        if instance.start.is_some()
            || !instance.results.is_empty()
            || !instance.kernel_lines.is_empty()
        {
            instances.push(instance);
        }
    }
    // UART output (a kernel told to use it) counts as output too. The UART
    // is one device shared by every vCPU, so its lines cannot be told
    // apart by vCPU: they go to the bootstrap processor's instance.
    if vm.console.uart.bytes != 0 && instances.is_empty() {
        instances.push(Instance {
            vcpu: 0,
            startup_ns: vm.per_vcpu.first().and_then(|vcpu| {
                vcpu.markers
                    .iter()
                    .find(|m| m.code == event::WORKLOAD_START)
                    .map(|m| m.at_ns)
            }),
            start: None,
            results: Vec::new(),
            kernel_lines: Vec::new(),
            kernel_instructions: None,
        });
    }
    other_lines += vm.console.uart.other_lines;
    for line in vm.console.uart.lines() {
        let Some(first) = instances.first_mut() else {
            other_lines += 1;
            continue;
        };
        if let Some(kernel_line) = line.strip_prefix(KERNEL_LINE_PREFIX) {
            first.kernel_lines.push(kernel_line.to_string());
            continue;
        }
        match workload::parse_line(line)? {
            Some(Record::Start(marker)) if first.start.is_none() => first.start = Some(marker),
            Some(Record::Result(result)) => first.results.push(result),
            _ => other_lines += 1,
        }
    }

    let phases = &vm.phases;
    let mut phase_list = vec![
        phase("create VM", phases.create_vm_ns),
        phase("memory", phases.memory_ns),
        phase("load", phases.load_ns),
        phase("vCPUs", phases.vcpus_ns),
    ];
    match phases.boot_to_first_marker_ns {
        Some(boot) => {
            phase_list.push(phase("boot→marker", boot));
            phase_list.push(phase("run", phases.run_ns.saturating_sub(boot)));
        }
        None => phase_list.push(phase("run", phases.run_ns)),
    }
    phase_list.push(phase("teardown", phases.teardown_ns));

    let exits = vm
        .per_vcpu
        .iter()
        .flat_map(|vcpu| {
            vcpu.exits
                .iter()
                .filter(|(kind, _)| *kind != ExitKind::Interrupted)
                .map(move |(kind, count)| ExitRow {
                    vcpu: vcpu.index,
                    reason: kind.to_string(),
                    count: count.count,
                    host_ns: count.total_ns,
                })
        })
        .collect();

    // The guest kernel says why it could not start a workload in an
    // `@kernel error reason=WORD` line before it exits with its status.
    let kernel_error = instances
        .iter()
        .flat_map(|i| i.kernel_lines.iter())
        .find_map(|line| kernel_error_reason(line))
        .map(str::to_string);
    let first = instances.first();
    let details = VmDetails {
        kernel: backend.kernel.source.clone(),
        vcpus: vm.vcpus,
        kvm_backend: vm.host.backend.clone(),
        software_backend: vm.host.software_backend,
        tsc_khz: vm.tsc_khz,
        exits,
        regions: vm
            .memory
            .regions
            .iter()
            .map(|r| RegionRow {
                base: r.region.base,
                size: r.region.size,
                resident_bytes: r.resident_bytes,
            })
            .collect(),
        uart_bytes: vm.console.uart_bytes,
        paravirt_bytes: vm.console.paravirt_bytes,
        vmm_outcome: describe_outcome(&vm.outcome, kernel_error.as_deref()),
        instances: instances.clone(),
        exit_probe: vm.exit_probe.as_ref().map(ExitProbe::from),
    };
    Ok(RunReport {
        backend: "vm".into(),
        workload: launch.workload.source().clone(),
        argv: launch.argv.clone(),
        rootfs_command: false,
        startup_ns: vm.launch_to_first_marker_ns,
        phases: phase_list,
        start: first.and_then(|i| i.start.clone()),
        results: instances.iter().flat_map(|i| i.results.clone()).collect(),
        exit: match (&vm.outcome, fault_signal(vm, &instances)) {
            (Outcome::Exited { status, .. }, Some(signal))
                if i64::from(*status) == 128 + i64::from(signal) =>
            {
                ExitOutcome::Signaled {
                    signal,
                    name: container::launch::signal_name(signal),
                }
            }
            (outcome, _) => exit_outcome(outcome, kernel_error.as_deref()),
        },
        memory: MemoryFigures {
            workload_peak_rss_bytes: None,
            image_bytes: Some((launch.workload.bytes().len() + backend.kernel.bytes.len()) as u64),
            guest_touched_bytes: Some(vm.memory.guest_touched_bytes),
            vmm_overhead_rss_bytes: vm.memory.vmm_overhead_rss_bytes,
            ..MemoryFigures::default()
        },
        other_output_lines: other_lines,
        stdout: kept_output(
            vm.per_vcpu
                .iter()
                .map(|vcpu| &vcpu.console)
                .chain(std::iter::once(&vm.console.uart)),
        ),
        output_echoed: launch.echo,
        stderr: kept_output(vm.per_vcpu.iter().map(|vcpu| &vcpu.stderr)),
        vm: Some(details),
        container: None,
        process: None,
    })
}

/// The program's own output of several consoles (one per vCPU, then the
/// UART), in that order: what each kept of it from its start, together at
/// most [`crate::report::OUTPUT_KEEP_BYTES`], then a note of how many bytes were left out.
fn kept_output<'a>(captures: impl Iterator<Item = &'a ConsoleCapture>) -> String {
    let mut kept = super::collect::KeptText::default();
    for capture in captures {
        kept.push(&capture.head);
        // What the console kept beyond its head (its tail, for the flood
        // report) or never kept at all.
        kept.left_out(
            capture
                .other_bytes
                .saturating_sub(capture.head.len() as u64),
        );
    }
    kept.finish()
}

/// The signal that ended the first instance to fail, if a user-mode fault
/// ended it: the guest kernel's `@kernel fault … signal=NAME` line of the
/// instance whose `@kernel exit` came first among those that failed (the
/// kernel reports the first failure's status for the whole VM).
fn fault_signal(vm: &VmReport, instances: &[Instance]) -> Option<i32> {
    first_fault_signal(instances, |vcpu| {
        vm.per_vcpu
            .iter()
            .find(|v| v.index == vcpu)
            .and_then(|v| v.markers.iter().find(|m| m.code == event::WORKLOAD_EXIT))
            .map_or(u64::MAX, |m| m.at_ns)
    })
}

/// [`fault_signal`] over `instances`, `exit_at` telling when each vCPU's
/// instance ended (ties and unknowns: the first in `instances`).
fn first_fault_signal(instances: &[Instance], exit_at: impl Fn(u32) -> u64) -> Option<i32> {
    instances
        .iter()
        .filter_map(|instance| {
            let status = instance
                .kernel_lines
                .iter()
                .find_map(|body| kernel_field(body, KERNEL_EXIT, KEY_STATUS))?;
            if status == "0" {
                return None;
            }
            let signal = instance
                .kernel_lines
                .iter()
                .find_map(|body| kernel_field(body, KERNEL_FAULT, KEY_SIGNAL))
                .and_then(|name| {
                    FAULT_SIGNALS
                        .iter()
                        .find(|(known, _)| *known == name)
                        .map(|&(_, number)| number)
                });
            Some((exit_at(instance.vcpu), signal))
        })
        .min_by_key(|&(at, _)| at)
        .and_then(|(_, signal)| signal)
}

/// The `key` field of a guest kernel line (prefix stripped) about `what`.
fn kernel_field<'a>(body: &'a str, what: &str, key: &str) -> Option<&'a str> {
    let (word, fields) = body.split_once(' ').unwrap_or((body, ""));
    if word != what {
        return None;
    }
    line::Fields::new(fields.trim_end()).find(key)
}

fn phase(name: &str, ns: Nanos) -> Phase {
    Phase {
        name: name.into(),
        ns,
    }
}

/// The `reason=` word of an `@kernel error …` line (prefix stripped),
/// read with the shared grammar (`versus_protocol::line`).
fn kernel_error_reason(body: &str) -> Option<&str> {
    let (what, fields) = body.split_once(' ').unwrap_or((body, ""));
    if what != line::kernel::ERROR {
        return None;
    }
    line::Fields::new(fields.trim_end()).find(line::key::REASON)
}

/// The workload's exit as a shell would see it; anything else the VM did
/// (reset, emulation failure, kernel fault) is a failure with its reason.
/// `kernel_error`: the reason word of the guest kernel's `error` line.
fn exit_outcome(outcome: &Outcome, kernel_error: Option<&str>) -> ExitOutcome {
    match outcome {
        Outcome::Exited { status, .. } if *status < hypervisor::abi::status::KERNEL_BASE => {
            ExitOutcome::Exited {
                code: *status as i32,
            }
        }
        Outcome::Timeout { after_ms } => ExitOutcome::TimedOut {
            after_ns: after_ms * 1_000_000,
        },
        Outcome::Interrupted => ExitOutcome::Interrupted,
        other => ExitOutcome::VmFailed {
            reason: describe_outcome(other, kernel_error),
        },
    }
}

/// One line about how the VM ended; `kernel_error` is the reason word of
/// the guest kernel's `@kernel error` line, if it printed one.
pub fn describe_outcome(outcome: &Outcome, kernel_error: Option<&str>) -> String {
    match outcome {
        Outcome::Exited { vcpu, status } if *status >= hypervisor::abi::status::KERNEL_BASE => {
            let decoded = GuestStatus::decode(*status);
            let detail = match (decoded, kernel_error) {
                (GuestStatus::BadWorkload, Some(word)) => {
                    format!(": {}", hypervisor::status::bad_workload_reason(word))
                }
                _ => String::new(),
            };
            format!(
                "{decoded}{detail} (vCPU {vcpu}, status {status:#x} {})",
                decoded.name()
            )
        }
        Outcome::Exited { vcpu, status } => format!("vCPU {vcpu} wrote exit status {status}"),
        Outcome::Reset { vcpu, regs } => format!(
            "guest reset (triple fault) on vCPU {vcpu}{}",
            regs.as_ref()
                .map(|r| format!(" at rip {:#x}", r.rip))
                .unwrap_or_default()
        ),
        Outcome::InternalError {
            vcpu,
            suberror,
            rip,
            ..
        } => format!(
            "KVM could not emulate a guest instruction on vCPU {vcpu} (suberror {suberror}{})",
            rip.map(|r| format!(", rip {r:#x}")).unwrap_or_default()
        ),
        Outcome::FailEntry { vcpu, reason } => {
            format!("KVM refused to enter vCPU {vcpu} (hardware reason {reason:#x})")
        }
        Outcome::UnexpectedExit { vcpu, what } => format!("unexpected exit on vCPU {vcpu}: {what}"),
        Outcome::VcpuError { vcpu, message } => format!("vCPU {vcpu} failed: {message}"),
        Outcome::Timeout { after_ms } => format!("stopped after the {after_ms} ms timeout"),
        Outcome::AllHalted => "every vCPU halted without writing an exit status".into(),
        Outcome::Interrupted => "stopped by versus on an interrupt".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::OUTPUT_KEEP_BYTES;
    use hypervisor::abi::status;

    fn exited(status: u32) -> Outcome {
        Outcome::Exited { vcpu: 0, status }
    }

    #[test]
    fn kernel_statuses_are_named_not_shown_as_vectors() {
        let oom = describe_outcome(&exited(status::KERNEL_OUT_OF_MEMORY), None);
        assert!(
            oom.starts_with("the guest kernel ran out of memory: give the VM more with --mem")
                && oom.contains("out-of-memory")
                && !oom.contains("vector"),
            "{oom}"
        );
        let bad = describe_outcome(
            &exited(status::KERNEL_BAD_WORKLOAD),
            Some("not-x86-64-executable"),
        );
        assert!(
            bad.contains("cannot run the workload image") && bad.contains("not a 64-bit x86-64"),
            "{bad}"
        );
        let fault = describe_outcome(&exited(status::KERNEL_BASE + 14), None);
        assert!(fault.contains("vector 14 (#PF page fault)"), "{fault}");
        assert_eq!(
            exit_outcome(&exited(3), None),
            ExitOutcome::Exited { code: 3 }
        );
    }

    fn capture(text: &[u8]) -> ConsoleCapture {
        let mut log = hypervisor::console::ConsoleLog::new();
        log.push(text);
        log.finish()
    }

    #[test]
    fn kept_output_is_bounded_and_says_what_it_left_out() {
        let small = capture(b"one\n@versus start task=x\ntwo\n");
        assert_eq!(kept_output([&small].into_iter()), "one\ntwo\n");
        assert_eq!(kept_output(std::iter::empty()), "");
        let big = capture(&vec![b'x'; hypervisor::console::HEAD_MAX + 100]);
        let kept = kept_output([&small, &big].into_iter());
        let left_out = small.other_bytes + big.other_bytes - OUTPUT_KEEP_BYTES as u64;
        assert!(
            kept.ends_with(&format!(
                "\n[versus kept the first 64.0 KiB of this output and left out the other {}]\n",
                crate::fmt::bytes(left_out)
            )),
            "{}",
            &kept[kept.len() - 90..]
        );
        assert!(kept.starts_with("one\ntwo\nxxx"));
    }

    fn instance(vcpu: u32, lines: &[&str]) -> Instance {
        Instance {
            vcpu,
            startup_ns: None,
            start: None,
            results: Vec::new(),
            kernel_lines: lines.iter().map(|l| l.to_string()).collect(),
            kernel_instructions: None,
        }
    }

    #[test]
    fn the_fault_of_the_first_failing_instance_is_its_signal() {
        let segv = instance(
            1,
            &[
                "fault cpu=1 pid=1 signal=SIGSEGV vector=14 rip=0x401000 addr=0x0 error=0x4",
                "exit cpu=1 pid=1 status=139",
            ],
        );
        let ok = instance(0, &["exit cpu=0 pid=1 status=0"]);
        let exited = instance(2, &["exit cpu=2 pid=1 status=139"]);
        let none = |_: u32| u64::MAX;
        assert_eq!(
            first_fault_signal(&[ok.clone(), segv.clone()], none),
            Some(libc::SIGSEGV)
        );
        // exit(139) first: no signal, whatever came later.
        let at = |vcpu: u32| u64::from(vcpu == 1) * 10;
        assert_eq!(
            first_fault_signal(&[segv.clone(), exited.clone()], at),
            None
        );
        let at = |vcpu: u32| u64::from(vcpu == 2) * 10;
        assert_eq!(first_fault_signal(&[segv, exited], at), Some(libc::SIGSEGV));
        assert_eq!(first_fault_signal(&[ok], none), None);
        let ill = instance(
            0,
            &[
                "fault cpu=0 pid=1 signal=SIGILL vector=6",
                "exit cpu=0 status=132",
            ],
        );
        assert_eq!(first_fault_signal(&[ill], none), Some(libc::SIGILL));
    }

    #[test]
    fn protocol_lines_are_told_from_the_programs_own() {
        assert!(is_protocol_line(b"@versus start task=x\n"));
        assert!(is_protocol_line(b"@kernel exit cpu=0\n"));
        assert!(!is_protocol_line(b"hello @versus\n"));
        let mut long = b"@versus ".to_vec();
        long.resize(PROTOCOL_LINE_MAX + 1, b'x');
        assert!(!is_protocol_line(&long), "too long for a record: shown");
    }

    #[test]
    fn the_kernels_error_reason_is_found() {
        assert_eq!(
            kernel_error_reason("error cpu=0 reason=out-of-memory"),
            Some("out-of-memory")
        );
        assert_eq!(kernel_error_reason("exit cpu=0 pid=1 status=0"), None);
    }
}

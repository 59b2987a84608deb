//! Step 7: what a run leaves behind — one plain serde struct, [`VmReport`].
//! All times are host monotonic nanoseconds (`Instant`); timestamps are
//! relative to the `Vm::run` call ("launch").

use serde::Serialize;

use crate::console::ConsoleCapture;
use crate::cpu::GuestRegs;
use crate::exit_probe::ExitProbeReport;
use crate::exits::ExitStats;
use crate::kvm::HostInfo;
use crate::memory::Region;
use crate::vm_state::UnhandledAccess;

/// How the guest's run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The guest wrote its exit status to the exit port.
    Exited {
        /// Which vCPU wrote it.
        vcpu: u32,
        /// The status.
        status: u32,
    },
    /// Shutdown / triple fault: the guest reset itself.
    Reset {
        /// Which vCPU.
        vcpu: u32,
        /// Its registers, if KVM gave them.
        regs: Option<GuestRegs>,
    },
    /// KVM could not run the guest (suberror 1: emulation failure — on the
    /// software backend some ring-0 instructions cannot be emulated).
    InternalError {
        /// Which vCPU.
        vcpu: u32,
        /// `kvm_run.internal.suberror`.
        suberror: u32,
        /// Guest RIP at the failure.
        rip: Option<u64>,
        /// `kvm_run.internal.data[..ndata]`.
        data: Vec<u64>,
        /// All registers.
        regs: Option<GuestRegs>,
    },
    /// KVM_EXIT_FAIL_ENTRY.
    FailEntry {
        /// Which vCPU.
        vcpu: u32,
        /// Hardware entry failure reason.
        reason: u64,
    },
    /// An exit the VMM does not know what to do with.
    UnexpectedExit {
        /// Which vCPU.
        vcpu: u32,
        /// What it was.
        what: String,
    },
    /// KVM_RUN itself failed.
    VcpuError {
        /// Which vCPU.
        vcpu: u32,
        /// The error.
        message: String,
    },
    /// The watchdog stopped the guest.
    Timeout {
        /// The timeout, in milliseconds.
        after_ms: u64,
    },
    /// Every vCPU executed `hlt` and nothing wrote the exit port.
    AllHalted,
    /// The caller's stop flag ([`crate::VmConfig::stop_flag`]) was set —
    /// Ctrl-C or SIGTERM in versus — and the VMM stopped the guest.
    Interrupted,
}

/// A boot marker as it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Marker {
    /// Event code (`versus_abi::event`).
    pub code: u32,
    /// Nanoseconds since launch.
    pub at_ns: u64,
    /// Guest kernel-mode (CPL 0) instructions this vCPU had executed when
    /// the marker arrived — only with [`crate::VmConfig::count_kernel_instructions`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_instructions: Option<u64>,
}

/// How one vCPU's loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VcpuEnd {
    /// It executed `hlt`.
    Halted,
    /// The VMM stopped it (exit port, another vCPU's failure, timeout, …).
    Stopped,
}

/// Per-vCPU figures.
#[derive(Clone, Debug, Serialize)]
pub struct VcpuReport {
    /// Index (= APIC id).
    pub index: u32,
    /// How its loop ended.
    pub end: VcpuEnd,
    /// Boot markers it wrote.
    pub markers: Vec<Marker>,
    /// Exits per reason.
    pub exits: ExitStats,
    /// Unhandled port/MMIO accesses (all of them counted).
    pub unhandled: u64,
    /// The first few of them.
    pub unhandled_log: Vec<UnhandledAccess>,
    /// Refused paravirtual console requests.
    pub console_errors: u64,
    /// What this vCPU wrote to the paravirtual console (its protocol lines,
    /// head and tail: [`crate::console`]).
    pub console: ConsoleCapture,
    /// What this vCPU's workload wrote to standard error (the paravirtual
    /// stderr port; head, tail and counts, no protocol lines).
    pub stderr: ConsoleCapture,
    /// Single-stepped instructions by privilege, when counting was asked
    /// for ([`crate::VmConfig::count_kernel_instructions`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionCount>,
}

/// Guest instructions one vCPU executed, counted by single-stepping it
/// (`KVM_GUESTDBG_SINGLESTEP`: one debug exit per instruction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InstructionCount {
    /// At CPL 0: the guest kernel.
    pub kernel: u64,
    /// At CPL 3: user mode. A software backend that runs user mode natively
    /// (`kvm_pvm`) reports no steps there, so this can stay 0.
    pub user: u64,
}

/// Where the time went, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Phases {
    /// Steps 1–2a: open /dev/kvm, check it, create the VM.
    pub create_vm_ns: u64,
    /// Step 2b: map guest memory, register KVM slots.
    pub memory_ns: u64,
    /// Steps 3–4: load kernel/workload/argv, write GDT, page tables, boot info.
    pub load_ns: u64,
    /// Step 5: create and configure the vCPUs (CPUID, registers).
    pub vcpus_ns: u64,
    /// From starting the vCPU threads to the first WORKLOAD_START marker.
    pub boot_to_first_marker_ns: Option<u64>,
    /// Step 6: from starting the vCPU threads until all of them stopped.
    pub run_ns: u64,
    /// Step 7: join threads, close the VM, unmap guest memory (the memory
    /// measurement before it is in `total_ns` only).
    pub teardown_ns: u64,
    /// Launch to teardown done.
    pub total_ns: u64,
}

/// Console output, per channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsoleOutput {
    /// What went through the UART (one exit per byte), as kept by
    /// [`crate::console`].
    pub uart: ConsoleCapture,
    /// Bytes through the UART.
    pub uart_bytes: u64,
    /// What went through the paravirtual console (one exit per buffer),
    /// every vCPU interleaved.
    pub paravirt: ConsoleCapture,
    /// Bytes through the paravirtual console.
    pub paravirt_bytes: u64,
}

/// One region and how much of it was touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RegionReport {
    /// The region.
    #[serde(flatten)]
    pub region: Region,
    /// Bytes resident in host RAM at the end of the run (`mincore`).
    pub resident_bytes: u64,
}

/// Memory figures, taken after the vCPUs stopped and before teardown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryReport {
    /// The guest's regions.
    pub regions: Vec<RegionReport>,
    /// Guest RAM size.
    pub guest_total_bytes: u64,
    /// Guest RAM actually touched (resident; by the guest or the VMM's setup).
    pub guest_touched_bytes: u64,
    /// Resident set of the whole process (`VmRSS`).
    pub process_rss_bytes: Option<u64>,
    /// VMM overhead: process RSS minus the touched guest memory. Meaningful
    /// when the process runs one VM (tests running in parallel share it).
    pub vmm_overhead_rss_bytes: Option<u64>,
}

/// Everything about one run.
#[derive(Clone, Debug, Serialize)]
pub struct VmReport {
    /// How it ended.
    pub outcome: Outcome,
    /// vCPU count.
    pub vcpus: u32,
    /// TSC frequency (KVM_GET_TSC_KHZ), also given to the guest.
    pub tsc_khz: u32,
    /// The KVM backend and host (software KVM numbers are not hardware numbers).
    pub host: HostInfo,
    /// Phase durations.
    pub phases: Phases,
    /// Launch to the first WORKLOAD_START marker of any vCPU.
    pub launch_to_first_marker_ns: Option<u64>,
    /// Per-vCPU figures.
    pub per_vcpu: Vec<VcpuReport>,
    /// Exits of all vCPUs together.
    pub exits: ExitStats,
    /// Console output.
    pub console: ConsoleOutput,
    /// Memory.
    pub memory: MemoryReport,
    /// The exit probe's figures, when [`VmConfig::exit_probe`](crate::VmConfig::exit_probe)
    /// asked for one.
    pub exit_probe: Option<ExitProbeReport>,
}

impl VmReport {
    /// The exit status, if the guest wrote one.
    pub fn exit_status(&self) -> Option<u32> {
        match self.outcome {
            Outcome::Exited { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The earliest marker with `code` over all vCPUs (ns since launch).
    pub fn first_marker(&self, code: u32) -> Option<u64> {
        self.per_vcpu
            .iter()
            .flat_map(|v| v.markers.iter())
            .filter(|m| m.code == code)
            .map(|m| m.at_ns)
            .min()
    }
}

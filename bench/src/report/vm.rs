//! What a report holds that only a VM run has: the exits per vCPU and
//! reason, each vCPU's workload instance, the guest RAM regions and the exit
//! probe. The VM backend (`crate::backend::vm`) fills them from the VMM's
//! report.

use serde::{Deserialize, Serialize};

use super::Nanos;
use crate::workload::{StartMarker, TaskResult};

/// What versus knows about one run that only a VM has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmDetails {
    /// The guest kernel used.
    pub kernel: String,
    /// vCPUs.
    pub vcpus: u32,
    /// The host's KVM backend (`kvm_intel`, `kvm_amd`, `kvm_pvm`…).
    pub kvm_backend: String,
    /// True when guest kernel mode is emulated in software.
    pub software_backend: bool,
    /// Guest TSC rate.
    pub tsc_khz: u32,
    /// Exits per vCPU and reason.
    pub exits: Vec<ExitRow>,
    /// What each vCPU's workload instance printed.
    pub instances: Vec<Instance>,
    /// The guest RAM regions and how much of each the guest touched.
    pub regions: Vec<RegionRow>,
    /// Bytes the guest wrote to the 16550 UART.
    pub uart_bytes: u64,
    /// Bytes the guest handed over through the paravirtual console.
    pub paravirt_bytes: u64,
    /// How the VM ended, as the VMM saw it.
    pub vmm_outcome: String,
    /// The exit probe's figures, when the run asked for one (`--exit-probe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_probe: Option<ExitProbe>,
}

/// The VM exit round trip (port I/O to the ping port), from a guest loop of
/// `iters` exits before the workload, as each side measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitProbe {
    /// Exits the guest was asked to make.
    pub iters: u32,
    /// Ping exits the VMM counted (equals `iters` when the probe completed).
    pub ping_exits: u64,
    /// Nanoseconds per exit by the guest's TSC, from the kernel's `exitprobe` line.
    pub guest_ns_per_exit: Option<f64>,
    /// Nanoseconds per exit on the host clock, between the probe's two markers.
    pub host_ns_per_exit: Option<f64>,
    /// Nanoseconds per exit spent in the VMM's handler (the userspace share).
    pub handler_ns_per_exit: Option<f64>,
}

/// Exits of one reason on one vCPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRow {
    /// The vCPU.
    pub vcpu: u32,
    /// The reason (`io_out 0x608`, `hlt`, …).
    pub reason: String,
    /// How many.
    pub count: u64,
    /// Host time spent handling them in the VMM.
    pub host_ns: Nanos,
}

/// One workload instance (one per vCPU that ran it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// The vCPU it ran on.
    pub vcpu: u32,
    /// Launch → this vCPU's workload-start marker.
    pub startup_ns: Option<Nanos>,
    /// Its start marker.
    pub start: Option<StartMarker>,
    /// Its result lines.
    pub results: Vec<TaskResult>,
    /// The guest kernel's `@kernel` lines about it.
    pub kernel_lines: Vec<String>,
    /// Guest kernel-mode instructions from the vCPU's first instruction to
    /// its workload-start marker, and in the whole run — with
    /// `--count-instructions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_instructions: Option<KernelInstructions>,
}

/// Guest kernel-mode (CPL 0) instructions of one vCPU, single-stepped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelInstructions {
    /// From the first instruction to the workload-start marker: the boot.
    pub to_workload_start: Option<u64>,
    /// In the whole run (boot, system calls, faults, exit).
    pub total: u64,
    /// User-mode (CPL 3) steps; 0 where the backend runs user mode natively
    /// and does not report them (`kvm_pvm`).
    pub user: u64,
}

/// One RAM region of the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionRow {
    /// Guest-physical base.
    pub base: u64,
    /// Size.
    pub size: u64,
    /// Bytes of it resident on the host (touched by the guest or the VMM).
    pub resident_bytes: u64,
}

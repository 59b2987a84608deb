//! What a report holds that only a Linux guest run has: the kernel and how
//! it was booted, the boot's milestones, the exits by reason (every vCPU's
//! together, as the VMM counts them for Linux), the instructions versus
//! assisted, and the figures this run could not have, each with its
//! reason. The Linux backend (`crate::backend::linux`) fills it from the
//! VMM's `LinuxRunReport`.

use serde::{Deserialize, Serialize};

use super::Nanos;

/// What versus knows about one run that only a Linux guest has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinuxDetails {
    /// The kernel file booted.
    pub kernel: String,
    /// Its format (`ELF vmlinux`, `bzImage (gzip payload, unpacked by versus)`).
    pub kernel_format: String,
    /// The kernel file's size in bytes.
    pub kernel_bytes: u64,
    /// The initramfs' size in bytes (0 without one).
    pub initramfs_bytes: u64,
    /// The command line the kernel got.
    pub cmdline: String,
    /// vCPUs.
    pub vcpus: u32,
    /// The host's KVM backend (`kvm_intel`, `kvm_amd`, `kvm_pvm`…).
    pub kvm_backend: String,
    /// True when guest kernel mode is emulated in software.
    pub software_backend: bool,
    /// How the run ended, in one line (the stop reason).
    pub ended: String,
    /// Why versus stopped there, when it stopped at "Run /init" on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_because: Option<String>,
    /// The boot's milestones as the console showed them, in order.
    pub milestones: Vec<Milestone>,
    /// Exits by reason, every vCPU's together.
    pub exits: Vec<LinuxExitRow>,
    /// Instructions the emulator refused and versus carried out, by name.
    pub assists: Vec<Assist>,
    /// Console lines in all.
    pub console_lines: u64,
    /// The console's last lines.
    pub last_lines: Vec<String>,
    /// The report's figures this run has no value for, each with the reason
    /// (a missing figure is never written as zero).
    pub not_measured: Vec<NotMeasured>,
}

/// A boot milestone and when the console showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    /// Its name (`"Run /init as init process"`).
    pub name: String,
    /// Launch → the console line.
    pub since_launch_ns: Nanos,
}

/// Exits of one reason on all vCPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxExitRow {
    /// The reason (`io_out 0x3f8`, `hlt`, …), as the tiny kernel's rows name it.
    pub reason: String,
    /// How many.
    pub count: u64,
    /// Host time spent handling them in the VMM.
    pub host_ns: Nanos,
}

/// An instruction versus carried out for the emulator, with its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assist {
    /// The instruction (`int3`, `fwait`).
    pub instruction: String,
    /// How often.
    pub count: u64,
}

/// A figure of the report left empty, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotMeasured {
    /// The report's field (`start`, `results`, `memory.workload_peak_rss_bytes`).
    pub field: String,
    /// Why this run has no value for it.
    pub reason: String,
}

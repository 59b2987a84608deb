//! What a Linux run reports: how it ended ([`LinuxEnd`], with its
//! one-line description), and everything it got to ([`LinuxRunReport`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::milestones::{InitStatus, Milestone};
use super::super::{EntryProtocol, KernelFormat, cmdline};
use crate::exits::ExitStats;
use crate::kvm::KvmBackend;

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
    /// Launch to the vCPU threads started: the VMM's set-up (KVM, guest
    /// memory, the kernel and initramfs loaded, the vCPUs created).
    pub setup: Duration,
    /// The end of the run to the VM and its memory released.
    pub teardown: Duration,
    /// Resident set of the whole process with the guest memory still
    /// mapped (`VmRSS`), for the VMM's overhead beside the guest's pages.
    pub process_rss: Option<u64>,
    /// Guest memory the run touched (resident in the host), in bytes.
    pub memory_touched: u64,
    /// The initramfs' size in bytes (0 without one).
    pub initrd_size: u64,
}

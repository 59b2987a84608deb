//! What a Linux run reports: how it ended ([`LinuxEnd`], with its
//! one-line description), and everything it got to ([`LinuxRunReport`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::decode::decode;
use super::super::milestones::{InitStatus, Milestone};
use super::super::symbols::KernelSymbols;
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
    /// The console and the exits showed no progress for the run's
    /// `stall_silence` ([`STALL_SILENCE`](super::STALL_SILENCE) or
    /// [`STALL_SILENCE_OTHER_KERNEL`](super::STALL_SILENCE_OTHER_KERNEL))
    /// while the vCPUs had the CPU.
    Stalled {
        /// Wall-clock time since the last console output or exit.
        silent_for: Duration,
        /// The part of it the vCPUs could run (not waiting for a host CPU).
        silent_runnable: Duration,
        /// Every vCPU as the supervisor found it then.
        vcpus: Vec<VcpuState>,
    },
    /// The console said "reboot: System halted" or "reboot: Power down",
    /// and then every vCPU was halted with interrupts off (or never
    /// started): the guest stopped itself (`halt -f`, `poweroff -f` on a
    /// machine without ACPI).
    Halted {
        /// The console's line.
        line: String,
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

/// Where a vCPU was and what it was doing, as its thread read it when the
/// supervisor asked (a stall, a halt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuState {
    /// The vCPU.
    pub vcpu: u32,
    /// Its RIP, if its registers were readable.
    pub rip: Option<u64>,
    /// RFLAGS.IF.
    pub interrupts_enabled: bool,
    /// What KVM's multiprocessing state says it does.
    pub activity: VcpuActivity,
}

/// A vCPU's activity (`KVM_GET_MP_STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuActivity {
    /// Runnable: executing guest code.
    Running,
    /// Halted (`hlt`), waiting for an interrupt.
    Halted,
    /// Never started: waiting for the INIT/SIPI that brings an AP up.
    NotStarted,
    /// The state could not be read.
    Unknown,
}

impl VcpuState {
    /// Stopped for good: halted with interrupts off, or never started.
    pub fn is_stopped(&self) -> bool {
        match self.activity {
            VcpuActivity::Halted => !self.interrupts_enabled,
            VcpuActivity::NotStarted => true,
            VcpuActivity::Running | VcpuActivity::Unknown => false,
        }
    }

    /// `vCPU 0: RIP 0xffffffff81003004 (native_halt+0x4), halted, interrupts off`.
    pub fn describe(&self, symbols: Option<&KernelSymbols>) -> String {
        let activity = match self.activity {
            VcpuActivity::Running => "running",
            VcpuActivity::Halted => "halted",
            VcpuActivity::NotStarted => "never started",
            VcpuActivity::Unknown => "state unreadable",
        };
        let interrupts = if self.interrupts_enabled { "on" } else { "off" };
        match self.rip {
            Some(rip) => format!(
                "vCPU {}: RIP {rip:#x}{}, {activity}, interrupts {interrupts}",
                self.vcpu,
                symbol_suffix(symbols, rip)
            ),
            None => format!("vCPU {}: registers unreadable, {activity}", self.vcpu),
        }
    }
}

/// ` (name+0x1a)` for a RIP a symbol covers, else nothing.
fn symbol_suffix(symbols: Option<&KernelSymbols>, rip: u64) -> String {
    symbols
        .and_then(|s| s.lookup(rip))
        .map(|s| format!(" ({s})"))
        .unwrap_or_default()
}

impl LinuxEnd {
    /// The one-line description, with RIPs named from `symbols` when given
    /// (the [`Display`](std::fmt::Display) form names none).
    pub fn describe(&self, symbols: Option<&KernelSymbols>) -> String {
        match self {
            LinuxEnd::Shutdown {
                vcpu,
                rip: Some(rip),
            } => format!(
                "vCPU {vcpu} shut down (triple fault) at RIP {rip:#x}{}",
                symbol_suffix(symbols, *rip)
            ),
            LinuxEnd::EmulationFailure { vcpu, rip, bytes } => {
                let at = format!("RIP {rip:#x}{}", symbol_suffix(symbols, *rip));
                match decode(bytes, *rip) {
                    Some(insn) => format!(
                        "vCPU {vcpu}: KVM could not emulate `{}` at {at} (bytes {})",
                        insn.text,
                        hex(&bytes[..insn.len])
                    ),
                    None => format!(
                        "vCPU {vcpu}: KVM could not emulate the instruction at {at} (bytes {}, not a valid instruction)",
                        hex(bytes)
                    ),
                }
            }
            other => other.to_string(),
        }
    }
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
            LinuxEnd::EmulationFailure { .. } => f.write_str(&self.describe(None)),
            LinuxEnd::Stalled {
                silent_for,
                silent_runnable,
                ..
            } => write!(
                f,
                "the boot stalled: no console output and no exits for {:.0} s, {:.0} s of it with the vCPUs able to run",
                silent_for.as_secs_f64(),
                silent_runnable.as_secs_f64()
            ),
            LinuxEnd::Halted { line } => {
                write!(f, "the guest halted every vCPU after \"{line}\"")
            }
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
    /// The workload's `@versus` lines with the time since launch each
    /// arrived, bounded as [`BootProgress::workload_lines`] says.
    ///
    /// [`BootProgress::workload_lines`]: super::super::milestones::BootProgress::workload_lines
    pub workload_lines: Vec<(String, Duration)>,
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

/// What to do about a boot that ran out of time on a software backend:
/// there every ring-0 instruction is emulated, and a distribution's kernel
/// needs tens of minutes (Debian's cloud kernel 23 min to "Run /init" here)
/// where the minimal one needs seconds.
pub const SLOW_BOOT_ADVICE: &str = "on a software KVM backend every kernel instruction is emulated: a distribution's kernel needs tens of minutes to reach \"Run /init\" (Debian's cloud kernel took 23 min here); give it --timeout 30m, and --mem 256M and --cmdline \"cryptomgr.notests init_on_alloc=0 audit=0\" spare it work, or boot the minimal kernel (make linux-guest), which needs seconds";

impl LinuxRunReport {
    /// Advice on what to do next, when the way the boot ended has one.
    pub fn advice(&self) -> Option<&'static str> {
        (self.end == LinuxEnd::Timeout && self.backend.is_software()).then_some(SLOW_BOOT_ADVICE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emulation_failure_and_a_triple_fault_name_their_rip_s_symbol() {
        let symbols = KernelSymbols::parse_system_map(
            "ffffffff81020000 T restore_fpregs\nffffffff81021000 T _etext\n",
        );
        let end = LinuxEnd::EmulationFailure {
            vcpu: 1,
            rip: 0xffffffff81020010,
            bytes: vec![0x48, 0x0f, 0xae, 0x2f, 0xc3, 0x90],
        };
        assert_eq!(
            end.describe(Some(&symbols)),
            "vCPU 1: KVM could not emulate `xrstor64 (%rdi)` at RIP 0xffffffff81020010 (restore_fpregs+0x10) (bytes 48 0f ae 2f)"
        );
        let triple_fault = LinuxEnd::Shutdown {
            vcpu: 0,
            rip: Some(0xffffffff81020abc),
        };
        assert_eq!(
            triple_fault.describe(Some(&symbols)),
            "vCPU 0 shut down (triple fault) at RIP 0xffffffff81020abc (restore_fpregs+0xabc)"
        );
        assert_eq!(
            triple_fault.to_string(),
            "vCPU 0 shut down (triple fault) at RIP 0xffffffff81020abc"
        );
        let junk = LinuxEnd::EmulationFailure {
            vcpu: 0,
            rip: 0x1000,
            bytes: vec![0x0f, 0xff],
        };
        assert!(
            junk.describe(Some(&symbols))
                .ends_with("at RIP 0x1000 (bytes 0f ff, not a valid instruction)"),
            "{}",
            junk.describe(Some(&symbols))
        );
    }

    #[test]
    fn a_vcpu_is_stopped_only_when_halted_with_interrupts_off_or_never_started() {
        let state = |activity, interrupts_enabled| VcpuState {
            vcpu: 0,
            rip: Some(0x10_0000),
            interrupts_enabled,
            activity,
        };
        assert!(state(VcpuActivity::Halted, false).is_stopped());
        assert!(
            !state(VcpuActivity::Halted, true).is_stopped(),
            "waits for a timer"
        );
        assert!(!state(VcpuActivity::Running, false).is_stopped());
        assert!(state(VcpuActivity::NotStarted, true).is_stopped());
        assert!(!state(VcpuActivity::Unknown, false).is_stopped());
        assert_eq!(
            state(VcpuActivity::Halted, false).describe(None),
            "vCPU 0: RIP 0x100000, halted, interrupts off"
        );
    }
}

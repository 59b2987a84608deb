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

/// The guest kernel's `enosys` line (`@kernel` prefix stripped): the system
/// calls it answered `-ENOSYS`, by number, with how often.
const ENOSYS_LINE: &str = "enosys";

/// A system call the guest kernel does not implement, as its `enosys` line
/// names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSyscall {
    /// The x86-64 system-call number.
    pub nr: u64,
    /// How many times the instance asked for it.
    pub calls: u64,
}

impl MissingSyscall {
    /// The call's x86-64 name (`readlink`), if the number has one.
    pub fn name(&self) -> Option<&'static str> {
        syscall_name(self.nr)
    }
}

impl std::fmt::Display for MissingSyscall {
    /// `readlink (89)`, or `syscall 999` for a number with no name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.nr),
            None => write!(f, "syscall {}", self.nr),
        }
    }
}

/// The x86-64 Linux name of system call `nr` (from the `syscalls` crate's
/// table: the guest is x86-64 whatever the host).
pub fn syscall_name(nr: u64) -> Option<&'static str> {
    let nr = usize::try_from(nr).ok()?;
    syscalls::x86_64::Sysno::new(nr).map(|sysno| sysno.name())
}

/// The `key=value` fields of a kernel line (words without `=` skipped).
fn fields(line: &str) -> impl Iterator<Item = (&str, &str)> {
    line.split(' ').filter_map(|word| word.split_once('='))
}

/// The numbers of a comma-separated field (`56,61,293`); `None` if one of
/// them is not a number.
fn numbers(list: &str) -> Option<Vec<u64>> {
    list.split(',').map(|n| n.parse().ok()).collect()
}

/// The system calls the guest kernel's `enosys` lines among `kernel_lines`
/// report (`enosys cpu=0 calls=3 nr=56,61,293 counts=1,1,1`), in the
/// kernel's order. A malformed line names nothing rather than guessing.
pub fn missing_syscalls(kernel_lines: &[String]) -> Vec<MissingSyscall> {
    let mut missing = Vec::new();
    for line in kernel_lines {
        let Some(rest) = line
            .strip_prefix(ENOSYS_LINE)
            .filter(|r| r.starts_with(' '))
        else {
            continue;
        };
        let (mut nrs, mut counts) = (None, None);
        for (key, value) in fields(rest) {
            match key {
                "nr" => nrs = numbers(value),
                "counts" => counts = numbers(value),
                _ => {}
            }
        }
        if let (Some(nrs), Some(counts)) = (nrs, counts)
            && nrs.len() == counts.len()
        {
            missing.extend(
                nrs.into_iter()
                    .zip(counts)
                    .map(|(nr, calls)| MissingSyscall { nr, calls }),
            );
        }
    }
    missing
}

/// A guest kernel line as a person reads it: an `enosys` line's `nr=` list
/// gets the calls' names (`nr=89,262` → `nr=readlink (89), newfstatat
/// (262)`); every other line is returned as it is.
pub fn describe_kernel_line(line: &str) -> String {
    if !line.starts_with("enosys ") {
        return line.to_string();
    }
    line.split(' ')
        .map(|word| match word.strip_prefix("nr=").and_then(numbers) {
            Some(nrs) => {
                let named: Vec<String> = nrs
                    .into_iter()
                    .map(|nr| MissingSyscall { nr, calls: 0 }.to_string())
                    .collect();
                format!("nr={}", named.join(", "))
            }
            None => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enosys_numbers_get_their_x86_64_names() {
        assert_eq!(syscall_name(89), Some("readlink"));
        assert_eq!(syscall_name(262), Some("newfstatat"));
        assert_eq!(syscall_name(334), Some("rseq"));
        assert_eq!(syscall_name(100_000), None);
        assert_eq!(
            describe_kernel_line(
                "enosys cpu=0 calls=7 nr=89,262,273,302,318,334,999 counts=1,1,1,1,1,1,1"
            ),
            "enosys cpu=0 calls=7 nr=readlink (89), newfstatat (262), set_robust_list (273), \
             prlimit64 (302), getrandom (318), rseq (334), syscall 999 counts=1,1,1,1,1,1,1"
        );
        assert_eq!(
            describe_kernel_line("exit cpu=0 pid=1 status=3"),
            "exit cpu=0 pid=1 status=3"
        );
    }

    #[test]
    fn missing_syscalls_come_from_the_enosys_lines_only() {
        let lines = [
            "exit cpu=0 pid=1 status=0".to_string(),
            "enosys cpu=0 calls=3 nr=56,61 counts=1,2".to_string(),
            "enosys cpu=0 calls=1 nr=x counts=1".to_string(),
            "enosysx nr=1 counts=1".to_string(),
        ];
        let missing = missing_syscalls(&lines);
        assert_eq!(
            missing,
            [
                MissingSyscall { nr: 56, calls: 1 },
                MissingSyscall { nr: 61, calls: 2 }
            ]
        );
        assert_eq!(missing[0].to_string(), "clone (56)");
        assert_eq!(missing[1].name(), Some("wait4"));
    }
}

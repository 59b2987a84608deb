//! How the VM ended, read as a shell reads a process's end: the workload's
//! status, the signal a user-mode fault stands for (as Linux would have
//! sent it), a timeout, an interrupt — or, for anything else the VM did, a
//! failure with its reason in one line.

use hypervisor::abi::event;
use hypervisor::{GuestStatus, Outcome, VmReport};
use versus_protocol::line;

use crate::report::ExitOutcome;
use crate::report::vm::Instance;

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

/// The signal that ended the first instance to fail, if a user-mode fault
/// ended it: the guest kernel's `@kernel fault … signal=NAME` line of the
/// instance whose `@kernel exit` came first among those that failed (the
/// kernel reports the first failure's status for the whole VM).
pub(super) fn fault_signal(vm: &VmReport, instances: &[Instance]) -> Option<i32> {
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

/// The `reason=` word of an `@kernel error …` line (prefix stripped),
/// read with the shared grammar (`versus_protocol::line`).
pub(super) fn kernel_error_reason(body: &str) -> Option<&str> {
    let (what, fields) = body.split_once(' ').unwrap_or((body, ""));
    if what != line::kernel::ERROR {
        return None;
    }
    line::Fields::new(fields.trim_end()).find(line::key::REASON)
}

/// The workload's exit as a shell would see it; anything else the VM did
/// (reset, emulation failure, kernel fault) is a failure with its reason.
/// `kernel_error`: the reason word of the guest kernel's `error` line.
pub(super) fn exit_outcome(outcome: &Outcome, kernel_error: Option<&str>) -> ExitOutcome {
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
    fn the_kernels_error_reason_is_found() {
        assert_eq!(
            kernel_error_reason("error cpu=0 reason=out-of-memory"),
            Some("out-of-memory")
        );
        assert_eq!(kernel_error_reason("exit cpu=0 pid=1 status=0"), None);
    }
}

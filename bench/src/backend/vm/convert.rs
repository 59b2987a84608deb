//! The VMM's report turned into the common one: every vCPU's console
//! parsed into its instance, the phases, the exits by reason, the memory
//! figures and the program's own output.

use hypervisor::abi::event;
use hypervisor::console::ConsoleCapture;
use hypervisor::{ExitKind, Outcome, VmReport};

use super::outcome::{describe_outcome, exit_outcome, fault_signal, kernel_error_reason};
use super::{KERNEL_LINE_PREFIX, VmBackend};
use crate::backend::{BackendError, Launch};
use crate::report::vm::{ExitProbe, ExitRow, Instance, KernelInstructions, RegionRow, VmDetails};
use crate::report::{ExitOutcome, MemoryFigures, Phase, RunReport};
use crate::workload::{self, Record};

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

/// Turns the VMM's report into the common one.
pub(super) fn convert(
    backend: &VmBackend,
    launch: &Launch,
    vm: &VmReport,
) -> Result<RunReport, BackendError> {
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
        Phase::new("create VM", phases.create_vm_ns),
        Phase::new("memory", phases.memory_ns),
        Phase::new("load", phases.load_ns),
        Phase::new("vCPUs", phases.vcpus_ns),
    ];
    match phases.boot_to_first_marker_ns {
        Some(boot) => {
            phase_list.push(Phase::new("boot→marker", boot));
            phase_list.push(Phase::new("run", phases.run_ns.saturating_sub(boot)));
        }
        None => phase_list.push(Phase::new("run", phases.run_ns)),
    }
    phase_list.push(Phase::new("teardown", phases.teardown_ns));

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
        linux: None,
        container: None,
        process: None,
    })
}

/// The program's own output of several consoles (one per vCPU, then the
/// UART), in that order: what each kept of it from its start, together at
/// most [`crate::report::OUTPUT_KEEP_BYTES`], then a note of how many bytes were left out.
fn kept_output<'a>(captures: impl Iterator<Item = &'a ConsoleCapture>) -> String {
    let mut kept = crate::backend::collect::KeptText::default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::OUTPUT_KEEP_BYTES;

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
}

//! The boot recipe: one function, [`Vm::run`], that calls the numbered steps
//! in order (like Firecracker's `builder.rs`) and turns what happened into a
//! [`VmReport`].

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use crate::bootinfo::{self, BootInfoError, BootInfoInput};
use crate::config::{ConfigError, VmConfig};
use crate::cpu::EntryPoint;
use crate::cpuid::{self, CpuidError};
use crate::devices::stdin::Stdin;
use crate::exit_probe;
use crate::exits::ExitStats;
use crate::gdt::{self, GdtError};
use crate::kvm::{self, KvmError};
use crate::layout::{PAGE_TABLES_END, PAGE_TABLES_START};
use crate::loader::{self, LoadError};
use crate::memory::{self, MemoryError};
use crate::paging::{IdentityMap, PagingError};
use crate::report::{
    ConsoleOutput, MemoryReport, Outcome, Phases, RegionReport, VcpuReport, VmReport,
};
use crate::vcpu::{self, VcpuError, VcpuThreads};
use crate::vm_state::Shared;

/// Everything that can keep a VM from running (what happens to a running
/// guest is not an error: it is the report's [`Outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration itself (checked before step 1).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Step 1 / 2a.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// Step 2b.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// Step 3.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Step 4: GDT.
    #[error(transparent)]
    Gdt(#[from] GdtError),
    /// Step 4: page tables.
    #[error(transparent)]
    Paging(#[from] PagingError),
    /// Step 4: boot information.
    #[error(transparent)]
    BootInfo(#[from] BootInfoError),
    /// Step 5: CPUID.
    #[error("KVM_GET_SUPPORTED_CPUID failed: {0}")]
    SupportedCpuid(kvm_ioctls::Error),
    /// Step 5: vCPUs.
    #[error(transparent)]
    Vcpu(#[from] VcpuError),
}

impl From<CpuidError> for Error {
    fn from(e: CpuidError) -> Self {
        Error::Vcpu(VcpuError::Cpuid(e))
    }
}

/// A VM run from configuration to report.
#[derive(Debug)]
pub struct Vm;

fn ns(d: std::time::Duration) -> u64 {
    d.as_nanos() as u64
}

impl Vm {
    /// Boots `config`'s kernel, runs it until it exits, stops, fails or
    /// times out, tears everything down (every thread joined, every mapping
    /// unmapped), and reports.
    pub fn run(config: &VmConfig) -> Result<VmReport, Error> {
        config.validate()?;
        // The memory layout needs no KVM: a wrong --mem is refused as such
        // even on a host without /dev/kvm.
        let layout = config.layout()?;
        let launch = Instant::now();

        // 1. Open /dev/kvm, check the API version and capabilities.
        let kvm = kvm::open()?;
        let host = kvm::host_info(&kvm);
        vcpu::check_count(config.vcpus, host.max_vcpus)?;
        // Declared before the VM so that, on every path, the VM fd is closed
        // before the guest memory it points at is unmapped.
        let mem;
        // 2a. Create the VM (no in-kernel irqchip: HLT exits to us, every vCPU
        //     starts runnable in the entry state of step 5).
        let vm = kvm.create_vm().map_err(KvmError::CreateVm)?;
        let t_vm = Instant::now();

        // 2b. Guest memory: one MAP_NORESERVE mapping and one KVM slot per region.
        mem = memory::create_guest_memory(&layout)?;
        memory::register_slots(&vm, &mem)?;
        let t_mem = Instant::now();

        // 3. Load the kernel ELF; place workload image, argv and stacks after it.
        let placement = loader::load(
            &mem,
            &layout,
            &config.kernel,
            &config.workload,
            &config.argv,
            &config.initrd,
            config.vcpus,
        )?;

        // 4. What firmware would leave in memory: GDT, identity page tables,
        //    and the boot information (tsc_khz follows in step 5).
        gdt::write_gdt(&mem)?;
        let tables = IdentityMap::build(layout.regions(), PAGE_TABLES_START, PAGE_TABLES_END)?;
        tables.write(&mem)?;
        let mut info = bootinfo::build(&BootInfoInput {
            layout: &layout,
            placement: &placement,
            page_tables: &tables,
            vcpus: config.vcpus,
            run_on_every_vcpu: config.run_on_every_vcpu,
            tsc_khz: 0,
            exit_probe_iters: config.exit_probe.unwrap_or(0),
        });
        if config.console_uart {
            info.flags |= versus_abi::flags::CONSOLE_UART;
        }
        bootinfo::write(&mem, &info)?;
        let t_load = Instant::now();

        // 5. vCPUs: create, read the TSC rate (a vCPU ioctl), CPUID, registers.
        let supported = cpuid::supported(&kvm).map_err(Error::SupportedCpuid)?;
        let mut vcpus = Vec::with_capacity(config.vcpus as usize);
        let mut tsc_khz = 0;
        for index in 0..config.vcpus {
            let v = vcpu::create(&vm, index)?;
            if index == 0 {
                tsc_khz = v.fd.get_tsc_khz().unwrap_or(0);
                bootinfo::set_tsc_khz(&mem, tsc_khz)?;
            }
            let entry = EntryPoint {
                rip: placement.kernel.entry,
                rsp: placement.stack_top(index),
                cr3: tables.base,
                index,
            };
            vcpu::configure(&v, config.vcpus, &supported, &entry)?;
            let mut v = v;
            if config.count_kernel_instructions {
                vcpu::single_step(&mut v)?;
            }
            vcpus.push(v);
        }
        let t_vcpus = Instant::now();

        // 6. Run: one thread per vCPU; the supervisor kicks them when one
        //    stops the VM or the watchdog fires.
        let mut shared = Shared::new(launch, mem.clone(), config.trace.callback());
        if let Some(observer) = &config.console_observer {
            shared.console_observer = Some(observer.clone());
            shared
                .serial
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .observe(observer.clone());
        }
        shared.stdin = Stdin::new(config.stdin.clone());
        let shared = Arc::new(shared);
        let run_start = Instant::now();
        let mut threads = VcpuThreads::spawn(vcpus, shared.clone())?;
        threads.supervise(run_start, config.timeout, config.stop_flag);
        let run_end = Instant::now();

        // 7. Measure memory while it is still mapped (every vCPU has left its
        //    loop), then tear down: join the threads, close the VM fd, unmap
        //    the memory it pointed at.
        let memory_report = measure_memory(&mem, &layout);
        let teardown_start = Instant::now();
        let results = threads.join();
        let outcome = shared.outcome().unwrap_or(Outcome::AllHalted);
        let uart = shared
            .serial
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finish();
        let paravirt = shared
            .pv_console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(vm);
        drop(shared);
        drop(mem);
        drop(kvm);
        let t_end = Instant::now();

        let mut exits = ExitStats::default();
        let per_vcpu: Vec<VcpuReport> = results
            .into_iter()
            .map(|(state, end)| {
                exits.merge(&state.stats);
                VcpuReport {
                    index: state.index,
                    end,
                    markers: state.markers,
                    exits: state.stats,
                    unhandled: state.unhandled,
                    unhandled_log: state.unhandled_log,
                    console_errors: state.console_errors,
                    console: state.console.finish(),
                    stderr: state.stderr.finish(),
                    instructions: state.instructions,
                }
            })
            .collect();
        let uart_bytes = uart.bytes;
        let exit_probe = config.exit_probe.map(|iters| {
            let bsp = per_vcpu.iter().find(|v| v.index == 0);
            exit_probe::measure(iters, bsp, &uart)
        });
        let mut report = VmReport {
            outcome,
            vcpus: config.vcpus,
            tsc_khz,
            host,
            phases: Phases {
                create_vm_ns: ns(t_vm - launch),
                memory_ns: ns(t_mem - t_vm),
                load_ns: ns(t_load - t_mem),
                vcpus_ns: ns(t_vcpus - t_load),
                boot_to_first_marker_ns: None,
                run_ns: ns(run_end - run_start),
                teardown_ns: ns(t_end - teardown_start),
                total_ns: ns(t_end - launch),
            },
            launch_to_first_marker_ns: None,
            per_vcpu,
            exits,
            console: ConsoleOutput {
                uart_bytes,
                uart,
                paravirt_bytes: paravirt.bytes,
                paravirt,
            },
            memory: memory_report,
            exit_probe,
        };
        let first = report.first_marker(versus_abi::event::WORKLOAD_START);
        report.launch_to_first_marker_ns = first;
        report.phases.boot_to_first_marker_ns =
            first.map(|f| f.saturating_sub(ns(run_start - launch)));
        Ok(report)
    }
}

fn measure_memory(mem: &memory::GuestMem, layout: &memory::MemoryLayout) -> MemoryReport {
    let resident = memory::resident_bytes(mem).unwrap_or_default();
    let regions: Vec<RegionReport> = layout
        .regions()
        .iter()
        .enumerate()
        .map(|(i, r)| RegionReport {
            region: *r,
            resident_bytes: resident.get(i).copied().unwrap_or(0),
        })
        .collect();
    let touched: u64 = regions.iter().map(|r| r.resident_bytes).sum();
    let rss = memory::process_rss();
    MemoryReport {
        guest_total_bytes: layout.total(),
        guest_touched_bytes: touched,
        regions,
        process_rss_bytes: rss,
        vmm_overhead_rss_bytes: rss.map(|t| t.saturating_sub(touched)),
    }
}

#[cfg(test)]
#[path = "vm_tests.rs"]
mod tests;

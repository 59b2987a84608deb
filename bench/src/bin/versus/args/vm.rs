//! `versus vm run`'s options and the VM settings they make.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use bench::backend::vm::VmSettings;
use hypervisor::MemoryConfig;

use super::{RunArgs, parse_size};

/// Examples of `versus vm`.
pub(crate) const VM_EXAMPLES: &str = "\
Examples:
  versus vm run -- startup       boot versus' tiny kernel and start the workload
  versus vm run --help           every option of `vm run` and the tasks";

/// Examples of `versus vm run`.
const VM_RUN_EXAMPLES: &str = "\
Examples:
  versus vm run -- getpid 1000                     the cost of a system call in the VM
  versus vm run --vcpus 2 --mem 512M -- compute 1000000
  versus vm run --on bsp --console uart -- write 100 64
  versus vm run --mem-region 0:256M --mem-region 0x100000000:256M -- memtouch 64
  versus vm run --count-instructions -- startup    the guest kernel's instructions to the start
  versus vm run --exit-probe 1000 -- startup       the VM exit round trip first
  versus vm run --initrd ./root --workload ./cat -- /etc/motd   files for the program, read-only
  versus vm run --trace -- startup 2> exits.log    every VM exit with a timestamp
  versus vm run --workload ./hello -- world        any static x86-64 program on the tiny kernel
  versus vm run --linux -- uname                   the workload as /init of the minimal Linux kernel
  versus vm run --linux --json -- startup          its boot figures as the report every backend gives
  versus vm run --linux-kernel /boot/vmlinuz-6.1.0-amd64 --timeout 5m --trace
                                                   how far a Linux kernel's boot gets";

#[derive(Debug, Subcommand)]
pub(crate) enum VmAction {
    /// Boot a VM, run one task on every vCPU, and print results, phases,
    /// exits and memory.
    #[command(
        after_help = VM_RUN_EXAMPLES,
        mut_arg("task", |a| a.required_unless_present_any(["workload", "linux_kernel", "linux"]))
    )]
    Run(VmRunArgs),
}

/// Where the workload runs inside the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RunOn {
    /// One instance on every vCPU, each reporting its own results.
    Every,
    /// One instance on the bootstrap processor only.
    Bsp,
}

/// Options of `versus vm run`.
#[derive(Debug, Args)]
pub(crate) struct VmRunArgs {
    /// Number of vCPUs, one host thread each.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) vcpus: u32,

    /// Guest memory, split into a low region at 0 and a high region at 4 GiB
    /// (e.g. `512M`, `2G`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "mem_region")]
    pub(crate) mem: Option<u64>,

    /// An explicit guest RAM region, `ADDR:SIZE` (e.g. `0:256M`,
    /// `0x100000000:256M`); repeat for several.
    #[arg(long = "mem-region", value_name = "ADDR:SIZE", value_parser = parse_region)]
    pub(crate) mem_region: Vec<(u64, u64)>,

    /// Boot this kernel ELF instead of the embedded tiny kernel.
    #[arg(long, value_name = "PATH")]
    pub(crate) kernel: Option<PathBuf>,

    /// Run the workload on every vCPU or on the bootstrap processor only.
    #[arg(long, value_enum, default_value_t = RunOn::Every)]
    on: RunOn,

    /// Print every VM exit with a timestamp on stderr.
    #[arg(long)]
    pub(crate) trace: bool,

    /// The guest console: the paravirtual port (one exit per write) or the
    /// emulated 16550 UART (one exit per byte).
    #[arg(long, value_enum, default_value_t = Console::Paravirt)]
    console: Console,

    /// Single-step the guest and count its kernel-mode instructions: to the
    /// workload's start (the boot) and in the whole run. Slow — one exit
    /// per instruction — so use it with short tasks.
    #[arg(long = "count-instructions")]
    pub(crate) count_instructions: bool,

    /// Measure the VM exit round trip first: the guest kernel makes N port
    /// writes in a loop before the workload starts (delays the start marker).
    #[arg(long = "exit-probe", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(hypervisor::MAX_EXIT_PROBE_ITERS)))]
    pub(crate) exit_probe: Option<u32>,

    /// A read-only root directory for the program: DIR is packed into a
    /// newc cpio archive, FILE is one already (`find . | cpio -o -H newc`;
    /// not compressed). The tiny kernel serves open, read, stat, getdents
    /// and readlink from it.
    #[arg(long, value_name = "DIR|FILE")]
    pub(crate) initrd: Option<PathBuf>,

    /// Boot a real Linux kernel instead of the tiny kernel — the minimal
    /// one `make linux-guest` builds, or --linux-kernel's — with the task as
    /// /init (the same workload binary, in an initramfs versus writes), or
    /// --initrd's archive; report how far the boot gets: console
    /// milestones, last lines, exits, assists, guest memory, how it ended
    /// (--json: the report every backend gives, in the same shape).
    #[arg(
        long,
        conflicts_with_all = ["kernel", "mem_region", "exit_probe", "count_instructions"]
    )]
    pub(crate) linux: bool,

    /// The Linux kernel to boot (bzImage or ELF vmlinux); implies --linux.
    #[arg(
        long = "linux-kernel",
        value_name = "PATH",
        conflicts_with_all = ["kernel", "mem_region", "exit_probe", "count_instructions"]
    )]
    pub(crate) linux_kernel: Option<PathBuf>,

    /// Parameters for the Linux kernel, after versus' defaults (which
    /// `--trace` shows); needs --linux or --linux-kernel.
    #[arg(long, value_name = "TEXT")]
    pub(crate) cmdline: Option<String>,

    /// The Linux kernel's symbols (its System.map, or a vmlinux) to name a
    /// guest RIP in failure reports; by default the kernel's own, or the
    /// System.map or vmlinux beside it. Needs --linux or --linux-kernel.
    #[arg(long = "linux-symbols", value_name = "PATH")]
    pub(crate) linux_symbols: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

impl VmRunArgs {
    /// The `--initrd` archive's bytes (empty without the flag).
    pub(crate) fn initrd(&self) -> Result<Vec<u8>, hypervisor::initramfs::InitrdError> {
        self.initrd
            .as_deref()
            .map_or(Ok(Vec::new()), hypervisor::initramfs::from_path)
    }

    /// The VM settings these flags ask for: the one place they are read.
    pub(crate) fn settings(&self) -> VmSettings {
        let defaults = VmSettings::default();
        VmSettings {
            vcpus: self.vcpus,
            memory: if !self.mem_region.is_empty() {
                MemoryConfig::Regions(self.mem_region.clone())
            } else {
                self.mem.map_or(defaults.memory, MemoryConfig::Total)
            },
            every_vcpu: self.on == RunOn::Every,
            trace: self.trace,
            exit_probe: self.exit_probe,
            console_uart: self.console == Console::Uart,
            count_instructions: self.count_instructions,
        }
    }
}

/// The guest console device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Console {
    /// One exit per write: the guest hands over a whole buffer.
    Paravirt,
    /// One exit per byte, as on a real serial port.
    Uart,
}

/// `ADDR:SIZE`, the address in hex (`0x…`) or as a size (`4G`).
fn parse_region(text: &str) -> Result<(u64, u64), String> {
    let (addr, size) = text
        .split_once(':')
        .ok_or_else(|| format!("expected ADDR:SIZE such as 0x100000000:256M, got '{text}'"))?;
    let addr = match addr.strip_prefix("0x").or_else(|| addr.strip_prefix("0X")) {
        Some(hex) => {
            u64::from_str_radix(hex, 16).map_err(|_| format!("bad hexadecimal address '{addr}'"))?
        }
        None => parse_size(addr)?,
    };
    Ok((addr, parse_size(size)?))
}

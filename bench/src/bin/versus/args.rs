//! The command line of every subcommand except `compare`'s driver: clap's
//! argument types, the value parsers of sizes, regions and durations, and
//! the conversions of the flags to backend settings (the one place each
//! flag is read).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use bench::backend::Launch;
use bench::backend::container::{ContainerSettings, ProcessSettings, Rootfs as ContainerRootfs};
use bench::backend::vm::VmSettings;
use hypervisor::MemoryConfig;

/// Options of `versus compare`, in hyperfine's spirit.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// Measured rounds; every backend runs once per round, interleaved.
    #[arg(long, short = 'r', default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) runs: u64,

    /// Warm-up rounds before measuring (not counted).
    #[arg(long, short = 'w', default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    pub(crate) warmup: u64,

    /// Only these sections (comma-separated): startup, memory, syscall, io, identity.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SECTIONS")]
    pub(crate) only: Vec<bench::compare::Section>,

    /// vCPUs of the second VM in the startup section (`vm ×N`); 1 leaves it out.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) vcpus: u32,

    /// Guest memory of every VM (e.g. `512M`), split low/high around the MMIO hole.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) mem: Option<u64>,

    /// Write the full results as JSON to FILE (rewritten after every round).
    #[arg(long = "export-json", value_name = "FILE")]
    pub(crate) export_json: Option<PathBuf>,

    /// Write one CSV row per figure to FILE (rewritten after every round).
    #[arg(long = "export-csv", value_name = "FILE")]
    pub(crate) export_csv: Option<PathBuf>,

    /// Write the tables as Markdown to FILE (rewritten after every round).
    #[arg(long = "export-markdown", value_name = "FILE")]
    pub(crate) export_markdown: Option<PathBuf>,

    /// Draw the startup comparison and each backend's phase timeline as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,

    /// Print the comparison as JSON instead of tables.
    #[arg(long)]
    pub(crate) json: bool,

    /// Add the subject `vm (Linux)`: the minimal Linux kernel (`make
    /// linux-guest`) booted in versus' VMM, in the startup and memory
    /// sections. Opt-in: each boot takes about 20 s on a software KVM backend.
    #[arg(long)]
    pub(crate) linux: bool,

    /// The Linux kernel of `vm (Linux)` (bzImage or vmlinux) instead of the
    /// minimal one; implies --linux.
    #[arg(long = "linux-kernel", value_name = "PATH")]
    pub(crate) linux_kernel: Option<PathBuf>,

    /// Linux boots: one in each of the first N measured rounds (at most
    /// --runs), none in warm-ups.
    #[arg(long = "linux-runs", value_name = "N", default_value_t = bench::compare::DEFAULT_LINUX_RUNS as u64, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub(crate) linux_runs: u64,

    /// The language of the tables' headings and the conclusions (en, ko);
    /// English unless asked, since scripts read this output. JSON and the
    /// exports stay English.
    #[arg(long, value_enum, default_value = "en")]
    pub(crate) lang: crate::explain::LangArg,
}

/// Examples of `versus compare`, shown at the end of its `--help`.
pub(crate) const COMPARE_EXAMPLES: &str = "\
Examples:
  versus compare                                 every backend, 10 rounds after 1 warm-up
  versus compare --runs 30 --warmup 3            more rounds, steadier figures
  versus compare --only startup,memory           only these sections
  versus compare --vcpus 4 --mem 1G              the second VM with 4 vCPUs, every VM with 1 GiB
  versus compare --export-markdown results.md --plot startup.svg
  versus compare --json > results.json           everything as JSON
  versus compare --lang ko                       headings and conclusions in Korean
  versus compare --linux --only startup,memory   with the minimal Linux kernel as `vm (Linux)` (3 boots, ~20 s each here)";

/// Examples of `versus doctor`.
pub(crate) const DOCTOR_EXAMPLES: &str = "\
Examples:
  versus doctor          what this machine offers, each missing piece with its fix
  versus doctor --json   the same as JSON";

/// Examples of `versus host`.
pub(crate) const HOST_EXAMPLES: &str = "\
Examples:
  versus host run -- getpid 1000000   time a million getpid calls as a host process
  versus host run --help              every option of `host run` and the tasks";

/// Examples of `versus host run`.
const HOST_RUN_EXAMPLES: &str = "\
Examples:
  versus host run -- getpid 1000000              the cost of a system call on the host
  versus host run -- memtouch 64                 page-fault cost of 64 MiB
  versus host run --timeout 2s -- compute 1000000000
  versus host run --json -- startup              the full report as JSON
  versus host run --workload ./hello -- world    any static x86-64 program; its output is printed live";

/// Examples of `versus container`.
pub(crate) const CONTAINER_EXAMPLES: &str = "\
Examples:
  versus container run -- startup                       the workload as PID 1 of a container
  versus container run --busybox -- /bin/sh -c 'ps; ls /'
  versus container run --help                           every option of `container run` and the tasks";

/// Examples of `versus container run`.
const CONTAINER_RUN_EXAMPLES: &str = "\
Examples:
  versus container run -- startup                          launch phases, namespaces, cgroup, seccomp
  versus container run --memory 64M --pids-limit 32 -- memtouch 16
  versus container run --cpus 0.5 -- compute 100000000     half a CPU (cgroup cpu)
  versus container run --seccomp unconfined -- getpid 1000000
  versus container run --cap-drop ALL -- probe             what a process without capabilities may do
  versus container run --share net --hostname demo -- ids
  versus container run --busybox -- /bin/sh -c 'ps; ls /'  a command, its output printed live
  versus container run --rootfs ./rootfs --read-only -- /bin/ls /
  versus container run --workload ./hello -- world         any static x86-64 program as PID 1
  versus container run --trace -- startup                  print each launch step on stderr";

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

/// `versus host`: its one action.
#[derive(Debug, Subcommand)]
pub(crate) enum HostAction {
    /// Run one task and print its results, phases and exit.
    #[command(after_help = HOST_RUN_EXAMPLES)]
    Run(RunArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContainerAction {
    /// Launch a container (namespaces, cgroup, capabilities, seccomp,
    /// pivot_root), run one task or command as PID 1, and print results,
    /// phases, cgroup statistics and what fenced it in.
    #[command(after_help = CONTAINER_RUN_EXAMPLES)]
    Run(ContainerRunArgs),
}

/// Options of `versus container run`, named as Docker users know them.
#[derive(Debug, Args)]
pub(crate) struct ContainerRunArgs {
    /// Memory limit (cgroup `memory`, no swap), e.g. `64M`, `1G`.
    #[arg(long, short = 'm', value_name = "SIZE", value_parser = parse_size)]
    pub(crate) memory: Option<u64>,

    /// Most processes and threads at once (cgroup `pids`); `-1` for no
    /// limit, as in Docker.
    #[arg(long = "pids-limit", value_name = "N", allow_negative_numbers = true, value_parser = parse_pids_limit)]
    pub(crate) pids_limit: Option<PidsLimit>,

    /// CPU bandwidth in CPUs, e.g. `0.5`, `1.5` (cgroup `cpu`).
    #[arg(long, value_name = "CPUS", allow_negative_numbers = true, value_parser = parse_cpus)]
    pub(crate) cpus: Option<f64>,

    /// The container's hostname (its own UTS namespace); default `versus`.
    #[arg(long, value_name = "NAME")]
    pub(crate) hostname: Option<String>,

    /// Use this directory as the root filesystem; the arguments are then a
    /// command inside it, e.g. `/bin/sh -c 'ls /'`. versus writes nothing
    /// into it, but the container's own writes go through to it (as with
    /// `docker run -v`) unless `--read-only` is given.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["busybox", "workload"])]
    pub(crate) rootfs: Option<PathBuf>,

    /// With `--rootfs`: make the directory the read-only lower layer of an
    /// overlay whose writable layer is a tmpfs inside the container, gone
    /// when it ends — the container's writes never reach the directory.
    #[arg(long = "rootfs-overlay", requires = "rootfs")]
    pub(crate) rootfs_overlay: bool,

    /// Add the host's static busybox to the built root filesystem, for
    /// commands such as `-- /bin/sh -c 'ps; ls /'`.
    #[arg(long)]
    pub(crate) busybox: bool,

    /// Run in a new user namespace even as root (uid 0 inside maps to an
    /// unprivileged range outside); without root it is always used.
    #[arg(long)]
    pub(crate) userns: bool,

    /// Leave a namespace shared with the host (pid, mnt, uts, ipc, net,
    /// cgroup, user); repeat or separate with commas.
    #[arg(long, value_name = "NS", value_delimiter = ',', value_parser = parse_namespace)]
    pub(crate) share: Vec<container::Namespace>,

    /// Add a capability to Docker's default set (e.g. `NET_ADMIN`, `ALL`).
    #[arg(long = "cap-add", value_name = "CAP", value_delimiter = ',')]
    pub(crate) cap_add: Vec<String>,

    /// Drop a capability from Docker's default set (e.g. `CHOWN`, `ALL`).
    #[arg(long = "cap-drop", value_name = "CAP", value_delimiter = ',')]
    pub(crate) cap_drop: Vec<String>,

    /// The seccomp profile: Docker's default (x86-64) or none.
    #[arg(long, value_name = "PROFILE", default_value = "default", value_parser = parse_seccomp)]
    pub(crate) seccomp: container::SeccompMode,

    /// Mount the root filesystem read-only.
    #[arg(long = "read-only")]
    pub(crate) read_only: bool,

    /// Print the launch steps (mounts, pivot_root, …) on stderr.
    #[arg(long)]
    pub(crate) trace: bool,

    /// Set an environment variable of the command: `KEY=VALUE`, or `KEY`
    /// to pass the host's value (left out when the host has none).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,

    /// The directory the command starts in (absolute; it must exist in the
    /// root filesystem).
    #[arg(long, short = 'w', value_name = "DIR")]
    pub(crate) workdir: Option<String>,

    /// Bind-mount a host file or directory: `HOST:CONTAINER[:ro|rw]`. The
    /// host path must exist; in a `--rootfs` directory the mount point must
    /// exist too (versus never writes there).
    #[arg(long, short = 'v', value_name = "HOST:CONTAINER[:ro]", value_parser = parse_volume)]
    pub(crate) volume: Vec<container::Volume>,

    /// Run the command as `UID[:GID]` (numeric; the group defaults to the
    /// uid). Any uid but 0 has no capabilities, as with `docker run -u`.
    #[arg(long, short = 'u', value_name = "UID[:GID]", allow_hyphen_values = true, value_parser = parse_user)]
    pub(crate) user: Option<(u32, u32)>,

    /// Keep stdin open: forward versus' stdin to the command (closed at end
    /// of file). Without it the command's stdin is /dev/null.
    #[arg(long, short = 'i')]
    pub(crate) interactive: bool,

    /// Allocate a pseudo-terminal: the command's stdin, stdout and stderr
    /// and its controlling terminal, as a session leader. With `-i` (which
    /// then needs a terminal on stdin, as in Docker), that terminal is in
    /// raw mode meanwhile: keys, Ctrl-C included, go to the command, and
    /// window size changes follow. `-t` alone works without a terminal.
    #[arg(long, short = 't')]
    pub(crate) tty: bool,

    /// The network: `none` (the container's own network namespace with only
    /// `lo`, the default) or `host` (the host's, as `--share net`).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Network::None)]
    pub(crate) network: Network,

    /// Accepted for Docker users: versus always removes the container (its
    /// cgroup, mounts and processes) when the command ends.
    #[arg(long)]
    pub(crate) rm: bool,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `--network`: what `docker run --network` offers that fits here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Network {
    /// Its own network namespace, with only the loopback interface.
    None,
    /// The host's network namespace (`--share net`).
    Host,
}

/// `--pids-limit`: a number of processes, or Docker's `-1` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PidsLimit {
    /// `-1`: the container's cgroup gets no `pids` limit.
    Unlimited,
    /// At most this many processes and threads at once (1 or more).
    At(u64),
}

fn parse_pids_limit(text: &str) -> Result<PidsLimit, String> {
    if text.trim() == "-1" {
        return Ok(PidsLimit::Unlimited);
    }
    match text.trim().parse::<u64>() {
        Ok(0) => Err(
            "0 would leave the container no process at all, not even its PID 1; give 1 or \
             more, or -1 for no limit"
                .into(),
        ),
        Ok(most) => Ok(PidsLimit::At(most)),
        Err(_) => Err(format!(
            "'{text}' is not a number of processes; give 1 or more, or -1 for no limit"
        )),
    }
}

/// `--cpus`: a finite number of CPUs, not negative. The range (0.01 up to
/// this machine's CPU count) is the launcher's to check, which names it.
fn parse_cpus(text: &str) -> Result<f64, String> {
    let cpus: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of CPUs; write it like 0.5 or 2"))?;
    if !cpus.is_finite() || cpus < 0.0 {
        return Err(format!(
            "'{text}' is not a number of CPUs above zero; write it like 0.5 or 2"
        ));
    }
    Ok(cpus)
}

fn parse_volume(text: &str) -> Result<container::Volume, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

/// `UID[:GID]`, numeric; a name would have to be looked up in the
/// container's `/etc/passwd`, which versus does not read.
fn parse_user(text: &str) -> Result<(u32, u32), String> {
    let number = |part: &str, what: &str| {
        part.parse::<u32>().map_err(|_| {
            format!(
                "{what} {part:?} is not a number; give numeric ids, UID[:GID] such as 1000:1000 \
                 (user names are not looked up)"
            )
        })
    };
    match text.split_once(':') {
        Some((uid, gid)) => Ok((number(uid, "uid")?, number(gid, "gid")?)),
        None => {
            let uid = number(text, "uid")?;
            Ok((uid, uid))
        }
    }
}

fn parse_namespace(text: &str) -> Result<container::Namespace, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

fn parse_seccomp(text: &str) -> Result<container::SeccompMode, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

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

/// Every size flag reads sizes the same way (`512M`, `1.5G`, `64mib`).
fn parse_size(text: &str) -> Result<u64, String> {
    bench::units::parse_size(text).map_err(|err| err.to_string())
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

/// Options shared by every `run` subcommand.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Run this static x86-64 ELF instead of the embedded workload; the
    /// arguments are passed to it unchecked, and its output is printed as
    /// it runs.
    #[arg(long, value_name = "PATH")]
    pub(crate) workload: Option<PathBuf>,

    /// Stop the workload after this long (e.g. `500ms`, `10s`, `2m`).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,

    /// Print the full report as JSON instead of tables; the program's own
    /// output goes into the report (`stdout`, `stderr`), not to the terminal.
    #[arg(long)]
    pub(crate) json: bool,

    /// The task and its arguments (`getpid 1000000`), or a program's
    /// arguments (`--workload`), or a command (container `--rootfs`/`--busybox`).
    #[arg(
        long_help = task_long_help(),
        trailing_var_arg = true,
        required_unless_present = "workload",
        value_name = "TASK|COMMAND"
    )]
    pub(crate) task: Vec<String>,
}

/// The `--help` text of the task argument: what it can be, where versus'
/// own options end, and the tasks.
fn task_long_help() -> String {
    format!(
        "What to run, and its arguments:\n\
         - a task of the embedded workload, e.g. `getpid 1000000` (tasks below);\n\
         - with --workload PATH, the arguments of that program;\n\
         - in a container with --rootfs DIR or --busybox, a command of the root \
         filesystem, by its path or a name found on the container's PATH, e.g. \
         `sh -c 'ls /'` (with --busybox, a word that is not a task is a command).\n\
         versus' options come before it; everything from the task on (or after `--`) \
         belongs to the task, even words that start with `-`.\n\n{}",
        bench::workload::task_help().trim_end()
    )
}

/// The one duration grammar of versus' flags (humantime's: `500ms`, `10s`,
/// `2m`, `1h 30m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    // A word such as `--json` is an option forgotten after --timeout, not a
    // negative duration: humantime names it as "expected number".
    let negative = text
        .trim_start()
        .strip_prefix('-')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'));
    if negative {
        return Err(format!(
            "'{text}' is negative; give a duration above zero, like 500ms, 10s or 2m"
        ));
    }
    let duration = humantime::parse_duration(text)
        .map_err(|err| format!("{err} (write it like 500ms, 10s or 2m)"))?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

impl RunArgs {
    /// Checks the workload and, with `check_task`, the task (false: the
    /// arguments are a command of their own, an external root
    /// filesystem's), and turns them into a [`Launch`]. Every `run`
    /// subcommand comes through here: the program's own output is printed
    /// live, as `docker run` prints it, unless `--json` asks for nothing
    /// but JSON on stdout (the report then holds the output).
    pub(crate) fn launch(&self, check_task: bool) -> Result<Launch> {
        let launch = bench::request::launch(
            self.workload.as_deref(),
            &self.task,
            self.timeout,
            check_task,
        )?;
        Ok(Launch {
            echo: !self.json,
            ..launch
        })
    }
}

impl ContainerRunArgs {
    /// The container settings these flags ask for: the one place they are
    /// read. `--busybox` looks for the host's busybox here.
    pub(crate) fn settings(&self) -> Result<ContainerSettings> {
        let rootfs = match (&self.rootfs, self.busybox) {
            (Some(dir), _) => ContainerRootfs::Dir(dir.clone()),
            (None, true) => {
                ContainerRootfs::WorkloadWithBusybox(container::rootfs::host_busybox().context(
                    "--busybox needs a statically linked busybox on the host \
                     (install Debian's busybox-static)",
                )?)
            }
            (None, false) => ContainerRootfs::Workload,
        };
        Ok(ContainerSettings {
            rootfs,
            limits: container::Limits {
                memory: self.memory,
                pids: match self.pids_limit {
                    Some(PidsLimit::At(most)) => Some(most),
                    Some(PidsLimit::Unlimited) | None => None,
                },
                cpus: self.cpus,
            },
            hostname: self.hostname.clone(),
            share: self.shared(),
            userns: self.userns,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            seccomp: self.seccomp,
            read_only: self.read_only,
            trace: self.trace,
            process: Box::new(ProcessSettings {
                env: self.environment()?,
                workdir: self.workdir.clone(),
                user: self.user,
                volumes: self.volume.clone(),
                interactive: self.interactive,
                tty: self.tty,
            }),
            rootfs_overlay: self.rootfs_overlay,
        })
    }

    /// Why `--rootfs` cannot be a container's root, found before anything
    /// is created: the host's own `/`, however it is named (`/`, `/.`, a
    /// symbolic link to it). pivot_root would refuse it with a bare EBUSY,
    /// and a container on the host's files would isolate nothing.
    pub(crate) fn rootfs_problem(&self) -> Option<String> {
        let dir = self.rootfs.as_deref()?;
        // A path that cannot be resolved is left to the launcher, which
        // names what is missing.
        let resolved = std::fs::canonicalize(dir).ok()?;
        (resolved == std::path::Path::new("/")).then(|| {
            format!(
                "--rootfs {} is the host's own root directory: a container on it would see and \
                 change every host file; give a directory holding a root filesystem of its \
                 own (for example one unpacked from an image), or --busybox for a built one",
                dir.display()
            )
        })
    }

    /// `-e` as pairs: `KEY=VALUE` as given, `KEY` with the host's value
    /// (left out when the host has none, as Docker does).
    fn environment(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        for entry in &self.env {
            let (key, value) = match entry.split_once('=') {
                Some((key, value)) => (key, Some(value.to_string())),
                None => (entry.as_str(), std::env::var(entry).ok()),
            };
            if key.is_empty() {
                anyhow::bail!("-e {entry:?}: the variable name is empty; write KEY=VALUE or KEY");
            }
            if let Some(value) = value {
                pairs.push((key.to_string(), value));
            }
        }
        Ok(pairs)
    }

    /// The namespaces shared with the host: `--share`, plus `net` for
    /// `--network host`.
    fn shared(&self) -> Vec<container::Namespace> {
        let mut share = self.share.clone();
        if self.network == Network::Host && !share.contains(&container::Namespace::Net) {
            share.push(container::Namespace::Net);
        }
        share
    }
}

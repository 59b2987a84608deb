//! `versus compare` end to end on deterministic mock backends: plan → run
//! (warm-up, interleaved rounds, one-off identity runs) → derive → tables
//! and exports, compared with reviewed snapshots.
//!
//! The mocks return fixed reports whose numbers vary from call to call by
//! a fixed pattern, so medians, ranges and paired ratios are non-trivial
//! but never depend on the machine. Their VM exit counts tell the lesson
//! the real VMM shows: `getpid N` causes exactly as many exits as `getpid
//! 1` (a system call never leaves the guest), and a UART write costs one
//! exit per byte where the paravirtual console costs one per write.

mod common;
mod exports_agree;

use std::cell::Cell;
use std::path::Path;

use bench::backend::{Backend, BackendError, Launch};
use bench::compare::derive::Context;
use bench::compare::export::{CsvExporter, Export, Exporter, JsonExporter, MarkdownExporter};
use bench::compare::model::{HostHeader, KvmCaveat, figure};
use bench::compare::{
    Backends, Comparer, Comparison, LinuxOptions, LinuxSubject, Observer, Options, RunRecord,
    Section, SubjectKind, VmVariant, plan, render,
};
use bench::report::vm::{ExitProbe, ExitRow, Instance, RegionRow, VmDetails};
use bench::report::{ExitOutcome, MemoryFigures, Phase, RunReport};
use bench::workload::{ProcStatus, StartMarker, TaskResult, WorkloadSource};

/// The width the snapshots are laid out for, whatever `COLUMNS` or terminal
/// the tests run under (the pipe default).
const SNAPSHOT_COLUMNS: usize = bench::width::PIPED_WIDTH;

/// Bytes per console write (the plan's `WRITE_BYTES`).
const BYTES: u64 = bench::compare::WRITE_BYTES;

/// Where a mock runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Host,
    Container { seccomp: bool },
    Vm(VmVariant),
}

/// How a mock fails.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// The backend cannot run the workload at all.
    Backend,
    /// The workload runs and exits with status 3.
    ExitStatus,
}

/// One failure to inject.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FaultAt {
    /// Where.
    place: Place,
    /// In the fresh `versus` process of the memory figures, or in process.
    fresh: bool,
    /// The command line that fails.
    argv: &'static str,
    /// Its call that fails (call 0 is the warm-up round's).
    call: usize,
    /// How.
    fault: Fault,
}

/// How a mock machine departs from the usual one, to reach the figures
/// and sentences a usual run never shows.
#[derive(Debug, Clone, Copy)]
struct Twist {
    /// VM exits a `getpid N` run causes per vCPU beyond the fixed set, from
    /// N: none on the usual machine, whose guest kernel answers every call.
    getpid_exits: fn(u64) -> u64,
    /// A getpid's cost in ns: host, container, container without seccomp,
    /// VM.
    getpid_ns: [f64; 4],
    /// The factor on every container launch phase.
    container_phases: f64,
}

impl Default for Twist {
    fn default() -> Self {
        Self {
            getpid_exits: |_| 0,
            getpid_ns: [52.0, 61.0, 53.0, 18_500.0],
            container_phases: 1.0,
        }
    }
}

/// A backend that answers every task with a fixed report.
#[derive(Debug)]
struct Mock {
    place: Place,
    twist: Twist,
    /// Calls so far: the pattern of the numbers, and which call fails.
    calls: Cell<usize>,
    /// The failures to inject into this backend's runs.
    faults: Vec<FaultAt>,
}

/// The pattern every figure follows from call to call, shifted per place so
/// that paired ratios vary too. Call 0 is the warm-up.
fn wobble(call: usize, shift: usize) -> f64 {
    const PATTERN: [f64; 5] = [1.00, 1.10, 0.95, 1.20, 1.05];
    PATTERN[(call + shift) % PATTERN.len()]
}

impl Mock {
    fn shift(&self) -> usize {
        match self.place {
            Place::Host => 0,
            Place::Container { seccomp: true } => 1,
            Place::Container { seccomp: false } => 2,
            Place::Vm(vm) if vm.console_uart => 4,
            Place::Vm(_) => 3,
        }
    }

    fn label(&self) -> &'static str {
        match self.place {
            Place::Host => "host",
            Place::Container { seccomp: true } => "container",
            Place::Container { seccomp: false } => "container (no seccomp)",
            Place::Vm(_) => "vm",
        }
    }

    /// The startup phases, in order, and how many of them come before the
    /// start marker.
    fn phases(&self, w: f64) -> (Vec<Phase>, usize) {
        let (list, before_marker): (Vec<(&str, f64)>, usize) = match self.place {
            Place::Host => (
                vec![
                    ("prepare", 60e3),
                    ("spawn", 250e3),
                    ("exec→marker", 140e3),
                    ("run", 40e3),
                    ("teardown", 30e3),
                ],
                3,
            ),
            Place::Container { seccomp } => (
                [
                    ("cgroup", 400e3),
                    ("clone", 600e3),
                    ("cgroup join", 150e3),
                    ("mounts+pivot_root", 900e3),
                    ("security", if seccomp { 250e3 } else { 50e3 }),
                    ("exec", 300e3),
                    ("exec→marker", 600e3),
                    ("run", 100e3),
                    ("teardown", 700e3),
                ]
                .into_iter()
                .map(|(name, ns)| (name, ns * self.twist.container_phases))
                .collect(),
                7,
            ),
            Place::Vm(vm) => {
                let extra = f64::from(vm.vcpus - 1);
                (
                    vec![
                        ("create VM", 2e6),
                        ("memory", 3e6),
                        ("load", 1e6),
                        ("vCPUs", 2e6 * (1.0 + extra)),
                        ("boot→marker", 40e6 + 11e6 * extra),
                        ("run", 1e6),
                        ("teardown", 6e6),
                    ],
                    5,
                )
            }
        };
        let phases = list
            .into_iter()
            .map(|(name, ns)| Phase::new(name, (ns * w).round() as u64))
            .collect();
        (phases, before_marker)
    }

    fn memory(&self, call: usize) -> MemoryFigures {
        let page = 4096 * (call % 3) as u64;
        let workload = 65_536;
        match self.place {
            Place::Host => MemoryFigures {
                workload_peak_rss_bytes: Some(1_179_648 + page),
                image_bytes: Some(workload),
                ..MemoryFigures::default()
            },
            Place::Container { .. } => MemoryFigures {
                image_bytes: Some(workload),
                cgroup_memory_peak_bytes: Some(2_310_144 + page),
                launcher_rss_bytes: Some(3_407_872),
                ..MemoryFigures::default()
            },
            Place::Vm(vm) => MemoryFigures {
                image_bytes: Some(workload + 180_224),
                guest_touched_bytes: Some(2_097_152 * u64::from(vm.vcpus)),
                vmm_overhead_rss_bytes: Some(9_437_184 + page),
                ..MemoryFigures::default()
            },
        }
    }

    fn pid(&self) -> u64 {
        match self.place {
            Place::Host => 4242,
            _ => 1,
        }
    }

    /// The task's result lines; `None` for a task the mock does not know.
    fn results(&self, argv: &[String], w: f64) -> Vec<TaskResult> {
        let number = |i: usize| argv.get(i).and_then(|a| a.parse::<u64>().ok()).unwrap_or(1);
        let per_op = |base: f64| base * w;
        match argv[0].as_str() {
            "startup" => vec![TaskResult::Startup],
            "getpid" => {
                let iters = number(1);
                let [host, container, no_seccomp, vm] = self.twist.getpid_ns;
                let ns = per_op(match self.place {
                    Place::Host => host,
                    Place::Container { seccomp: true } => container,
                    Place::Container { seccomp: false } => no_seccomp,
                    Place::Vm(_) => vm,
                });
                vec![TaskResult::Getpid {
                    iters,
                    ns_per_op: ns,
                    total_ns: (ns * iters as f64) as u64,
                    pid: self.pid(),
                }]
            }
            "write" => {
                let (iters, bytes) = (number(1), number(2));
                let ns = per_op(match self.place {
                    Place::Host => 900.0,
                    Place::Container { .. } => 1_100.0,
                    Place::Vm(vm) if vm.console_uart => 350_000.0,
                    Place::Vm(_) => 22_000.0,
                });
                vec![TaskResult::Write {
                    iters,
                    bytes,
                    ns_per_op: ns,
                    total_ns: (ns * iters as f64) as u64,
                    fd: 1,
                }]
            }
            "uname" => {
                let (sysname, release, version) = match self.place {
                    Place::Vm(_) => ("versus", "0.1.0-tiny", "#1 versus tiny kernel"),
                    _ => ("Linux", "6.1.0-test", "#1 SMP PREEMPT_DYNAMIC Debian"),
                };
                vec![TaskResult::Uname {
                    sysname: sysname.into(),
                    nodename: self.hostname().into(),
                    release: release.into(),
                    version: version.into(),
                    machine: "x86_64".into(),
                }]
            }
            "ids" => vec![TaskResult::Ids {
                pid: self.pid(),
                ppid: if self.pid() == 1 { 0 } else { 4200 },
                uid: if self.place == Place::Host { 1000 } else { 0 },
                gid: if self.place == Place::Host { 1000 } else { 0 },
                hostname: self.hostname().into(),
            }],
            "status" => vec![TaskResult::Status(match self.place {
                Place::Host => ProcStatus::Available {
                    cap_eff: Some("0000000000000000".into()),
                    cap_prm: Some("0000000000000000".into()),
                    cap_bnd: Some("000001ffffffffff".into()),
                    no_new_privs: Some("0".into()),
                    seccomp: Some("0".into()),
                    seccomp_filters: Some("0".into()),
                },
                Place::Container { seccomp } => ProcStatus::Available {
                    cap_eff: Some("00000000a80425fb".into()),
                    cap_prm: Some("00000000a80425fb".into()),
                    cap_bnd: Some("00000000a80425fb".into()),
                    no_new_privs: Some("1".into()),
                    seccomp: Some(if seccomp { "2" } else { "0" }.into()),
                    seccomp_filters: Some(if seccomp { "1" } else { "0" }.into()),
                },
                Place::Vm(_) => ProcStatus::Unavailable {
                    errno: "ENOENT".into(),
                },
            })],
            _ => Vec::new(),
        }
    }

    fn hostname(&self) -> &'static str {
        match self.place {
            Place::Host => "testhost",
            Place::Container { .. } => "versus",
            Place::Vm(_) => "versus-vm",
        }
    }

    /// The VM's exits for this run: the same fixed set for every task (boot
    /// and start markers, the start and result lines, the exit port), plus
    /// what only the console writes and the exit probe cause. The getpid
    /// loop adds nothing: the guest kernel answers it.
    fn vm_details(&self, vm: VmVariant, argv: &[String], w: f64) -> VmDetails {
        let console = if vm.console_uart {
            "io_out 0x3f8"
        } else {
            "io_out 0x608"
        };
        // Two console lines (start marker and result) per vCPU: two exits
        // on the paravirtual console, a byte each on the UART.
        let line_exits = if vm.console_uart { 2 * 48 } else { 2 };
        let writes = match argv[0].as_str() {
            "write" => argv[1].parse::<u64>().unwrap(),
            _ => 0,
        };
        let write_exits = if vm.console_uart {
            writes * argv.get(2).map_or(0, |b| b.parse::<u64>().unwrap())
        } else {
            writes
        };
        let mut exits = Vec::new();
        for vcpu in 0..vm.vcpus {
            exits.push(ExitRow {
                vcpu,
                reason: "io_out 0x600".into(),
                count: 3,
                host_ns: 9_000,
            });
            exits.push(ExitRow {
                vcpu,
                reason: console.into(),
                count: line_exits + write_exits,
                host_ns: 20_000 * (line_exits + write_exits),
            });
            let getpid_exits = match argv[0].as_str() {
                "getpid" => (self.twist.getpid_exits)(argv[1].parse().unwrap()),
                _ => 0,
            };
            if getpid_exits > 0 {
                exits.push(ExitRow {
                    vcpu,
                    reason: "external interrupt".into(),
                    count: getpid_exits,
                    host_ns: 3_000 * getpid_exits,
                });
            }
            if let Some(iters) = vm.exit_probe {
                exits.push(ExitRow {
                    vcpu,
                    reason: "io_in 0x60c".into(),
                    count: u64::from(iters),
                    host_ns: 1_900 * u64::from(iters),
                });
            }
        }
        exits.push(ExitRow {
            vcpu: 0,
            reason: "io_out 0x604".into(),
            count: 1,
            host_ns: 4_000,
        });
        let bytes = 96 + writes * argv.get(2).map_or(0, |b| b.parse::<u64>().unwrap());
        VmDetails {
            kernel: "versus tiny kernel (embedded)".into(),
            vcpus: vm.vcpus,
            kvm_backend: "kvm_pvm".into(),
            software_backend: true,
            tsc_khz: 2_400_000,
            exits,
            instances: (0..vm.vcpus)
                .map(|vcpu| Instance {
                    vcpu,
                    startup_ns: None,
                    start: None,
                    results: self.results(argv, w),
                    kernel_lines: Vec::new(),
                    kernel_instructions: None,
                })
                .collect(),
            regions: vec![
                RegionRow {
                    base: 0,
                    size: 3 << 30,
                    resident_bytes: 2_097_152,
                },
                RegionRow {
                    base: 4 << 30,
                    size: 1 << 30,
                    resident_bytes: 0,
                },
            ],
            uart_bytes: if vm.console_uart { bytes } else { 0 },
            paravirt_bytes: if vm.console_uart { 0 } else { bytes },
            vmm_outcome: "the guest exited with status 0".into(),
            exit_probe: vm.exit_probe.map(|iters| ExitProbe {
                iters,
                ping_exits: u64::from(iters),
                guest_ns_per_exit: Some(9_800.0 * w),
                host_ns_per_exit: Some(10_400.0 * w),
                handler_ns_per_exit: Some(1_900.0 * w),
            }),
        }
    }
}

impl Backend for Mock {
    fn name(&self) -> &str {
        self.label()
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        let command = launch.argv.join(" ");
        let fault = self
            .faults
            .iter()
            .find(|f| f.argv == command && f.call == call)
            .map(|f| f.fault);
        if fault == Some(Fault::Backend) {
            return Err(BackendError::Spawn(std::io::Error::other(
                "mock: the clone was refused",
            )));
        }
        let w = wobble(call, self.shift());
        let task = launch.argv[0].clone();
        let (phases, before_marker) = self.phases(w);
        let startup_ns = phases[..before_marker].iter().map(|p| p.ns).sum();
        Ok(RunReport {
            backend: self.label().into(),
            workload: WorkloadSource::Embedded,
            argv: launch.argv.clone(),
            rootfs_command: false,
            startup_ns: Some(startup_ns),
            phases,
            start: Some(StartMarker {
                task: task.clone(),
                pid: self.pid(),
                mono_ns: 1_000_000 + call as u64,
            }),
            results: self.results(&launch.argv, w),
            exit: match fault {
                Some(_) => ExitOutcome::Exited { code: 3 },
                None => ExitOutcome::Exited { code: 0 },
            },
            memory: self.memory(call),
            other_output_lines: 0,
            stdout: String::new(),
            output_echoed: false,
            stderr: String::new(),
            vm: match self.place {
                Place::Vm(vm) => Some(self.vm_details(vm, &launch.argv, w)),
                _ => None,
            },
            linux: None,
            container: None,
            process: None,
        })
    }
}

/// Guest memory the mock Linux boot touches: far more than the tiny
/// kernel's 2 MiB, as a real boot does.
const LINUX_TOUCHED: u64 = 18 << 20;

/// A Linux boot stopped at "Run /init", as on a software KVM backend: a
/// start-up of about 90 s, no workload figures.
#[derive(Debug, Default)]
struct MockLinux {
    calls: Cell<usize>,
}

impl Backend for MockLinux {
    fn name(&self) -> &str {
        bench::backend::linux::LABEL
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        let w = wobble(call, 2);
        let boot = (90e9 * w) as u64;
        Ok(RunReport {
            backend: bench::backend::linux::LABEL.into(),
            workload: WorkloadSource::Embedded,
            argv: launch.argv.clone(),
            rootfs_command: false,
            startup_ns: Some(20_000_000 + boot),
            phases: vec![
                Phase::new("VMM set-up", 20_000_000),
                Phase::new("boot→/init", boot),
                Phase::new("run", 3_000_000),
                Phase::new("teardown", 22_000_000),
            ],
            start: None,
            results: Vec::new(),
            exit: ExitOutcome::StoppedAtInit {
                reason: bench::backend::linux::STOP_AT_INIT.into(),
            },
            memory: MemoryFigures {
                image_bytes: Some(1_198_056),
                guest_touched_bytes: Some(LINUX_TOUCHED),
                vmm_overhead_rss_bytes: Some(28 << 20),
                ..MemoryFigures::default()
            },
            other_output_lines: 0,
            stdout: String::new(),
            output_echoed: false,
            stderr: String::new(),
            vm: None,
            linux: None,
            container: None,
            process: None,
        })
    }
}

/// The mock backends, with the failures to inject.
#[derive(Debug, Default)]
struct MockBackends {
    faults: Vec<FaultAt>,
    twist: Twist,
}

impl MockBackends {
    fn mock(&self, place: Place, fresh: bool) -> Box<dyn Backend> {
        Box::new(Mock {
            place,
            twist: self.twist,
            calls: Cell::new(0),
            faults: self
                .faults
                .iter()
                .filter(|f| f.place == place && f.fresh == fresh)
                .copied()
                .collect(),
        })
    }
}

impl Backends for MockBackends {
    fn host(&self) -> Box<dyn Backend> {
        self.mock(Place::Host, false)
    }

    fn container(&self, seccomp: bool) -> Box<dyn Backend> {
        self.mock(Place::Container { seccomp }, false)
    }

    fn vm(&self, vm: VmVariant) -> Box<dyn Backend> {
        self.mock(Place::Vm(vm), false)
    }

    fn linux(&self, _kernel: Option<&Path>) -> Box<dyn Backend> {
        Box::new(MockLinux::default())
    }

    fn fresh_process(&self, label: &str, kind: SubjectKind, vm: VmVariant) -> Box<dyn Backend> {
        let place = match kind {
            SubjectKind::Host => Place::Host,
            SubjectKind::Container => Place::Container {
                seccomp: !label.contains("no seccomp"),
            },
            SubjectKind::Vm => Place::Vm(vm),
        };
        self.mock(place, true)
    }
}

const RUNS: usize = 3;

fn options() -> Options {
    options_for(RUNS)
}

fn options_for(runs: usize) -> Options {
    Options {
        runs,
        warmup: 1,
        sections: Section::ALL.to_vec(),
        vcpus: 2,
        mem: None,
        without_vm: None,
        linux: None,
    }
}

fn context(options: &Options) -> Context {
    Context {
        command: format!(
            "versus compare --runs {} --warmup 1 --vcpus 2",
            options.runs
        ),
        host: HostHeader {
            kernel: Some("6.1.0-test".into()),
            cpu: Some("Mock CPU @ 2.40GHz".into()),
            kvm_backend: "kvm_pvm".into(),
            kvm_is_bare_metal_hardware: false,
            kvm_warning: Some(
                "KVM here is kvm_pvm, a software backend: guest kernel code is emulated, so VM \
                 exits and system calls cost far more than with hardware virtualization."
                    .into(),
            ),
            kvm_caveat: None,
        },
        runs: options.runs,
        warmup: options.warmup,
        sections: options.sections.clone(),
        without_vm: options.without_vm.clone(),
        linux: options.linux.as_ref().map(|linux| LinuxSubject {
            kernel: "guest-images/linux/out/bzImage".into(),
            runs: linux.runs,
            software_backend: true,
            why_only_startup_and_memory: bench::compare::LINUX_SOFTWARE_ONLY_BOOT.into(),
        }),
    }
}

/// Counts what the comparer reports as it goes.
#[derive(Debug, Default)]
struct Counting {
    announced: usize,
    ran: Vec<RunRecord>,
    rounds: Vec<usize>,
}

impl Observer for Counting {
    fn start(&mut self, total_runs: usize) {
        self.announced = total_runs;
    }

    fn ran(&mut self, record: &RunRecord) {
        self.ran.push(record.clone());
    }

    fn round_done(&mut self, comparison: &Comparison) {
        self.rounds.push(comparison.rounds_done);
    }
}

fn compare(backends: &MockBackends) -> (Comparison, Counting) {
    compare_runs(backends, RUNS)
}

fn compare_runs(backends: &MockBackends, runs: usize) -> (Comparison, Counting) {
    let options = options_for(runs);
    let cases = plan(&options, backends);
    let comparer = Comparer::new(cases, options.clone(), context(&options));
    let mut observer = Counting::default();
    let comparison = comparer.run(&mut observer, &|| false);
    assert_eq!(observer.announced, comparer.total_runs());
    (comparison, observer)
}

fn series<'c>(
    c: &'c Comparison,
    section: Section,
    name: &str,
    subject: &str,
) -> &'c bench::compare::model::Series {
    c.series
        .iter()
        .find(|s| s.section == section && s.figure == name && s.subject == subject)
        .unwrap_or_else(|| panic!("no {subject} · {name} series"))
}

fn ratio_pairs(c: &Comparison, name: &str, top: &str, bottom: &str) -> usize {
    c.ratios
        .iter()
        .find(|r| r.figure == name && r.numerator == top && r.denominator == bottom)
        .unwrap_or_else(|| panic!("no {top} / {bottom} ratio of {name}"))
        .ratio
        .pairs
        .n
}

/// Every export of `c`, written through its exporter to a file and read back.
fn exports(c: &Comparison) -> Vec<(&'static str, String)> {
    let dir = tempfile::tempdir().unwrap();
    let exporters: Vec<(Box<dyn Exporter>, &str)> = vec![
        (Box::new(JsonExporter), "compare.json"),
        (Box::new(CsvExporter), "compare.csv"),
        (Box::new(MarkdownExporter), "compare.md"),
    ];
    let mut out = Vec::new();
    for (exporter, name) in exporters {
        let format = exporter.format();
        let export = Export {
            exporter,
            path: dir.path().join(name),
        };
        export.write(c).unwrap();
        out.push((format, read(&export.path)));
    }
    // Nothing but the three files: no temporaries left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    out
}

/// The figures of the JSON export, read back, are the CSV's and the
/// Markdown's, value by value.
fn assert_exports_hold_the_same_figures(exports: &[(&'static str, String)]) {
    let [(_, json), (_, csv), (_, markdown)] = exports else {
        panic!("three exports: {exports:?}");
    };
    let c: Comparison = serde_json::from_str(json).expect("the JSON export parses");
    exports_agree::assert_exports_agree(&c, csv, markdown);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_korean_comparison_says_every_sentence_in_korean() {
    let (mut c, _) = compare(&MockBackends::default());
    // What `versus compare` records on this project's software KVM host.
    c.host.kvm_caveat = Some(KvmCaveat::Software);
    let korean = render::comparison_in(
        &c,
        SNAPSHOT_COLUMNS,
        &bench::explain::Catalog::for_output(bench::explain::Lang::Ko),
    );
    assert!(korean.contains("⚠ 소프트웨어 KVM"), "{korean}");
    // The tiny kernel has no /proc: said in Korean too.
    assert!(
        korean.contains("/proc/self/status 없음") && !korean.contains("no /proc"),
        "{korean}"
    );
    let english = common::english_lines(&korean);
    assert!(
        english.is_empty(),
        "English in the Korean comparison:\n{}",
        english.join("\n")
    );
    // The detector finds the English warning the header printed before.
    assert!(!common::english_lines(&render::comparison_at(&c, SNAPSHOT_COLUMNS)).is_empty());
}

#[test]
fn the_whole_pipeline_matches_its_snapshots() {
    let (c, observer) = compare(&MockBackends::default());

    // Every run was reported, every measured round produced a comparison,
    // and the last one is the one returned.
    assert_eq!(observer.ran.len(), observer.announced);
    assert_eq!(observer.rounds, vec![1, 2, 3, 3]);
    assert_eq!(c.rounds_done, RUNS);
    assert!(observer.ran.iter().all(|r| r.outcome.is_ok()));

    let text = render::comparison_at(&c, SNAPSHOT_COLUMNS);
    for title in [
        "Startup: launch → workload start",
        "\nMemory\n",
        "System calls: getpid, measured inside the workload",
        "Exits and I/O",
        "Kernel identity and isolation",
        "Conclusions",
        "KVM: kvm_pvm",
    ] {
        assert!(text.contains(title), "the tables lack {title:?}:\n{text}");
    }
    assert!(!text.contains("Failed runs"), "{text}");

    let has = |needle: &str| c.conclusions.iter().any(|line| line.contains(needle));
    assert!(
        has("caused no VM exits"),
        "no 'no VM exits' conclusion: {:#?}",
        c.conclusions
    );
    assert!(has("The container's uname is the host's own kernel"));
    assert!(has("The VM's uname names its own guest kernel"));

    // The figures the lesson rests on.
    let exits = series(&c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm");
    assert_eq!(exits.values(), vec![0.0; RUNS]);
    let uart = series(&c, Section::Io, figure::EXITS_PER_WRITE, "vm (UART)");
    assert_eq!(uart.values(), vec![BYTES as f64; RUNS]);
    let paravirt = series(&c, Section::Io, figure::EXITS_PER_WRITE, "vm");
    assert_eq!(paravirt.values(), vec![1.0; RUNS]);
    for s in &c.series {
        assert!(s.failures.is_empty(), "{} · {}", s.subject, s.figure);
        assert_eq!(s.samples.len(), RUNS, "{} · {}", s.subject, s.figure);
    }
    for r in &c.ratios {
        assert_eq!(r.ratio.pairs.n, RUNS, "{} / {}", r.numerator, r.denominator);
    }

    insta::assert_snapshot!("tables", text);
    let written = exports(&c);
    for (format, content) in &written {
        insta::assert_snapshot!(format!("export_{format}"), content);
    }
    assert_exports_hold_the_same_figures(&written);
    // The Markdown export has a heading per section, too.
    let markdown = &written[2].1;
    for section in Section::ALL {
        let heading = format!("## {}", bench::compare::export::section_title(section));
        assert!(markdown.contains(&heading), "no {heading:?}");
    }
}

#[test]
fn a_failed_round_is_listed_and_left_out_of_its_figure_and_ratios() {
    // Call 0 is the warm-up; calls 1–3 are the measured rounds, numbered
    // 0–2 in the comparison (1–3 where people read them).
    let vm = VmVariant {
        vcpus: 1,
        console_uart: false,
        exit_probe: None,
        mem: None,
    };
    let at = |place, fresh, argv, call, fault| FaultAt {
        place,
        fresh,
        argv,
        call,
        fault,
    };
    let container = Place::Container { seccomp: true };
    let backends = MockBackends {
        twist: Twist::default(),
        faults: vec![
            // The container cannot start in the second measured round…
            at(container, false, "startup", 2, Fault::Backend),
            // …the VM's workload exits with status 3 in the third…
            at(Place::Vm(vm), false, "startup", 3, Fault::ExitStatus),
            // …the VM's `getpid 1` baseline fails in the first…
            at(Place::Vm(vm), false, "getpid 1", 1, Fault::ExitStatus),
            // …and so does the host's fresh process for memory figures.
            at(Place::Host, true, "startup", 1, Fault::Backend),
        ],
    };
    let (c, observer) = compare(&backends);
    assert_eq!(observer.ran.len(), observer.announced);

    let container = series(&c, Section::Startup, figure::STARTUP, "container");
    assert_eq!(container.summary.as_ref().unwrap().n, RUNS - 1);
    assert_eq!(container.failures.len(), 1);
    assert_eq!(container.failures[0].round, 1);
    assert_eq!(
        container.failures[0].reason,
        "cannot start the workload: mock: the clone was refused"
    );
    // Memory figures come from fresh processes, which failed elsewhere.
    let peak = series(&c, Section::Memory, figure::CGROUP_PEAK, "container");
    assert_eq!(peak.samples.len(), RUNS);
    let image = series(&c, Section::Memory, figure::IMAGE, "host");
    assert_eq!(image.samples.len(), RUNS - 1);
    assert_eq!(image.failures.len(), 1);

    let vm_startup = series(&c, Section::Startup, figure::STARTUP, "vm");
    assert_eq!(vm_startup.summary.as_ref().unwrap().n, RUNS - 1);
    assert_eq!(
        vm_startup.failures[0].reason,
        "vm startup: exited with status 3"
    );

    // Without its baseline the round's exit count is missing, and says why;
    // the getpid figure itself is complete.
    let exits = series(&c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm");
    assert_eq!(exits.samples.len(), RUNS - 1);
    assert!(exits.failures[0].reason.contains("getpid 1"), "{exits:?}");
    let getpid = series(&c, Section::Syscall, figure::GETPID, "vm");
    assert_eq!(getpid.samples.len(), RUNS);

    // Ratios pair only the rounds where both sides succeeded.
    assert_eq!(
        ratio_pairs(&c, figure::STARTUP, "container", "host"),
        RUNS - 1
    );
    assert_eq!(ratio_pairs(&c, figure::STARTUP, "vm", "host"), RUNS - 1);
    // The container failed in one round and the VM in another.
    assert_eq!(
        ratio_pairs(&c, figure::STARTUP, "vm", "container"),
        RUNS - 2
    );
    assert_eq!(ratio_pairs(&c, figure::GETPID, "vm", "host"), RUNS);

    // Every failure is listed, with its reason, in the tables and in every
    // export.
    let failures = render::failures(&c);
    assert_eq!(failures.len(), 4, "{failures:#?}");
    let text = render::comparison_at(&c, SNAPSHOT_COLUMNS);
    assert!(text.contains("Failed runs (not counted in any figure)"));
    // A long failure wraps over several lines: compare with the line breaks
    // and indents folded to single spaces.
    let fold = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    for line in &failures {
        assert!(fold(&text).contains(&fold(line)), "{line}");
    }
    for (format, content) in exports(&c) {
        let needle = if format == "csv" {
            // The CSV counts failures per series.
            "startup,container,launch → start marker,ns,2,1,"
        } else {
            "the clone was refused"
        };
        assert!(
            content.contains(needle),
            "the {format} export lacks {needle:?}"
        );
    }
    insta::assert_snapshot!("failures", failures.join("\n"));
    insta::assert_snapshot!("failures_tables", text);
}

#[test]
fn a_stop_between_runs_keeps_what_was_measured() {
    let options = options();
    let backends = MockBackends::default();
    let cases = plan(&options, &backends);
    let per_round = cases.len() - 9; // less the nine one-off identity runs
    let comparer = Comparer::new(cases, options.clone(), context(&options));
    let mut observer = Counting::default();
    // Stop once the warm-up and the first measured round are done.
    let asked = Cell::new(0);
    let stop = || {
        asked.set(asked.get() + 1);
        asked.get() > 2 * per_round
    };
    let c = comparer.run(&mut observer, &stop);
    assert_eq!(observer.ran.len(), 2 * per_round);
    assert_eq!(c.rounds_done, 1);
    assert!(c.identity.is_empty(), "the identity runs come last");
    assert!(
        c.series.iter().all(|s| s.samples.len() == 1),
        "one sample per figure"
    );
    assert!(render::comparison(&c).contains("1 measured round after 1 warm-up"));
}

#[test]
fn without_kvm_the_vm_is_left_out_with_one_reason() {
    let options = Options {
        without_vm: Some("permission denied opening /dev/kvm: join the kvm group".into()),
        ..options()
    };
    let backends = MockBackends::default();
    let comparer = Comparer::new(
        plan(&options, &backends),
        options.clone(),
        context(&options),
    );
    let c = comparer.run(&mut Counting::default(), &|| false);
    assert!(
        c.series.iter().all(|s| !s.subject.starts_with("vm")),
        "{:?}",
        c.series.iter().map(|s| &s.subject).collect::<Vec<_>>()
    );
    assert!(c.identity.iter().all(|row| row.subject != "vm"));
    let text = bench::compare::render::comparison(&c);
    assert!(
        text.contains("no VM backends in this comparison: permission denied opening /dev/kvm"),
        "{text}"
    );
    assert!(!text.contains("Failed runs"), "{text}");
    // Host and container are still compared.
    assert!(
        c.ratios
            .iter()
            .any(|r| r.numerator == "container" && r.denominator == "host")
    );
}

/// The conclusion that starts with `start`, which must be there.
fn conclusion<'c>(c: &'c Comparison, start: &str) -> &'c str {
    c.conclusions
        .iter()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no conclusion starting {start:?}: {:#?}", c.conclusions))
}

#[test]
fn a_guest_whose_system_calls_exit_shows_how_many_per_1000_calls() {
    // One exit every four calls: `getpid 2000` causes 500 exits beyond the
    // fixed set, its `getpid 1` baseline none.
    let backends = MockBackends {
        twist: Twist {
            getpid_exits: |iters| iters / 4,
            ..Twist::default()
        },
        ..MockBackends::default()
    };
    let (c, _) = compare(&backends);
    // The 500 extra exits come from the 1,999 calls beyond the baseline's one.
    let per_1000 = 500.0 * 1000.0 / (bench::compare::VM_GETPID_ITERS - 1) as f64;
    let exits = series(&c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm");
    assert_eq!(exits.values(), vec![per_1000; RUNS]);
    assert_eq!(
        conclusion(&c, "The VM's getpid loop caused"),
        "The VM's getpid loop caused 250.1 exits per 1,000 calls (expected 0: something other \
         than the guest kernel answered)."
    );
    assert!(!c.conclusions.iter().any(|l| l.contains("no VM exits")));
}

#[test]
fn a_loop_with_fewer_exits_than_its_baseline_is_shown_negative_and_explained() {
    // Three interrupts land in the one-call baseline run and none in the
    // loop: the loop caused no exit, and the figure must not pretend the
    // difference is zero.
    let backends = MockBackends {
        twist: Twist {
            getpid_exits: |iters| if iters == 1 { 3 } else { 0 },
            ..Twist::default()
        },
        ..MockBackends::default()
    };
    let (c, _) = compare(&backends);
    let per_1000 = -3.0 * 1000.0 / (bench::compare::VM_GETPID_ITERS - 1) as f64;
    let exits = series(&c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm");
    assert_eq!(exits.values(), vec![per_1000; RUNS]);
    assert_eq!(
        conclusion(&c, "The VM's getpid loop run made"),
        "The VM's getpid loop run made 1.5 fewer exits per 1,000 calls than its one-call \
         baseline: these exits vary from run to run and none of them is the system calls' (a \
         loop that caused exits would add them, not remove them)."
    );
    // The table shows the negative figure as it is.
    let text = render::comparison_at(&c, SNAPSHOT_COLUMNS);
    assert!(text.contains("-1.50"), "{text}");
}

/// A machine where the usual order flips: the container reaches its
/// workload sooner than the host process, a getpid is cheaper in the VM
/// than on the host and cheaper with the seccomp filter than without.
fn flipped() -> MockBackends {
    MockBackends {
        twist: Twist {
            getpid_ns: [52.0, 47.0, 53.0, 26.0],
            container_phases: 0.1,
            ..Twist::default()
        },
        ..MockBackends::default()
    }
}

#[test]
fn ratios_below_one_are_said_the_other_way_round() {
    let (c, _) = compare(&flipped());
    let below_one = |top: &str, bottom: &str, name: &str| {
        let ratio = &c
            .ratios
            .iter()
            .find(|r| r.figure == name && r.numerator == top && r.denominator == bottom)
            .unwrap_or_else(|| panic!("no {top} / {bottom} ratio"))
            .ratio;
        assert!(
            ratio.is_significant() && ratio.pairs.median < 1.0,
            "{top} / {bottom}: {ratio:?}"
        );
    };
    below_one("container", "host", figure::STARTUP);
    below_one("vm", "host", figure::GETPID);
    below_one("container", "container (no seccomp)", figure::GETPID);

    // Startup pairs container / host: 304 / 495, 384 / 427.5, 336 / 540
    // µs; median 0.622, said as the host's 1.6×.
    let fence = conclusion(&c, "Fencing a process in");
    assert!(
        fence.contains(
            "the container reached its workload sooner, and the plain host process took 1.6×"
        ),
        "{fence}"
    );
    // getpid pairs VM / host: 27.3 / 57.2, 26 / 49.4, 28.6 / 62.4 ns;
    // median 0.477, said as the host's 2.1×.
    let getpid = conclusion(&c, "A getpid cost");
    assert!(
        getpid.starts_with(
            "A getpid cost 57.2 ns on the host and 27.3 ns in the VM — less in the VM: the \
             host's took 2.1×"
        ),
        "{getpid}"
    );
    // Medians 49.35 ns with the filter and 55.65 ns without.
    let seccomp = conclusion(&c, "In the container a getpid");
    assert!(
        seccomp.starts_with(
            "In the container a getpid was 6.30 ns faster with the seccomp filter than without"
        ),
        "{seccomp}"
    );
    // No ratio below one is stated as such ("0.5× as long").
    for line in &c.conclusions {
        let below_one = |word: &str| word.starts_with("0.") && word.ends_with('×');
        assert!(
            !line.split(' ').any(below_one),
            "a ratio below one was stated: {line}"
        );
    }
}

#[test]
fn p95_is_shown_from_twenty_runs_and_not_at_nineteen() {
    // The column title, as the table header draws it after the median's.
    let p95_title = "┆ p95";
    let (nineteen, _) = compare_runs(&flipped(), 19);
    assert_eq!(nineteen.rounds_done, 19);
    let text = render::comparison_at(&nineteen, SNAPSHOT_COLUMNS);
    assert!(!text.contains(p95_title), "{text}");
    assert!(text.contains("with 19 it would be a guess"), "{text}");
    assert!(
        nineteen
            .series
            .iter()
            .all(|s| s.summary.as_ref().unwrap().p95.is_none())
    );

    let (twenty, _) = compare_runs(&flipped(), 20);
    assert_eq!(twenty.rounds_done, 20);
    let text = render::comparison_at(&twenty, SNAPSHOT_COLUMNS);
    assert!(text.contains(p95_title), "{text}");
    assert!(!text.contains("it would be a guess"), "{text}");
    // Every table with a median column has the p95 beside it, the
    // system-call table's "getpid (median)" included. (The phase table is
    // a grid of medians, one column per backend: it has no p95.)
    let header_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("┆ median ") || l.contains("┆ getpid "))
        .collect();
    assert!(
        header_lines.iter().any(|l| l.contains("┆ getpid ")),
        "{text}"
    );
    for line in &header_lines {
        assert!(line.contains(p95_title), "no p95 beside the median: {line}");
    }

    // Every figure has its p95, and every export carries it.
    let host = series(&twenty, Section::Syscall, figure::GETPID, "host");
    let p95 = host
        .summary
        .as_ref()
        .unwrap()
        .p95
        .expect("twenty runs give a p95");
    assert!(
        twenty
            .series
            .iter()
            .all(|s| s.summary.as_ref().unwrap().p95.is_some())
    );
    let written = exports(&twenty);
    let json = &written[0].1;
    assert!(json.contains(&format!("\"p95\": {p95}")), "{json}");
    assert_exports_hold_the_same_figures(&written);
    insta::assert_snapshot!("tables_twenty_runs_flipped", text);
}

#[test]
fn the_linux_subject_boots_in_the_first_measured_rounds_only_and_joins_startup_and_memory() {
    let options = Options {
        linux: Some(LinuxOptions {
            kernel: None,
            runs: 2,
        }),
        ..options()
    };
    let backends = MockBackends::default();
    let comparer = Comparer::new(
        plan(&options, &backends),
        options.clone(),
        context(&options),
    );
    let without_linux = Comparer::new(
        plan(&options_for(RUNS), &backends),
        options_for(RUNS),
        context(&options_for(RUNS)),
    );
    // Two boots in all: none in the warm-up, none after the second round.
    assert_eq!(comparer.total_runs(), without_linux.total_runs() + 2);
    let mut counting = Counting::default();
    let c = comparer.run(&mut counting, &|| false);
    let linux = bench::backend::linux::LABEL;
    // The boots that ran: rounds 1 and 2 (round 0 is the warm-up).
    let boots: Vec<(usize, bool)> = counting
        .ran
        .iter()
        .filter(|r| r.subject.label == linux)
        .map(|r| (r.round, r.warmup))
        .collect();
    assert_eq!(boots, [(1, false), (2, false)]);
    assert_eq!(counting.ran.len(), counting.announced);
    let samples = |section: Section, name: &str| {
        c.series
            .iter()
            .find(|s| s.section == section && s.subject == linux && s.figure == name)
            .map(|s| s.samples.iter().map(|x| x.round).collect::<Vec<_>>())
    };
    assert_eq!(samples(Section::Startup, figure::STARTUP), Some(vec![0, 1]));
    assert_eq!(
        samples(Section::Memory, figure::GUEST_TOUCHED),
        Some(vec![0, 1])
    );
    // Nothing of it in the sections it has no figures in.
    assert!(
        c.series
            .iter()
            .filter(|s| s.subject == linux)
            .all(|s| matches!(s.section, Section::Startup | Section::Memory)),
        "{:?}",
        c.series
    );
    // Its boot is the boot stage; a full kernel against the tiny one.
    assert!(
        c.phases.iter().any(|p| p.subject == linux
            && p.phase == "boot→/init"
            && p.stage == bench::compare::model::Stage::Boot),
        "{:?}",
        c.phases
    );
    assert!(
        c.ratios
            .iter()
            .any(|r| r.numerator == linux && r.denominator == "vm"),
        "{:?}",
        c.ratios
    );
    assert!(
        c.conclusions
            .iter()
            .any(|l| l.starts_with("The Linux guest took") && l.contains("VM on the tiny kernel")),
        "{:?}",
        c.conclusions
    );
    assert!(
        c.conclusions
            .iter()
            .any(|l| l.starts_with("A full Linux kernel touched 18.0 MiB")),
        "{:?}",
        c.conclusions
    );
    let text = render::comparison(&c);
    assert!(
        text.contains("vm (Linux) has no figures here: Linux user space cannot make system calls"),
        "{text}"
    );
    assert!(text.contains("2 boots"), "{text}");
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["linux"]["runs"], 2);
}

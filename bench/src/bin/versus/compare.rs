//! `versus compare`: the checks before the first round, the observer that
//! shows progress and rewrites the exports, and the status that says
//! whether the picture is complete.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use bench::compare::model::KvmCaveat;
use bench::doctor;
use bench::output;

use crate::args::CompareArgs;
use crate::exit::emit;

/// The header's host facts: kernel and CPU from `versus doctor`, the KVM backend
/// from `hypervisor::kvm::detect_backend` — the classification every VM run's
/// `kvm_backend` (`hypervisor::kvm::host_info`) and doctor use, so the header and
/// the runs below it name the same backend.
fn host_header() -> bench::compare::model::HostHeader {
    let report = doctor::diagnose(&doctor::HostView::real(), &doctor::HeaderProbes);
    let backend = hypervisor::kvm::detect_backend(std::path::Path::new("/"));
    let bare_metal = matches!(backend, hypervisor::kvm::KvmBackend::Hardware { .. });
    // The explanation names the backend and says what it means for the
    // numbers ("… VM numbers here are NOT those of hardware virtualization.").
    let warning = (!bare_metal).then(|| backend.explanation().to_string());
    let caveat = match backend {
        hypervisor::kvm::KvmBackend::Hardware { .. } => None,
        hypervisor::kvm::KvmBackend::Nested { .. } => Some(KvmCaveat::Nested),
        hypervisor::kvm::KvmBackend::Software { .. } => Some(KvmCaveat::Software),
        hypervisor::kvm::KvmBackend::Unknown { .. } => Some(KvmCaveat::Unknown),
        hypervisor::kvm::KvmBackend::Unavailable => Some(KvmCaveat::Unavailable),
    };
    bench::compare::model::HostHeader {
        kernel: report.kernel_release.clone(),
        cpu: report.cpu_model.clone(),
        kvm_backend: backend.label(),
        kvm_is_bare_metal_hardware: bare_metal,
        kvm_warning: warning,
        kvm_caveat: caveat,
    }
}

/// Shows progress on stderr (hidden when stderr is not a terminal) and
/// rewrites the exports after every round.
struct CompareObserver {
    bar: indicatif::ProgressBar,
    /// The output's language, for the progress and status lines too.
    catalog: bench::explain::Catalog,
    exports: Vec<bench::compare::export::Export>,
    plot: Option<PathBuf>,
    errors: Vec<String>,
    /// The files written so far, each named once at the end.
    written: Vec<PathBuf>,
}

impl CompareObserver {
    fn wrote(&mut self, path: &std::path::Path) {
        if !self.written.iter().any(|p| p == path) {
            self.written.push(path.to_path_buf());
        }
    }
}

impl bench::compare::Observer for CompareObserver {
    fn start(&mut self, total_runs: usize) {
        self.bar.set_length(total_runs as u64);
        // The first frame says what is happening before any run has ended.
        self.bar
            .set_message(self.catalog.say("compare.progress.starting", &[]));
    }

    fn ran(&mut self, record: &bench::compare::RunRecord) {
        self.bar.set_message(self.catalog.say(
            "compare.progress.ran",
            &[
                ("round", &(record.round + 1).to_string()),
                ("subject", &self.catalog.subject(&record.subject.label)),
            ],
        ));
        self.bar.inc(1);
    }

    fn round_done(&mut self, comparison: &bench::compare::Comparison) {
        let mut written = Vec::new();
        for export in &self.exports {
            match export.write(comparison) {
                Ok(()) => written.push(export.path.clone()),
                Err(error) => self.errors.push(error.to_string()),
            }
        }
        if let Some(path) = &self.plot {
            match bench::compare::plot::write_svg(comparison, path) {
                Ok(()) => written.push(path.clone()),
                Err(error) => self.errors.push(error.to_string()),
            }
        }
        for path in written {
            self.wrote(&path);
        }
    }
}

/// The `vm (Linux)` subject `--linux`/`--linux-kernel` ask for, its kernel
/// checked now (a missing one names `make linux-guest`), or `None`.
fn linux_subject(
    args: &CompareArgs,
    sections: &[bench::compare::Section],
) -> Result<Option<(bench::compare::LinuxOptions, bench::compare::LinuxSubject)>> {
    use bench::compare::Section;
    if !args.linux && args.linux_kernel.is_none() {
        return Ok(None);
    }
    if !sections.contains(&Section::Startup) && !sections.contains(&Section::Memory) {
        anyhow::bail!(
            "--linux adds vm (Linux) to the startup and memory sections, and --only leaves both out: add startup or memory to --only"
        );
    }
    // The file is read once here, so that a wrong path or a non-kernel is
    // refused before the first round rather than in every Linux run.
    let backend = bench::backend::linux::LinuxBackend::new(args.linux_kernel.as_deref())?;
    let software = hypervisor::kvm::detect_backend(std::path::Path::new("/")).is_software();
    let runs = usize::try_from(args.linux_runs.min(args.runs))?;
    Ok(Some((
        bench::compare::LinuxOptions {
            kernel: args.linux_kernel.clone(),
            runs,
        },
        bench::compare::LinuxSubject {
            kernel: backend.kernel_path.display().to_string(),
            runs,
            software_backend: software,
            why_only_startup_and_memory: if software {
                bench::compare::LINUX_SOFTWARE_ONLY_BOOT
            } else {
                bench::compare::LINUX_HARDWARE_ONLY_BOOT
            }
            .to_string(),
        },
    )))
}

/// `versus compare`: plan, run interleaved, show.
pub(crate) fn compare(args: &CompareArgs) -> Result<ExitCode> {
    use bench::compare::export::{CsvExporter, Export, JsonExporter, MarkdownExporter};
    use bench::compare::{Comparer, Options, RealBackends, Section, derive, plan, render};

    let sections = if args.only.is_empty() {
        Section::ALL.to_vec()
    } else {
        Section::ALL
            .into_iter()
            .filter(|s| args.only.contains(s))
            .collect()
    };
    // Without a usable /dev/kvm every VM run would fail the same way: say
    // it once and compare what can be compared.
    let without_vm = hypervisor::kvm::open().err().map(|error| error.to_string());
    // The kernel is checked even without KVM (a wrong path is refused
    // all the same); without KVM the subject is left out with the other VMs.
    let linux = linux_subject(args, &sections)?.filter(|_| without_vm.is_none());
    let options = Options {
        linux: linux.as_ref().map(|(options, _)| options.clone()),
        without_vm: without_vm.clone(),
        runs: usize::try_from(args.runs)?,
        warmup: usize::try_from(args.warmup)?,
        sections: sections.clone(),
        vcpus: args.vcpus,
        mem: args.mem,
    };
    // Refuse at once what the VMM would refuse in every run.
    if args.vcpus > 1 || args.mem.is_some() {
        let settings = bench::compare::VmVariant {
            vcpus: args.vcpus,
            console_uart: false,
            exit_probe: None,
            mem: args.mem,
        }
        .settings();
        // Every message about a total size names `--mem` itself.
        settings.config(Vec::new()).layout()?;
    }
    // Every output file is checked before the first round, so that a typo
    // does not cost a whole comparison.
    for (flag, path) in [
        ("--export-json", &args.export_json),
        ("--export-csv", &args.export_csv),
        ("--export-markdown", &args.export_markdown),
        ("--plot", &args.plot),
    ] {
        if let Some(path) = path {
            bench::fmt::check_writable(path)
                .with_context(|| format!("{flag} {}: cannot write there", path.display()))?;
        }
    }
    let mut exports = Vec::new();
    for (path, exporter) in [
        (
            &args.export_json,
            Box::new(JsonExporter) as Box<dyn bench::compare::export::Exporter>,
        ),
        (&args.export_csv, Box::new(CsvExporter)),
        (&args.export_markdown, Box::new(MarkdownExporter)),
    ] {
        if let Some(path) = path {
            exports.push(Export {
                exporter,
                path: path.clone(),
            });
        }
    }
    let context = derive::Context {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        host: host_header(),
        runs: options.runs,
        warmup: options.warmup,
        sections,
        without_vm,
        linux: linux.map(|(_, subject)| subject),
    };
    let comparer = Comparer::new(
        plan(
            &options,
            &RealBackends {
                versus: std::env::current_exe().context("cannot find the versus executable")?,
            },
        ),
        options,
        context,
    );
    let catalog = bench::explain::Catalog::for_output(args.lang.into());
    // The catalog's word holds no braces (bench/locales/*/compare.txt), so
    // the template stays the one indicatif accepts.
    let template = format!(
        "{{bar:30}} {{pos}}/{{len}} {} · {{msg}} · {{elapsed}}",
        catalog.say("compare.progress.runs", &[])
    );
    let style = indicatif::ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let bar = indicatif::ProgressBar::new(0).with_style(style);
    let mut observer = CompareObserver {
        bar,
        catalog,
        exports,
        plot: args.plot.clone(),
        errors: Vec::new(),
        written: Vec::new(),
    };
    let comparison = comparer.run(&mut observer, &bench::interrupt::requested);
    observer.bar.finish_and_clear();
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&comparison)?))?;
    } else {
        let columns = bench::width::output_width();
        emit(&render::comparison_in(
            &comparison,
            columns,
            &observer.catalog,
        ))?;
    }
    let say = |key: &str, args: &[(&str, &str)]| observer.catalog.say(key, args);
    // Every file is rewritten after each round; it is named once, here.
    for path in &observer.written {
        output::stderr_line(&say(
            "compare.status.wrote",
            &[("path", &path.display().to_string())],
        ));
    }
    // The same export error after every round is reported once.
    observer.errors.dedup();
    for error in &observer.errors {
        output::stderr_line(&format!("versus: error: {error}"));
    }
    if let Some(status) = bench::interrupt::exit_status() {
        output::stderr_line(&say("compare.status.interrupted", &[]));
        return Ok(ExitCode::from(status));
    }
    // Like hyperfine with a failing command: everything measured is shown,
    // and the status says the picture is incomplete.
    let failed_runs = render::failures(&comparison).len();
    if let Some(reason) = &comparison.without_vm {
        output::stderr_line(&say("compare.status.no-vm", &[("reason", reason)]));
    }
    if failed_runs > 0 {
        output::stderr_line(&say(
            "compare.status.failed-runs",
            &[("count", &failed_runs.to_string())],
        ));
    }
    let complete = comparison.without_vm.is_none() && failed_runs == 0;
    Ok(if observer.errors.is_empty() && complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

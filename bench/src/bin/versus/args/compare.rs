//! `versus compare`'s options and examples.

use std::path::PathBuf;

use clap::Args;

use super::parse_size;

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

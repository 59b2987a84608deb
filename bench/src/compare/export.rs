//! Exports in hyperfine's spirit: one [`Exporter`] per format behind one
//! trait, each rewriting its whole file after every measured round, so the
//! results so far survive an interruption. Files are written to a
//! temporary name beside the target and renamed into place, so a reader
//! never sees half a file.

use std::path::{Path, PathBuf};

use super::model::{Comparison, Section, Unit};
use super::render;

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing or renaming the file failed.
    #[error("cannot write the {format} export to {path}: {source}", path = path.display())]
    Io {
        /// The format.
        format: &'static str,
        /// The target file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Serialising to JSON failed.
    #[error("cannot encode the comparison as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A file format for a [`Comparison`].
pub trait Exporter {
    /// The format's name (`json`, `csv`, `markdown`).
    fn format(&self) -> &'static str;
    /// The whole file for `comparison`.
    fn render(&self, comparison: &Comparison) -> Result<String, ExportError>;
}

/// The full comparison as JSON: every series with each sample and its
/// round, summaries, phases, ratios, identity rows and conclusions.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn format(&self) -> &'static str {
        "json"
    }

    fn render(&self, comparison: &Comparison) -> Result<String, ExportError> {
        let mut text = serde_json::to_string_pretty(comparison)?;
        text.push('\n');
        Ok(text)
    }
}

/// One row per series: section, backend, figure, unit, runs, failures,
/// median, p95, min, max, mean, stddev — values in the unit's base
/// (nanoseconds, bytes, counts), ready for a spreadsheet.
#[derive(Debug, Default, Clone, Copy)]
pub struct CsvExporter;

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Nanoseconds => "ns",
        Unit::Bytes => "bytes",
        Unit::Count => "count",
    }
}

impl Exporter for CsvExporter {
    fn format(&self) -> &'static str {
        "csv"
    }

    fn render(&self, comparison: &Comparison) -> Result<String, ExportError> {
        let mut out = String::from(
            "section,backend,figure,unit,runs,failed,median,p95,min,max,mean,stddev\n",
        );
        // Three decimals: sub-nanosecond digits of a median are noise.
        let number = |v: Option<f64>| {
            v.map_or_else(String::new, |v| {
                let text = format!("{v:.3}");
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            })
        };
        for series in &comparison.series {
            let s = series.summary.as_ref();
            let fields = [
                series.section.name().to_string(),
                csv_field(&series.subject),
                csv_field(&series.figure),
                unit_name(series.unit).to_string(),
                s.map_or(0, |s| s.n).to_string(),
                series.failures.len().to_string(),
                number(s.map(|s| s.median)),
                number(s.and_then(|s| s.p95)),
                number(s.map(|s| s.min)),
                number(s.map(|s| s.max)),
                number(s.map(|s| s.mean)),
                number(s.and_then(|s| s.stddev)),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        Ok(out)
    }
}

/// The comparison as Markdown tables, for a report or an issue.
#[derive(Debug, Default, Clone, Copy)]
pub struct MarkdownExporter;

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

impl Exporter for MarkdownExporter {
    fn format(&self) -> &'static str {
        "markdown"
    }

    fn render(&self, c: &Comparison) -> Result<String, ExportError> {
        let mut out = String::from("# versus compare\n\n");
        out.push_str(&format!("`{}`\n\n", c.command));
        for (mark, text) in render::header_paragraphs(c) {
            out.push_str(&format!("> {mark}{}\n", md_cell(&text)));
        }
        for section in &c.sections {
            out.push_str(&format!("\n## {}\n\n", section_title(*section)));
            if *section == Section::Identity {
                out.push_str("| backend | uname | ids | status |\n|---|---|---|---|\n");
                for row in &c.identity {
                    let show = |v: &Option<String>| md_cell(v.as_deref().unwrap_or("—"));
                    out.push_str(&format!(
                        "| {} | {} | {} | {} |\n",
                        md_cell(&row.subject),
                        show(&row.kernel),
                        show(&row.ids),
                        show(&row.status)
                    ));
                }
                continue;
            }
            // As in the tables: no column of dashes below the runs p95 needs.
            let p95 = render::shows_p95(c);
            out.push_str(if p95 {
                "| figure | backend | median | p95 | min | max | runs ok |\n\
                 |---|---|---:|---:|---:|---:|---:|\n"
            } else {
                "| figure | backend | median | min | max | runs ok |\n\
                 |---|---|---:|---:|---:|---:|\n"
            });
            for series in c.series.iter().filter(|s| s.section == *section) {
                let show = |v: Option<f64>| {
                    v.map_or_else(|| "—".to_string(), |v| render::value(series.unit, v))
                };
                let s = series.summary.as_ref();
                let ok = s.map_or(0, |s| s.n);
                let p95_cell = if p95 {
                    format!(" {} |", show(s.and_then(|s| s.p95)))
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "| {} | {} | {} |{p95_cell} {} | {} | {}/{} |\n",
                    md_cell(&series.figure),
                    md_cell(&series.subject),
                    show(s.map(|s| s.median)),
                    show(s.map(|s| s.min)),
                    show(s.map(|s| s.max)),
                    ok,
                    ok + series.failures.len()
                ));
            }
            if *section == Section::Startup && !c.phases.is_empty() {
                out.push_str("\n| backend | stage | phase | median |\n|---|---|---|---:|\n");
                // A phase that never took any time is absent, as in the tables.
                for phase in c.phases.iter().filter(|p| p.summary.max > 0.0) {
                    out.push_str(&format!(
                        "| {} | {} | {} | {} |\n",
                        md_cell(&phase.subject),
                        render::stage_name(phase.stage),
                        md_cell(&phase.phase),
                        render::value(Unit::Nanoseconds, phase.summary.median)
                    ));
                }
            }
            let ratios: Vec<_> = c.ratios.iter().filter(|r| r.section == *section).collect();
            if !ratios.is_empty() {
                out.push_str("\n| ratio (paired by round) | median | pairs |\n|---|---:|---:|\n");
                for r in ratios {
                    out.push_str(&format!(
                        "| {} / {} ({}) | {} | {} |\n",
                        md_cell(&r.numerator),
                        md_cell(&r.denominator),
                        md_cell(&r.figure),
                        r.ratio.describe(),
                        r.ratio.pairs.n
                    ));
                }
            }
        }
        let failures = render::failures(c);
        if !failures.is_empty() {
            out.push_str("\n## Failed runs\n\n");
            for line in failures {
                out.push_str(&format!("- {}\n", md_cell(&line)));
            }
        }
        if !c.conclusions.is_empty() {
            out.push_str("\n## Conclusions\n\n");
            for line in &c.conclusions {
                out.push_str(&format!("- {}\n", md_cell(line)));
            }
        }
        Ok(out)
    }
}

/// The section's heading.
pub fn section_title(section: Section) -> &'static str {
    match section {
        Section::Startup => "Startup",
        Section::Memory => "Memory",
        Section::Syscall => "System calls",
        Section::Io => "Exits and I/O",
        Section::Identity => "Kernel identity and isolation",
    }
}

/// Writes `text` to `path` through a temporary file and a rename
/// ([`crate::fmt::write_atomically`]), naming the format on failure.
pub fn write_atomically(format: &'static str, path: &Path, text: &str) -> Result<(), ExportError> {
    crate::fmt::write_atomically(path, text).map_err(|source| ExportError::Io {
        format,
        path: path.to_path_buf(),
        source,
    })
}

/// An exporter bound to its file.
pub struct Export {
    /// The format.
    pub exporter: Box<dyn Exporter>,
    /// Where it goes.
    pub path: PathBuf,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("format", &self.exporter.format())
            .field("path", &self.path)
            .finish()
    }
}

impl Export {
    /// (Re)writes the file for `comparison`.
    pub fn write(&self, comparison: &Comparison) -> Result<(), ExportError> {
        let text = self.exporter.render(comparison)?;
        write_atomically(self.exporter.format(), &self.path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("vm ×2"), "vm ×2");
        assert_eq!(
            csv_field("exits per 1,000 calls"),
            "\"exits per 1,000 calls\""
        );
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn an_unwritable_path_is_named_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-dir").join("out.json");
        let error = write_atomically("json", &target, "{}").unwrap_err();
        assert!(
            error.to_string().contains("missing-dir/out.json"),
            "{error}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_rewrite_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        write_atomically("csv", &target, "a long first version\n").unwrap();
        write_atomically("csv", &target, "short\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "short\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

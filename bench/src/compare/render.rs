//! A [`Comparison`] as people read it (step 4 of [`super`]): a header
//! naming the host and its KVM backend, one comfy-table per section,
//! failures with their reasons, and the conclusions. The words come from
//! the catalog (`bench/locales/*/compare.txt`): English by default, Korean
//! with `versus compare --lang ko` ([`comparison_in`]). Names of backends,
//! figures and phases are shown through the catalog's display names
//! ([`Catalog::subject`]); exports keep the English names, which are data.

use comfy_table::{Cell, CellAlignment, Table};

use super::model::{Comparison, Section, Series, Stage, Unit, figure};
use crate::explain::{Catalog, Lang};
use crate::fmt;
use crate::render::table;
use crate::stats::{MIN_SAMPLES_FOR_P95, Ratio};
use crate::width;

/// Formats a value of `unit`.
pub fn value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Nanoseconds => fmt::duration_f64(value),
        Unit::Bytes => fmt::bytes(value.round() as u64),
        Unit::Count => {
            if value.fract() == 0.0 {
                format!("{value:.0}")
            } else {
                format!("{value:.2}")
            }
        }
    }
}

/// A number: right-aligned, never split from its unit.
fn right(text: impl Into<String>) -> Cell {
    Cell::new(width::glue(&text.into())).set_alignment(CellAlignment::Right)
}

/// Whether the tables have a p95 column: only with enough runs to fill it
/// (below that it would be a column of dashes).
pub fn shows_p95(c: &Comparison) -> bool {
    c.rounds_done >= MIN_SAMPLES_FOR_P95
}

/// The titles of the catalog's column `keys`, without the p95 column
/// when [`shows_p95`] is false.
fn columns_for(c: &Comparison, t: &Catalog, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .filter(|key| shows_p95(c) || **key != "compare.col.p95")
        .map(|key| t.say(key, &[]))
        .collect()
}

/// A table with the catalog's column titles `keys`.
fn titled(c: &Comparison, t: &Catalog, keys: &[&str], all: bool) -> Table {
    let titles: Vec<String> = if all {
        keys.iter().map(|key| t.say(key, &[])).collect()
    } else {
        columns_for(c, t, keys)
    };
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    table(&titles)
}

/// The whole comparison as text, to the output width (see [`crate::width`]).
pub fn comparison(c: &Comparison) -> String {
    comparison_at(c, width::output_width())
}

/// [`comparison`] laid out for `columns` display columns.
pub fn comparison_at(c: &Comparison, columns: usize) -> String {
    comparison_in(c, columns, &Catalog::for_output(Lang::En))
}

/// [`comparison_at`] in the catalog's language: headings, table titles,
/// the header and the conclusions (recomputed from the figures in that
/// language; English uses the ones the comparison carries).
pub fn comparison_in(c: &Comparison, columns: usize, t: &Catalog) -> String {
    let mut out = String::new();
    out.push_str(&header_in(c, columns, t));
    for section in &c.sections {
        let (key, body) = match section {
            Section::Startup => ("compare.title.startup", startup_tables(c, t)),
            Section::Memory => (
                "compare.title.memory",
                vec![figures_table(c, t, Section::Memory)],
            ),
            Section::Syscall => ("compare.title.syscall", vec![syscall_table(c, t)]),
            Section::Io => ("compare.title.io", vec![figures_table(c, t, Section::Io)]),
            Section::Identity => ("compare.title.identity", vec![identity_table(c, t)]),
        };
        out.push('\n');
        out.push_str(&width::paragraph_to(&t.say(key, &[]), "", "  ", columns));
        for mut table in body {
            out.push_str(&width::table_to(&mut table, columns));
            out.push('\n');
        }
        if let Some(note) = linux_note(c, *section, t) {
            out.push_str(&width::paragraph_to(&note, "  ", "  ", columns));
        }
    }
    let failures = failures(c);
    if !failures.is_empty() {
        out.push_str(&format!("\n{}\n", t.say("compare.failed-runs", &[])));
        for line in failures {
            out.push_str(&width::paragraph_to(&line, "  ✗ ", "    ", columns));
        }
    }
    let conclusions = if t.lang() == Lang::En {
        c.conclusions.clone()
    } else {
        super::conclusions::conclusions_in(c, t)
    };
    if !conclusions.is_empty() {
        out.push_str(&format!("\n{}\n", t.say("compare.conclusions", &[])));
        for line in &conclusions {
            out.push_str(&width::paragraph_to(line, "  • ", "    ", columns));
        }
    }
    out
}

/// Under each section, one sentence about the `vm (Linux)` subject when
/// `--linux` added it: in startup what its figure times, in the sections
/// it has no figures in why they are empty.
pub fn linux_note(c: &Comparison, section: Section, t: &Catalog) -> Option<String> {
    let linux = c.linux.as_ref()?;
    Some(match section {
        Section::Startup => t.say(
            "compare.linux.startup",
            &[("runs", &linux.runs.to_string())],
        ),
        Section::Memory => return None,
        Section::Syscall | Section::Io | Section::Identity => t.say(
            if linux.software_backend {
                "compare.linux.empty-software"
            } else {
                "compare.linux.empty-hardware"
            },
            &[],
        ),
    })
}

/// The header: what ran, where, and whether VM numbers are hardware numbers,
/// wrapped to the output width.
pub fn header(c: &Comparison) -> String {
    header_at(c, width::output_width())
}

/// [`header`] laid out for `columns` display columns.
pub fn header_at(c: &Comparison, columns: usize) -> String {
    header_in(c, columns, &Catalog::for_output(Lang::En))
}

/// [`header_at`] in the catalog's language.
fn header_in(c: &Comparison, columns: usize, t: &Catalog) -> String {
    header_paragraphs_in(c, t)
        .into_iter()
        .map(|(mark, text)| {
            // Continuation lines hang under the text, past the mark.
            let hang = if mark.is_empty() {
                "  ".to_string()
            } else {
                " ".repeat(width::columns(&mark))
            };
            width::paragraph_to(&text, &mark, &hang, columns)
        })
        .collect()
}

/// The header's paragraphs, unwrapped, each with the mark that starts it
/// (`⚠ `…): for [`header`] and for exports, which do not depend on a
/// terminal's width.
pub fn header_paragraphs(c: &Comparison) -> Vec<(String, String)> {
    header_paragraphs_in(c, &Catalog::for_output(Lang::En))
}

/// [`header_paragraphs`] in the catalog's language.
fn header_paragraphs_in(c: &Comparison, t: &Catalog) -> Vec<(String, String)> {
    let word = |one: &str, many: &str, n: usize| t.say(if n == 1 { one } else { many }, &[]);
    let host_kernel = c
        .host
        .kernel
        .clone()
        .unwrap_or_else(|| t.say("compare.header.unknown-kernel", &[]));
    let host_cpu = c
        .host
        .cpu
        .clone()
        .unwrap_or_else(|| t.say("compare.header.unknown-cpu", &[]));
    let mut out = vec![
        (
            String::new(),
            t.say(
                "compare.header.run",
                &[
                    ("rounds", &c.rounds_done.to_string()),
                    (
                        "round_word",
                        &word("compare.word.round", "compare.word.rounds", c.rounds_done),
                    ),
                    ("warmup", &c.warmup.to_string()),
                    (
                        "warmup_word",
                        &word("compare.word.warmup", "compare.word.warmups", c.warmup),
                    ),
                ],
            ),
        ),
        (
            format!("{} ", t.say("compare.header.host-mark", &[])),
            t.say(
                "compare.header.host",
                &[
                    ("kernel", &host_kernel),
                    ("cpu", &host_cpu),
                    ("backend", &c.host.kvm_backend),
                ],
            ),
        ),
    ];
    if let Some(warning) = &c.host.kvm_warning {
        let said = c.host.kvm_caveat.map_or_else(
            || warning.clone(),
            |caveat| t.say(caveat.catalog_key(), &[]),
        );
        out.push(("⚠ ".to_string(), said));
    }
    if let Some(linux) = &c.linux {
        out.push((
            String::new(),
            t.say(
                "compare.header.linux",
                &[("kernel", &linux.kernel), ("runs", &linux.runs.to_string())],
            ),
        ));
    }
    if let Some(reason) = &c.without_vm {
        out.push((
            "✗ ".to_string(),
            t.say("compare.header.no-vm", &[("reason", reason)]),
        ));
    }
    if !shows_p95(c) {
        out.push((
            String::new(),
            t.say(
                "compare.header.p95",
                &[
                    ("min", &MIN_SAMPLES_FOR_P95.to_string()),
                    ("rounds", &c.rounds_done.to_string()),
                ],
            ),
        ));
    }
    out
}

fn summary_cells(series: &Series, p95: bool, t: &Catalog) -> Vec<Cell> {
    let mut cells = match &series.summary {
        Some(s) => vec![
            right(value(series.unit, s.median)),
            right(
                s.p95
                    .map_or_else(|| "—".to_string(), |p| value(series.unit, p)),
            ),
            right(format!(
                "{} – {}",
                value(series.unit, s.min),
                value(series.unit, s.max)
            )),
            right(format!("{}/{}", s.n, s.n + series.failures.len())),
        ],
        None => vec![
            right(t.say("compare.cell.failed", &[])),
            right("—"),
            right("—"),
            right(format!("0/{}", series.failures.len())),
        ],
    };
    if !p95 {
        cells.remove(1);
    }
    cells
}

fn startup_tables(c: &Comparison, t: &Catalog) -> Vec<Table> {
    let mut summary = titled(
        c,
        t,
        &[
            "compare.col.backend",
            "compare.col.median",
            "compare.col.p95",
            "compare.col.range",
            "compare.col.runs-ok",
        ],
        false,
    );
    let mut subjects = Vec::new();
    for series in c
        .series
        .iter()
        .filter(|s| s.section == Section::Startup && s.figure == figure::STARTUP)
    {
        subjects.push(series.subject.clone());
        let mut row = vec![Cell::new(t.subject(&series.subject))];
        row.extend(summary_cells(series, shows_p95(c), t));
        summary.add_row(row);
    }
    // Phases as a matrix: one row per stage · phase, one column of numbers
    // per backend ("—" where a backend has no such phase), so that the same
    // phase reads across and a narrow terminal still holds five backends.
    let mut header = vec![t.say("compare.col.phase", &[])];
    header.extend(subjects.iter().map(|subject| t.subject(subject)));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut phases = table(&header);
    for stage in [Stage::Prepare, Stage::Boot, Stage::Run, Stage::Teardown] {
        // Phase names of this stage in the order they first happened.
        let mut names: Vec<&str> = Vec::new();
        for row in c.phases.iter().filter(|p| p.stage == stage) {
            if !names.contains(&row.phase.as_str()) {
                names.push(&row.phase);
            }
        }
        for name in names {
            let mut row = vec![Cell::new(format!(
                "{} · {}",
                stage_in(stage, t),
                t.phase(name)
            ))];
            for subject in &subjects {
                let median = c
                    .phases
                    .iter()
                    .find(|p| &p.subject == subject && p.stage == stage && p.phase == name)
                    // A phase that never took any time in any run (a task
                    // with nothing to do in it) is absent, not "0.00 ns".
                    .filter(|p| p.summary.max > 0.0)
                    .map_or_else(|| "—".to_string(), |p| fmt::duration_f64(p.summary.median));
                row.push(right(median));
            }
            phases.add_row(row);
        }
    }
    vec![summary, phases]
}

/// The stage's name in tables: *prepare · boot/exec · run · teardown*.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Prepare => "prepare",
        Stage::Boot => "boot/exec",
        Stage::Run => "run",
        Stage::Teardown => "teardown",
    }
}

/// The stage's name in the catalog's language.
fn stage_in(stage: Stage, t: &Catalog) -> String {
    t.say(
        match stage {
            Stage::Prepare => "compare.stage.prepare",
            Stage::Boot => "compare.stage.boot",
            Stage::Run => "compare.stage.run",
            Stage::Teardown => "compare.stage.teardown",
        },
        &[],
    )
}

fn figures_table(c: &Comparison, t: &Catalog, section: Section) -> Table {
    let mut out = titled(
        c,
        t,
        &[
            "compare.col.figure",
            "compare.col.backend",
            "compare.col.median",
            "compare.col.p95",
            "compare.col.range",
            "compare.col.runs-ok",
        ],
        false,
    );
    let mut rows: Vec<&Series> = c.series.iter().filter(|s| s.section == section).collect();
    // Group by figure, keeping the order in which figures first appeared.
    let mut order: Vec<&str> = Vec::new();
    for s in &rows {
        if !order.contains(&s.figure.as_str()) {
            order.push(&s.figure);
        }
    }
    rows.sort_by_key(|s| order.iter().position(|f| *f == s.figure));
    for series in rows {
        let mut row = vec![
            Cell::new(t.figure(&series.figure)),
            Cell::new(t.subject(&series.subject)),
        ];
        row.extend(summary_cells(series, shows_p95(c), t));
        out.add_row(row);
    }
    if section == Section::Io {
        for ratio in c.ratios.iter().filter(|r| r.section == Section::Io) {
            let mut row = vec![
                Cell::new(t.say(
                    "compare.cell.ratio",
                    &[("figure", &t.figure(&ratio.figure))],
                )),
                Cell::new(format!(
                    "{} / {}",
                    t.subject(&ratio.numerator),
                    t.subject(&ratio.denominator)
                )),
                // The spread is in the min – max column; a ratio the pairs
                // do not support is not stated.
                right(if ratio.ratio.is_significant() {
                    fmt::ratio(ratio.ratio.pairs.median)
                } else {
                    ratio_cell(&ratio.ratio, t)
                }),
                right("—"),
                right(format!(
                    "{} – {}",
                    fmt::ratio(ratio.ratio.pairs.min),
                    fmt::ratio(ratio.ratio.pairs.max)
                )),
                right(t.say(
                    "compare.cell.pairs",
                    &[("count", &ratio.ratio.pairs.n.to_string())],
                )),
            ];
            if !shows_p95(c) {
                row.remove(3);
            }
            out.add_row(row);
        }
    }
    out
}

/// A paired ratio in a table cell, in the catalog's language: "3.1×
/// (±0.2)", or that the pairs spread too widely to state one.
fn ratio_cell(ratio: &Ratio, t: &Catalog) -> String {
    if ratio.is_significant() {
        fmt::ratio_with_spread(ratio.pairs.median, ratio.spread())
    } else {
        t.say(
            "compare.cell.not-significant",
            &[("spread", &fmt::significant(ratio.spread()))],
        )
    }
}

fn syscall_table(c: &Comparison, t: &Catalog) -> Table {
    let mut out = titled(
        c,
        t,
        &[
            "compare.col.backend",
            "compare.col.getpid",
            "compare.col.p95",
            "compare.col.range",
            "compare.col.vs-host",
            "compare.col.exits",
            "compare.col.runs-ok",
        ],
        false,
    );
    let find = |subject: &str, name: &str| {
        c.series
            .iter()
            .find(|s| s.section == Section::Syscall && s.subject == subject && s.figure == name)
    };
    for series in c
        .series
        .iter()
        .filter(|s| s.section == Section::Syscall && s.figure == figure::GETPID)
    {
        let (median, p95, range) = match &series.summary {
            Some(s) => (
                value(series.unit, s.median),
                s.p95
                    .map_or_else(|| "—".to_string(), |p| value(series.unit, p)),
                format!(
                    "{} – {}",
                    value(series.unit, s.min),
                    value(series.unit, s.max)
                ),
            ),
            None => (
                t.say("compare.cell.failed", &[]),
                "—".to_string(),
                "—".to_string(),
            ),
        };
        let ratio = if series.subject == "host" {
            fmt::ratio(1.0)
        } else {
            c.ratios
                .iter()
                .find(|r| {
                    r.figure == figure::GETPID
                        && r.numerator == series.subject
                        && r.denominator == "host"
                })
                .map_or_else(|| "—".to_string(), |r| ratio_cell(&r.ratio, t))
        };
        let exits = match find(&series.subject, figure::EXITS_PER_1000_CALLS)
            .and_then(|s| s.summary.as_ref())
        {
            Some(s) => value(Unit::Count, s.median),
            // No VM: the host kernel answers directly; there is nothing to exit from.
            None => t.say("compare.cell.no-vm", &[]),
        };
        let ok = series.summary.as_ref().map_or(0, |s| s.n);
        let mut row = vec![
            Cell::new(t.subject(&series.subject)),
            right(median),
            right(p95),
            right(range),
            right(ratio),
            right(exits),
            right(format!("{ok}/{}", ok + series.failures.len())),
        ];
        if !shows_p95(c) {
            row.remove(2);
        }
        out.add_row(row);
    }
    out
}

fn identity_table(c: &Comparison, t: &Catalog) -> Table {
    let mut out = titled(
        c,
        t,
        &[
            "compare.col.backend",
            "compare.col.uname",
            "compare.col.ids",
            "compare.col.status",
        ],
        true,
    );
    for row in &c.identity {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_string());
        out.add_row(vec![
            Cell::new(t.subject(&row.subject)),
            Cell::new(show(&row.kernel)),
            Cell::new(show(&row.ids)),
            Cell::new(match &row.status_unavailable {
                Some(errno) => t.say("compare.cell.no-proc-status", &[("errno", errno)]),
                None => show(&row.status),
            }),
        ]);
    }
    out
}

/// Every failed run, "subject · figure · round N: reason".
pub fn failures(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    for series in &c.series {
        for failure in &series.failures {
            out.push(format!(
                "{} · {} · round {}: {}",
                series.subject,
                series.figure,
                failure.round + 1,
                failure.reason
            ));
        }
    }
    for row in &c.identity {
        for failure in &row.failures {
            out.push(format!("{} · identity: {failure}", row.subject));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::KvmCaveat;
    use hypervisor::kvm::{CpuVendor, KvmBackend};

    #[test]
    fn the_kvm_warning_in_english_is_the_hypervisors_own_and_each_has_a_korean_twin() {
        let (en, ko) = (Catalog::for_output(Lang::En), Catalog::for_output(Lang::Ko));
        for (backend, caveat) in [
            (
                KvmBackend::Nested {
                    vendor: CpuVendor::Intel,
                },
                KvmCaveat::Nested,
            ),
            (
                KvmBackend::Software {
                    module: "kvm_pvm".into(),
                },
                KvmCaveat::Software,
            ),
            (KvmBackend::Unknown { modules: vec![] }, KvmCaveat::Unknown),
            (KvmBackend::Unavailable, KvmCaveat::Unavailable),
        ] {
            assert_eq!(en.say(caveat.catalog_key(), &[]), backend.explanation());
            assert_ne!(ko.say(caveat.catalog_key(), &[]), backend.explanation());
        }
    }
}

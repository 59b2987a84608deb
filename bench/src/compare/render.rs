//! A [`Comparison`] as people read it (step 4 of [`super`]): a header
//! naming the host and its KVM backend, one comfy-table per section,
//! failures with their reasons, and the conclusions.

use comfy_table::{Cell, CellAlignment, Table};

use super::model::{Comparison, Section, Series, Stage, Unit, figure};
use crate::fmt;
use crate::render::table;
use crate::stats::MIN_SAMPLES_FOR_P95;
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

/// `header` without its "p95" title when [`shows_p95`] is false.
fn columns_for<'a>(c: &Comparison, header: &[&'a str]) -> Vec<&'a str> {
    header
        .iter()
        .copied()
        .filter(|title| shows_p95(c) || *title != "p95")
        .collect()
}

/// The whole comparison as text, to the output width (see [`crate::width`]).
pub fn comparison(c: &Comparison) -> String {
    comparison_at(c, width::output_width())
}

/// [`comparison`] laid out for `columns` display columns.
pub fn comparison_at(c: &Comparison, columns: usize) -> String {
    let mut out = String::new();
    out.push_str(&header_at(c, columns));
    for section in &c.sections {
        let (title, body) = match section {
            Section::Startup => ("Startup: launch → workload start", startup_tables(c)),
            Section::Memory => ("Memory", vec![figures_table(c, Section::Memory)]),
            Section::Syscall => (
                "System calls: getpid, measured inside the workload",
                vec![syscall_table(c)],
            ),
            Section::Io => ("Exits and I/O", vec![figures_table(c, Section::Io)]),
            Section::Identity => ("Kernel identity and isolation", vec![identity_table(c)]),
        };
        out.push('\n');
        out.push_str(&width::paragraph_to(title, "", "  ", columns));
        for mut table in body {
            out.push_str(&width::table_to(&mut table, columns));
            out.push('\n');
        }
    }
    let failures = failures(c);
    if !failures.is_empty() {
        out.push_str("\nFailed runs (not counted in any figure)\n");
        for line in failures {
            out.push_str(&width::paragraph_to(&line, "  ✗ ", "    ", columns));
        }
    }
    if !c.conclusions.is_empty() {
        out.push_str("\nConclusions\n");
        for line in &c.conclusions {
            out.push_str(&width::paragraph_to(line, "  • ", "    ", columns));
        }
    }
    out
}

/// The header: what ran, where, and whether VM numbers are hardware numbers,
/// wrapped to the output width.
pub fn header(c: &Comparison) -> String {
    header_at(c, width::output_width())
}

/// [`header`] laid out for `columns` display columns.
pub fn header_at(c: &Comparison, columns: usize) -> String {
    header_paragraphs(c)
        .into_iter()
        .map(|(mark, text)| {
            // Continuation lines hang under the text, past the mark.
            let hang = if mark.is_empty() {
                "  ".to_string()
            } else {
                " ".repeat(width::columns(mark))
            };
            width::paragraph_to(&text, mark, &hang, columns)
        })
        .collect()
}

/// The header's paragraphs, unwrapped, each with the mark that starts it
/// (`⚠ `…): for [`header`] and for exports, which do not depend on a
/// terminal's width.
pub fn header_paragraphs(c: &Comparison) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (
            "",
            format!(
                "versus compare — {} measured round{} after {} warm-up{}, subjects interleaved",
                c.rounds_done,
                if c.rounds_done == 1 { "" } else { "s" },
                c.warmup,
                if c.warmup == 1 { "" } else { "s" },
            ),
        ),
        (
            "host: ",
            format!(
                "{} · {} · KVM: {}",
                c.host.kernel.as_deref().unwrap_or("unknown kernel"),
                c.host.cpu.as_deref().unwrap_or("unknown CPU"),
                c.host.kvm_backend
            ),
        ),
    ];
    if let Some(warning) = &c.host.kvm_warning {
        out.push(("⚠ ", warning.clone()));
    }
    if let Some(reason) = &c.without_vm {
        out.push(("✗ ", format!("no VM backends in this comparison: {reason}")));
    }
    if !shows_p95(c) {
        out.push((
            "",
            format!(
                "p95 is shown from {MIN_SAMPLES_FOR_P95} runs on (--runs {MIN_SAMPLES_FOR_P95}); \
                 with {} it would be a guess, so its column is left out.",
                c.rounds_done
            ),
        ));
    }
    out
}

fn summary_cells(series: &Series, p95: bool) -> Vec<Cell> {
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
            right("failed"),
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

fn startup_tables(c: &Comparison) -> Vec<Table> {
    let mut summary = table(&columns_for(
        c,
        &["backend", "median", "p95", "min – max", "runs ok"],
    ));
    let mut subjects = Vec::new();
    for series in c
        .series
        .iter()
        .filter(|s| s.section == Section::Startup && s.figure == figure::STARTUP)
    {
        subjects.push(series.subject.clone());
        let mut row = vec![Cell::new(&series.subject)];
        row.extend(summary_cells(series, shows_p95(c)));
        summary.add_row(row);
    }
    // Phases as a matrix: one row per stage · phase, one column of numbers
    // per backend ("—" where a backend has no such phase), so that the same
    // phase reads across and a narrow terminal still holds five backends.
    let mut header = vec!["stage · phase (median)".to_string()];
    header.extend(subjects.iter().cloned());
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
            let mut row = vec![Cell::new(format!("{} · {name}", stage_name(stage)))];
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

/// The stage's name in tables: design.md's *prepare · boot/exec · run · teardown*.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Prepare => "prepare",
        Stage::Boot => "boot/exec",
        Stage::Run => "run",
        Stage::Teardown => "teardown",
    }
}

fn figures_table(c: &Comparison, section: Section) -> Table {
    let mut out = table(&columns_for(
        c,
        &["figure", "backend", "median", "p95", "min – max", "runs ok"],
    ));
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
        let mut row = vec![Cell::new(&series.figure), Cell::new(&series.subject)];
        row.extend(summary_cells(series, shows_p95(c)));
        out.add_row(row);
    }
    if section == Section::Io {
        for ratio in c.ratios.iter().filter(|r| r.section == Section::Io) {
            let mut row = vec![
                Cell::new(format!("{} ratio", ratio.figure)),
                Cell::new(format!("{} / {}", ratio.numerator, ratio.denominator)),
                // The spread is in the min – max column; a ratio the pairs
                // do not support is not stated.
                right(if ratio.ratio.is_significant() {
                    format!("{:.2}×", ratio.ratio.pairs.median)
                } else {
                    ratio.ratio.describe()
                }),
                right("—"),
                right(format!(
                    "{:.2}× – {:.2}×",
                    ratio.ratio.pairs.min, ratio.ratio.pairs.max
                )),
                right(format!("{} pairs", ratio.ratio.pairs.n)),
            ];
            if !shows_p95(c) {
                row.remove(3);
            }
            out.add_row(row);
        }
    }
    out
}

fn syscall_table(c: &Comparison) -> Table {
    let mut out = table(&[
        "backend",
        "getpid (median)",
        "min – max",
        "× host (paired)",
        "exits per 1,000 calls",
        "runs ok",
    ]);
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
        let (median, range) = match &series.summary {
            Some(s) => (
                value(series.unit, s.median),
                format!(
                    "{} – {}",
                    value(series.unit, s.min),
                    value(series.unit, s.max)
                ),
            ),
            None => ("failed".to_string(), "—".to_string()),
        };
        let ratio = if series.subject == "host" {
            "1.00×".to_string()
        } else {
            c.ratios
                .iter()
                .find(|r| {
                    r.figure == figure::GETPID
                        && r.numerator == series.subject
                        && r.denominator == "host"
                })
                .map_or_else(|| "—".to_string(), |r| r.ratio.describe())
        };
        let exits = match find(&series.subject, figure::EXITS_PER_1000_CALLS)
            .and_then(|s| s.summary.as_ref())
        {
            Some(s) => value(Unit::Count, s.median),
            // No VM: the host kernel answers directly; there is nothing to exit from.
            None => "— (no VM)".to_string(),
        };
        let ok = series.summary.as_ref().map_or(0, |s| s.n);
        out.add_row(vec![
            Cell::new(&series.subject),
            right(median),
            right(range),
            right(ratio),
            right(exits),
            right(format!("{ok}/{}", ok + series.failures.len())),
        ]);
    }
    out
}

fn identity_table(c: &Comparison) -> Table {
    let mut out = table(&["backend", "uname (kernel that answered)", "ids", "status"]);
    for row in &c.identity {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_string());
        out.add_row(vec![
            Cell::new(&row.subject),
            Cell::new(show(&row.kernel)),
            Cell::new(show(&row.ids)),
            Cell::new(show(&row.status)),
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

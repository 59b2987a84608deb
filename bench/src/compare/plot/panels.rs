//! What the bar panels show, before anything is drawn: the startup panel
//! (a) and one panel per other section and unit (memory, system calls,
//! exits and I/O), each a list of rows with their median, min and max in
//! the panel's display unit and the note written right of the bar.

use super::axes::scale;
use super::format::{format_ms, letter, ms, note};
use super::model::{Comparison, Section, Series, Unit, figure};

/// One row of a bar panel, in the panel's display unit.
#[derive(Debug, Clone)]
pub(super) struct Bar {
    pub(super) label: String,
    /// (median, min, max), `None` when every run failed.
    pub(super) range: Option<(f64, f64, f64)>,
    /// The values written right of the bar.
    pub(super) note: String,
}

/// A panel of bars (median, whisker min – max): startup, or the figures of
/// one section in one unit.
#[derive(Debug, Clone)]
pub(super) struct BarPanel {
    pub(super) caption: String,
    /// The axis name: its unit.
    pub(super) axis: String,
    pub(super) bars: Vec<Bar>,
    /// Said in place of the bars when there are none.
    pub(super) empty: String,
}

/// The row of `series` named `label`: its values divided by `divisor` for
/// the axis, and written by `value` in the note (or why there are none).
fn bar(label: String, series: &Series, divisor: f64, value: impl Fn(f64) -> String) -> Bar {
    match &series.summary {
        Some(m) => Bar {
            label,
            range: Some((m.median / divisor, m.min / divisor, m.max / divisor)),
            note: note(
                &value(m.median),
                &value(m.min),
                &value(m.max),
                m.n,
                series.failures.len(),
            ),
        },
        None => Bar {
            label,
            range: None,
            note: format!("every run failed ({})", series.failures.len()),
        },
    }
}

pub(super) fn startup_panel(c: &Comparison, index: usize) -> BarPanel {
    let bars = c
        .series
        .iter()
        .filter(|s| s.section == Section::Startup && s.figure == figure::STARTUP)
        .map(|s| bar(s.subject.clone(), s, 1e6, |v| format_ms(ms(v))))
        .collect::<Vec<_>>();
    let empty = if bars.is_empty() {
        "no startup figures in this comparison"
    } else {
        "every startup run failed (see the failed runs in the tables)"
    };
    BarPanel {
        caption: format!(
            "({}) Startup: launch → workload start marker (median, whisker min – max)",
            letter(index)
        ),
        axis: "milliseconds".into(),
        bars,
        empty: empty.into(),
    }
}

fn section_name(section: Section) -> &'static str {
    match section {
        Section::Startup => "Startup",
        Section::Memory => "Memory",
        Section::Syscall => "System calls",
        Section::Io => "Exits and I/O",
        Section::Identity => "Identity",
    }
}

/// One panel per section and unit (memory in bytes; getpid in time and
/// exits in counts; …), each row a figure of one subject.
pub(super) fn figure_panels(c: &Comparison, first: usize) -> Vec<BarPanel> {
    let mut panels = Vec::new();
    for section in c
        .sections
        .iter()
        .copied()
        .filter(|s| !matches!(s, Section::Startup | Section::Identity))
    {
        let series: Vec<&Series> = c.series.iter().filter(|s| s.section == section).collect();
        let mut units: Vec<Unit> = Vec::new();
        for s in &series {
            if !units.contains(&s.unit) {
                units.push(s.unit);
            }
        }
        for unit in units {
            let mut rows: Vec<&Series> =
                series.iter().copied().filter(|s| s.unit == unit).collect();
            // Group by figure, in the order the figures first appeared.
            let mut figures: Vec<&str> = Vec::new();
            for s in &rows {
                if !figures.contains(&s.figure.as_str()) {
                    figures.push(&s.figure);
                }
            }
            rows.sort_by_key(|s| figures.iter().position(|f| *f == s.figure));
            let high = rows
                .iter()
                .filter_map(|s| s.summary.as_ref().map(|m| m.max))
                .fold(0.0, f64::max);
            let (divisor, unit_name) = scale(unit, high);
            let value = |v: f64| crate::compare::render::value(unit, v);
            let bars = rows
                .iter()
                .map(|s| {
                    let label = if figures.len() > 1 {
                        format!("{} · {}", s.figure, s.subject)
                    } else {
                        s.subject.clone()
                    };
                    bar(label, s, divisor, value)
                })
                .collect();
            let what = if figures.len() == 1 {
                format!("{}: {}", section_name(section), figures[0])
            } else {
                section_name(section).to_string()
            };
            panels.push(BarPanel {
                caption: format!(
                    "({}) {what} (median, whisker min – max)",
                    letter(first + panels.len())
                ),
                axis: unit_name.to_string(),
                bars,
                empty: format!("no {} figures in this comparison", section_name(section)),
            });
        }
    }
    panels
}

//! A [`Comparison`] as one SVG picture, for a report or a slide — every
//! section of the comparison that has figures:
//!
//! - (a) **startup**: one horizontal bar per subject at the median of
//!   `launch → start marker`, with a min–max whisker and the values;
//! - (b) **phase timeline**: one stacked bar per subject made of its
//!   startup phases in the order they happened (the median of each),
//!   coloured by [`Stage`] with a legend, every phase named in order under
//!   its bar, and Σ, their sum, explained under the legend;
//! - then one panel per other section and unit: memory (bytes), system
//!   calls (getpid time; exits per 1,000 calls), exits and I/O (times;
//!   exits per write).
//!
//! A bar panel's axis is logarithmic when its values differ by more than
//! [`LOG_SCALE_ABOVE`]× (a VM and a host process differ by 10–100×), and
//! every axis ends near its largest value ([`axis_end`]); the values are
//! written right of the bars, in a margin of their own.
//!
//! The text is SVG `<text>` in a generic font family, so no font files are
//! needed to draw it. The file is written to a temporary name beside the
//! target and renamed into place: a reader never sees half a picture.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{Comparison, Section, Series, Stage, Unit, figure};

/// Why the plot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Drawing into the SVG document failed.
    #[error("cannot draw the plot {path}: {message}", path = path.display())]
    Draw {
        /// The target file.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
    /// Writing or renaming the file failed.
    #[error("cannot write the plot to {path}: {source}", path = path.display())]
    Io {
        /// The target file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Width of the picture, in pixels.
const WIDTH: u32 = 1200;
/// Height of one row of a bar panel.
const ROW: u32 = 38;
/// Height of a timeline row without its list of phases: the bar and a gap
/// above and below it.
const TIMELINE_ROW: u32 = TIMELINE_BAR + 2 * BAR_GAP;
/// Height of a timeline bar.
const TIMELINE_BAR: u32 = 22;
/// Space above a timeline bar and below its list of phases.
const BAR_GAP: u32 = 7;
/// Height of one line of a timeline row's list of phases.
const PHASE_LINE: u32 = 14;
/// Characters per line of a timeline row's list of phases (12 px text
/// over the width of the bars).
const PHASE_LINE_CHARS: usize = 120;
/// Height of the title block (without the KVM warning line).
const TITLE: u32 = 56;
/// Extra height for each line of the KVM warning.
const WARNING: u32 = 20;
/// Characters per warning line: what fits the width at its font size.
const WARNING_LINE_CHARS: usize = 150;
/// Height of a panel without its rows: caption, x axis, margins.
const PANEL: u32 = 96;
/// Height of the stage legend and the Σ note under the timeline.
const LEGEND: u32 = 52;
/// Width of the row labels left of the bars.
const LABEL_AREA: u32 = 250;
/// Width right of the bars for their values (the axis ends near the
/// largest value; the values are written past it, in this margin).
const NOTE_AREA: u32 = 330;
/// A bar panel's axis turns logarithmic when its largest max is more than
/// this many times its smallest min.
pub const LOG_SCALE_ABOVE: f64 = 20.0;
/// A font every SVG viewer has.
const FONT: &str = "sans-serif";

/// The four stages of a run (see [`Stage`]), in order, with their legend names.
const STAGES: [(Stage, &str); 4] = [
    (Stage::Prepare, "prepare"),
    (Stage::Boot, "boot/exec"),
    (Stage::Run, "run"),
    (Stage::Teardown, "teardown"),
];

fn stage_colour(stage: Stage) -> RGBColor {
    match stage {
        Stage::Prepare => RGBColor(66, 133, 244),
        Stage::Boot => RGBColor(245, 124, 0),
        Stage::Run => RGBColor(52, 168, 83),
        Stage::Teardown => RGBColor(150, 150, 150),
    }
}

/// The bar colour of the bar panels.
const BAR: RGBColor = RGBColor(120, 144, 156);
/// Whiskers, axis text, annotations.
const INK: RGBColor = RGBColor(33, 33, 33);
/// The KVM warning.
const ALERT: RGBColor = RGBColor(183, 28, 28);

/// One row of a bar panel, in the panel's display unit.
#[derive(Debug, Clone)]
struct Bar {
    label: String,
    /// (median, min, max), `None` when every run failed.
    range: Option<(f64, f64, f64)>,
    /// The values written right of the bar.
    note: String,
}

/// A panel of bars (median, whisker min – max): startup, or the figures of
/// one section in one unit.
#[derive(Debug, Clone)]
struct BarPanel {
    caption: String,
    /// The axis name: its unit.
    axis: String,
    bars: Vec<Bar>,
    /// Said in place of the bars when there are none.
    empty: String,
}

/// One subject of the timeline panel: its phases in order, in milliseconds.
#[derive(Debug, Clone)]
struct Timeline {
    subject: String,
    phases: Vec<(String, Stage, f64)>,
}

impl Timeline {
    fn total(&self) -> f64 {
        self.phases.iter().map(|(_, _, ms)| ms).sum()
    }

    /// "cgroup 0.380 ms · clone 1.20 ms · …", wrapped: every phase named,
    /// however thin its segment.
    fn phase_lines(&self) -> Vec<String> {
        let text = self
            .phases
            .iter()
            .map(|(name, _, ms)| format!("{name} {}", format_ms(*ms)))
            .collect::<Vec<_>>()
            .join(" · ");
        crate::fmt::wrap(&text, PHASE_LINE_CHARS)
    }
}

fn ms(ns: f64) -> f64 {
    ns / 1e6
}

/// Milliseconds with three significant digits: `0.412 ms`, `48.2 ms`.
fn format_ms(value: f64) -> String {
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else if value >= 1.0 {
        2
    } else {
        3
    };
    format!("{value:.digits$} ms")
}

/// An axis tick: as short as the value allows (`0.01`, `0.5`, `20`).
fn format_tick(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// The end of an axis whose largest value is `high`: the next of 1, 1.5,
/// 2, 3, 4, 5, 6 or 8 times a power of ten, so the axis stops within 1.5×
/// of the largest value.
pub fn axis_end(high: f64) -> f64 {
    if high <= 0.0 || !high.is_finite() {
        return 1.0;
    }
    let decade = 10f64.powf(high.log10().floor());
    [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|step| step * decade)
        .find(|end| *end >= high)
        .unwrap_or(10.0 * decade)
}

/// "(a)", "(b)", …
fn letter(index: usize) -> char {
    char::from(b'a' + (index % 26) as u8)
}

/// A note of the values: "48.0 ms  (40.0 ms – 55.0 ms, 3 runs, 1 failed)".
fn note(median: &str, min: &str, max: &str, ok: usize, failed: usize) -> String {
    let failed = if failed > 0 {
        format!(", {failed} failed")
    } else {
        String::new()
    };
    format!(
        "{median}  ({min} – {max}, {ok} run{}{failed})",
        if ok == 1 { "" } else { "s" }
    )
}

fn startup_panel(c: &Comparison, index: usize) -> BarPanel {
    let bars = c
        .series
        .iter()
        .filter(|s| s.section == Section::Startup && s.figure == figure::STARTUP)
        .map(|s| match &s.summary {
            Some(m) => Bar {
                label: s.subject.clone(),
                range: Some((ms(m.median), ms(m.min), ms(m.max))),
                note: note(
                    &format_ms(ms(m.median)),
                    &format_ms(ms(m.min)),
                    &format_ms(ms(m.max)),
                    m.n,
                    s.failures.len(),
                ),
            },
            None => Bar {
                label: s.subject.clone(),
                range: None,
                note: format!("every run failed ({})", s.failures.len()),
            },
        })
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

/// The display scale of a unit for values up to `high`: (divisor, name).
fn scale(unit: Unit, high: f64) -> (f64, &'static str) {
    let steps: &[(f64, &'static str)] = match unit {
        Unit::Nanoseconds => &[(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns")],
        Unit::Bytes => &[
            (1_073_741_824.0, "GiB"),
            (1_048_576.0, "MiB"),
            (1024.0, "KiB"),
            (1.0, "bytes"),
        ],
        Unit::Count => &[(1.0, "count")],
    };
    steps
        .iter()
        .copied()
        .find(|(divisor, _)| high >= *divisor)
        .unwrap_or(steps[steps.len() - 1])
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
fn figure_panels(c: &Comparison, first: usize) -> Vec<BarPanel> {
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
            let value = |v: f64| super::render::value(unit, v);
            let bars = rows
                .iter()
                .map(|s| {
                    let label = if figures.len() > 1 {
                        format!("{} · {}", s.figure, s.subject)
                    } else {
                        s.subject.clone()
                    };
                    match &s.summary {
                        Some(m) => Bar {
                            label,
                            range: Some((m.median / divisor, m.min / divisor, m.max / divisor)),
                            note: note(
                                &value(m.median),
                                &value(m.min),
                                &value(m.max),
                                m.n,
                                s.failures.len(),
                            ),
                        },
                        None => Bar {
                            label,
                            range: None,
                            note: format!("every run failed ({})", s.failures.len()),
                        },
                    }
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

fn timelines(c: &Comparison) -> Vec<Timeline> {
    let mut out: Vec<Timeline> = Vec::new();
    // A phase that never took any time (a task with nothing to do in it)
    // is left out, as in the tables.
    for row in c.phases.iter().filter(|p| p.summary.max > 0.0) {
        let phase = (row.phase.clone(), row.stage, ms(row.summary.median));
        match out.iter_mut().find(|t| t.subject == row.subject) {
            Some(timeline) => timeline.phases.push(phase),
            None => out.push(Timeline {
                subject: row.subject.clone(),
                phases: vec![phase],
            }),
        }
    }
    out
}

/// Writes the SVG of `comparison` to `path`.
pub fn write_svg(comparison: &Comparison, path: &Path) -> Result<(), PlotError> {
    let svg = render_svg(comparison).map_err(|message| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    })?;
    crate::fmt::write_atomically(path, &svg).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn bar_panel_height(panel: &BarPanel) -> u32 {
    PANEL + ROW * panel.bars.len().max(1) as u32
}

/// The SVG document of `comparison`: startup and its phases when the
/// comparison has them, then one panel per other section and unit.
pub fn render_svg(comparison: &Comparison) -> Result<String, String> {
    let with_startup = comparison.sections.contains(&Section::Startup);
    let mut bar_panels = Vec::new();
    if with_startup {
        bar_panels.push(startup_panel(comparison, 0));
    }
    let first_figure_panel = if with_startup { 2 } else { 0 };
    let figure_panels = figure_panels(comparison, first_figure_panel);
    let lines = timelines(comparison);
    let phase_lines = lines
        .iter()
        .map(|l| l.phase_lines().len())
        .max()
        .unwrap_or(0) as u32;
    let timeline_row = TIMELINE_ROW + PHASE_LINE * phase_lines;
    let warning_lines = comparison
        .host
        .kvm_warning
        .as_deref()
        .map_or(0, |w| crate::fmt::wrap(w, WARNING_LINE_CHARS).len() as u32);
    let title = TITLE + WARNING * warning_lines;
    let timeline_height = PANEL + timeline_row * lines.len().max(1) as u32 + LEGEND;
    let height = title
        + bar_panels.iter().map(bar_panel_height).sum::<u32>()
        + if with_startup { timeline_height } else { 0 }
        + figure_panels.iter().map(bar_panel_height).sum::<u32>();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (head, mut rest) = root.split_vertically(title);
        draw_title(&head, comparison).map_err(|e| e.to_string())?;
        for panel in &bar_panels {
            let (area, below) = rest.split_vertically(bar_panel_height(panel));
            draw_bars(&area, panel).map_err(|e| e.to_string())?;
            rest = below;
        }
        if with_startup {
            let (area, below) = rest.split_vertically(timeline_height);
            draw_timeline(&area, &lines, timeline_row).map_err(|e| e.to_string())?;
            rest = below;
        }
        for panel in &figure_panels {
            let (area, below) = rest.split_vertically(bar_panel_height(panel));
            draw_bars(&area, panel).map_err(|e| e.to_string())?;
            rest = below;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn text_style(size: u32, colour: &'static RGBColor, h: HPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
        .color(colour)
        .pos(Pos::new(h, VPos::Center))
}

fn draw_title<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult<DB> {
    let bold = TextStyle::from((FONT, 22).into_font().style(FontStyle::Bold))
        .color(&INK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(
        format!(
            "versus compare — host, containers and VMs (KVM backend: {})",
            c.host.kvm_backend
        ),
        (16, 18),
        bold,
    ))?;
    area.draw(&Text::new(
        format!(
            "host: {} · {} · {} measured round{} after {} warm-up",
            c.host.kernel.as_deref().unwrap_or("unknown kernel"),
            c.host.cpu.as_deref().unwrap_or("unknown CPU"),
            c.rounds_done,
            if c.rounds_done == 1 { "" } else { "s" },
            c.warmup,
        ),
        (16, 42),
        text_style(14, &INK, HPos::Left),
    ))?;
    if let Some(warning) = &c.host.kvm_warning {
        for (index, line) in crate::fmt::wrap(&format!("⚠ {warning}"), WARNING_LINE_CHARS)
            .into_iter()
            .enumerate()
        {
            let y = 62 + WARNING as i32 * index as i32;
            area.draw(&Text::new(
                line,
                (16, y),
                text_style(14, &ALERT, HPos::Left),
            ))?;
        }
    }
    Ok(())
}

/// A note in place of a panel that has nothing to show.
fn draw_empty<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    note: &str,
) -> DrawResult<DB> {
    area.draw(&Text::new(
        caption.to_string(),
        (16, 20),
        text_style(18, &INK, HPos::Left),
    ))?;
    area.draw(&Text::new(
        note.to_string(),
        (32, 56),
        text_style(14, &INK, HPos::Left),
    ))
}

/// The bottom of row `index` (0 at the top) of `rows` on the y axis, which
/// runs from 0 at the bottom to `rows` at the top: row `index` spans
/// `row(index)..row(index) + 1`.
fn row(index: usize, rows: usize) -> f64 {
    (rows - 1 - index) as f64
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &BarPanel,
) -> DrawResult<DB> {
    let measured: Vec<(f64, f64, f64)> = panel.bars.iter().filter_map(|b| b.range).collect();
    if measured.is_empty() {
        return draw_empty(area, &panel.caption, &panel.empty);
    }
    let positive_low = measured
        .iter()
        .map(|r| r.1)
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let high = measured.iter().map(|r| r.2).fold(0.0, f64::max);
    // A log axis cannot show zero: a panel with a zero stays linear.
    let has_zero = measured.iter().any(|r| r.1 <= 0.0);
    if !has_zero && positive_low.is_finite() && high / positive_low > LOG_SCALE_ABOVE {
        let start = 10f64.powf(positive_low.log10().floor());
        let end = axis_end(high);
        bar_chart(
            area,
            panel,
            &format!("{} (log scale)", panel.axis),
            (start..end).log_scale(),
            start,
        )
    } else {
        bar_chart(area, panel, &panel.axis, 0.0..axis_end(high), 0.0)
    }
}

/// Every panel's frame: the caption, the margins, room for the labels on
/// the left and for the values on the right.
fn frame<'a, 'b, DB: DrawingBackend>(
    builder: &'b mut ChartBuilder<'a, 'b, DB>,
    caption: &str,
) -> &'b mut ChartBuilder<'a, 'b, DB> {
    builder
        .caption(caption, (FONT, 18))
        .margin_left(16)
        .margin_right(NOTE_AREA)
        .margin_top(6)
        .x_label_area_size(40)
        .y_label_area_size(LABEL_AREA)
}

fn bar_chart<DB, XS>(
    area: &DrawingArea<DB, Shift>,
    panel: &BarPanel,
    axis: &str,
    x: XS,
    origin: f64,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    XS: AsRangedCoord<Value = f64>,
    XS::CoordDescType: ValueFormatter<f64>,
{
    let rows = panel.bars.len();
    let mut chart = frame(&mut ChartBuilder::on(area), &panel.caption)
        .build_cartesian_2d(x, 0.0..rows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .y_label_formatter(&|_| String::new())
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 13))
        .x_labels(8)
        .x_label_formatter(&|v| format_tick(*v))
        .x_desc(axis)
        .draw()?;
    let whisker = INK.stroke_width(2);
    for (index, bar) in panel.bars.iter().enumerate() {
        let y = row(index, rows);
        let centre = || y + 0.5;
        row_label(area, chart.backend_coord(&(origin, centre())), &bar.label)?;
        let Some((median, min, max)) = bar.range else {
            chart.draw_series(std::iter::once(
                EmptyElement::at((origin, centre()))
                    + Text::new(bar.note.clone(), (8, 0), text_style(13, &ALERT, HPos::Left)),
            ))?;
            continue;
        };
        let mut rectangle = Rectangle::new([(origin, y), (median, y + 1.0)], BAR.filled());
        rectangle.set_margin(8, 8, 0, 0);
        chart.draw_series(std::iter::once(rectangle))?;
        let cap = |x: f64| {
            EmptyElement::at((x, centre())) + PathElement::new(vec![(0, -7), (0, 7)], whisker)
        };
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(min, centre()), (max, centre())],
            whisker,
        )))?;
        chart.draw_series([cap(min), cap(max)])?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((max, centre()))
                + Text::new(bar.note.clone(), (10, 0), text_style(13, &INK, HPos::Left)),
        ))?;
    }
    Ok(())
}

/// A row's name left of it, at `at` (the row's start, in backend pixels).
fn row_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    text: &str,
) -> DrawResult<DB> {
    let base = area.get_base_pixel();
    area.draw(&Text::new(
        text.to_string(),
        (at.0 - base.0 - 10, at.1 - base.1),
        text_style(15, &INK, HPos::Right),
    ))
}

fn draw_timeline<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[Timeline],
    row_height: u32,
) -> DrawResult<DB> {
    let caption = "(b) Startup phases in order (median of each phase, stacked)";
    let (chart_area, legend_area) = area.split_vertically(area.dim_in_pixel().1 - LEGEND);
    draw_legend(&legend_area)?;
    let longest = lines.iter().map(Timeline::total).fold(0.0, f64::max);
    if lines.is_empty() || longest <= 0.0 {
        return draw_empty(&chart_area, caption, "no startup phases in this comparison");
    }
    let rows = lines.len();
    // The bar sits at the top of its row, its list of phases under it.
    let (top, bottom) = (BAR_GAP, row_height - BAR_GAP - TIMELINE_BAR);
    let mut chart = frame(&mut ChartBuilder::on(&chart_area), caption)
        .build_cartesian_2d(0.0..axis_end(longest), 0.0..rows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .y_label_formatter(&|_| String::new())
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 13))
        .x_labels(10)
        .x_label_formatter(&|v| format_tick(*v))
        .x_desc("milliseconds since the launch call")
        .draw()?;
    for (index, line) in lines.iter().enumerate() {
        let y = row(index, rows);
        let top_edge = chart.backend_coord(&(0.0, y + 1.0)).1;
        // The bar's own centre, above its list of phases.
        let bar_centre = top_edge + (BAR_GAP + TIMELINE_BAR / 2) as i32;
        let base = chart_area.get_base_pixel();
        let left = chart.backend_coord(&(0.0, y)).0;
        chart_area.draw(&Text::new(
            line.subject.clone(),
            (left - base.0 - 10, bar_centre - base.1),
            text_style(15, &INK, HPos::Right),
        ))?;
        let mut start = 0.0;
        for (name, stage, length) in &line.phases {
            let end = start + length;
            let corners = [(start, y), (end, y + 1.0)];
            let mut fill = Rectangle::new(corners, stage_colour(*stage).filled());
            fill.set_margin(top, bottom, 0, 0);
            let mut border = Rectangle::new(corners, WHITE.stroke_width(1));
            border.set_margin(top, bottom, 0, 0);
            chart.draw_series([fill, border])?;
            // Name the phase inside its segment too when the name fits.
            let x0 = chart.backend_coord(&(start, y)).0;
            let x1 = chart.backend_coord(&(end, y)).0;
            let needed = 7 * name.chars().count() as i32 + 8;
            if x1 - x0 >= needed {
                chart_area.draw(&Text::new(
                    name.clone(),
                    ((x0 + x1) / 2 - base.0, bar_centre - base.1),
                    text_style(12, &WHITE, HPos::Center),
                ))?;
            }
            start = end;
        }
        let end_x = chart.backend_coord(&(start, y)).0;
        chart_area.draw(&Text::new(
            format!("Σ {}", format_ms(start)),
            (end_x - base.0 + 8, bar_centre - base.1),
            text_style(13, &INK, HPos::Left),
        ))?;
        // Every phase by name, in order, however thin its segment.
        for (number, text) in line.phase_lines().into_iter().enumerate() {
            let line_y = top_edge
                + (BAR_GAP + TIMELINE_BAR + PHASE_LINE / 2 + 2) as i32
                + (PHASE_LINE * number as u32) as i32;
            chart_area.draw(&Text::new(
                text,
                (left - base.0, line_y - base.1),
                text_style(12, &INK, HPos::Left),
            ))?;
        }
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let mut x = LABEL_AREA as i32 + 16;
    let y = 12;
    for (stage, name) in STAGES {
        area.draw(&Rectangle::new(
            [(x, y - 7), (x + 16, y + 7)],
            stage_colour(stage).filled(),
        ))?;
        area.draw(&Text::new(
            name.to_string(),
            (x + 22, y),
            text_style(14, &INK, HPos::Left),
        ))?;
        x += 34 + 9 * name.len() as i32;
    }
    area.draw(&Text::new(
        "Σ adds up the medians of a backend's phases, from the launch call to the end of \
         teardown: it includes run and teardown, which startup in (a) does not."
            .to_string(),
        (LABEL_AREA as i32 + 16, y + 24),
        text_style(13, &INK, HPos::Left),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::{Failure, HostHeader, PhaseRow, Sample, Series, Unit};
    use crate::stats::Summary;

    fn startup(subject: &str, values_ms: &[f64], failures: usize) -> Series {
        let values: Vec<f64> = values_ms.iter().map(|v| v * 1e6).collect();
        Series {
            section: Section::Startup,
            subject: subject.to_string(),
            figure: figure::STARTUP.to_string(),
            unit: Unit::Nanoseconds,
            samples: values
                .iter()
                .enumerate()
                .map(|(round, &value)| Sample { round, value })
                .collect(),
            failures: (0..failures)
                .map(|round| Failure {
                    round,
                    reason: "boom".into(),
                })
                .collect(),
            summary: Summary::of(&values).ok(),
        }
    }

    fn phase(subject: &str, name: &str, stage: Stage, ms: f64) -> PhaseRow {
        PhaseRow {
            subject: subject.to_string(),
            phase: name.to_string(),
            stage,
            summary: Summary::of(&[ms * 1e6]).unwrap(),
        }
    }

    fn comparison() -> Comparison {
        Comparison {
            command: "versus compare".into(),
            host: HostHeader {
                kernel: Some("6.1.0".into()),
                cpu: Some("Test CPU".into()),
                kvm_backend: "kvm_pvm".into(),
                kvm_is_bare_metal_hardware: false,
                kvm_warning: Some("VM figures come from a software KVM backend.".into()),
            },
            runs: 3,
            warmup: 1,
            rounds_done: 3,
            sections: vec![Section::Startup],
            without_vm: None,
            series: vec![
                startup("host", &[0.4, 0.5, 0.45], 0),
                startup("container", &[3.0, 3.5, 3.2], 0),
                startup("vm", &[40.0, 55.0, 48.0], 1),
                startup("vm ×2", &[], 3),
            ],
            phases: vec![
                phase("host", "spawn", Stage::Boot, 0.3),
                phase("host", "run", Stage::Run, 0.1),
                phase("host", "teardown", Stage::Teardown, 0.05),
                phase("container", "cgroup", Stage::Prepare, 0.5),
                phase("container", "clone+mounts", Stage::Prepare, 1.5),
                phase("container", "exec→marker", Stage::Boot, 1.0),
                phase("container", "teardown", Stage::Teardown, 0.7),
                phase("vm", "create vm", Stage::Prepare, 8.0),
                phase("vm", "load kernel", Stage::Prepare, 4.0),
                phase("vm", "boot→marker", Stage::Boot, 30.0),
                phase("vm", "run", Stage::Run, 2.0),
                phase("vm", "teardown", Stage::Teardown, 6.0),
            ],
            ratios: Vec::new(),
            identity: Vec::new(),
            conclusions: Vec::new(),
        }
    }

    #[test]
    fn the_svg_names_every_subject_stage_and_the_kvm_backend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compare.svg");
        write_svg(&comparison(), &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in [
            ">\nhost\n<",
            ">\ncontainer\n<",
            ">\nvm\n<",
            ">\nvm ×2\n<",
            ">\nprepare\n<",
            ">\nboot/exec\n<",
            ">\nrun\n<",
            ">\nteardown\n<",
            "kvm_pvm",
            "software KVM backend",
            "log scale",
            "every run failed (3)",
        ] {
            assert!(svg.contains(text), "the SVG lacks {text:?}");
        }
        // Median and whisker labels in ms; the phase sum of the VM.
        assert!(svg.contains("48.0 ms  (40.0 ms – 55.0 ms, 3 runs, 1 failed)"));
        assert!(svg.contains("Σ 50.0 ms"));
        // Only the plot itself is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn close_figures_get_a_linear_axis() {
        let mut c = comparison();
        c.series = vec![
            startup("host", &[1.0, 1.2], 0),
            startup("container", &[3.0, 3.3], 0),
        ];
        let svg = render_svg(&c).unwrap();
        assert!(svg.contains(">\nmilliseconds\n<"));
        assert!(!svg.contains("log scale"));
    }

    #[test]
    fn a_single_subject_draws_one_row_per_panel() {
        let mut c = comparison();
        c.series = vec![startup("host", &[0.4, 0.5, 0.45], 0)];
        c.phases.retain(|p| p.subject == "host");
        let svg = render_svg(&c).unwrap();
        assert_eq!(svg.matches(">\nhost\n<").count(), 2, "{svg}");
        assert!(svg.contains("0.450 ms  (0.400 ms – 0.500 ms, 3 runs)"));
    }

    #[test]
    fn an_empty_comparison_still_draws() {
        let mut c = comparison();
        c.series.clear();
        c.phases.clear();
        c.host.kvm_warning = None;
        let svg = render_svg(&c).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("no startup figures"));
        assert!(svg.contains("no startup phases"));
    }

    #[test]
    fn an_unwritable_path_is_named_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-dir").join("plot.svg");
        let error = write_svg(&comparison(), &target).unwrap_err();
        assert!(matches!(error, PlotError::Io { .. }), "{error:?}");
        assert!(
            error.to_string().contains("missing-dir/plot.svg"),
            "{error}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    fn figure(section: Section, subject: &str, name: &str, unit: Unit, values: &[f64]) -> Series {
        Series {
            section,
            subject: subject.to_string(),
            figure: name.to_string(),
            unit,
            samples: values
                .iter()
                .enumerate()
                .map(|(round, &value)| Sample { round, value })
                .collect(),
            failures: Vec::new(),
            summary: Summary::of(values).ok(),
        }
    }

    /// Every tag closed in order, every attribute quoted: the document is
    /// well-formed XML as far as an SVG viewer cares.
    fn assert_well_formed(svg: &str) {
        let mut open: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("an unclosed tag") + start;
            let tag = &rest[start + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    open.pop().as_deref(),
                    Some(name.trim()),
                    "mismatched </{name}>"
                );
            } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
                let name = tag.split_whitespace().next().expect("a tag name");
                open.push(name.to_string());
            }
            assert_eq!(
                tag.matches('"').count() % 2,
                0,
                "unbalanced quotes in <{tag}>"
            );
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed tags: {open:?}");
    }

    #[test]
    fn every_section_gets_its_panels_and_every_phase_its_name() {
        let mut c = comparison();
        c.sections = vec![
            Section::Startup,
            Section::Memory,
            Section::Syscall,
            Section::Io,
        ];
        c.series.extend([
            figure(
                Section::Memory,
                "vm",
                figure::VMM_OVERHEAD,
                Unit::Bytes,
                &[9e6, 9.1e6],
            ),
            figure(
                Section::Memory,
                "container",
                figure::LAUNCHER_RSS,
                Unit::Bytes,
                &[3e6, 3.2e6],
            ),
            figure(
                Section::Syscall,
                "host",
                figure::GETPID,
                Unit::Nanoseconds,
                &[57.0, 60.0],
            ),
            figure(
                Section::Syscall,
                "vm",
                figure::GETPID,
                Unit::Nanoseconds,
                &[19e3, 20e3],
            ),
            figure(
                Section::Syscall,
                "vm",
                figure::EXITS_PER_1000_CALLS,
                Unit::Count,
                &[0.0, 0.0],
            ),
            figure(
                Section::Io,
                "vm",
                figure::WRITE,
                Unit::Nanoseconds,
                &[23e3, 24e3],
            ),
            figure(
                Section::Io,
                "vm (UART)",
                figure::EXITS_PER_WRITE,
                Unit::Count,
                &[16.0, 16.0],
            ),
        ]);
        let svg = render_svg(&c).unwrap();
        assert_well_formed(&svg);
        for caption in [
            "(a) Startup",
            "(b) Startup phases",
            "(c) Memory (median",
            "(d) System calls: getpid (median",
            "(e) System calls: exits per 1,000 calls",
            "(f) Exits and I/O: console write",
            "(g) Exits and I/O: exits per write",
        ] {
            assert!(svg.contains(caption), "the SVG lacks the panel {caption:?}");
        }
        // Every phase is named in order, however thin its segment.
        assert!(
            svg.contains(
                "cgroup 0.500 ms · clone+mounts 1.50 ms · exec→marker 1.00 ms · teardown 0.700 ms"
            ),
            "{svg}"
        );
        assert!(
            svg.contains("Σ adds up the medians of a backend&apos;s phases")
                || svg.contains("Σ adds up the medians of a backend's phases")
        );
        // Values in their own units; a zero keeps its panel linear.
        assert!(
            svg.contains("8.63 MiB  (8.58 MiB – 8.68 MiB, 2 runs)"),
            "{svg}"
        );
        assert!(
            svg.contains("58.5 ns  (57.0 ns – 60.0 ns, 2 runs)"),
            "{svg}"
        );
        assert!(svg.contains(">\ncount\n<"), "{svg}");
    }

    #[test]
    fn axes_end_near_their_largest_value() {
        for high in [0.003, 0.9, 1.0, 1.2, 16.2, 20.2, 55.0, 99.0, 123.0, 7e5] {
            let end = axis_end(high);
            assert!(end >= high && end <= high * 1.5, "{high} → {end}");
        }
        assert_eq!(axis_end(55.0), 60.0);
        assert_eq!(axis_end(0.0), 1.0);
        // The startup panel spans 0.4–55 ms: a log axis ending at 60, not
        // a decade further.
        let svg = render_svg(&comparison()).unwrap();
        assert!(svg.contains("log scale"));
        assert!(!svg.contains(">\n100\n<") && !svg.contains(">\n1000\n<"));
    }

    #[test]
    fn milliseconds_keep_three_digits() {
        assert_eq!(format_ms(0.4123), "0.412 ms");
        assert_eq!(format_ms(4.5), "4.50 ms");
        assert_eq!(format_ms(48.24), "48.2 ms");
        assert_eq!(format_ms(123.4), "123 ms");
        assert_eq!(format_tick(0.010), "0.01");
        assert_eq!(format_tick(20.0), "20");
        assert_eq!(format_tick(0.0), "0");
    }
}

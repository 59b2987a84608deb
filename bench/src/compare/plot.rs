//! A [`Comparison`] as one SVG picture, for a report or a slide:
//!
//! - (a) **startup**: one horizontal bar per subject at the median of
//!   `launch → start marker`, with a min–max whisker and the values in ms;
//!   the axis is logarithmic when the subjects differ by more than
//!   [`LOG_SCALE_ABOVE`]× (a VM and a host process differ by 10–100×);
//! - (b) **phase timeline**: one stacked bar per subject made of its
//!   startup phases in the order they happened (the median of each),
//!   coloured by [`Stage`], with a legend.
//!
//! The text is SVG `<text>` in a generic font family, so no font files are
//! needed to draw it. The file is written to a temporary name beside the
//! target and renamed into place: a reader never sees half a picture.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{Comparison, Section, Stage, figure};

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
const WIDTH: u32 = 1000;
/// Height of one subject's row in either panel.
const ROW: u32 = 38;
/// Height of the title block (without the KVM warning line).
const TITLE: u32 = 56;
/// Extra height for each line of the KVM warning.
const WARNING: u32 = 20;
/// Characters per warning line: what fits the width at its font size.
const WARNING_LINE_CHARS: usize = 125;
/// Height of a panel without its rows: caption, x axis, margins.
const PANEL: u32 = 96;
/// Height of the stage legend under the timeline.
const LEGEND: u32 = 30;
/// Width of the subject labels left of the bars.
const LABEL_AREA: u32 = 190;
/// The startup axis turns logarithmic when the largest max is more than
/// this many times the smallest min.
pub const LOG_SCALE_ABOVE: f64 = 20.0;
/// A font every SVG viewer has.
const FONT: &str = "sans-serif";

/// The startup stages in design.md's order, with their legend names.
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

/// The bar colour of panel (a).
const BAR: RGBColor = RGBColor(120, 144, 156);
/// Whiskers, axis text, annotations.
const INK: RGBColor = RGBColor(33, 33, 33);
/// The KVM warning.
const ALERT: RGBColor = RGBColor(183, 28, 28);

/// One subject of panel (a), in milliseconds.
#[derive(Debug, Clone)]
struct StartupBar {
    subject: String,
    /// (median, min, max), `None` when every run failed.
    range: Option<(f64, f64, f64)>,
    ok: usize,
    failed: usize,
}

/// One subject of panel (b): its phases in order, in milliseconds.
#[derive(Debug, Clone)]
struct Timeline {
    subject: String,
    phases: Vec<(String, Stage, f64)>,
}

impl Timeline {
    fn total(&self) -> f64 {
        self.phases.iter().map(|(_, _, ms)| ms).sum()
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

fn startup_bars(c: &Comparison) -> Vec<StartupBar> {
    c.series
        .iter()
        .filter(|s| s.section == Section::Startup && s.figure == figure::STARTUP)
        .map(|s| StartupBar {
            subject: s.subject.clone(),
            range: s
                .summary
                .as_ref()
                .map(|m| (ms(m.median), ms(m.min), ms(m.max))),
            ok: s.summary.as_ref().map_or(0, |m| m.n),
            failed: s.failures.len(),
        })
        .collect()
}

fn timelines(c: &Comparison) -> Vec<Timeline> {
    let mut out: Vec<Timeline> = Vec::new();
    for row in &c.phases {
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

/// Writes the two-panel SVG of `comparison` to `path`.
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

/// The SVG document of `comparison`.
pub fn render_svg(comparison: &Comparison) -> Result<String, String> {
    let bars = startup_bars(comparison);
    let lines = timelines(comparison);
    let warning_lines = comparison
        .host
        .kvm_warning
        .as_deref()
        .map_or(0, |w| crate::fmt::wrap(w, WARNING_LINE_CHARS).len() as u32);
    let title = TITLE + WARNING * warning_lines;
    let panel_a = PANEL + ROW * bars.len().max(1) as u32;
    let panel_b = PANEL + ROW * lines.len().max(1) as u32 + LEGEND;
    let height = title + panel_a + panel_b;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (head, rest) = root.split_vertically(title);
        let (top, bottom) = rest.split_vertically(panel_a);
        draw_title(&head, comparison).map_err(|e| e.to_string())?;
        draw_startup(&top, &bars).map_err(|e| e.to_string())?;
        draw_timeline(&bottom, &lines).map_err(|e| e.to_string())?;
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

/// Row `index` (0 at the top) of `rows`, as a segment counted from the
/// bottom (the y axis spans segments `0..=rows - 1`).
fn row(index: usize, rows: usize) -> u32 {
    (rows - 1 - index) as u32
}

fn draw_startup<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bars: &[StartupBar],
) -> DrawResult<DB> {
    let caption = "(a) Startup: launch → workload start marker (median, whisker min – max)";
    let measured: Vec<(f64, f64, f64)> = bars.iter().filter_map(|b| b.range).collect();
    if measured.is_empty() {
        let note = if bars.is_empty() {
            "no startup figures in this comparison"
        } else {
            "every startup run failed (see the failed runs in the tables)"
        };
        return draw_empty(area, caption, note);
    }
    let low = measured
        .iter()
        .map(|r| r.1)
        .fold(f64::INFINITY, f64::min)
        .max(1e-4);
    let high = measured
        .iter()
        .map(|r| r.2)
        .fold(0.0, f64::max)
        .max(low * 1.01);
    if high / low > LOG_SCALE_ABOVE {
        // Whole decades, and one more on the right for the value labels.
        let start = 10f64.powf(low.log10().floor());
        let end = 10f64.powf((high * 1.001).log10().ceil() + 1.0);
        startup_chart(
            area,
            caption,
            "milliseconds (log scale)",
            (start..end).log_scale(),
            start,
            bars,
        )
    } else {
        // Room on the right for the value labels.
        startup_chart(area, caption, "milliseconds", 0.0..high * 1.6, 0.0, bars)
    }
}

/// Both panels' frame: the caption, the margins, room for the labels.
fn panel<'a, 'b, DB: DrawingBackend>(
    builder: &'b mut ChartBuilder<'a, 'b, DB>,
    caption: &str,
) -> &'b mut ChartBuilder<'a, 'b, DB> {
    builder
        .caption(caption, (FONT, 18))
        .margin_left(16)
        .margin_right(24)
        .margin_top(6)
        .x_label_area_size(40)
        .y_label_area_size(LABEL_AREA)
}

fn startup_chart<DB, XS>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    axis: &str,
    x: XS,
    origin: f64,
    bars: &[StartupBar],
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    XS: AsRangedCoord<Value = f64>,
    XS::CoordDescType: ValueFormatter<f64>,
{
    let rows = bars.len();
    let mut chart = panel(&mut ChartBuilder::on(area), caption)
        .build_cartesian_2d(x, (0..rows as u32 - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&|_| String::new())
        .x_labels(8)
        .x_label_formatter(&|v| format_tick(*v))
        .x_desc(axis)
        .draw()?;
    let whisker = INK.stroke_width(2);
    for (index, bar) in bars.iter().enumerate() {
        let y = row(index, rows);
        let centre = || SegmentValue::CenterOf(y);
        row_label(area, chart.backend_coord(&(origin, centre())), &bar.subject)?;
        let Some((median, min, max)) = bar.range else {
            chart.draw_series(std::iter::once(
                EmptyElement::at((origin, centre()))
                    + Text::new(
                        format!("every run failed ({})", bar.failed),
                        (8, 0),
                        text_style(13, &ALERT, HPos::Left),
                    ),
            ))?;
            continue;
        };
        let mut rectangle = Rectangle::new(
            [
                (origin, SegmentValue::Exact(y)),
                (median, SegmentValue::Exact(y + 1)),
            ],
            BAR.filled(),
        );
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
        let failed = if bar.failed > 0 {
            format!(", {} failed", bar.failed)
        } else {
            String::new()
        };
        let note = format!(
            "{}  ({} – {}, {} run{}{failed})",
            format_ms(median),
            format_ms(min),
            format_ms(max),
            bar.ok,
            if bar.ok == 1 { "" } else { "s" },
        );
        chart.draw_series(std::iter::once(
            EmptyElement::at((max, centre()))
                + Text::new(note, (10, 0), text_style(13, &INK, HPos::Left)),
        ))?;
    }
    Ok(())
}

/// A subject's name left of its row, at `at` (the row's start, in
/// backend pixels).
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
) -> DrawResult<DB> {
    let caption = "(b) Startup phases in order (median of each phase, stacked)";
    let (chart_area, legend_area) = area.split_vertically(area.dim_in_pixel().1 - LEGEND);
    draw_legend(&legend_area)?;
    let longest = lines.iter().map(Timeline::total).fold(0.0, f64::max);
    if lines.is_empty() || longest <= 0.0 {
        return draw_empty(&chart_area, caption, "no startup phases in this comparison");
    }
    let rows = lines.len();
    let mut chart = panel(&mut ChartBuilder::on(&chart_area), caption)
        .build_cartesian_2d(0.0..longest * 1.2, (0..rows as u32 - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&|_| String::new())
        .x_labels(10)
        .x_label_formatter(&|v| format_tick(*v))
        .x_desc("milliseconds since the launch call")
        .draw()?;
    for (index, line) in lines.iter().enumerate() {
        let y = row(index, rows);
        let centre = SegmentValue::CenterOf(y);
        row_label(
            &chart_area,
            chart.backend_coord(&(0.0, centre.clone())),
            &line.subject,
        )?;
        let mut start = 0.0;
        for (name, stage, length) in &line.phases {
            let end = start + length;
            let corners = [
                (start, SegmentValue::Exact(y)),
                (end, SegmentValue::Exact(y + 1)),
            ];
            let mut fill = Rectangle::new(corners.clone(), stage_colour(*stage).filled());
            fill.set_margin(6, 6, 0, 0);
            let mut border = Rectangle::new(corners, WHITE.stroke_width(1));
            border.set_margin(6, 6, 0, 0);
            chart.draw_series([fill, border])?;
            // Name the phase inside its segment when the name fits.
            let pixels = chart.backend_coord(&(end, centre.clone())).0
                - chart.backend_coord(&(start, centre.clone())).0;
            let needed = 7 * name.chars().count() as i32 + 8;
            if pixels >= needed {
                chart.draw_series(std::iter::once(Text::new(
                    name.clone(),
                    ((start + end) / 2.0, centre.clone()),
                    text_style(12, &WHITE, HPos::Center),
                )))?;
            }
            start = end;
        }
        chart.draw_series(std::iter::once(
            EmptyElement::at((start, centre))
                + Text::new(
                    format!("Σ {}", format_ms(start)),
                    (8, 0),
                    text_style(13, &INK, HPos::Left),
                ),
        ))?;
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
    Ok(())
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

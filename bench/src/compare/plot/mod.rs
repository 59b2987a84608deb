//! A [`Comparison`] as one SVG picture, for a report or a slide — every
//! section of the comparison that has figures:
//!
//! - (a) **startup**: one horizontal bar per subject at the median of
//!   `launch → start marker`, with a min–max whisker and the values;
//! - (b) **phase timeline**: one stacked bar per subject made of its
//!   startup phases in the order they happened (the median of each),
//!   coloured by [`Stage`](model::Stage) with a legend, every phase named in order under
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
//!
//! The work is split by concern: `panels` turns the comparison into bar
//! panels, `timeline` gathers and draws the phase timeline, `bars`
//! draws a bar panel, `axes` decides and draws the axes every chart
//! shares, `text` draws the title and the labels, and `format` writes
//! the numbers. This module lays the panels out, one under the other, and
//! writes the file.

mod axes;
mod bars;
mod format;
mod panels;
mod text;
mod timeline;

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::model;
use model::{Comparison, Section};

pub use axes::axis_end;
use bars::draw_bars;
use panels::{BarPanel, figure_panels, startup_panel};
use text::draw_title;
use timeline::{draw_timeline, timelines};

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

/// The bar colour of the bar panels.
const BAR: RGBColor = RGBColor(120, 144, 156);
/// Whiskers, axis text, annotations.
const INK: RGBColor = RGBColor(33, 33, 33);
/// The KVM warning.
const ALERT: RGBColor = RGBColor(183, 28, 28);

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
    let warning_lines = comparison.host.kvm_warning.as_deref().map_or(0, |w| {
        crate::width::wrap(w, WARNING_LINE_CHARS).len() as u32
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::{
        Failure, HostHeader, PhaseRow, Sample, Series, Stage, Unit, figure,
    };
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

    pub(super) fn comparison() -> Comparison {
        Comparison {
            command: "versus compare".into(),
            host: HostHeader {
                kernel: Some("6.1.0".into()),
                cpu: Some("Test CPU".into()),
                kvm_backend: "kvm_pvm".into(),
                kvm_is_bare_metal_hardware: false,
                kvm_warning: Some("VM figures come from a software KVM backend.".into()),
                kvm_caveat: None,
            },
            runs: 3,
            warmup: 1,
            rounds_done: 3,
            sections: vec![Section::Startup],
            without_vm: None,
            linux: None,
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
}

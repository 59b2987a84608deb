//! The phase timeline, panel (b): one stacked bar per subject made of its
//! startup phases in the order they happened (the median of each),
//! coloured by [`Stage`], every phase named in order under its bar, Σ (their
//! sum) at its end, and the stage legend with the note on Σ under the panel.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

use super::axes::{axis_end, draw_mesh, frame, row};
use super::format::{format_ms, ms};
use super::model::{Comparison, Stage};
use super::text::{draw_empty, row_label, text_style};
use super::{
    BAR_GAP, DrawResult, INK, LABEL_AREA, LEGEND, PHASE_LINE, PHASE_LINE_CHARS, TIMELINE_BAR,
};

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

/// One subject of the timeline panel: its phases in order, in milliseconds.
#[derive(Debug, Clone)]
pub(super) struct Timeline {
    subject: String,
    phases: Vec<(String, Stage, f64)>,
}

impl Timeline {
    pub(super) fn total(&self) -> f64 {
        self.phases.iter().map(|(_, _, ms)| ms).sum()
    }

    /// "cgroup 0.380 ms · clone 1.20 ms · …", wrapped: every phase named,
    /// however thin its segment.
    pub(super) fn phase_lines(&self) -> Vec<String> {
        let text = self
            .phases
            .iter()
            .map(|(name, _, ms)| format!("{name} {}", format_ms(*ms)))
            .collect::<Vec<_>>()
            .join(" · ");
        crate::width::wrap(&text, PHASE_LINE_CHARS)
    }
}

pub(super) fn timelines(c: &Comparison) -> Vec<Timeline> {
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

pub(super) fn draw_timeline<DB: DrawingBackend>(
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
    draw_mesh(&mut chart, 10, "milliseconds since the launch call")?;
    for (index, line) in lines.iter().enumerate() {
        let y = row(index, rows);
        let top_edge = chart.backend_coord(&(0.0, y + 1.0)).1;
        // The bar's own centre, above its list of phases.
        let bar_centre = top_edge + (BAR_GAP + TIMELINE_BAR / 2) as i32;
        let base = chart_area.get_base_pixel();
        let left = chart.backend_coord(&(0.0, y)).0;
        row_label(&chart_area, (left, bar_centre), &line.subject)?;
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

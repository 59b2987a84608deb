//! The text drawn outside any chart: the title block (what was compared,
//! on which host, the KVM warning), the note in place of an empty panel and
//! a row's name left of its bar. All of it is SVG `<text>` in [`FONT`], so
//! no font files are needed.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::Comparison;
use super::{ALERT, DrawResult, FONT, INK, WARNING, WARNING_LINE_CHARS};

pub(super) fn text_style(size: u32, colour: &'static RGBColor, h: HPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
        .color(colour)
        .pos(Pos::new(h, VPos::Center))
}

pub(super) fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Comparison,
) -> DrawResult<DB> {
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
        for (index, line) in crate::width::wrap(&format!("⚠ {warning}"), WARNING_LINE_CHARS)
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
pub(super) fn draw_empty<DB: DrawingBackend>(
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

/// A row's name left of it, at `at` (the row's start, in backend pixels).
pub(super) fn row_label<DB: DrawingBackend>(
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

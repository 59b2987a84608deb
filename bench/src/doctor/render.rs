//! The `versus doctor` table: one row per check, then what the KVM backend means.

use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, presets};

use super::{DoctorReport, Status};

fn status_color(status: Status) -> Color {
    match status {
        Status::Pass => Color::Green,
        Status::Info => Color::Blue,
        Status::Warn => Color::Yellow,
        Status::Fail => Color::Red,
    }
}

///
/// On a terminal the table wraps to the terminal's width, otherwise to
/// [`RENDER_WIDTH`] columns.
pub fn render(report: &DoctorReport, color: bool) -> String {
    render_with_width(report, color, None)
}

/// The width [`render`] wraps to when stdout is not a terminal.
pub const RENDER_WIDTH: u16 = 140;

/// [`render`] with an explicit table width (`None`: the terminal's, or [`RENDER_WIDTH`]).
pub fn render_with_width(report: &DoctorReport, color: bool, width: Option<u16>) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    match width {
        Some(w) => {
            table.force_no_tty().set_width(w);
        }
        None if table.width().is_none() => {
            table.set_width(RENDER_WIDTH);
        }
        None => {}
    }
    if color {
        table.enforce_styling();
    }
    table.set_header(vec!["", "check", "result", "fix"]);
    for c in &report.checks {
        let mut sym = Cell::new(c.status.symbol());
        let mut fix = Cell::new(c.fix.as_deref().unwrap_or(""));
        if color {
            sym = sym.fg(status_color(c.status));
            if c.status >= Status::Warn {
                fix = fix.fg(status_color(c.status));
            }
        }
        // The backend's explanation is long: it is printed in full below the table.
        let detail = if c.id == "kvm.backend" {
            format!("{}; see below", report.kvm.backend.label())
        } else {
            c.detail.clone()
        };
        table.add_row(vec![sym, Cell::new(&c.title), Cell::new(detail), fix]);
    }
    for i in 0..2 {
        if let Some(col) = table.column_mut(i) {
            col.set_constraint(ColumnConstraint::ContentWidth);
        }
    }

    let counts = report.counts();
    let mut out = String::new();
    out.push_str("versus doctor\n");
    out.push_str(&table.to_string());
    out.push('\n');
    out.push_str(&format!("KVM backend: {}\n", report.kvm.backend.label()));
    for line in crate::fmt::wrap(report.kvm.backend.explanation(), 88) {
        out.push_str("  ");
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!(
        "{} passed, {} warnings, {} failed, {} info   (✓ pass  ! warn  ✗ fail  · info)\n",
        counts.pass, counts.warn, counts.fail, counts.info
    ));
    out
}

// ---------------------------------------------------------------------------------------
// Tests

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

/// From this width on, fixes get a column of their own.
pub const SIDE_BY_SIDE_FIX_WIDTH: usize = 140;

/// From this width on, the check titles (at most about 30 columns) are
/// never wrapped.
const TITLES_WHOLE_WIDTH: usize = 72;

/// The report as text, laid out to the output width (see [`crate::width`]).
pub fn render(report: &DoctorReport, color: bool) -> String {
    render_with_width(report, color, None)
}

/// [`render`] for an explicit width in columns (`None`: the output width).
pub fn render_with_width(report: &DoctorReport, color: bool, width: Option<u16>) -> String {
    let columns = width.map_or_else(crate::width::output_width, usize::from);
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if color {
        table.enforce_styling();
    }
    // Wide enough, the fix has a column of its own; narrower, it goes under
    // the result ("→ …"), which leaves the result room to read.
    let fix_column = columns >= SIDE_BY_SIDE_FIX_WIDTH;
    if fix_column {
        table.set_header(vec!["", "check", "result", "fix"]);
    } else {
        table.set_header(vec!["", "check", "result (→ fix)"]);
    }
    for c in &report.checks {
        let mut sym = Cell::new(c.status.symbol());
        if color {
            sym = sym.fg(status_color(c.status));
        }
        // The backend's explanation is long: it is printed in full below the table.
        // A number keeps its unit on its line however the cell wraps.
        let detail = crate::width::glue(&if c.id == "kvm.backend" {
            format!("{}; see below", report.kvm.backend.label())
        } else {
            c.detail.clone()
        });
        let fix_text = c.fix.as_deref().map(crate::width::glue);
        if fix_column {
            let mut fix = Cell::new(fix_text.as_deref().unwrap_or(""));
            if color && c.status >= Status::Warn {
                fix = fix.fg(status_color(c.status));
            }
            table.add_row(vec![sym, Cell::new(&c.title), Cell::new(detail), fix]);
        } else {
            let result = match &fix_text {
                Some(fix) => format!("{detail}\n→ {fix}"),
                None => detail,
            };
            table.add_row(vec![sym, Cell::new(&c.title), Cell::new(result)]);
        }
    }
    // Titles stay whole on one line when there is room for them.
    if columns >= TITLES_WHOLE_WIDTH
        && let Some(column) = table.column_mut(1)
    {
        column.set_constraint(ColumnConstraint::ContentWidth);
    }

    let counts = report.counts();
    let mut out = String::new();
    out.push_str("versus doctor\n");
    out.push_str(&crate::width::table_to(&mut table, columns));
    out.push('\n');
    out.push_str(&format!("KVM backend: {}\n", report.kvm.backend.label()));
    out.push_str(&crate::width::paragraph_to(
        report.kvm.backend.explanation(),
        "  ",
        "  ",
        columns,
    ));
    out.push_str(&crate::width::paragraph_to(
        &format!(
            "{} passed, {} warnings, {} failed, {} info   (✓ pass  ! warn  ✗ fail  · info)",
            counts.pass, counts.warn, counts.fail, counts.info
        ),
        "",
        "  ",
        columns,
    ));
    out
}

// ---------------------------------------------------------------------------------------
// Tests

//! The drawing of a bar panel: one bar per row at its median, a whisker
//! from min to max, the row's name on the left and its values on the right.
//! The axis is logarithmic when the values differ by more than
//! [`LOG_SCALE_ABOVE`]× and no value is zero, linear otherwise.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

use super::axes::{axis_end, draw_mesh, frame, row};
use super::panels::BarPanel;
use super::text::{draw_empty, row_label, text_style};
use super::{ALERT, BAR, DrawResult, INK, LOG_SCALE_ABOVE};

pub(super) fn draw_bars<DB: DrawingBackend>(
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
    draw_mesh(&mut chart, 8, axis)?;
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

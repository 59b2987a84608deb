//! The axes of the chart panels: where an axis ends ([`axis_end`]), which
//! display unit a panel's values get ([`scale`]), where a row sits on the
//! y axis ([`row`]), and the frame and mesh every chart (bar panel and
//! timeline) shares, so that all panels line up under each other.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::format::format_tick;
use super::model::Unit;
use super::{DrawResult, FONT, LABEL_AREA, NOTE_AREA};

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

/// The display scale of a unit for values up to `high`: (divisor, name).
pub(super) fn scale(unit: Unit, high: f64) -> (f64, &'static str) {
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

/// The bottom of row `index` (0 at the top) of `rows` on the y axis, which
/// runs from 0 at the bottom to `rows` at the top: row `index` spans
/// `row(index)..row(index) + 1`.
pub(super) fn row(index: usize, rows: usize) -> f64 {
    (rows - 1 - index) as f64
}

/// Every panel's frame: the caption, the margins, room for the labels on
/// the left and for the values on the right.
pub(super) fn frame<'a, 'b, DB: DrawingBackend>(
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

/// The mesh of every chart: no y labels (the rows are named by hand), `x_labels`
/// ticks on the x axis, which is named `desc`.
pub(super) fn draw_mesh<DB, X>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    x_labels: usize,
    desc: &str,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .y_label_formatter(&|_| String::new())
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 13))
        .x_labels(x_labels)
        .x_label_formatter(&|v| format_tick(*v))
        .x_desc(desc)
        .draw()
}

#[cfg(test)]
mod tests {
    use super::super::render_svg;
    use super::super::tests::comparison;
    use super::*;

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
}

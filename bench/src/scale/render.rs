//! A [`ScaleReport`] for people (one table and the conclusions), as CSV,
//! and as an SVG plot: memory (PSS and kernel growth) against N and start
//! latency against N, one line per backend.

use std::path::Path;

use plotters::prelude::*;

use super::{ScaleBackend, ScalePoint, ScaleReport};
use crate::fmt;

/// Bytes in a mebibyte, for the MiB figures of the conclusions and plot.
const MIB: f64 = 1_048_576.0;
/// Nanoseconds in a millisecond, for the latency plot.
const MS: f64 = 1e6;
/// The plot's size in pixels: two charts side by side.
const PLOT_SIZE: (u32, u32) = (1200, 480);
/// Space for the axis labels, in pixels.
const PLOT_LABEL_AREA: u32 = 56;
/// A font every SVG viewer has.
const FONT: &str = "sans-serif";

/// A signed byte count (a delta can be negative on a busy host).
fn signed_bytes(value: i64) -> String {
    if value < 0 {
        format!("−{}", fmt::bytes(value.unsigned_abs()))
    } else {
        fmt::bytes(value as u64)
    }
}

/// The table and the conclusions.
pub fn render(report: &ScaleReport) -> String {
    let mut table = crate::render::table(&[
        "backend",
        "N",
        "started",
        "starts/s",
        "start median",
        "p95",
        "max",
        "PSS / instance",
        "guest / cgroup",
        "kernel / instance",
        "host memory (all N)",
        "teardown",
        "left behind",
    ]);
    for point in &report.points {
        let latency = &point.start_latency;
        let guest_or_cgroup = point
            .guest_touched_bytes
            .map(|bytes| format!("guest {}", fmt::bytes(bytes)))
            .or_else(|| {
                point
                    .cgroup_memory_bytes
                    .map(|bytes| format!("cgroup {}", fmt::bytes(bytes)))
            })
            .unwrap_or_else(|| "—".to_string());
        table.add_row(vec![
            point.backend.name().to_string(),
            point.count.to_string(),
            point.started.to_string(),
            format!("{:.1}", point.starts_per_second),
            fmt::duration_f64(latency.median),
            latency
                .p95
                .map_or_else(|| "— (<20)".to_string(), fmt::duration_f64),
            fmt::duration_f64(latency.max),
            signed_bytes(point.pss_per_instance_bytes),
            guest_or_cgroup,
            signed_bytes(point.kernel_growth_bytes / point.count.max(1) as i64),
            signed_bytes(point.host_memory_bytes),
            fmt::duration(point.teardown_ns),
            if point.leftovers.is_empty() {
                "nothing".to_string()
            } else {
                point.leftovers.join("; ")
            },
        ]);
    }
    let mut out = format!(
        "{table}\nInstances started {} at a time. PSS / instance: its own process's \
         proportional set size plus an equal share of versus' own anonymous growth (a VM has no \
         process of its own: its guest memory and vCPU threads are in versus). Kernel: \
         growth of Slab + PageTables + SecPageTables + KernelStack + VmallocUsed. Host memory: the drop in MemAvailable.\n",
        report.parallelism
    );
    for capacity in &report.capacities {
        out.push_str(&format!(
            "A {} instance holds {} descriptors and {} tasks: this host could hold {} at once \
             ({}).\n",
            capacity.backend.name(),
            capacity.fds_per_instance,
            capacity.tasks_per_instance,
            capacity.can_hold,
            capacity.limited_by
        ));
    }
    out.push_str(&conclusions(report));
    out
}

/// The conclusions in plain words, one line per backend.
fn conclusions(report: &ScaleReport) -> String {
    let mut out = String::new();
    for fit in &report.fits {
        let name = fit.backend.name();
        let described = |fit: &Option<super::Fit>| match fit {
            Some(fit) => format!(
                "{:.2} MiB (R² {})",
                fit.slope / MIB,
                fit.r_squared
                    .map_or_else(|| "needs 3 counts".to_string(), |r2| format!("{r2:.3}"))
            ),
            None => "no fit".to_string(),
        };
        out.push_str(&format!(
            "Each extra {name} cost {} of PSS and kernel memory ({} of PSS); MemAvailable \
             dropped by {} per extra {name}.\n",
            described(&fit.accounted),
            described(&fit.pss),
            described(&fit.host_memory)
        ));
    }
    if report.fits.is_empty() {
        out.push_str(
            "Give two counts or more (--counts 1,10) for the marginal cost per instance.\n",
        );
    }
    let dirty: Vec<String> = report
        .points
        .iter()
        .filter(|point| !point.leftovers.is_empty())
        .map(|point| format!("{} ×{}", point.backend.name(), point.count))
        .collect();
    if dirty.is_empty() {
        out.push_str("Every teardown left nothing behind.\n");
    } else {
        out.push_str(&format!("Left something behind: {}.\n", dirty.join(", ")));
    }
    out
}

/// One CSV row per backend and count.
pub fn csv(report: &ScaleReport) -> String {
    let mut out = String::from(
        "backend,count,started,starts_per_second,start_median_ns,start_p95_ns,start_max_ns,\
         pss_per_instance_bytes,own_pss_bytes,versus_pss_growth_bytes,guest_touched_bytes,\
         cgroup_memory_bytes,kernel_growth_bytes,host_memory_bytes,teardown_ns,leftovers\n",
    );
    let optional = |value: Option<u64>| value.map_or_else(String::new, |v| v.to_string());
    for point in &report.points {
        let latency = &point.start_latency;
        out.push_str(&format!(
            "{},{},{},{:.3},{:.0},{},{:.0},{},{},{},{},{},{},{},{},{}\n",
            point.backend.name(),
            point.count,
            point.started,
            point.starts_per_second,
            latency.median,
            latency
                .p95
                .map_or_else(String::new, |p95| format!("{p95:.0}")),
            latency.max,
            point.pss_per_instance_bytes,
            point.own_pss_bytes,
            point.versus_pss_growth_bytes,
            optional(point.guest_touched_bytes),
            optional(point.cgroup_memory_bytes),
            point.kernel_growth_bytes,
            point.host_memory_bytes,
            point.teardown_ns,
            point.leftovers.len(),
        ));
    }
    out
}

/// The line colour of each backend.
fn colour(backend: ScaleBackend) -> RGBColor {
    match backend {
        ScaleBackend::Host => RGBColor(96, 125, 139),
        ScaleBackend::Container => RGBColor(30, 136, 229),
        ScaleBackend::Vm => RGBColor(229, 57, 53),
    }
}

/// Why the plot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScalePlotError {
    /// Drawing failed.
    #[error("cannot draw the plot: {0}")]
    Draw(String),
    /// Writing the file failed.
    #[error("cannot write the plot to {path}", path = path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Writes the SVG plot to `path` (through a temporary file and a rename).
pub fn write_plot(report: &ScaleReport, path: &Path) -> Result<(), ScalePlotError> {
    let svg = plot(report).map_err(ScalePlotError::Draw)?;
    fmt::write_atomically(path, &svg).map_err(|source| ScalePlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One chart's series: per backend, (N, value) points.
type Series = Vec<(ScaleBackend, Vec<(f64, f64)>)>;

fn series(report: &ScaleReport, value: impl Fn(&ScalePoint) -> f64) -> Series {
    let mut out: Series = Vec::new();
    for point in &report.points {
        let xy = (point.count as f64, value(point));
        match out
            .iter_mut()
            .find(|(backend, _)| *backend == point.backend)
        {
            Some((_, points)) => points.push(xy),
            None => out.push((point.backend, vec![xy])),
        }
    }
    out
}

/// The SVG text.
fn plot(report: &ScaleReport) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(PLOT_SIZE.0 / 2);
        // The accounted memory (PSS and kernel growth), the steadiest of
        // the three sums the fits use (see `BackendFit::accounted`).
        let memory = series(report, |point| {
            let accounted =
                point.pss_per_instance_bytes * point.count as i64 + point.kernel_growth_bytes;
            accounted.max(0) as f64 / MIB
        });
        let latency = series(report, |point| point.start_latency.median / MS);
        chart(&left, "memory (PSS + kernel) against N", "MiB", &memory)?;
        chart(&right, "start latency (median) against N", "ms", &latency)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One line chart with a line and dots per backend and a legend.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    unit: &str,
    series: &Series,
) -> Result<(), String> {
    let points = series.iter().flat_map(|(_, points)| points.iter());
    let x_end = crate::compare::plot::axis_end(points.clone().map(|(x, _)| *x).fold(1.0, f64::max));
    let y_end = crate::compare::plot::axis_end(points.map(|(_, y)| *y).fold(0.0, f64::max));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 18))
        .margin(16)
        .x_label_area_size(PLOT_LABEL_AREA)
        .y_label_area_size(PLOT_LABEL_AREA)
        .build_cartesian_2d(0.0..x_end, 0.0..y_end)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("instances alive at once (N)")
        .y_desc(unit)
        .label_style((FONT, 12))
        .draw()
        .map_err(|e| e.to_string())?;
    for (backend, points) in series {
        let style = colour(*backend);
        chart
            .draw_series(std::iter::once(PathElement::new(
                points.clone(),
                style.stroke_width(2),
            )))
            .map_err(|e| e.to_string())?
            .label(backend.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], style.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|&xy| Circle::new(xy, 4, style.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
        .map_err(|e| e.to_string())
}

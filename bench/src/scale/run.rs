//! Running a plan: for each backend, probe one instance and refuse a count
//! the host cannot hold, then measure every count; finally fit memory
//! against N.

use super::capacity::{capacity, probe};
use super::least_squares;
use super::measure::measure;
use super::{BackendFit, Capacity, ScaleBackend, ScaleError, ScalePlan, ScalePoint, ScaleReport};
use crate::backend::HeldBackend;
use crate::backend::container::ContainerBackend;
use crate::backend::host::HostBackend;
use crate::backend::vm::VmBackend;

/// Runs the whole plan; `progress` hears a line per point.
pub fn run(plan: &ScalePlan, mut progress: impl FnMut(&str)) -> Result<ScaleReport, ScaleError> {
    let mut points = Vec::new();
    let mut capacities = Vec::new();
    for &backend in &plan.backends {
        let max = plan.counts.iter().copied().max().unwrap_or(0);
        match backend {
            ScaleBackend::Host => measure_backend(
                &HostBackend,
                backend,
                plan,
                max,
                &mut capacities,
                &mut points,
                &mut progress,
            )?,
            ScaleBackend::Container => measure_backend(
                &ContainerBackend::new(),
                backend,
                plan,
                max,
                &mut capacities,
                &mut points,
                &mut progress,
            )?,
            ScaleBackend::Vm => measure_backend(
                &VmBackend::with_settings(plan.vm.clone()),
                backend,
                plan,
                max,
                &mut capacities,
                &mut points,
                &mut progress,
            )?,
        }
    }
    let fits = plan
        .backends
        .iter()
        .filter_map(|&backend| {
            let mine: Vec<&ScalePoint> = points.iter().filter(|p| p.backend == backend).collect();
            let counts: Vec<f64> = mine.iter().map(|p| p.count as f64).collect();
            let host: Vec<f64> = mine.iter().map(|p| p.host_memory_bytes as f64).collect();
            let pss: Vec<f64> = mine
                .iter()
                .map(|p| (p.pss_per_instance_bytes * p.count as i64) as f64)
                .collect();
            let accounted: Vec<f64> = mine
                .iter()
                .zip(&pss)
                .map(|(p, pss)| pss + p.kernel_growth_bytes as f64)
                .collect();
            (mine.len() >= 2).then(|| BackendFit {
                backend,
                host_memory: least_squares(&counts, &host),
                pss: least_squares(&counts, &pss),
                accounted: least_squares(&counts, &accounted),
            })
        })
        .collect();
    Ok(ScaleReport {
        parallelism: plan.parallelism,
        capacities,
        points,
        fits,
    })
}

/// Probes one instance, refuses a count the host cannot hold, then
/// measures every count.
fn measure_backend<B: HeldBackend + Sync>(
    backend: &B,
    which: ScaleBackend,
    plan: &ScalePlan,
    max: usize,
    capacities: &mut Vec<Capacity>,
    points: &mut Vec<ScalePoint>,
    progress: &mut impl FnMut(&str),
) -> Result<(), ScaleError> {
    let cost = probe(backend, which)?;
    let capacity = capacity(which, &cost)?;
    if max as u64 > capacity.can_hold {
        return Err(ScaleError::TooMany {
            backend: which.name(),
            asked: max,
            can_hold: capacity.can_hold,
            why: capacity.limited_by,
        });
    }
    capacities.push(capacity);
    for &count in &plan.counts {
        let point = measure(backend, which, count, plan.parallelism, plan.hold)?;
        // The instances stop themselves on Ctrl-C too; the point measured
        // them, but no further count starts.
        if crate::interrupt::requested() {
            return Err(ScaleError::Interrupted {
                backend: which.name(),
                count,
                started: point.started,
                left: point.leftovers,
            });
        }
        progress(&format!(
            "{}: {} instances started and torn down",
            which.name(),
            point.started
        ));
        points.push(point);
    }
    Ok(())
}

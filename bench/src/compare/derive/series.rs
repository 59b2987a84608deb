//! The series of a comparison: samples and failures accumulated per
//! (section, subject, figure) as the records are filed, then summarised and
//! put in the order the tables show them.

use std::collections::BTreeMap;

use super::super::model::{Failure, Sample, Section, Series, Unit, figure};
use crate::stats::Summary;

/// Names a series: (section, subject, figure, unit).
pub(super) type SeriesKey<'a> = (Section, &'a str, &'a str, Unit);

/// Accumulates samples per (section, subject, figure), in insertion order.
#[derive(Default)]
pub(super) struct SeriesSet {
    pub(super) order: Vec<(Section, String, String)>,
    by_key: BTreeMap<(Section, String, String), Series>,
}

impl SeriesSet {
    fn entry(&mut self, section: Section, subject: &str, name: &str, unit: Unit) -> &mut Series {
        let key = (section, subject.to_string(), name.to_string());
        if !self.by_key.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.by_key.entry(key).or_insert_with(|| Series {
            section,
            subject: subject.to_string(),
            figure: name.to_string(),
            unit,
            samples: Vec::new(),
            failures: Vec::new(),
            summary: None,
        })
    }

    /// A sample of the series `(section, subject, figure, unit)` in
    /// `round`, or — when `value` is missing — a failure saying `missing`.
    pub(super) fn sample(
        &mut self,
        (section, subject, name, unit): SeriesKey,
        round: usize,
        value: Option<f64>,
        missing: &str,
    ) {
        let series = self.entry(section, subject, name, unit);
        match value {
            Some(value) if value.is_finite() => series.samples.push(Sample { round, value }),
            _ => series.failures.push(Failure {
                round,
                reason: missing.to_string(),
            }),
        }
    }

    /// A failure of the series `(section, subject, figure, unit)`.
    pub(super) fn fail(&mut self, (section, subject, name, unit): SeriesKey, failure: Failure) {
        self.entry(section, subject, name, unit)
            .failures
            .push(failure);
    }

    fn into_vec(mut self) -> Vec<Series> {
        self.order
            .iter()
            .filter_map(|key| self.by_key.remove(key))
            .map(|mut series| {
                series.summary = Summary::of(&series.values()).ok();
                series
            })
            .collect()
    }
}

/// The series, summarised, by section, then figure in the order the
/// sections set them beside each other (launcher RSS next to VMM overhead,
/// cgroup peak next to guest memory…), then subject.
pub(super) fn ordered_series(set: SeriesSet, rank: &impl Fn(&str) -> (u8, String)) -> Vec<Series> {
    let mut series = set.into_vec();
    let mut figure_order: Vec<(Section, String)> = FIGURE_ORDER
        .iter()
        .map(|(section, name)| (*section, name.to_string()))
        .collect();
    for s in &series {
        if !figure_order.contains(&(s.section, s.figure.clone())) {
            figure_order.push((s.section, s.figure.clone()));
        }
    }
    series.sort_by_key(|s| {
        let figure = figure_order
            .iter()
            .position(|f| f.0 == s.section && f.1 == s.figure);
        (s.section, figure, rank(&s.subject))
    });
    series
}

/// The order of the figures within each section's table.
const FIGURE_ORDER: &[(Section, &str)] = &[
    (Section::Startup, figure::STARTUP),
    (Section::Memory, figure::LAUNCHER_RSS),
    (Section::Memory, figure::VMM_OVERHEAD),
    (Section::Memory, figure::CGROUP_PEAK),
    (Section::Memory, figure::GUEST_TOUCHED),
    (Section::Memory, figure::IMAGE),
    (Section::Syscall, figure::GETPID),
    (Section::Syscall, figure::EXITS_PER_1000_CALLS),
    (Section::Io, figure::EXIT_GUEST),
    (Section::Io, figure::EXIT_HOST),
    (Section::Io, figure::EXIT_HANDLER),
    (Section::Io, figure::WRITE),
    (Section::Io, figure::EXITS_PER_WRITE),
];

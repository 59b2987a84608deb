//! Ratios: which subjects are set beside which, the samples of two series
//! paired by round.

use super::super::model::{RatioRow, Section, Series, figure};
use crate::stats::Ratio;

/// Which subjects to set beside which, per figure: (section, figure,
/// numerator, denominator).
const RATIO_PAIRS: &[(Section, &str, &str, &str)] = &[
    (Section::Startup, figure::STARTUP, "vm", "container"),
    (Section::Startup, figure::STARTUP, "container", "host"),
    (Section::Startup, figure::STARTUP, "vm", "host"),
    // A full kernel against the tiny one and a container (`--linux`).
    (Section::Startup, figure::STARTUP, "vm (Linux)", "vm"),
    (Section::Startup, figure::STARTUP, "vm (Linux)", "container"),
    (Section::Syscall, figure::GETPID, "container", "host"),
    (
        Section::Syscall,
        figure::GETPID,
        "container",
        "container (no seccomp)",
    ),
    (
        Section::Syscall,
        figure::GETPID,
        "container (no seccomp)",
        "host",
    ),
    (Section::Syscall, figure::GETPID, "vm", "host"),
    (Section::Io, figure::WRITE, "vm (UART)", "vm"),
    (Section::Io, figure::WRITE, "vm", "container"),
    (Section::Io, figure::WRITE, "container", "host"),
];

/// Pairs the samples of two series by round and takes their ratio.
pub fn paired_ratio(numerator: &Series, denominator: &Series) -> Option<Ratio> {
    let (mut top, mut bottom) = (Vec::new(), Vec::new());
    for sample in &numerator.samples {
        if let Some(other) = denominator.samples.iter().find(|s| s.round == sample.round) {
            top.push(sample.value);
            bottom.push(other.value);
        }
    }
    Ratio::paired(&top, &bottom).ok()
}

pub(super) fn ratios(series: &[Series]) -> Vec<RatioRow> {
    let find = |section: Section, name: &str, subject: &str| {
        series
            .iter()
            .find(|s| s.section == section && s.figure == name && s.subject == subject)
    };
    RATIO_PAIRS
        .iter()
        .filter_map(|&(section, name, top, bottom)| {
            let ratio = paired_ratio(find(section, name, top)?, find(section, name, bottom)?)?;
            Some(RatioRow {
                section,
                figure: name.to_string(),
                numerator: top.to_string(),
                denominator: bottom.to_string(),
                ratio,
            })
        })
        .collect()
}

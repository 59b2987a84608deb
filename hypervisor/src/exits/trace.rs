//! `--trace`: one event per exit, handed to a callback on the vCPU thread.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::ExitKind;

/// One exit, for `--trace`.
#[derive(Clone, Debug, Serialize)]
pub struct TraceEvent {
    /// vCPU index.
    pub vcpu: u32,
    /// Nanoseconds since launch.
    pub at_ns: u64,
    /// Reason.
    pub kind: ExitKind,
    /// The value written or read (port/MMIO data, little-endian), if any.
    pub value: Option<u64>,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:>12.6} ms] vcpu{} {}",
            self.at_ns as f64 / 1e6,
            self.vcpu,
            self.kind
        )?;
        if let Some(v) = self.value {
            write!(f, " = {v:#x}")?;
        }
        Ok(())
    }
}

/// A trace callback: called on the vCPU thread for every exit.
pub type TraceFn = Arc<dyn Fn(&TraceEvent) + Send + Sync>;

//! Exit accounting: every exit counted per reason ([`ExitKind`]) with the
//! host nanoseconds spent handling it, summed per vCPU and per VM.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

/// An exit's reason, the key of the exit accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ExitKind {
    /// `out` to a port.
    IoOut {
        /// Port.
        port: u16,
    },
    /// `in` from a port.
    IoIn {
        /// Port.
        port: u16,
    },
    /// MMIO read.
    MmioRead,
    /// MMIO write.
    MmioWrite,
    /// `hlt`.
    Hlt,
    /// Shutdown / triple fault.
    Shutdown,
    /// Internal error.
    InternalError,
    /// Entry failure.
    FailEntry,
    /// KVM_RUN interrupted by a signal (how the VMM stops a vCPU).
    Interrupted,
    /// `out` to the paravirtual sleep port: host time is the sleep.
    Sleep,
    /// `out` to the paravirtual random-bytes port.
    Random,
    /// `out` to the paravirtual standard-input port: host time is the wait
    /// for input.
    Stdin,
    /// Anything else.
    Other,
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::IoOut { port } => write!(f, "io_out {port:#x}"),
            ExitKind::IoIn { port } => write!(f, "io_in {port:#x}"),
            ExitKind::MmioRead => f.write_str("mmio_read"),
            ExitKind::MmioWrite => f.write_str("mmio_write"),
            ExitKind::Hlt => f.write_str("hlt"),
            ExitKind::Shutdown => f.write_str("shutdown"),
            ExitKind::InternalError => f.write_str("internal_error"),
            ExitKind::FailEntry => f.write_str("fail_entry"),
            ExitKind::Interrupted => f.write_str("interrupted"),
            ExitKind::Sleep => f.write_str("sleep"),
            ExitKind::Random => f.write_str("random"),
            ExitKind::Stdin => f.write_str("stdin"),
            ExitKind::Other => f.write_str("other"),
        }
    }
}

/// Count and host time of one exit reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExitCount {
    /// How many exits.
    pub count: u64,
    /// Host nanoseconds spent handling them (KVM_RUN return to handler done).
    pub total_ns: u64,
}

/// Exit accounting: per reason, count and host time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitStats {
    by_kind: BTreeMap<ExitKind, ExitCount>,
}

impl ExitStats {
    /// Adds one exit of `kind` that took `ns` to handle.
    pub fn record(&mut self, kind: ExitKind, ns: u64) {
        let c = self.by_kind.entry(kind).or_default();
        c.count += 1;
        c.total_ns += ns;
    }
    /// The figures for `kind` (zero if none).
    pub fn get(&self, kind: ExitKind) -> ExitCount {
        self.by_kind.get(&kind).copied().unwrap_or_default()
    }
    /// How many exits of `kind`.
    pub fn count(&self, kind: ExitKind) -> u64 {
        self.get(kind).count
    }
    /// All reasons, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (ExitKind, ExitCount)> + '_ {
        self.by_kind.iter().map(|(k, v)| (*k, *v))
    }
    /// Sum over every reason except `Interrupted` (which are VMM kicks, not
    /// guest exits).
    pub fn total(&self) -> ExitCount {
        self.iter()
            .filter(|(k, _)| *k != ExitKind::Interrupted)
            .fold(ExitCount::default(), |a, (_, c)| ExitCount {
                count: a.count + c.count,
                total_ns: a.total_ns + c.total_ns,
            })
    }
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ExitStats) {
        for (k, c) in other.iter() {
            let e = self.by_kind.entry(k).or_default();
            e.count += c.count;
            e.total_ns += c.total_ns;
        }
    }
}

impl Serialize for ExitStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Row {
            #[serde(flatten)]
            kind: ExitKind,
            count: u64,
            total_ns: u64,
        }
        s.collect_seq(self.iter().map(|(kind, c)| Row {
            kind,
            count: c.count,
            total_ns: c.total_ns,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_serialize_as_rows() {
        let mut st = ExitStats::default();
        st.record(ExitKind::IoOut { port: 0x3f8 }, 100);
        st.record(ExitKind::IoOut { port: 0x3f8 }, 50);
        st.record(ExitKind::Hlt, 7);
        let json = serde_json::to_string(&st).unwrap();
        assert_eq!(
            json,
            r#"[{"reason":"io_out","port":1016,"count":2,"total_ns":150},{"reason":"hlt","count":1,"total_ns":7}]"#
        );
        assert_eq!(
            st.total(),
            ExitCount {
                count: 3,
                total_ns: 157
            }
        );
    }
}

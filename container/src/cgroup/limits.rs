//! [`Limits`]: what a container may use — memory, processes, CPU time — each applied
//! through its cgroup by the v1 and v2 implementations.

use serde::{Deserialize, Serialize};

/// Resource limits, each applied through the cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory limit in bytes (`--memory`); swap is not allowed on top of it.
    pub memory: Option<u64>,
    /// Most processes and threads at once (`--pids-limit`).
    pub pids: Option<u64>,
    /// CPU time as a number of CPUs (`--cpus 0.5` = half of one CPU).
    pub cpus: Option<f64>,
}

impl Limits {
    /// The set limits as CLI flags, e.g. `--memory 33554432 --pids-limit 5`.
    pub fn flags(&self) -> String {
        let mut v = Vec::new();
        if let Some(m) = self.memory {
            v.push(format!("--memory {m}"));
        }
        if let Some(p) = self.pids {
            v.push(format!("--pids-limit {p}"));
        }
        if let Some(c) = self.cpus {
            v.push(format!("--cpus {c}"));
        }
        v.join(" ")
    }

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpus.is_some()
    }
}

//! `versus scale`: density. For each backend and count it starts N `park`
//! instances at once (bounded by the host's cores), measures what they
//! cost the host while all N are alive, finishes them, times the teardown
//! and checks nothing was left behind; then fits memory against N.
//!
//! Where the memory is: a host process and a container's PID 1 are
//! processes of their own, so each has its own proportional set size. A VM
//! is not: its vCPU threads and guest memory live inside versus' own
//! process (as Firecracker's would live in its VMM process). So every
//! instance is charged its own process's PSS (none for a VM) plus an equal
//! share of how much versus' own anonymous PSS grew while the instances
//! were alive — the same rule for every backend, and for a VM the whole of
//! its cost. (Anonymous: versus' file pages are its binary, whose share
//! moves with every other versus process on the host, not with the
//! instances; see `procfs::anon_pss_bytes`.)
//! What no process shows (namespaces, cgroups, page tables, kernel stacks,
//! KVM's structures) is the growth of `Slab`, `PageTables`,
//! `SecPageTables`, `KernelStack` and `VmallocUsed`; the drop in `MemAvailable` is the whole set's cost.

mod capacity;
mod fit;
mod measure;
mod model;
mod procfs;
mod render;
mod run;

pub use fit::{Fit, least_squares};
pub use model::{
    BackendFit, Capacity, ScaleBackend, ScaleError, ScalePlan, ScalePoint, ScaleReport,
};
pub use render::{ScalePlotError, csv, render, write_plot};
pub use run::run;

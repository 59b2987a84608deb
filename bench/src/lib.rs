//! versus' measurement harness: one set of definitions for every backend.
//!
//! - [`workload`]: the tasks, the workload image, and the parser for the
//!   `@versus` lines it prints;
//! - [`backend`]: the places a workload runs, behind one [`backend::Backend`] trait;
//! - [`compare`]: `versus compare`, every backend side by side;
//! - [`report`]: the [`report::RunReport`] every backend returns;
//! - [`stats`]: summaries and paired ratios over repeated runs;
//! - [`doctor`]: what this host offers (KVM backend, cgroups, namespaces…);
//! - [`explain`]: `versus explain`, live lessons in English and Korean;
//! - [`interrupt`]: Ctrl-C and SIGTERM as a flag, so that nothing is left behind;
//! - [`output`]: versus' stdout and stderr, which never panic (a closed pipe ends quietly);
//! - [`render`]: reports as tables;
//! - [`fmt`]: human units;
//! - [`units`]: the one size grammar of every flag.

pub mod backend;
pub mod compare;
pub mod doctor;
pub mod explain;
pub mod fmt;
pub mod interrupt;
pub mod output;
pub mod render;
pub mod report;
pub mod request;
pub mod scale;
pub mod stats;
pub mod units;
pub mod width;
pub mod workload;

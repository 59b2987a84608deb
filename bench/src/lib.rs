//! versus' measurement harness: one set of definitions for every backend.
pub mod doctor;

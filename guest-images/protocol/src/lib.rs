//! What the workload and the host agree on, in one place:
//!
//! * [`catalog`]: every task the workload knows, its parameters (names,
//!   defaults, ranges) and a one-line summary, as `const` data that the
//!   workload's task table and the harness's argument checker both read;
//! * [`line`]: the grammar of the console's protocol lines (`@versus …` from
//!   the workload, `@kernel …` from the guest kernel): prefixes, field
//!   names, the writer's shared steps and a zero-allocation tokenizer that
//!   the host builds its typed records on.
//!
//! `#![no_std]`, no dependencies, no `unsafe`: the same source builds into
//! the freestanding guest binaries and into the host crates.

#![no_std]

pub mod catalog;
pub mod line;

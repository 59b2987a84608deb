//! The guest images of versus, built from `guest-images/` by this crate's
//! build script and embedded, so that every backend runs the very same bytes.
//!
//! - [`WORKLOAD`]: the static, libc-free x86-64 Linux ELF that runs unchanged
//!   as a host process, as PID 1 of a container and inside a VM.

/// The shared workload: a static x86-64 Linux ELF that uses raw system calls only.
pub const WORKLOAD: &[u8] = include_bytes!(env!("VERSUS_WORKLOAD_ELF"));

/// Where the build left [`WORKLOAD`] on the machine that compiled this crate.
/// Tests use it to run the file directly; programs use the embedded bytes.
pub const WORKLOAD_BUILD_PATH: &str = env!("VERSUS_WORKLOAD_ELF");

//! The guest images of versus, built from `guest-images/` by this crate's
//! build script and embedded, so that every backend runs the very same bytes.
//!
//! - [`WORKLOAD`]: the static, libc-free x86-64 Linux ELF that runs unchanged
//!   as a host process, as PID 1 of a container and inside a VM.
//! - [`KERNEL`]: the tiny guest kernel the VMM boots to run the workload
//!   (`guest-images/kernel`): a static ELF loaded at 1 MiB that runs in the
//!   higher half.

/// The shared workload: a static x86-64 Linux ELF that uses raw system calls only.
pub const WORKLOAD: &[u8] = include_bytes!(env!("VERSUS_WORKLOAD_ELF"));

/// Where the build left [`WORKLOAD`] on the machine that compiled this crate.
/// Tests use it to run the file directly; programs use the embedded bytes.
pub const WORKLOAD_BUILD_PATH: &str = env!("VERSUS_WORKLOAD_ELF");

/// The tiny guest kernel: a static x86-64 ELF (entry and segments at their
/// physical addresses from 1 MiB) for `hypervisor::VmConfig::new`.
pub const KERNEL: &[u8] = include_bytes!(env!("VERSUS_KERNEL_ELF"));

/// Where the build left [`KERNEL`] on the machine that compiled this crate
/// (for `objdump` and other tools; programs use the embedded bytes).
pub const KERNEL_BUILD_PATH: &str = env!("VERSUS_KERNEL_ELF");

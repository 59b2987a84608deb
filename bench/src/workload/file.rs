//! Reading a `--workload` or `--kernel` file: the one place that opens
//! them, so that neither can hang on a fifo nor fill memory from a device.
//!
//! The file must be a regular file (checked with `stat` before it is opened,
//! and again on the open file, which is opened `O_NONBLOCK` so that a fifo
//! swapped in between cannot block), no larger than its limit; at most
//! limit + 1 bytes are read, so a file that grows meanwhile is caught too.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Largest `--workload` file versus reads: 64 MiB. The VMM places the
/// whole image in guest RAM and the container copies it into the root,
/// so a bound keeps a wrong path from costing seconds and gigabytes
/// (the embedded workload is a few tens of KiB; a static glibc program
/// one or two MiB).
pub const WORKLOAD_MAX_BYTES: u64 = 64 << 20;
/// Largest `--kernel` file versus reads: the VMM's own limit,
/// [`hypervisor::layout::KERNEL_MAX_SIZE`] (64 MiB).
pub const KERNEL_MAX_BYTES: u64 = hypervisor::layout::KERNEL_MAX_SIZE;

/// Which image a file is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// A `--workload` executable.
    Workload,
    /// A `--kernel` ELF.
    Kernel,
    /// A `--linux-kernel` bzImage or vmlinux.
    LinuxKernel,
}

impl ImageKind {
    /// The most bytes such a file may have.
    pub fn limit(self) -> u64 {
        match self {
            ImageKind::Workload => WORKLOAD_MAX_BYTES,
            ImageKind::Kernel => KERNEL_MAX_BYTES,
            ImageKind::LinuxKernel => hypervisor::linux::layout::VMLINUX_MAX_SIZE,
        }
    }
}

impl std::fmt::Display for ImageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImageKind::Workload => "workload",
            ImageKind::Kernel => "kernel",
            ImageKind::LinuxKernel => "the Linux kernel",
        })
    }
}

/// A workload or kernel file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageFileError {
    /// `stat`, `open` or `read` failed.
    #[error("cannot read {kind} {path}")]
    Io {
        /// Which image.
        kind: ImageKind,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A directory, device, fifo or socket.
    #[error("{kind} {path} is {what}, not a regular file")]
    NotRegular {
        /// Which image.
        kind: ImageKind,
        /// The file.
        path: PathBuf,
        /// "a directory", "a character device", …
        what: &'static str,
    },
    /// Larger than [`ImageKind::limit`].
    #[error(
        "{kind} {path} is {size} bytes; at most {limit} bytes ({} MiB) are accepted",
        limit >> 20
    )]
    TooLarge {
        /// Which image.
        kind: ImageKind,
        /// The file.
        path: PathBuf,
        /// Its size (at least; a growing file is not read to its end).
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// What a file type is called in messages, `None` for a regular file.
fn not_regular(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a fifo")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else {
        Some("not a regular file")
    }
}

/// Reads a regular file of at most `kind.limit()` bytes (see the module
/// documentation).
pub fn read_image(path: &Path, kind: ImageKind) -> Result<Vec<u8>, ImageFileError> {
    read_limited(path, kind, kind.limit())
}

/// [`read_image`] with the limit given (for tests).
pub fn read_limited(path: &Path, kind: ImageKind, limit: u64) -> Result<Vec<u8>, ImageFileError> {
    let io = |source| ImageFileError::Io {
        kind,
        path: path.to_path_buf(),
        source,
    };
    let check = |meta: &std::fs::Metadata| {
        if let Some(what) = not_regular(meta.file_type()) {
            return Err(ImageFileError::NotRegular {
                kind,
                path: path.to_path_buf(),
                what,
            });
        }
        if meta.len() > limit {
            return Err(ImageFileError::TooLarge {
                kind,
                path: path.to_path_buf(),
                size: meta.len(),
                limit,
            });
        }
        Ok(meta.len())
    };
    // Before opening: opening a socket fails with a puzzling ENXIO, and
    // a device need not be opened at all.
    check(&std::fs::metadata(path).map_err(io)?)?;
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let size = check(&file.metadata().map_err(io)?)?;
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ImageFileError::TooLarge {
            kind,
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

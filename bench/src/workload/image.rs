//! The workload image: where it comes from ([`WorkloadSource`]) and the
//! checked executable itself ([`Workload`]), embedded or read from a
//! `--workload` file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::elf::{ElfProblem, check_static_elf};
use super::file;

/// Where the workload binary comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadSource {
    /// The image embedded in versus at build time.
    Embedded,
    /// A static ELF file given with `--workload`.
    File(PathBuf),
}

/// A workload binary, checked to be a static x86-64 ELF executable.
#[derive(Debug, Clone)]
pub struct Workload {
    source: WorkloadSource,
    bytes: std::borrow::Cow<'static, [u8]>,
}

impl Workload {
    /// The workload built into versus.
    pub fn embedded() -> Self {
        Self {
            source: WorkloadSource::Embedded,
            bytes: std::borrow::Cow::Borrowed(versus_images::WORKLOAD),
        }
    }

    /// Reads (at most [`file::WORKLOAD_MAX_BYTES`], a regular file only:
    /// [`file::read_image`]) and checks a workload file.
    pub fn from_file(path: &Path) -> Result<Self, WorkloadError> {
        let bytes = file::read_image(path, file::ImageKind::Workload)?;
        check_static_elf(&bytes).map_err(|problem| WorkloadError::NotStaticElf {
            path: path.to_path_buf(),
            problem,
        })?;
        Ok(Self {
            source: WorkloadSource::File(path.to_path_buf()),
            bytes: std::borrow::Cow::Owned(bytes),
        })
    }

    /// Where it came from.
    pub fn source(&self) -> &WorkloadSource {
        &self.source
    }

    /// The ELF image.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True for the embedded workload, whose tasks versus knows.
    pub fn is_embedded(&self) -> bool {
        self.source == WorkloadSource::Embedded
    }
}

/// A `--workload` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read, is not a regular file or is too large.
    #[error(transparent)]
    File(#[from] file::ImageFileError),
    /// The file is not a static x86-64 ELF executable.
    #[error("workload {path} is not usable: {problem}")]
    NotStaticElf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: ElfProblem,
    },
}

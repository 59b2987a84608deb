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

    /// The name the program sees as `argv[0]`: the file name of a
    /// `--workload` (as a shell passes the command word's last part, so a
    /// multi-call binary such as busybox finds its applet), or [`super::ARGV0`]
    /// for the embedded workload, which never reads `argv[0]`. A file name
    /// that is not UTF-8 falls back to [`super::ARGV0`] too, since a
    /// container path and a VM argv are text.
    pub fn program_name(&self) -> &str {
        match &self.source {
            WorkloadSource::File(path) => path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or(super::ARGV0),
            WorkloadSource::Embedded => super::ARGV0,
        }
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

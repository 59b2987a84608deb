//! `versus explain`: live, narrated lessons for a classroom.
//!
//! A lesson is five parts, always in this order: the idea, a question for
//! the class, the real thing run on this machine through the library's
//! backends (nothing is canned), the figures it measured, and why — with
//! the one command to dig further. The texts come from the
//! [`catalog`] (English or Korean); the code only measures and fills in
//! the figures. How the parts are shown (wrapped to the terminal, paused
//! between with `--step`) is up to the [`Presenter`].
//!
//! - [`catalog`]: the texts and the language;
//! - [`lessons`]: the lessons themselves;
//! - [`requote`]: the docs' quotes of the lessons, re-quoted from a new
//!   `make docs-figures` run.

pub mod catalog;
mod escape;
pub mod lessons;
mod observe;
pub mod requote;

pub use catalog::{Catalog, CatalogError, Lang};
pub use escape::EscapeError;

/// What kind of line of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A paragraph of prose, wrapped to the width.
    Prose(String),
    /// A figure measured in this run: shown highlighted.
    Figure(String),
    /// A command the reader can type.
    Command(String),
}

/// One part of a lesson: a heading and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The part's heading (from the catalog).
    pub heading: String,
    /// Its lines, in order.
    pub lines: Vec<Line>,
}

/// Shows a lesson's parts as they come: the question is on the screen
/// before the run that answers it starts.
pub trait Presenter {
    /// The lesson's title, once, first.
    fn title(&mut self, topic: &str, title: &str);
    /// One part.
    fn part(&mut self, part: &Part);
    /// A line saying what versus is running now (before a slow run).
    fn progress(&mut self, text: &str);
}

/// How long a lesson's measurements take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// The lecture: enough rounds for steady figures.
    Lecture,
    /// Fewer, shorter rounds: for a quick check and the tests.
    Short,
}

/// A lesson that could not be given.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// No lesson has that name.
    #[error("unknown lesson '{name}'; the lessons are: {known} (versus explain lists them)")]
    UnknownTopic {
        /// What was asked for.
        name: String,
        /// The lessons there are.
        known: String,
    },
    /// The texts are broken (a build of versus with a bad resource file).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A backend could not run the workload.
    #[error("the lesson could not run the workload on the {place} backend")]
    Backend {
        /// Which backend.
        place: String,
        /// Why.
        #[source]
        source: crate::backend::BackendError,
    },
    /// The workload ran but did not give the lesson its figure.
    #[error(
        "the workload on the {place} backend {what}; run `versus doctor` to see what this machine lacks"
    )]
    Workload {
        /// Which backend.
        place: String,
        /// What went wrong.
        what: String,
    },
    /// The lesson compares root on the host with root in a container.
    #[error(
        "the lesson {topic} compares root on the host with root in a container; run it as root (sudo versus explain {topic})"
    )]
    NeedsRoot {
        /// The lesson.
        topic: &'static str,
    },
    /// The chroot escape could not be tried.
    #[error(transparent)]
    Escape(#[from] EscapeError),
    /// The lesson's throwaway directory could not be made.
    #[error("could not make the lesson's throwaway directory under {dir}: {source}")]
    Scratch {
        /// Where.
        dir: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Linux kernel of `two-stacks --linux` could not be read.
    #[error(
        "cannot read the Linux kernel {path}: {source}; build it with `make linux-guest`, or give --linux-kernel PATH"
    )]
    LinuxKernel {
        /// The kernel file.
        path: String,
        /// Why.
        #[source]
        source: crate::workload::file::ImageFileError,
    },
    /// The Linux guest of `two-stacks --linux` could not be booted.
    #[error("could not boot the Linux guest")]
    LinuxBoot(#[source] hypervisor::linux::LinuxError),
    /// The measured figures could not be summarised.
    #[error("cannot summarise the measurements")]
    Stats(#[from] crate::stats::StatsError),
}

/// The lessons, in teaching order.
pub const TOPICS: &[&str] = &[
    lessons::TWO_STACKS,
    lessons::NO_TRANSLATION,
    lessons::NAMESPACES,
    lessons::CHROOT_VS_PIVOT_ROOT,
    lessons::CAPABILITIES,
    lessons::SECCOMP,
    lessons::CGROUPS,
    lessons::LSM,
    lessons::IMAGES,
    lessons::EXITS,
    lessons::HISTORY,
    lessons::WINDOWS_AND_MAC,
];

/// The name of `topic` if it is a lesson, else the error that lists them.
pub fn topic(name: &str) -> Result<&'static str, ExplainError> {
    TOPICS
        .iter()
        .find(|known| **known == name)
        .copied()
        .ok_or_else(|| ExplainError::UnknownTopic {
            name: name.to_string(),
            known: TOPICS.join(", "),
        })
}

/// The list of lessons: `(topic, one-line summary)`.
pub fn list(catalog: &Catalog) -> Result<Vec<(&'static str, String)>, ExplainError> {
    TOPICS
        .iter()
        .map(|topic| Ok((*topic, catalog.plain(&format!("{topic}.summary"))?)))
        .collect()
}

/// Gives the lesson `topic` (a name from [`TOPICS`]) through `presenter`.
/// `linux_kernel` adds to `two-stacks` a real Linux guest booted from that
/// file (`versus explain two-stacks --linux`); the other lessons ignore it.
pub fn give(
    topic: &str,
    catalog: &Catalog,
    pace: Pace,
    linux_kernel: Option<&std::path::Path>,
    presenter: &mut dyn Presenter,
) -> Result<(), ExplainError> {
    let topic = self::topic(topic)?;
    let linux = match linux_kernel {
        Some(path) if topic == lessons::TWO_STACKS => {
            Some((path, lessons::read_linux_kernel(path)?))
        }
        _ => None,
    };
    presenter.title(topic, &catalog.plain(&format!("{topic}.title"))?);
    for (heading, key) in [("heading.idea", "idea"), ("heading.question", "question")] {
        presenter.part(&Part {
            heading: catalog.plain(heading)?,
            lines: vec![Line::Prose(catalog.plain(&format!("{topic}.{key}"))?)],
        });
    }
    let figures = match topic {
        lessons::TWO_STACKS => {
            let mut lines = lessons::two_stacks(catalog, presenter)?;
            if let Some((path, kernel)) = linux {
                lines.extend(lessons::two_stacks_linux(catalog, path, kernel, presenter)?);
            }
            lines
        }
        lessons::NAMESPACES => lessons::namespaces(catalog, presenter)?,
        lessons::EXITS => lessons::exits(catalog, pace, presenter)?,
        lessons::CHROOT_VS_PIVOT_ROOT => lessons::chroot_vs_pivot_root(catalog, presenter)?,
        lessons::CAPABILITIES => lessons::capabilities(catalog, presenter)?,
        lessons::SECCOMP => lessons::seccomp(catalog, presenter)?,
        lessons::CGROUPS => lessons::cgroups(catalog, pace, presenter)?,
        lessons::LSM => lessons::lsm(catalog, presenter)?,
        lessons::IMAGES => lessons::images(catalog, presenter)?,
        lessons::HISTORY => lessons::history(catalog, presenter)?,
        lessons::WINDOWS_AND_MAC => lessons::windows_and_mac(catalog, presenter)?,
        _ => lessons::no_translation(catalog, pace, presenter)?,
    };
    presenter.part(&Part {
        heading: catalog.plain("heading.live")?,
        lines: figures,
    });
    let dig = catalog.plain(&format!("{topic}.dig"))?;
    presenter.part(&Part {
        heading: catalog.plain("heading.why")?,
        lines: vec![
            Line::Prose(catalog.plain(&format!("{topic}.why"))?),
            Line::Prose(catalog.plain("dig")?),
            Line::Command(dig),
        ],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_has_its_texts_in_both_languages() {
        for lang in Lang::ALL {
            let catalog = Catalog::load(lang).unwrap();
            assert_eq!(list(&catalog).unwrap().len(), TOPICS.len());
        }
    }

    #[test]
    fn an_unknown_topic_names_the_lessons() {
        let error = topic("namespacez").unwrap_err().to_string();
        assert!(error.contains("unknown lesson 'namespacez'"), "{error}");
        assert!(
            error.contains(
                "two-stacks, no-translation, namespaces, chroot-vs-pivot_root, capabilities, seccomp, cgroups, lsm, images, exits, lxc-docker-history, windows-and-mac"
            ),
            "{error}"
        );
    }
}

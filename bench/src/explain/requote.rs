//! Re-quoting the docs' excerpts from a new `make docs-figures` run, so
//! that regenerating the figures is one step (`make docs-figures` runs
//! `cargo run --example docs_requote` after writing docs/figures/).
//!
//! A quoted excerpt in a page is a fenced block right after an anchor
//! naming the figures file it comes from, relative to docs/figures/:
//!
//! ````text
//! <!-- figures: en/explain-no-translation.txt -->
//! ```
//!   ▸ getpid: host 105 ns per call, container 103 ns per call
//! ```
//! ````
//!
//! Each quoted entry is found again in the new file by its *label*: the
//! text of its first line before the first digit after its first `: `, or
//! before its first digit when it has no `: ` (`  ▸ getpid: host `,
//! `  ▸ 2002, Linux 2.4.19: the mnt namespace; …`). Lessons print a figure
//! as "what: value", so the label names the figure while the measured
//! numbers after it change from run to run. A figures file of a single
//! line (RUN.txt, the run's stamp) is quoted whole. An entry is a line and, when it starts with `▸`, the more-indented
//! lines that continue it (a figure wrapped to the output width), so a
//! figure that now wraps differently is re-quoted whole. A label the new
//! run does not print, or prints twice, is an error naming it: the page
//! then needs a person, not a guess.

use std::collections::BTreeMap;

/// What stops a page from being re-quoted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequoteError {
    /// An anchor that no fenced block follows, or a block never closed.
    #[error(
        "line {line}: the anchor `<!-- figures: {file} -->` must be followed by a fenced block (```), closed by another ```"
    )]
    NoBlock {
        /// 1-based line of the anchor.
        line: usize,
        /// The figures file it names.
        file: String,
    },
    /// The figures file an anchor names could not be read.
    #[error("line {line}: cannot read the figures file {file}: {reason}; run `make docs-figures`")]
    Unreadable {
        /// 1-based line of the anchor.
        line: usize,
        /// The figures file.
        file: String,
        /// Why it could not be read.
        reason: String,
    },
    /// A quoted figure whose label the new run did not print.
    #[error(
        "line {line}: {file} has no line starting {label:?} any more; quote another line of it or drop this one"
    )]
    MissingLabel {
        /// 1-based line of the quoted entry in the page.
        line: usize,
        /// The figures file.
        file: String,
        /// The entry's label.
        label: String,
    },
    /// A quoted figure whose label the new run printed more than once.
    #[error(
        "line {line}: {file} has {count} lines starting {label:?}; quote a line whose text before its first number is unique"
    )]
    AmbiguousLabel {
        /// 1-based line of the quoted entry in the page.
        line: usize,
        /// The figures file.
        file: String,
        /// The entry's label.
        label: String,
        /// How many entries carry it.
        count: usize,
    },
}

/// The comment that names a quoted block's figures file.
const ANCHOR_OPEN: &str = "<!-- figures: ";
const ANCHOR_CLOSE: &str = " -->";
/// The line that opens and closes a fenced block.
const FENCE: &str = "```";
/// The mark of a figure line in a lesson's output; lines after it that are
/// indented further continue it.
const FIGURE_MARK: char = '▸';

/// `page` with every anchored block re-quoted from the figures files,
/// which `read` returns by their name in the anchor (or the reason it
/// cannot). Everything outside anchored blocks is kept byte for byte.
pub fn requote(
    page: &str,
    mut read: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, RequoteError> {
    let lines: Vec<&str> = page.split_inclusive('\n').collect();
    let mut out = String::with_capacity(page.len());
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        out.push_str(line);
        index += 1;
        let Some(file) = anchor(line) else {
            continue;
        };
        let anchor_line = index;
        let no_block = || RequoteError::NoBlock {
            line: anchor_line,
            file: file.to_string(),
        };
        if lines.get(index).map(|l| l.trim_end()) != Some(FENCE) {
            return Err(no_block());
        }
        out.push_str(lines[index]);
        index += 1;
        let start = index;
        let end = (start..lines.len())
            .find(|&i| lines[i].trim_end() == FENCE)
            .ok_or_else(no_block)?;
        let figures = read(file).map_err(|reason| RequoteError::Unreadable {
            line: anchor_line,
            file: file.to_string(),
            reason,
        })?;
        let quoted: Vec<&str> = lines[start..end].iter().map(|l| l.trim_end()).collect();
        let mut figure_lines = figures.lines().filter(|l| !l.trim().is_empty());
        if let (Some(stamp), None) = (figure_lines.next(), figure_lines.next()) {
            // One line: the file is the figure (RUN.txt).
            out.push_str(stamp.trim_end());
            out.push('\n');
            index = end;
            continue;
        }
        let printed = label_index(&figures);
        for (offset, entry) in entries(&quoted) {
            let label = label(entry[0]);
            let page_line = start + offset + 1;
            match printed.get(label).map(Vec::as_slice) {
                Some([one]) => {
                    for printed_line in one {
                        out.push_str(printed_line);
                        out.push('\n');
                    }
                }
                None | Some([]) => {
                    return Err(RequoteError::MissingLabel {
                        line: page_line,
                        file: file.to_string(),
                        label: label.to_string(),
                    });
                }
                Some(many) => {
                    return Err(RequoteError::AmbiguousLabel {
                        line: page_line,
                        file: file.to_string(),
                        label: label.to_string(),
                        count: many.len(),
                    });
                }
            }
        }
        index = end;
    }
    Ok(out)
}

/// The figures file an anchor line names.
fn anchor(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix(ANCHOR_OPEN)?
        .strip_suffix(ANCHOR_CLOSE)
        .map(str::trim)
}

/// The entries of `lines` (blank lines skipped), each with the offset of
/// its first line: a line, and when it is a figure (`▸`) the lines after it
/// indented further than it.
fn entries<'a>(lines: &[&'a str]) -> Vec<(usize, Vec<&'a str>)> {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut out: Vec<(usize, Vec<&'a str>)> = Vec::new();
    for (offset, &line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some((_, entry)) = out.last_mut() {
            let first = entry[0];
            if first.trim_start().starts_with(FIGURE_MARK) && indent(line) > indent(first) {
                entry.push(line);
                continue;
            }
        }
        out.push((offset, vec![line]));
    }
    out
}

/// The separator between what a figure line names and its value.
const NAME_END: &str = ": ";

/// A line's label: its text before the first digit after its first `: `,
/// or before its first digit when it has none.
fn label(line: &str) -> &str {
    let from = line.find(NAME_END).map_or(0, |at| at + NAME_END.len());
    let end = line[from..]
        .find(|c: char| c.is_ascii_digit())
        .map_or(line.len(), |at| from + at);
    &line[..end]
}

/// The entries of a figures file by label.
fn label_index(figures: &str) -> BTreeMap<&str, Vec<Vec<&str>>> {
    let lines: Vec<&str> = figures.lines().map(str::trim_end).collect();
    let mut out: BTreeMap<&str, Vec<Vec<&str>>> = BTreeMap::new();
    for (_, entry) in entries(&lines) {
        out.entry(label(entry[0])).or_default().push(entry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIGURES: &str = "$ versus explain demo\n\
        # 2026-12-02 10:00 UTC; a stamp\n\
        \n\
        On this machine, now\n  \
        ▸ getpid: host 98 ns per call, container 99 ns per call\n  \
        ▸ its cgroup, seen from the host: /versus/run-9-9-0 (pids,\n    \
        devices, memory)\n  \
        ▸ namespace pid: host pid:[1], container pid:[2] (differs)\n  \
        ▸ namespace uts: host uts:[3], container uts:[4] (differs)\n";

    fn page(block: &str) -> String {
        format!(
            "# Notes\n\nSome prose with 12 numbers.\n\n<!-- figures: en/demo.txt -->\n```\n{block}```\n\nAfter.\n"
        )
    }

    fn read_demo(name: &str) -> Result<String, String> {
        match name {
            "en/demo.txt" => Ok(FIGURES.to_string()),
            other => Err(format!("no such file {other}")),
        }
    }

    #[test]
    fn a_changed_figure_is_requoted_and_everything_else_kept() {
        let old = page(
            "  ▸ getpid: host 105 ns per call, container 103 ns per call\n  \
             ▸ its cgroup, seen from the host: /versus/run-1-1-0 (pids, devices,\n    \
             memory)\n",
        );
        let new = requote(&old, read_demo).unwrap();
        assert_eq!(
            new,
            page(
                "  ▸ getpid: host 98 ns per call, container 99 ns per call\n  \
                 ▸ its cgroup, seen from the host: /versus/run-9-9-0 (pids,\n    \
                 devices, memory)\n"
            )
        );
        // A page already up to date is left as it is.
        assert_eq!(requote(&new, read_demo).unwrap(), new);
    }

    #[test]
    fn a_label_runs_to_the_first_number_after_the_figures_name() {
        assert_eq!(label("  ▸ getpid: host 105 ns"), "  ▸ getpid: host ");
        assert_eq!(
            label("  ▸ 2002, Linux 2.4.19: the mnt namespace; here: yes"),
            "  ▸ 2002, Linux 2.4.19: the mnt namespace; here: yes"
        );
        assert_eq!(
            label("  ▸ the container's PID 1 is the host's 21752"),
            "  ▸ the container's PID "
        );
    }

    #[test]
    fn a_one_line_figures_file_is_quoted_whole() {
        let old = "<!-- figures: RUN.txt -->\n```\n2026-12-01 19:03 UTC; at c41f653\n```\n";
        let stamp = |_: &str| Ok("2026-12-02 08:15 UTC; at 0a1b2c3\n".to_string());
        assert_eq!(
            requote(old, stamp).unwrap(),
            "<!-- figures: RUN.txt -->\n```\n2026-12-02 08:15 UTC; at 0a1b2c3\n```\n"
        );
    }

    #[test]
    fn a_block_without_an_anchor_is_not_touched() {
        let plain = "```\n  ▸ getpid: host 1 ns per call\n```\n";
        assert_eq!(requote(plain, read_demo).unwrap(), plain);
    }

    #[test]
    fn a_label_the_new_run_lacks_is_an_error_naming_it() {
        let old = page("  ▸ getppid: host 105 ns per call\n");
        assert_eq!(
            requote(&old, read_demo),
            Err(RequoteError::MissingLabel {
                line: 7,
                file: "en/demo.txt".to_string(),
                label: "  ▸ getppid: host ".to_string(),
            })
        );
    }

    #[test]
    fn a_label_printed_twice_is_an_error_not_a_guess() {
        let old = page("  ▸ namespace pid: host pid:[7]\n");
        // Its label runs to the first digit, "  ▸ namespace pid: host pid:[",
        // which the namespace uts line does not share.
        assert!(requote(&old, read_demo).is_ok());
        let figures_twice = |_: &str| Ok(format!("{FIGURES}{FIGURES}"));
        assert!(matches!(
            requote(&old, figures_twice),
            Err(RequoteError::AmbiguousLabel { count: 2, .. })
        ));
    }

    #[test]
    fn an_unreadable_file_and_an_anchor_without_a_block_are_errors() {
        let other = page("x\n").replace("en/demo.txt", "ko/none.txt");
        assert!(matches!(
            requote(&other, read_demo),
            Err(RequoteError::Unreadable { line: 5, .. })
        ));
        let lone = "<!-- figures: en/demo.txt -->\nprose\n";
        assert!(matches!(
            requote(lone, read_demo),
            Err(RequoteError::NoBlock { line: 1, .. })
        ));
        let unclosed = "<!-- figures: en/demo.txt -->\n```\n  ▸ getpid: 1\n";
        assert!(matches!(
            requote(unclosed, read_demo),
            Err(RequoteError::NoBlock { line: 1, .. })
        ));
    }
}

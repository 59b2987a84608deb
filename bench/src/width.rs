//! How wide versus' output may be: the one owner of that question, and the
//! helpers that make tables and prose fit it.
//!
//! The rule, in order:
//! 1. `COLUMNS`, when it is set to a whole number: an explicit request wins,
//!    on a terminal too (`COLUMNS=80 versus compare | cat` for a projector);
//! 2. the width of the terminal on stdout;
//! 3. [`PIPED_WIDTH`] columns when stdout is a pipe or a file.
//!
//! Widths below [`MIN_WIDTH`] are raised to it: narrower than that a table
//! of numbers cannot be laid out without breaking them.
//!
//! Width is counted in display columns (Unicode width), not bytes or chars:
//! `µ` is one column, a Korean syllable two.
//!
//! A number and its unit stay on one line: [`glue`] joins them with a
//! no-break space, which comfy-table and [`wrap`] never break at, and
//! [`table`] turns it back into a plain space in the rendered text, so the
//! output reads (and greps) exactly as before.

use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width};
use unicode_width::UnicodeWidthStr;

/// Output width when stdout is not a terminal and `COLUMNS` is not set: fits
/// a laptop terminal, a pasted issue and a projector.
pub const PIPED_WIDTH: usize = 100;

/// The narrowest width versus lays its output out for.
pub const MIN_WIDTH: usize = 40;

/// comfy-table's column constraints count the padding (one space each
/// side) with the content.
const CELL_PADDING: usize = 2;

/// The joiner [`glue`] puts between a number and its unit.
const NO_BREAK_SPACE: char = '\u{a0}';

/// Units versus prints after a number (see `crate::fmt`), and the words that
/// count things in its tables.
const UNITS: [&str; 13] = [
    "ns", "µs", "ms", "s", "B", "KiB", "MiB", "GiB", "TiB", "runs", "pairs", "rounds", "calls",
];

/// The output width under the module's rule, for this process.
pub fn output_width() -> usize {
    let terminal = comfy_table::Table::new().width().map(usize::from);
    width_from(std::env::var("COLUMNS").ok().as_deref(), terminal)
}

/// The rule itself: `columns` is `$COLUMNS`, `terminal` the width of the
/// terminal on stdout (`None` when stdout is not a terminal).
pub fn width_from(columns: Option<&str>, terminal: Option<usize>) -> usize {
    let requested = columns
        .and_then(|text| text.trim().parse::<usize>().ok())
        .filter(|width| *width > 0);
    requested
        .or(terminal.filter(|width| *width > 0))
        .unwrap_or(PIPED_WIDTH)
        .max(MIN_WIDTH)
}

/// Display columns of `text` (a Korean syllable counts two).
pub fn columns(text: &str) -> usize {
    text.width()
}

/// `text` with every space between a number and its unit made unbreakable
/// (`33.8 µs`, `32.0 MiB`, `3/3 runs`).
pub fn glue(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find(' ') {
        let (before, after) = rest.split_at(position);
        let after = &after[1..];
        out.push_str(before);
        let number_before = before.chars().last().is_some_and(|c| c.is_ascii_digit());
        let next_word = after
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | ')' | ';' | ':' | '/'))
            .next()
            .unwrap_or("");
        let unit_after = UNITS.contains(&next_word);
        out.push(if number_before && unit_after {
            NO_BREAK_SPACE
        } else {
            ' '
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Renders `table` to the output width: columns shrink and text wraps at
/// spaces; a number is never split from its unit, and a column is never
/// narrower than its longest number, so numbers are never broken either.
pub fn table(table: &mut Table) -> String {
    table_to(table, output_width())
}

/// [`table`] for an explicit width.
pub fn table_to(table: &mut Table, width: usize) -> String {
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX));
    // The longest unbreakable word of each column: a number with its unit,
    // or a word of text. Numbers always keep their width; words of text do
    // when all of them fit together, and are split only when they cannot.
    let columns_count = table.column_count();
    // Columns the caller constrained keep their constraint.
    let free: Vec<bool> = (0..columns_count)
        .map(|index| {
            table
                .column(index)
                .is_some_and(|c| c.constraint().is_none())
        })
        .collect();
    let mut numbers = vec![0usize; columns_count];
    let mut words = vec![0usize; columns_count];
    for row in table.row_iter() {
        for (index, cell) in row.cell_iter().enumerate().take(columns_count) {
            for word in cell.content().split([' ', '\n']) {
                let word_width = columns(word);
                if word.starts_with(|c: char| c.is_ascii_digit()) {
                    numbers[index] = numbers[index].max(word_width);
                }
                words[index] = words[index].max(word_width);
            }
        }
    }
    // Borders and padding: one border plus two spaces of padding per column.
    let frame = 3 * columns_count + 1;
    let room = width.saturating_sub(frame);
    let natural: usize = table
        .column_max_content_widths()
        .iter()
        .map(|w| usize::from(*w))
        .sum();
    if natural <= room {
        // Nothing wraps: comfy-table's own layout keeps every cell whole (a
        // lower boundary would pin a column to it and wrap it needlessly).
        return table.to_string().replace(NO_BREAK_SPACE, " ");
    }
    let bounds = if words.iter().sum::<usize>() <= room {
        words
    } else {
        numbers
    };
    let bounds: Vec<usize> = bounds
        .into_iter()
        .zip(&free)
        .map(|(bound, free)| if *free { bound } else { 0 })
        .collect();
    for (index, bound) in bounds.iter().enumerate().filter(|(_, bound)| **bound > 0) {
        if let (Some(column), Ok(bound)) =
            (table.column_mut(index), u16::try_from(bound + CELL_PADDING))
        {
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(bound)));
        }
    }
    let mut text = table.to_string();
    // comfy-table honours a lower boundary only while it is above the
    // average column width, and may then shrink the column below it: pin
    // each such column to its boundary and lay the table out again (each
    // pass pins at least one more column, so this ends).
    for _ in 0..columns_count {
        let narrow: Vec<usize> = rendered_widths(&text)
            .into_iter()
            .enumerate()
            .filter(|(index, rendered)| bounds.get(*index).is_some_and(|b| rendered < b && *b > 0))
            .map(|(index, _)| index)
            .collect();
        if narrow.is_empty() {
            break;
        }
        for index in narrow {
            if let (Some(column), Ok(bound)) = (
                table.column_mut(index),
                u16::try_from(bounds[index] + CELL_PADDING),
            ) {
                column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(bound)));
            }
        }
        text = table.to_string();
    }
    text.replace(NO_BREAK_SPACE, " ")
}

/// The content width of each column of a rendered table, read from its top
/// border (`┌──┬───┐`: runs of the line character between corners), less
/// one space of padding on each side.
fn rendered_widths(text: &str) -> Vec<usize> {
    let Some(border) = text.lines().next() else {
        return Vec::new();
    };
    let mut chars = border.chars();
    let (Some(_corner), Some(line)) = (chars.next(), border.chars().nth(1)) else {
        return Vec::new();
    };
    border
        .split(|c: char| c != line)
        .filter(|run| !run.is_empty())
        .map(|run| run.chars().count().saturating_sub(2))
        .collect()
}

/// Greedy word wrap of `text` to lines of at most `width` display columns,
/// breaking only at plain spaces (a word longer than the line gets a line
/// of its own; a number stays with its unit: see [`glue`]).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let glued = glue(text);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0;
    let words = glued
        .split(|c: char| c.is_whitespace() && c != NO_BREAK_SPACE)
        .filter(|word| !word.is_empty());
    for word in words {
        let word_width = columns(word);
        if !line.is_empty() && line_width + 1 + word_width > width {
            lines.push(std::mem::take(&mut line));
            line_width = 0;
        }
        if !line.is_empty() {
            line.push(' ');
            line_width += 1;
        }
        line.push_str(word);
        line_width += word_width;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
        .into_iter()
        .map(|line| line.replace(NO_BREAK_SPACE, " "))
        .collect()
}

/// A paragraph wrapped to the output width: the first line starts with
/// `first`, the following ones with `rest` (a hanging indent); every line
/// ends with a newline.
pub fn paragraph(text: &str, first: &str, rest: &str) -> String {
    paragraph_to(text, first, rest, output_width())
}

/// [`paragraph`] for an explicit width.
pub fn paragraph_to(text: &str, first: &str, rest: &str, width: usize) -> String {
    let indent = columns(first).max(columns(rest));
    let mut out = String::new();
    for (index, line) in wrap(text, width.saturating_sub(indent).max(1))
        .into_iter()
        .enumerate()
    {
        out.push_str(if index == 0 { first } else { rest });
        out.push_str(&line);
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str(first.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use comfy_table::Cell;

    #[test]
    fn columns_wins_then_the_terminal_then_the_pipe_default() {
        assert_eq!(width_from(Some("80"), Some(200)), 80);
        assert_eq!(width_from(Some("80"), None), 80);
        assert_eq!(width_from(None, Some(132)), 132);
        assert_eq!(width_from(None, None), PIPED_WIDTH);
        // Not a width: ignored.
        assert_eq!(width_from(Some("wide"), Some(132)), 132);
        assert_eq!(width_from(Some("0"), None), PIPED_WIDTH);
        assert_eq!(width_from(Some(""), None), PIPED_WIDTH);
        // Too narrow for a table: raised.
        assert_eq!(width_from(Some("10"), None), MIN_WIDTH);
    }

    #[test]
    fn numbers_keep_their_units() {
        assert_eq!(glue("spawn 33.8 µs"), "spawn 33.8\u{a0}µs");
        assert_eq!(glue("1.2 ms – 3.4 ms"), "1.2\u{a0}ms – 3.4\u{a0}ms");
        assert_eq!(glue("32.0 MiB / 1 KiB"), "32.0\u{a0}MiB / 1\u{a0}KiB");
        assert_eq!(glue("3 pairs"), "3\u{a0}pairs");
        assert_eq!(glue("top 3 backends"), "top 3 backends");
        assert_eq!(glue("x s"), "x s");
    }

    #[test]
    fn korean_counts_two_columns_a_syllable() {
        assert_eq!(columns("µs"), 2);
        assert_eq!(columns("시간"), 4);
        for line in wrap(
            "가상 머신 시작 시간은 호스트보다 깁니다 그리고 더 깁니다",
            12,
        ) {
            assert!(columns(&line) <= 12, "{line:?}");
        }
    }

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_long_words_whole() {
        assert_eq!(
            wrap("aaa bbb ccc dddddddd e", 8),
            ["aaa bbb", "ccc", "dddddddd", "e"]
        );
        assert!(wrap("", 8).is_empty());
    }

    #[test]
    fn wrap_never_splits_a_number_from_its_unit() {
        let lines = wrap("the median is 33.8 µs here", 16);
        assert_eq!(lines, ["the median is", "33.8 µs here"]);
        assert_eq!(wrap("median 33.8 µs", 12), ["median", "33.8 µs"]);
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert!(wrap("", 8).is_empty());
    }

    #[test]
    fn paragraphs_hang_under_their_bullet() {
        let text = paragraph_to("one two three four five", "  • ", "    ", 14);
        assert_eq!(text, "  • one two\n    three four\n    five\n");
    }

    #[test]
    fn tables_fit_the_width_and_keep_numbers_whole() {
        let mut t = Table::new();
        t.set_header(vec!["phase", "median"]);
        for name in ["mounts+pivot_root and a long description of it", "spawn"] {
            t.add_row(vec![
                Cell::new(name),
                Cell::new(glue("prepare 33.8 µs, boot 1.23 ms")),
            ]);
        }
        let text = table_to(&mut t, 40);
        for line in text.lines() {
            assert!(columns(line) <= 40, "{line:?} in\n{text}");
        }
        assert!(text.contains("33.8 µs"), "{text}");
        assert!(text.contains("1.23 ms"), "{text}");
        assert!(!text.contains('\u{a0}'));
    }
}

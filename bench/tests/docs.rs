//! The docs' diagrams and the popular-notes page, checked against the
//! repository and the real `versus` binary: every diagram a page embeds
//! exists, in both languages, and is well-formed SVG whose labels are
//! text; every `versus` command the popular-notes page quotes names a
//! subcommand and a lesson that exist; every figure it quotes is from the
//! `make docs-figures` run it names.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The languages the docs are written in, each a directory of docs/.
const LANGUAGES: [&str; 2] = ["en", "ko"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is inside the workspace")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every Markdown page of the docs, with README.md.
fn markdown_pages() -> Vec<PathBuf> {
    let mut pages = vec![workspace().join("README.md")];
    let mut directories = vec![workspace().join("docs")];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(&directory).expect("docs/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                directories.push(path);
            } else if path.extension().is_some_and(|extension| extension == "md") {
                pages.push(path);
            }
        }
    }
    pages
}

/// The targets of the Markdown links and images on `page` that end in
/// `.svg`, resolved against the page's directory.
fn svg_links(page: &Path) -> Vec<PathBuf> {
    let text = read(page);
    let directory = page.parent().expect("a page is in a directory");
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|target| target.ends_with(".svg") && !target.contains("://"))
        .map(|target| directory.join(target))
        .collect()
}

/// Checks that `svg` is well-formed XML with a single `<svg>` root (in
/// the SVG namespace), and returns the content of each `<text>` element.
/// Small on purpose: the diagrams are hand-written and use no DTD, CDATA
/// or namespaces other than SVG's, so anything else is refused.
fn svg_texts(svg: &str) -> Result<Vec<String>, String> {
    let mut open: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut root_seen = false;
    let mut rest = svg.trim_start();
    if let Some(declaration) = rest.strip_prefix("<?xml") {
        let end = declaration.find("?>").ok_or("unclosed <?xml declaration")?;
        rest = declaration[end + 2..].trim_start();
    }
    while !rest.is_empty() {
        let next_tag = rest.find('<').unwrap_or(rest.len());
        let characters = &rest[..next_tag];
        check_entities(characters)?;
        if open.is_empty() && !characters.trim().is_empty() {
            return Err(format!("text outside the root element: {characters:?}"));
        }
        if open.iter().any(|name| name == "text") {
            texts
                .last_mut()
                .expect("a text element was opened")
                .push_str(characters);
        }
        rest = &rest[next_tag..];
        if rest.is_empty() {
            break;
        }
        if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment.find("-->").ok_or("unclosed comment")?;
            if comment[..end].contains("--") {
                return Err("\"--\" inside a comment".into());
            }
            rest = &comment[end + 3..];
            continue;
        }
        let end = rest.find('>').ok_or("unclosed tag at the end")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim_end();
            match open.pop() {
                Some(opened) if opened == name => {}
                Some(opened) => return Err(format!("</{name}> closes <{opened}>")),
                None => return Err(format!("</{name}> closes nothing")),
            }
            continue;
        }
        let (tag, self_closing) = match tag.strip_suffix('/') {
            Some(tag) => (tag, true),
            None => (tag, false),
        };
        let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        let name = &tag[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:".contains(c))
        {
            return Err(format!("not an element name: <{tag}>"));
        }
        let attributes = check_attributes(&tag[name_end..])?;
        if open.is_empty() {
            if root_seen {
                return Err(format!("a second root element <{name}>"));
            }
            if name != "svg" {
                return Err(format!("the root is <{name}>, not <svg>"));
            }
            if !attributes.contains(&("xmlns", "http://www.w3.org/2000/svg")) {
                return Err("the <svg> root lacks xmlns=\"http://www.w3.org/2000/svg\"".into());
            }
            root_seen = true;
        }
        if name == "text" {
            texts.push(String::new());
        }
        if !self_closing {
            open.push(name.to_string());
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(format!("<{unclosed}> is never closed"));
    }
    if !root_seen {
        return Err("no <svg> element".into());
    }
    Ok(texts)
}

/// The `name="value"` pairs of a start tag (after its name); each value
/// quoted, free of `<`, with valid entities, and no name twice.
fn check_attributes(mut attributes: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    loop {
        attributes = attributes.trim_start();
        if attributes.is_empty() {
            return Ok(pairs);
        }
        let equals = attributes
            .find('=')
            .ok_or_else(|| format!("an attribute without a value: {attributes:?}"))?;
        let name = attributes[..equals].trim_end();
        let value_and_rest = &attributes[equals + 1..].trim_start();
        let quote = value_and_rest
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| format!("the value of {name} is not quoted"))?;
        let value_end = value_and_rest[1..]
            .find(quote)
            .ok_or_else(|| format!("the value of {name} is never closed"))?;
        let value = &value_and_rest[1..1 + value_end];
        if value.contains('<') {
            return Err(format!("\"<\" in the value of {name}"));
        }
        check_entities(value)?;
        if pairs.iter().any(|(seen, _)| *seen == name) {
            return Err(format!("attribute {name} given twice"));
        }
        pairs.push((name, value));
        attributes = &value_and_rest[1 + value_end + 1..];
        if !attributes.is_empty() && !attributes.starts_with(char::is_whitespace) {
            return Err(format!("no space before {attributes:?}"));
        }
    }
}

/// Every `&` in character data starts one of XML's five entities or a
/// character reference.
fn check_entities(characters: &str) -> Result<(), String> {
    for (at, _) in characters.match_indices('&') {
        let reference = &characters[at + 1..];
        let end = reference
            .find(';')
            .ok_or_else(|| format!("a bare & in {characters:?}"))?;
        let name = &reference[..end];
        let known = ["lt", "gt", "amp", "quot", "apos"].contains(&name)
            || name
                .strip_prefix("#x")
                .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
            || name.strip_prefix('#').is_some_and(|digits| {
                !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
            });
        if !known {
            return Err(format!("unknown entity &{name}; in {characters:?}"));
        }
    }
    Ok(())
}

#[test]
fn the_svg_check_refuses_what_a_renderer_refuses() {
    let good = r#"<svg xmlns="http://www.w3.org/2000/svg"><!-- a note --><text x="1">a &lt;b&gt;</text><rect x="0"/></svg>"#;
    assert_eq!(svg_texts(good), Ok(vec!["a &lt;b&gt;".to_string()]));
    for bad in [
        // A label with an unescaped <id> opens an element that never closes.
        r#"<svg xmlns="http://www.w3.org/2000/svg"><text>versus/<id></text></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"><text>a & b</text></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"><g></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"><rect x=0/></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"><rect x="0" x="1"/></svg>"#,
        r#"<svg><text>no namespace</text></svg>"#,
        r#"<html xmlns="http://www.w3.org/2000/svg"></html>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"></svg><svg xmlns="http://www.w3.org/2000/svg"></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"><!-- unclosed </svg>"#,
    ] {
        assert!(svg_texts(bad).is_err(), "accepted: {bad}");
    }
}

#[test]
fn every_diagram_the_docs_embed_exists_and_is_well_formed_svg_with_text_labels() {
    let mut embedded = BTreeSet::new();
    for page in markdown_pages() {
        for diagram in svg_links(&page) {
            assert!(
                diagram.is_file(),
                "{} embeds {}, which does not exist",
                page.display(),
                diagram.display()
            );
            embedded.insert(diagram.canonicalize().expect("an existing file"));
        }
    }
    for language in LANGUAGES {
        let directory = workspace().join("docs/diagrams").join(language);
        let diagrams: Vec<PathBuf> = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        assert!(
            diagrams.len() >= 3,
            "{}: fewer than the three diagrams",
            directory.display()
        );
        for diagram in diagrams {
            let texts = svg_texts(&read(&diagram))
                .unwrap_or_else(|problem| panic!("{}: {problem}", diagram.display()));
            assert!(!texts.is_empty(), "{}: no <text> labels", diagram.display());
            for text in &texts {
                assert!(
                    !text.trim().is_empty(),
                    "{}: an empty <text>",
                    diagram.display()
                );
            }
            assert!(
                embedded.contains(&diagram.canonicalize().expect("an existing file")),
                "{} is embedded from no page",
                diagram.display()
            );
            // Each language draws the same picture: a diagram missing in
            // one language, or with labels left out, would drift.
            for other in LANGUAGES {
                let twin = workspace()
                    .join("docs/diagrams")
                    .join(other)
                    .join(diagram.file_name().expect("a file name"));
                let twin_texts = svg_texts(&read(&twin))
                    .unwrap_or_else(|problem| panic!("{}: {problem}", twin.display()));
                assert_eq!(
                    texts.len(),
                    twin_texts.len(),
                    "{} and {} have different numbers of labels",
                    diagram.display(),
                    twin.display()
                );
            }
        }
    }
}

fn versus_stdout(args: &[&str]) -> String {
    let output = Command::cargo_bin("versus")
        .expect("the versus binary is built")
        .args(args)
        .env("COLUMNS", "200")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .output()
        .expect("versus runs");
    assert!(output.status.success(), "versus {args:?} failed");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The first word of each indented entry line of a listing: a line with
/// exactly two spaces of indent (wrapped descriptions are indented more).
fn listed_names(listing: &str) -> BTreeSet<String> {
    listing
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .filter(|entry| !entry.starts_with(' '))
        .filter_map(|entry| entry.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Every `versus …` command the page quotes in an inline code span.
fn quoted_commands(page: &str) -> Vec<String> {
    page.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("versus "))
        .map(str::to_string)
        .collect()
}

fn popular_notes(language: &str) -> String {
    read(
        &workspace()
            .join("docs")
            .join(language)
            .join("popular-notes.md"),
    )
}

#[test]
fn every_versus_command_the_popular_notes_quote_names_a_real_subcommand_and_lesson() {
    let help = versus_stdout(&["--help"]);
    let commands_section = help
        .split("Commands:")
        .nth(1)
        .and_then(|after| after.split("\n\n").next())
        .expect("a Commands: section in versus --help");
    let subcommands = listed_names(commands_section);
    let lessons = listed_names(&versus_stdout(&["explain"]));
    assert!(
        lessons.contains("two-stacks"),
        "lessons parsed: {lessons:?}"
    );
    for language in LANGUAGES {
        let page = popular_notes(language);
        let commands = quoted_commands(&page);
        assert!(!commands.is_empty(), "{language}: no versus command quoted");
        for command in commands {
            let words: Vec<&str> = command.split_whitespace().collect();
            assert!(
                subcommands.contains(words[1]),
                "{language}: `{command}` names no subcommand of versus ({subcommands:?})"
            );
            if words[1] == "explain" {
                let topic = words.get(2).expect("explain with a topic");
                assert!(
                    lessons.contains(*topic),
                    "{language}: `{command}` names no lesson ({lessons:?})"
                );
            }
        }
    }
}

/// The claims of a popular-notes page: each `## ` section with the
/// lessons it quotes and the lines of its fenced blocks.
struct Claim {
    heading: String,
    lessons: BTreeSet<String>,
    quoted_lines: Vec<String>,
    /// How many fenced blocks the section has.
    blocks: usize,
    /// The figures files its `<!-- figures: FILE -->` anchors name, one
    /// per anchored block (`make docs-figures` re-quotes those blocks).
    anchors: Vec<String>,
}

fn claims(page: &str) -> Vec<Claim> {
    page.split("\n## ")
        .skip(1)
        .map(|section| {
            let heading = section.lines().next().unwrap_or_default().to_string();
            let lessons = quoted_commands(section)
                .iter()
                .filter_map(|command| command.strip_prefix("versus explain "))
                .map(str::to_string)
                .collect();
            let quoted_lines = section
                .split("```")
                .skip(1)
                .step_by(2)
                .flat_map(|block| block.lines().filter(|line| !line.trim().is_empty()))
                .map(str::to_string)
                .collect();
            let blocks = section.split("```").count() / 2;
            let anchors = section
                .lines()
                .filter_map(|line| line.strip_prefix("<!-- figures: "))
                .filter_map(|rest| rest.strip_suffix(" -->"))
                .map(str::to_string)
                .collect();
            Claim {
                heading,
                lessons,
                quoted_lines,
                blocks,
                anchors,
            }
        })
        .collect()
}

#[test]
fn each_popular_claim_names_one_lesson_and_quotes_its_figures_from_the_docs_figures_run() {
    let run = read(&workspace().join("docs/figures/RUN.txt"));
    // "2026-12-01 19:03 UTC; Linux …; KVM backend: …; target/… at COMMIT"
    let when = run.split(';').next().expect("a stamp").trim().to_string();
    let commit = run
        .split_whitespace()
        .last()
        .expect("the stamp ends with the commit")
        .to_string();
    for language in LANGUAGES {
        let page = popular_notes(language);
        assert!(
            page.contains(&when) && page.contains(&commit),
            "{language}: the page does not name the run of docs/figures/RUN.txt ({when}, {commit})"
        );
        let claims = claims(&page);
        assert!(
            claims.len() >= 10,
            "{language}: only {} claims",
            claims.len()
        );
        for claim in claims {
            assert_eq!(
                claim.lessons.len(),
                1,
                "{language}: \"{}\" should name exactly one lesson, names {:?}",
                claim.heading,
                claim.lessons
            );
            let lesson = claim.lessons.first().expect("one lesson");
            // Every quote is anchored to its lesson's file, or `make
            // docs-figures` would leave it behind when it re-quotes.
            assert_eq!(
                claim.anchors,
                vec![format!("{language}/explain-{lesson}.txt"); claim.blocks],
                "{language}: \"{}\": each fenced block needs the line <!-- figures: {language}/explain-{lesson}.txt --> right before it",
                claim.heading
            );
            let figures_path = workspace()
                .join("docs/figures")
                .join(language)
                .join(format!("explain-{lesson}.txt"));
            let figures = read(&figures_path);
            assert!(
                !claim.quoted_lines.is_empty(),
                "{language}: \"{}\" quotes no figure",
                claim.heading
            );
            for line in &claim.quoted_lines {
                assert!(
                    figures.lines().any(|printed| printed == line),
                    "{language}: \"{}\" quotes a line {} did not print:\n{line}",
                    claim.heading,
                    figures_path.display()
                );
            }
        }
    }
}

/// The English phrases in the Korean outputs of a `make docs-figures` run
/// (`versus compare --lang ko` and every lesson), by file, leaving out each
/// file's command and stamp lines.
fn english_in_korean_figures(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let text = read(&path);
        let output: String = text
            .lines()
            .filter(|line| !line.starts_with("$ ") && !line.starts_with("# "))
            .map(|line| format!("{line}\n"))
            .collect();
        for line in common::english_lines(&output) {
            found.push(format!("{}: {line}", path.display()));
        }
    }
    found
}

#[test]
fn the_korean_figures_say_every_sentence_in_korean() {
    let english = english_in_korean_figures(&workspace().join("docs/figures/ko"));
    assert!(
        english.is_empty(),
        "English in the Korean output of the docs figures run (docs/figures/RUN.txt):\n{}",
        english.join("\n")
    );
    // The English figures are found by the same check.
    assert!(!english_in_korean_figures(&workspace().join("docs/figures/en")).is_empty());
}

/// The anchor GitHub gives a heading: lower case, spaces as `-`, and
/// nothing but letters, digits, `-` and `_` kept.
fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_claim_the_popular_notes_table_links_to_is_a_heading_of_the_page() {
    for language in LANGUAGES {
        let page = popular_notes(language);
        let anchors: BTreeSet<String> = page
            .lines()
            .filter_map(|line| line.strip_prefix("## "))
            .map(heading_anchor)
            .collect();
        let links: Vec<&str> = page
            .split("](#")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .collect();
        assert_eq!(
            links.len(),
            anchors.len(),
            "{language}: the table should link each claim once"
        );
        for link in links {
            assert!(
                anchors.contains(link),
                "{language}: the table links to #{link}, which no heading makes ({anchors:?})"
            );
        }
    }
}

/// The structure a docs page shares with its translation, which the
/// words of each language do not change.
#[derive(Debug, Default, PartialEq, Eq)]
struct Skeleton {
    /// Headings per level: `[#, ##, ###, ####…]`.
    headings: Vec<usize>,
    /// The commands the page's fenced blocks show (lines that, after an
    /// optional `$ `, start with one of [`COMMAND_WORDS`]), in order.
    commands: Vec<String>,
    /// The numbers of each table, sorted (a translation may order a
    /// row's words differently), one entry per table.
    table_numbers: Vec<Vec<String>>,
}

/// The first word of a command a reader types.
const COMMAND_WORDS: [&str; 4] = ["versus ", "sudo ", "make ", "cargo "];

/// The numbers in `text`: runs of digits with the `.`/`,` between them.
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let continues = matches!(c, '.' | ',')
            && !current.is_empty()
            && chars.peek().is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() || continues {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Units a measured figure in a table carries (`초` is Korean for `s`, and
/// is written against its number: `2초`).
const UNITS: [&str; 12] = [
    "ns", "µs", "ms", "s", "B", "KiB", "MiB", "GiB", "%", "×", "cycles", "초",
];

/// The figures of a table cell: every number of a cell that holds only
/// numbers (`9, 10, 11, 12`, `1.00×`), else the numbers followed by a
/// unit (`about 1–3 ms` → `3`). Numbers inside prose ("region 0", "two
/// vCPUs" written as "vCPU 2개") are words a translation may spell
/// differently.
fn figures_of_cell(cell: &str) -> Vec<String> {
    let cell = cell.replace('`', "");
    let cell = cell.trim();
    let numeric = cell
        .chars()
        .all(|c| c.is_ascii_hexdigit() || " .,:;–-~≈×x%/()+".contains(c));
    if numeric {
        return numbers(cell);
    }
    let mut out = Vec::new();
    for number in numbers(cell) {
        let Some(at) = cell.find(&number) else {
            continue;
        };
        let after = cell[at + number.len()..].trim_start();
        // The unit, then anything but more of a Latin word (a Korean
        // particle may follow it: `4 KiB당`).
        let has_unit = UNITS.iter().any(|unit| {
            after
                .strip_prefix(unit)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric()))
        });
        if has_unit {
            out.push(number);
        }
    }
    out
}

fn skeleton(page: &str) -> Skeleton {
    let mut out = Skeleton::default();
    let mut in_fence = false;
    let mut in_table = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            let command = line.trim_start();
            let command = command.strip_prefix("$ ").unwrap_or(command);
            if COMMAND_WORDS.iter().any(|word| command.starts_with(word)) {
                // A trailing `# comment` is prose, translated with the page.
                let command = command.split(" # ").next().unwrap_or(command);
                out.commands.push(command.trim_end().to_string());
            }
            continue;
        }
        let level = line.chars().take_while(|&c| c == '#').count();
        if level > 0 && line[level..].starts_with(' ') {
            if out.headings.len() < level {
                out.headings.resize(level, 0);
            }
            out.headings[level - 1] += 1;
        }
        // A row starts the line: an indented `|` continues a list item.
        let is_row = line.starts_with('|');
        if is_row && !in_table {
            out.table_numbers.push(Vec::new());
        }
        if is_row && let Some(table) = out.table_numbers.last_mut() {
            table.extend(line.split('|').flat_map(figures_of_cell));
        }
        in_table = is_row;
    }
    for table in &mut out.table_numbers {
        table.sort();
    }
    out
}

/// The first way two skeletons differ, said so that the fix is plain.
fn first_difference(en: &Skeleton, ko: &Skeleton) -> Option<String> {
    if en.headings != ko.headings {
        return Some(format!(
            "headings per level (#, ##, ###…): en {:?}, ko {:?}",
            en.headings, ko.headings
        ));
    }
    for index in 0..en.commands.len().max(ko.commands.len()) {
        let (a, b) = (en.commands.get(index), ko.commands.get(index));
        if a != b {
            return Some(format!("fenced command {}: en {a:?}, ko {b:?}", index + 1));
        }
    }
    if en.table_numbers.len() != ko.table_numbers.len() {
        return Some(format!(
            "tables: en {}, ko {}",
            en.table_numbers.len(),
            ko.table_numbers.len()
        ));
    }
    for (index, (a, b)) in en.table_numbers.iter().zip(&ko.table_numbers).enumerate() {
        if a != b {
            let only = |these: &[String], those: &[String]| {
                let mut rest = those.to_vec();
                these
                    .iter()
                    .filter(|n| match rest.iter().position(|m| m == *n) {
                        Some(at) => {
                            rest.remove(at);
                            false
                        }
                        None => true,
                    })
                    .cloned()
                    .collect::<Vec<_>>()
            };
            return Some(format!(
                "numbers of table {}: only in en {:?}, only in ko {:?}",
                index + 1,
                only(a, b),
                only(b, a)
            ));
        }
    }
    None
}

#[test]
fn the_drift_check_names_the_first_difference() {
    let en = "# A\n\n## B\n\n```\n$ versus host run -- uname\n```\n\n| a | 1.5 |\n|---|---|\n";
    assert_eq!(first_difference(&skeleton(en), &skeleton(en)), None);
    let extra_heading = format!("{en}\n## C\n");
    assert!(
        first_difference(&skeleton(en), &skeleton(&extra_heading))
            .is_some_and(|d| d.starts_with("headings per level")),
    );
    let other_command = en.replace("uname", "ids");
    assert!(
        first_difference(&skeleton(en), &skeleton(&other_command))
            .is_some_and(|d| d.contains("fenced command 1")),
    );
    let other_number = en.replace("1.5", "1.6");
    assert!(
        first_difference(&skeleton(en), &skeleton(&other_number))
            .is_some_and(|d| d.contains("numbers of table 1")),
    );
    assert_eq!(
        numbers("31 instructions, 1,000 calls, v2."),
        ["31", "1,000", "2"]
    );
}

#[test]
fn every_english_page_and_its_korean_twin_have_the_same_structure() {
    let mut drifts = Vec::new();
    for entry in std::fs::read_dir(workspace().join("docs/en")).expect("docs/en") {
        let english = entry.expect("a docs/en entry").path();
        if english.extension().is_none_or(|ext| ext != "md") {
            continue;
        }
        let korean = workspace()
            .join("docs/ko")
            .join(english.file_name().expect("a file name"));
        if !korean.is_file() {
            continue;
        }
        if let Some(difference) =
            first_difference(&skeleton(&read(&english)), &skeleton(&read(&korean)))
        {
            drifts.push(format!(
                "{} vs docs/ko: {difference}",
                english
                    .strip_prefix(workspace())
                    .unwrap_or(&english)
                    .display()
            ));
        }
    }
    assert!(drifts.is_empty(), "{}", drifts.join("\n"));
}

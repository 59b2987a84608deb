//! The console's protocol lines.
//!
//! A protocol line is a prefix and space-separated `key=value` fields:
//!
//! * `@versus start task=<name> pid=<n> mono_ns=<n>` — the workload's start
//!   marker; `@versus task=<name> …` — a task's result;
//! * `@kernel <what> cpu=<n> …` — the guest kernel's own lines.
//!
//! A key is lowercase letters, digits and `_`. A value is bare when it is
//! non-empty and made only of printable ASCII other than space, `"`, `\` and
//! `=`; otherwise it is double-quoted with `\"`, `\\` and `\xNN` escapes.
//!
//! Writing: [`Writer`] holds the steps every writer shares (prefixes, ` key=`,
//! quoting); the workload and the kernel supply the byte sink (a stack
//! buffer, a per-CPU buffer). Reading: [`Fields`] tokenizes a line's fields
//! without allocating; the host builds its typed records on top.

/// The start of every workload line.
pub const VERSUS_PREFIX: &str = "@versus ";
/// The start of every guest-kernel line.
pub const KERNEL_PREFIX: &str = "@kernel ";
/// Both prefixes, for telling protocol lines from ordinary output.
pub const PREFIXES: [&str; 2] = [VERSUS_PREFIX, KERNEL_PREFIX];

/// The start of a result line, up to the task's name: [`VERSUS_PREFIX`] and
/// `task=` (whole, so that a writer appends it in one step).
pub const RESULT_START: &str = "@versus task=";
/// The start of the start marker, up to the task's name: [`VERSUS_PREFIX`],
/// `start` and `task=`.
pub const MARKER_START: &str = "@versus start task=";
/// The word after [`VERSUS_PREFIX`] that makes a line the start marker.
pub const START: &str = "start ";

/// Field names both sides spell the same way.
pub mod key {
    /// The task a `@versus` line is about.
    pub const TASK: &str = "task";
    /// A failed task's errno name.
    pub const ERROR: &str = "error";
    /// The start marker's process id.
    pub const PID: &str = "pid";
    /// The start marker's CLOCK_MONOTONIC reading.
    pub const MONO_NS: &str = "mono_ns";
    /// The CPU a `@kernel` line comes from.
    pub const CPU: &str = "cpu";
    /// An `@kernel error` line's reason word.
    pub const REASON: &str = "reason";
}

/// Kernel line kinds (`@kernel <what>`) the host reads.
pub mod kernel {
    /// Why the kernel could not start a workload.
    pub const ERROR: &str = "error";
    /// The exit probe's result.
    pub const EXIT_PROBE: &str = "exitprobe";
}

/// Whether `value` may be written without quotes.
pub fn is_bare(value: &[u8]) -> bool {
    !value.is_empty()
        && value
            .iter()
            .all(|&byte| matches!(byte, b'!'..=b'~') && !matches!(byte, b'"' | b'\\' | b'='))
}

/// Lowercase hex digits, for `\xNN` escapes.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A line writer: the caller supplies [`Writer::byte`] (where the bytes go,
/// and what happens when the line is full); the grammar's steps are shared.
/// Integer-only, no `core::fmt`: the kernel runs it in ring 0.
pub trait Writer {
    /// Appends one byte.
    fn byte(&mut self, byte: u8);

    /// Appends raw text.
    fn text(&mut self, text: &str) {
        for &byte in text.as_bytes() {
            self.byte(byte);
        }
    }

    /// ` key=` — the start of every field.
    fn key(&mut self, key: &str) {
        self.byte(b' ');
        self.text(key);
        self.byte(b'=');
    }

    /// `@versus task=<task>`: the start of a result line.
    fn versus_result(&mut self, task: &str) {
        self.text(RESULT_START);
        self.text(task);
    }

    /// `@versus start task=<task>`: the start of the start marker.
    fn versus_start(&mut self, task: &str) {
        self.text(MARKER_START);
        self.text(task);
    }

    /// `@kernel <what>`: the start of a kernel line (its `cpu=` follows).
    fn kernel_start(&mut self, what: &str) {
        self.text(KERNEL_PREFIX);
        self.text(what);
    }

    /// A value, bare when [`is_bare`] allows, else quoted and escaped.
    /// Out of line: inlined into each caller it would only add size.
    #[inline(never)]
    fn value(&mut self, value: &[u8]) {
        if is_bare(value) {
            for &byte in value {
                self.byte(byte);
            }
            return;
        }
        self.byte(b'"');
        for &byte in value {
            match byte {
                b'"' | b'\\' => {
                    self.byte(b'\\');
                    self.byte(byte);
                }
                b' '..=b'~' => self.byte(byte),
                _ => {
                    self.text("\\x");
                    self.byte(HEX[usize::from(byte >> 4)]);
                    self.byte(HEX[usize::from(byte & 0xf)]);
                }
            }
        }
        self.byte(b'"');
    }
}

/// A `@kernel` line split into its kind and its fields; `None` if `line`
/// (newline and trailing blanks allowed) is not a kernel line.
pub fn kernel_line(line: &str) -> Option<(&str, Fields<'_>)> {
    let body = line.trim_end().strip_prefix(KERNEL_PREFIX)?;
    let (what, fields) = body.split_once(' ').unwrap_or((body, ""));
    Some((what, Fields::new(fields)))
}

/// One field as written: `raw` is the value without its quotes and with its
/// escapes still in (see [`Field::unescaped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The key.
    pub key: &'a str,
    /// The value's text between the quotes, or the bare value.
    pub raw: &'a str,
    /// Whether the value was quoted.
    pub quoted: bool,
}

impl<'a> Field<'a> {
    /// The value's bytes with escapes resolved (checked by the tokenizer).
    pub fn unescaped(&self) -> Unescape<'a> {
        Unescape {
            rest: self.raw.as_bytes(),
            quoted: self.quoted,
        }
    }
}

/// The bytes of a value, escapes resolved ([`Field::unescaped`]).
#[derive(Debug, Clone)]
pub struct Unescape<'a> {
    rest: &'a [u8],
    quoted: bool,
}

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        if !self.quoted || first != b'\\' {
            self.rest = rest;
            return Some(first);
        }
        match rest {
            [b'x', hi, lo, tail @ ..] => {
                self.rest = tail;
                Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?)
            }
            [escaped, tail @ ..] => {
                self.rest = tail;
                Some(*escaped)
            }
            [] => None,
        }
    }
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Why a line's fields do not follow the grammar. Borrows from the line, so
/// that the host can name the offending text without the tokenizer
/// allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError<'a> {
    /// A field without `=`; the rest of the line.
    NoEquals(&'a str),
    /// A key with characters other than lowercase letters, digits and `_`.
    BadKey(&'a str),
    /// `key=` followed by nothing.
    EmptyValue(&'a str),
    /// A bare value holding `"`, `\` or `=`: the key and the character.
    BareSpecial(&'a str, char),
    /// A quoted value without its closing quote.
    Unterminated,
    /// `\x` not followed by two hex digits.
    BadHexEscape,
    /// `\` followed by something other than `"`, `\` or `x`.
    BadEscape,
    /// Two spaces between fields, or a space at the end.
    BadSeparator,
    /// Text right after a quoted value: the key and that text.
    Junk(&'a str, &'a str),
}

/// The `key=value` fields of a line body (prefix removed), one at a time.
/// After an error the iterator ends.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Fields<'a> {
    /// Tokenizes `body`: everything after the prefix (and the start marker's
    /// or kernel line's kind).
    pub fn new(body: &'a str) -> Self {
        Self { rest: body }
    }

    /// The value of the first well-formed field named `key`, as written.
    pub fn find(self, key: &str) -> Option<&'a str> {
        self.map_while(Result::ok)
            .find(|field| field.key == key)
            .map(|field| field.raw)
    }

    fn lex_one(&mut self) -> Result<Field<'a>, LexError<'a>> {
        let rest = self.rest;
        let (key, after_key) = rest.split_once('=').ok_or(LexError::NoEquals(rest))?;
        let key_ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(LexError::BadKey(key));
        }
        let (field, after_value) = if let Some(quoted) = after_key.strip_prefix('"') {
            let end = closing_quote(quoted)?;
            let field = Field {
                key,
                raw: &quoted[..end],
                quoted: true,
            };
            (field, &quoted[end + 1..])
        } else {
            let end = after_key.find(' ').unwrap_or(after_key.len());
            let value = &after_key[..end];
            if value.is_empty() {
                return Err(LexError::EmptyValue(key));
            }
            if let Some(bad) = value.chars().find(|c| matches!(c, '"' | '\\' | '=')) {
                return Err(LexError::BareSpecial(key, bad));
            }
            let field = Field {
                key,
                raw: value,
                quoted: false,
            };
            (field, &after_key[end..])
        };
        self.rest = match after_value.strip_prefix(' ') {
            Some(next) if next.is_empty() || next.starts_with(' ') => {
                return Err(LexError::BadSeparator);
            }
            Some(next) => next,
            None if after_value.is_empty() => after_value,
            None => return Err(LexError::Junk(key, after_value)),
        };
        Ok(field)
    }
}

/// The index of the closing quote in `text` (which starts after the opening
/// one), checking every escape on the way.
fn closing_quote(text: &str) -> Result<usize, LexError<'_>> {
    let raw = text.as_bytes();
    let mut index = 0;
    while index < raw.len() {
        match raw[index] {
            b'"' => return Ok(index),
            b'\\' => {
                match raw.get(index + 1) {
                    Some(b'"' | b'\\') => {}
                    Some(b'x') => {
                        let hex = raw
                            .get(index + 2..index + 4)
                            .ok_or(LexError::BadHexEscape)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(LexError::BadHexEscape);
                        }
                        index += 2;
                    }
                    _ => return Err(LexError::BadEscape),
                }
                index += 2;
            }
            _ => index += 1,
        }
    }
    Err(LexError::Unterminated)
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, LexError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.lex_one();
        if item.is_err() {
            self.rest = "";
        }
        Some(item)
    }
}

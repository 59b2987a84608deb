//! Output lines. A line is assembled in a buffer and written with exactly
//! one `write(2)`: lines from several processes never interleave, and in a
//! VM every write is an observable event, so one line must be one event.
//!
//! Result-line grammar (`versus_protocol::line`, which the host parses
//! with): `@versus task=<name>` followed by ` key=value` fields. A value is
//! bare when it is non-empty and made only of printable ASCII other than
//! space, `"`, `\` and `=`; otherwise it is double-quoted with `\"`, `\\`
//! and `\xNN` escapes. The prefix, ` key=` and the quoting are the
//! protocol crate's [`Writer`] steps; this module adds numbers and errnos.

use core::num::NonZeroU64;

use versus_protocol::line::Writer;

use crate::sys::{self, Errno, SysResult};

pub const STDOUT: i32 = 1;
pub const STDERR: i32 = 2;

/// Room for the longest line the workload writes (`uname` with five fully
/// escaped 64-byte fields is about 1.4 KB). Text beyond it is dropped, so a
/// line is cut rather than split into two writes.
const CAPACITY: usize = 2048;

/// How much of a user-supplied argument an error message echoes.
const MAX_ECHO: usize = 64;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Formatting code is kept out of line (`#[inline(never)]`): inlined into
/// every call site it would multiply the binary's size for no gain.
pub struct Line {
    buf: [u8; CAPACITY],
    len: usize,
}

impl Line {
    pub const fn new() -> Self {
        Self {
            buf: [0; CAPACITY],
            len: 0,
        }
    }

    /// Starts a result line: `@versus task=<task>`.
    #[inline(never)]
    pub fn result(task: &str) -> Self {
        let mut line = Self::new();
        line.versus_result(task);
        line
    }

    /// Starts the start marker: `@versus start task=<task>`.
    #[inline(never)]
    pub fn start(task: &str) -> Self {
        let mut line = Self::new();
        line.versus_start(task);
        line
    }

    pub fn byte(&mut self, byte: u8) -> &mut Self {
        // The last slot is kept for the newline `emit` appends.
        if self.len < CAPACITY - 1 {
            self.buf[self.len] = byte;
            self.len += 1;
        }
        self
    }

    #[inline(never)]
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &byte in bytes {
            self.byte(byte);
        }
        self
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// Unsigned decimal, most significant digit first.
    #[inline(never)]
    pub fn dec(&mut self, value: u64) -> &mut Self {
        // Start at the largest power of ten not above the value; no digit
        // buffer, and a loop the optimiser has no reason to unroll 20 times.
        // NonZeroU64 lets the divisions go without a divide-by-zero check.
        let mut divisor: u64 = 1;
        while divisor <= value / 10 {
            divisor *= 10;
        }
        while let Some(step) = NonZeroU64::new(divisor) {
            self.byte(b'0' + (value / step % 10) as u8);
            divisor = step.get() / 10;
        }
        self
    }

    fn hex_byte(&mut self, byte: u8) -> &mut Self {
        self.byte(HEX[usize::from(byte >> 4)])
            .byte(HEX[usize::from(byte & 0xf)])
    }

    /// Sixteen lowercase hex digits.
    #[inline(never)]
    pub fn hex64(&mut self, value: u64) -> &mut Self {
        for byte in value.to_be_bytes() {
            self.hex_byte(byte);
        }
        self
    }

    /// `total / count` with exactly two decimals, rounded down, in integer
    /// arithmetic (the workload uses no floating point). `0.00` if count is 0.
    #[inline(never)]
    pub fn per_op(&mut self, total: u64, count: u64) -> &mut Self {
        // u128: `total * 100` may not fit in u64; the quotient does again.
        let hundredths = match count {
            0 => 0,
            _ => u128::from(total) * 100 / u128::from(count),
        };
        self.dec((hundredths / 100) as u64).byte(b'.');
        let cents = (hundredths % 100) as u8;
        self.byte(b'0' + cents / 10).byte(b'0' + cents % 10)
    }

    /// The errno's name, or `E<number>` for one the table does not know.
    #[inline(never)]
    pub fn errno(&mut self, errno: Errno) -> &mut Self {
        match errno.name() {
            Some(name) => self.text(name),
            None => self.byte(b'E').dec(u64::from(errno.0)),
        }
    }

    /// ` key=` — the start of every field.
    #[inline(never)]
    fn key(&mut self, key: &str) -> &mut Self {
        Writer::key(self, key);
        self
    }

    /// A field whose value is arbitrary bytes, quoted as the grammar needs.
    #[inline(never)]
    pub fn field(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.key(key);
        Writer::value(self, value);
        self
    }

    pub fn field_dec(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key).dec(value)
    }

    pub fn field_hex64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key).hex64(value)
    }

    pub fn field_per_op(&mut self, key: &str, total: u64, count: u64) -> &mut Self {
        self.key(key).per_op(total, count)
    }

    pub fn field_errno(&mut self, key: &str, errno: Errno) -> &mut Self {
        self.key(key).errno(errno)
    }

    /// `ok` for success, the errno name for failure.
    pub fn field_outcome<T>(&mut self, key: &str, outcome: SysResult<T>) -> &mut Self {
        match outcome {
            Ok(_) => self.key(key).text("ok"),
            Err(errno) => self.field_errno(key, errno),
        }
    }

    /// A user-supplied argument inside `'…'` in an error message: control
    /// bytes, non-ASCII, `'` and `\` become `\xNN`, and long text is cut,
    /// so the message stays one readable line whatever was typed.
    #[inline(never)]
    pub fn echo(&mut self, text: &[u8]) -> &mut Self {
        self.byte(b'\'');
        for &byte in text.iter().take(MAX_ECHO) {
            match byte {
                b'\'' | b'\\' => self.text("\\x").hex_byte(byte),
                b' '..=b'~' => self.byte(byte),
                _ => self.text("\\x").hex_byte(byte),
            };
        }
        if text.len() > MAX_ECHO {
            self.text("...");
        }
        self.byte(b'\'')
    }

    /// Appends the newline and writes the line with a single `write(2)`.
    /// A short write is not retried: a second call would break atomicity,
    /// and blocking writes of lines this short are not split in practice.
    #[inline(never)]
    pub fn emit(&mut self, fd: i32) -> SysResult<()> {
        // `byte` always leaves room for this one.
        self.buf[self.len.min(CAPACITY - 1)] = b'\n';
        self.len = self.len.min(CAPACITY - 1) + 1;
        sys::write(fd, self.buf.get(..self.len).unwrap_or_default()).map(drop)
    }
}

/// The protocol's shared line steps, on this buffer.
impl Writer for Line {
    fn byte(&mut self, byte: u8) {
        Line::byte(self, byte);
    }

    /// Through the out-of-line [`Line::bytes`]: the default's loop, inlined
    /// at every call, would grow the binary.
    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }
}

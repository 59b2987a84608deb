//! The guest console: a 16550 UART at COM1 (`versus_abi::port::COM1`), a
//! thin wrapper over vm-superio's `Serial`, like Firecracker's
//! `devices/legacy/serial.rs`. Every register access is one VM exit, so a
//! line of text costs one exit per byte.
//!
//! There is no interrupt controller, so the UART's interrupt line goes
//! nowhere ([`NoInterrupt`]); the guest polls the line-status register (the
//! model always reports the transmitter empty) or just writes.

use std::io::{self, Write};

use vm_superio::{Serial, Trigger};

use crate::console::{ConsoleCapture, ConsoleLog, ConsoleObserver, ConsoleStream, ConsoleWrite};

/// An interrupt line connected to nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoInterrupt;

impl Trigger for NoInterrupt {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}

/// Collects what the guest transmits — bounded, see [`crate::console`] —
/// and hands every write to the observer (which prints it live).
#[derive(Debug, Default)]
pub struct ConsoleSink {
    log: ConsoleLog,
    /// Sees every transmitted byte ([`SerialConsole::observe`]).
    observer: Option<ConsoleObserver>,
}

impl ConsoleSink {
    /// An empty sink without an observer.
    pub fn new() -> Self {
        Self {
            log: ConsoleLog::new(),
            observer: None,
        }
    }

    /// Appends `buf` and shows it to the observer.
    pub fn push(&mut self, buf: &[u8]) {
        self.log.push(buf);
        if let Some(observer) = &self.observer {
            observer.observe(ConsoleWrite {
                vcpu: None,
                stream: ConsoleStream::Uart,
                bytes: buf,
            });
        }
    }

    /// Ends the log and returns what it kept; the sink starts afresh.
    pub fn take(&mut self) -> ConsoleCapture {
        std::mem::take(&mut self.log).finish()
    }
}

impl Write for ConsoleSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        // Nothing is buffered: every byte is in the log once written.
        Ok(())
    }
}

/// The UART as the exit handler uses it: byte-wide register reads/writes at
/// an offset from COM1.
#[derive(Debug)]
pub struct SerialConsole {
    uart: Serial<NoInterrupt, vm_superio::serial::NoEvents, ConsoleSink>,
}

impl Default for SerialConsole {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialConsole {
    /// A UART whose output is collected.
    pub fn new() -> Self {
        Self {
            uart: Serial::new(NoInterrupt, ConsoleSink::new()),
        }
    }

    /// Hand every transmitted byte to `observer` as well.
    pub fn observe(&mut self, observer: ConsoleObserver) {
        self.uart.writer_mut().observer = Some(observer);
    }

    /// An `out` to register `offset`.
    pub fn pio_write(&mut self, offset: u8, value: u8) {
        // The sink never fails and the trigger goes nowhere: nothing to report.
        let _ = self.uart.write(offset, value);
    }

    /// An `in` from register `offset`.
    pub fn pio_read(&mut self, offset: u8) -> u8 {
        self.uart.read(offset)
    }

    /// Takes what was kept of the output.
    pub fn finish(&mut self) -> ConsoleCapture {
        self.uart.writer_mut().take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16550 register offsets.
    const THR: u8 = 0;
    const LSR: u8 = 5;
    const LCR: u8 = 3;

    #[test]
    fn transmits_bytes_and_reports_empty_thr() {
        let mut s = SerialConsole::new();
        for b in b"hi\n" {
            s.pio_write(THR, *b);
        }
        // LSR: THR empty (0x20) and transmitter empty (0x40).
        assert_eq!(s.pio_read(LSR) & 0x60, 0x60);
        // Divisor latch writes do not transmit.
        s.pio_write(LCR, 0x80);
        s.pio_write(THR, 1);
        s.pio_write(LCR, 0x03);
        let out = s.finish();
        assert_eq!((out.head.as_str(), out.bytes), ("hi\n", 3));
        assert_eq!(s.finish().bytes, 0);
    }
}

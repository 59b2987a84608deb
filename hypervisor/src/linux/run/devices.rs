//! The devices a Linux guest reaches by port I/O: COM1 (a 16550 whose
//! interrupt goes through an irqfd and whose output feeds the boot progress
//! and the live observer), the CMOS clock, and the i8042's reset line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

use super::super::milestones::Milestone;
use super::LinuxEnd;
use super::supervise::{RunShared, lock};
use crate::console::{ConsoleObserver, ConsoleStream, ConsoleWrite};
use crate::devices::rtc::Rtc;

/// COM1's first port and its 8 registers.
pub(super) const COM1: u16 = 0x3f8;
pub(super) const COM1_PORTS: u16 = 8;
/// COM1's interrupt line: ISA IRQ 4, which KVM's in-kernel irqchip routes
/// to GSI 4 (the MP table's interrupt entries say the same to Linux).
pub(super) const COM1_GSI: u32 = 4;
/// The i8042 command port; 0xfe pulses the CPU reset line.
pub(super) const I8042_COMMAND: u16 = 0x64;
pub(super) const I8042_RESET: u8 = 0xfe;

/// The console writer: the boot progress, and the observer (live output).
#[derive(Debug)]
pub(super) struct ProgressSink {
    pub(super) shared: Arc<RunShared>,
    pub(super) observer: Option<ConsoleObserver>,
}

impl Write for ProgressSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let at = self.shared.launch.elapsed();
        let end = {
            let mut progress = lock(&self.shared.progress);
            progress.push(buf, at);
            if let Some(status) = progress.init_status() {
                Some(LinuxEnd::InitEnded(status))
            } else if self.shared.stop_at_init && progress.time_of(Milestone::RunInit).is_some() {
                Some(LinuxEnd::InitReached)
            } else {
                None
            }
        };
        if let Some(end) = end {
            self.shared.finish(end);
        }
        if let Some(observer) = &self.observer {
            observer.observe(ConsoleWrite {
                vcpu: None,
                stream: ConsoleStream::Uart,
                bytes: buf,
            });
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The UART's interrupt line: an eventfd KVM's irqchip listens on
/// (`KVM_IRQFD`), so a write raises COM1's GSI without a trip through the
/// VM file descriptor.
#[derive(Debug)]
pub(super) struct IrqLine(pub(super) EventFd);

impl Trigger for IrqLine {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

pub(super) type Uart = Serial<IrqLine, vm_superio::serial::NoEvents, ProgressSink>;

/// The devices every vCPU reaches by port I/O.
pub(super) struct Devices {
    pub(super) uart: Arc<Mutex<Uart>>,
    pub(super) rtc: Arc<Mutex<Rtc>>,
}

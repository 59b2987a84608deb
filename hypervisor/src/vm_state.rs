//! The state of a running VM: what each vCPU thread accumulates on its own
//! ([`VcpuState`]) and what every vCPU thread shares ([`Shared`]: the stop
//! flag and outcome, the consoles, guest memory), plus what the vCPU loop
//! does after an exit ([`Action`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::Serialize;

use crate::console::ConsoleObserver;
use crate::devices::serial::{ConsoleSink, SerialConsole};
use crate::devices::stdin::Stdin;
use crate::exits::{ExitKind, ExitStats, TraceFn};
use crate::memory::GuestMem;
use crate::report::{Marker, Outcome};

/// An access nobody handles, kept for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnhandledAccess {
    /// Nanoseconds since launch.
    pub at_ns: u64,
    /// Port or MMIO access.
    pub kind: ExitKind,
    /// Guest-physical address (MMIO) or port.
    pub addr: u64,
    /// Value written (reads: `None`).
    pub value: Option<u64>,
}

/// How many unhandled accesses per vCPU are kept in the log (all are counted).
pub const UNHANDLED_LOG_MAX: usize = 32;

/// What a vCPU accumulates while it runs (owned by its thread).
#[derive(Clone, Debug, Default)]
pub struct VcpuState {
    /// vCPU index.
    pub index: u32,
    /// Exit accounting.
    pub stats: ExitStats,
    /// Boot markers, in arrival order.
    pub markers: Vec<Marker>,
    /// Accesses to unhandled ports or MMIO (counted).
    pub unhandled: u64,
    /// The first [`UNHANDLED_LOG_MAX`] of them.
    pub unhandled_log: Vec<UnhandledAccess>,
    /// Paravirtual console requests that were refused (bad descriptor).
    pub console_errors: u64,
    /// What this vCPU wrote to the paravirtual console (bounded), so that
    /// output of several vCPUs can be told apart (the shared sink
    /// interleaves them).
    pub console: crate::console::ConsoleLog,
    /// What this vCPU's workload wrote to standard error
    /// (`port::CONSOLE_STDERR`), bounded, with no protocol lines.
    pub stderr: crate::console::ConsoleLog,
    /// Instructions single-stepped so far, when counting them.
    pub instructions: Option<crate::report::InstructionCount>,
}

impl VcpuState {
    /// Fresh state for vCPU `index`.
    pub fn new(index: u32) -> Self {
        Self {
            index,
            stderr: crate::console::ConsoleLog::plain(),
            ..Default::default()
        }
    }
}

/// What the vCPU loop should do after an exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the vCPU again.
    Continue,
    /// This vCPU halted: end its loop (the VM goes on).
    Halt,
    /// The VM must stop: the outcome is recorded in [`Shared`]; kick everyone.
    StopVm,
}

/// State every vCPU thread shares.
pub struct Shared {
    /// When `Vm::run` was called; timestamps are relative to it.
    pub launch: Instant,
    /// Guest memory (for the paravirtual console).
    pub mem: GuestMem,
    /// The UART.
    pub serial: Mutex<SerialConsole>,
    /// The paravirtual console's output.
    pub pv_console: Mutex<ConsoleSink>,
    /// Per-exit callback.
    pub trace: Option<TraceFn>,
    /// Sees every paravirtual console write (the UART's bytes reach it
    /// through the UART's own sink).
    pub console_observer: Option<ConsoleObserver>,
    /// The workload's standard input (`port::STDIN`).
    pub stdin: Stdin,
    stop: AtomicBool,
    outcome: Mutex<Option<Outcome>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("launch", &self.launch)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Shared state over `mem`. The guest's console is shown live through
    /// [`Self::console_observer`], not here.
    pub fn new(launch: Instant, mem: GuestMem, trace: Option<TraceFn>) -> Self {
        Self {
            launch,
            mem,
            serial: Mutex::new(SerialConsole::new()),
            pv_console: Mutex::new(ConsoleSink::new()),
            trace,
            console_observer: None,
            stdin: Stdin::default(),
            stop: AtomicBool::new(false),
            outcome: Mutex::new(None),
        }
    }

    /// Records `outcome` (the first one wins) and raises the stop flag.
    pub fn request_stop(&self, outcome: Outcome) {
        let mut o = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
        if o.is_none() {
            *o = Some(outcome);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the VM is stopping.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The recorded outcome, if any.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Nanoseconds since launch, the timestamp of markers and traces.
    pub(crate) fn ns_since_launch(&self) -> u64 {
        self.launch.elapsed().as_nanos() as u64
    }
}

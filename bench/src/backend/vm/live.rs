//! The guest's own output printed as it arrives (`Launch::echo`), whole
//! lines per vCPU and stream, protocol records left out.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use hypervisor::console::{ConsoleObserver, ConsoleStream, PROTOCOL_LINE_MAX, PROTOCOL_PREFIXES};

use crate::backend::MAX_LINE_BYTES;

/// Console writes waiting for the live printer: enough to ride out a slow
/// terminal for a moment (at most this many × `CONSOLE_MAX_LEN` bytes
/// held) before a vCPU waits, as a program waits on a full pipe.
const LIVE_OUTPUT_QUEUE: usize = 256;
/// How long a vCPU waits for room in that queue before looking again (and
/// at the stop flag: Ctrl-C must not be stuck behind a blocked terminal).
const LIVE_OUTPUT_RETRY: Duration = Duration::from_millis(1);
/// How often the end of a run looks whether the live printer is done (and
/// at the stop flag, so that a blocked terminal cannot hold versus).
const LIVE_OUTPUT_POLL: Duration = Duration::from_millis(20);

/// One console write on its way to the live printer.
type LiveChunk = (Option<u32>, ConsoleStream, Vec<u8>);

/// The guest's own output printed as it arrives (`Launch::echo`): stdout
/// lines that are not protocol records to versus' stdout, stderr to its
/// stderr, whole lines at a time so that several vCPUs' lines interleave
/// line by line. The vCPU only queues the bytes; a thread of its own
/// prints them, so a slow terminal does not stall the guest.
pub(super) struct LivePrinter {
    /// Closed (dropped) by the printer thread when it has printed all.
    done: Receiver<()>,
}

impl LivePrinter {
    /// Starts the printer; the observer goes into the VM's configuration.
    pub(super) fn start() -> (Self, ConsoleObserver) {
        let (tx, rx) = mpsc::sync_channel::<LiveChunk>(LIVE_OUTPUT_QUEUE);
        let (done_tx, done) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            print_live(rx);
            drop(done_tx);
        });
        let observer = ConsoleObserver::new(move |write| queue(&tx, write));
        (Self { done }, observer)
    }

    /// Waits until everything queued was printed (every sender is gone once
    /// the VM and its configuration are), or until versus is stopping.
    pub(super) fn finish(self) {
        loop {
            match self.done.recv_timeout(LIVE_OUTPUT_POLL) {
                Err(RecvTimeoutError::Timeout)
                    if !crate::interrupt::INTERRUPTED.load(Ordering::SeqCst) => {}
                _ => return,
            }
        }
    }
}

/// Queues one console write for the printer, waiting while the queue is
/// full unless versus is stopping (then the rest is not shown).
fn queue(tx: &SyncSender<LiveChunk>, write: hypervisor::console::ConsoleWrite<'_>) {
    let mut chunk = (write.vcpu, write.stream, write.bytes.to_vec());
    loop {
        match tx.try_send(chunk) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(back)) => {
                if crate::interrupt::INTERRUPTED.load(Ordering::SeqCst) {
                    return;
                }
                chunk = back;
                std::thread::sleep(LIVE_OUTPUT_RETRY);
            }
        }
    }
}

/// A line being assembled for the live printer.
#[derive(Default)]
struct PendingLine {
    bytes: Vec<u8>,
    /// The start of this line was already printed (it was too long to
    /// hold): the rest is printed whatever it looks like.
    continued: bool,
}

/// The printer thread: whole lines per vCPU and stream, until every sender
/// is gone; then what is left of unterminated lines, each given its
/// newline (as the other backends do) so that the report starts on a line
/// of its own.
fn print_live(rx: Receiver<LiveChunk>) {
    let mut pending: BTreeMap<(Option<u32>, ConsoleStream), PendingLine> = BTreeMap::new();
    for (vcpu, stream, bytes) in rx {
        let line = pending.entry((vcpu, stream)).or_default();
        line.bytes.extend_from_slice(&bytes);
        let mut start = 0;
        while let Some(newline) = line.bytes[start..].iter().position(|&b| b == b'\n') {
            let end = start + newline + 1;
            print_line(stream, &line.bytes[start..end], line.continued);
            line.continued = false;
            start = end;
        }
        line.bytes.drain(..start);
        // A longer line than anyone would hold whole goes out in pieces.
        if line.bytes.len() >= MAX_LINE_BYTES {
            print_line(stream, &line.bytes, true);
            line.bytes.clear();
            line.continued = true;
        }
    }
    for ((_, stream), line) in pending {
        if !line.bytes.is_empty() {
            print_line(stream, &line.bytes, line.continued);
            print_line(stream, b"\n", true);
        }
    }
}

/// Prints one line (or piece) of guest output where it belongs: stderr to
/// stderr; stdout and UART output to stdout, except protocol records (a
/// whole line, `continued` false, that the harness parses).
fn print_line(stream: ConsoleStream, bytes: &[u8], continued: bool) {
    match stream {
        ConsoleStream::Stderr => {
            // Like every message on stderr, best effort (see `output`).
            crate::output::write_stderr(bytes);
        }
        ConsoleStream::Stdout | ConsoleStream::Uart => {
            if !continued && is_protocol_line(bytes) {
                return;
            }
            // A failed write stops the run (see `output`); what follows is
            // dropped there.
            let _ = crate::output::write_stdout(bytes);
        }
    }
}

/// Whether a whole console line is a protocol record, by the rule the VMM
/// keeps them by ([`hypervisor::console`]): a known prefix, not too long.
fn is_protocol_line(bytes: &[u8]) -> bool {
    bytes.len() <= PROTOCOL_LINE_MAX && PROTOCOL_PREFIXES.iter().any(|p| bytes.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_are_told_from_the_programs_own() {
        assert!(is_protocol_line(b"@versus start task=x\n"));
        assert!(is_protocol_line(b"@kernel exit cpu=0\n"));
        assert!(!is_protocol_line(b"hello @versus\n"));
        let mut long = b"@versus ".to_vec();
        long.resize(PROTOCOL_LINE_MAX + 1, b'x');
        assert!(!is_protocol_line(&long), "too long for a record: shown");
    }
}

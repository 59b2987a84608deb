//! versus-workload: the one program every versus backend runs.
//!
//! A static x86-64 Linux executable without libc. It speaks only the Linux
//! system-call ABI (raw `syscall` instructions, no vDSO, no dynamic loader),
//! so the same file runs as a host process, as PID 1 of a container, on
//! versus' tiny guest kernel and as /init of a real Linux guest.
//!
//! `versus-workload TASK [ARGS...]` — see docs/en/workload.md.

#![no_std]
#![no_main]

// memcpy & co., which `core` calls (this crate only links them in).
extern crate versus_guest_rt;

mod args;
mod out;
mod sys;
mod tasks;

use core::arch::naked_asm;

use args::Args;
use out::{Line, STDERR, STDOUT};
use tasks::{MAX_PARAMS, Param, TASKS, Task};

/// Exit statuses.
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PANIC: u8 = 101;

const PROGRAM: &str = "versus-workload";

/// The process entry point. The kernel starts us with argc/argv on the
/// stack and no return address; hand that stack pointer to Rust as the
/// first argument and give Rust the 16-byte alignment the ABI promises
/// at a call.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    naked_asm!(
        "xor ebp, ebp",   // outermost frame, for debuggers
        "mov rdi, rsp",   // the initial stack pointer: &argc
        "and rsp, -16",
        "call {entry}",
        "ud2",            // entry never returns
        entry = sym entry,
    )
}

extern "C" fn entry(initial_sp: *const usize) -> ! {
    // SAFETY: `_start` passes the stack pointer the kernel started us with.
    let args = unsafe { Args::from_initial_stack(initial_sp) };
    sys::exit_group(main(&args))
}

fn main(args: &Args) -> u8 {
    let Some(name) = args.get(1) else {
        let mut line = Line::new();
        line.text("usage: ")
            .text(PROGRAM)
            .text(" TASK [ARGS...]; tasks:");
        return usage_error(task_list(&mut line));
    };
    let Some(task) = tasks::find(name) else {
        let mut line = Line::new();
        line.text(PROGRAM)
            .text(": unknown task ")
            .echo(name)
            .text("; tasks:");
        return usage_error(task_list(&mut line));
    };
    let values = match parse_params(task, args) {
        Ok(values) => values,
        Err(error) => return usage_error(&mut error.message(task)),
    };

    start_marker(task.spec.name);
    match tasks::run_and_report(task, &values) {
        Ok(()) => EXIT_OK,
        Err(_) => EXIT_FAILED,
    }
}

/// `@versus start task=<task> pid=<pid> mono_ns=<ns>`: the first thing on
/// stdout, so the harness can time "launch → first instruction" and match
/// the workload's clock to its own. A value the kernel cannot give is
/// written as its errno name; the marker itself must always appear.
fn start_marker(task: &str) {
    let pid = sys::getpid();
    let mono_ns = sys::monotonic_ns();
    let mut line = Line::start(task);
    match pid {
        Ok(pid) => line.field_dec("pid", pid as u64),
        Err(errno) => line.field_errno("pid", errno),
    };
    match mono_ns {
        Ok(ns) => line.field_dec("mono_ns", ns),
        Err(errno) => line.field_errno("mono_ns", errno),
    };
    // If stdout is unusable there is nobody to tell.
    let _ = line.emit(STDOUT);
}

/// What is wrong with a task's arguments.
enum ParamError {
    TooMany,
    Invalid {
        param: &'static Param,
        text: &'static [u8],
    },
}

impl ParamError {
    /// The one-line message for stderr.
    fn message(&self, task: &Task) -> Line {
        let mut line = Line::new();
        line.text(PROGRAM)
            .text(": ")
            .text(task.spec.name)
            .text(": ");
        match self {
            Self::TooMany => {
                line.text("too many arguments; usage: ")
                    .text(PROGRAM)
                    .byte(b' ')
                    .text(task.spec.name);
                for param in task.spec.params {
                    line.text(" [").text(param.name).byte(b']');
                }
            }
            Self::Invalid { param, text } => {
                line.text(param.name)
                    .text(" must be an integer from ")
                    .dec(param.min);
                line.text(" to ").dec(param.max).text(", got ").echo(text);
            }
        }
        line
    }
}

/// Checks the task's arguments (argv[2..]) against its parameters; missing
/// ones take their defaults.
fn parse_params(task: &'static Task, args: &Args) -> Result<[u64; MAX_PARAMS], ParamError> {
    if args.len().saturating_sub(2) > task.spec.params.len() {
        return Err(ParamError::TooMany);
    }
    let mut values = [0; MAX_PARAMS];
    for (index, (param, value)) in task.spec.params.iter().zip(&mut values).enumerate() {
        *value = match args.get(index + 2) {
            None => param.default,
            Some(text) => args::parse_u64(text)
                .filter(|number| (param.min..=param.max).contains(number))
                .ok_or(ParamError::Invalid { param, text })?,
        };
    }
    Ok(values)
}

/// Appends ` startup getpid …` to a usage message: the catalog's names
/// (the table holds exactly the catalog's tasks, in its order).
fn task_list(line: &mut Line) -> &mut Line {
    for task in TASKS {
        line.byte(b' ').text(task.spec.name);
    }
    line
}

fn usage_error(line: &mut Line) -> u8 {
    let _ = line.emit(STDERR);
    EXIT_USAGE
}

/// Short and allocation-free: one line on stderr, then exit 101 (the
/// status Rust programs use for a panic).
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut line = Line::new();
    line.text(PROGRAM).text(": panic");
    if let Some(location) = info.location() {
        line.text(" at ")
            .text(location.file())
            .byte(b':')
            .dec(u64::from(location.line()));
    }
    let _ = line.emit(STDERR);
    sys::exit_group(EXIT_PANIC)
}

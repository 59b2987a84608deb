//! The task catalog: every task of the workload, its numeric parameters and
//! a one-line summary. The workload runs these tasks (its table pairs each
//! entry with a function), the harness checks command lines against them
//! before a run, and both print their usage from here.

/// One decimal parameter of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// As shown in usage and error messages (`N`, `MIB`, `BYTES`).
    pub name: &'static str,
    /// Used when the argument is left out.
    pub default: u64,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
}

/// A task of the workload and the parameters it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSpec {
    /// The task's name, the workload's first argument.
    pub name: &'static str,
    /// Its parameters, in order; each may be left out (defaults apply).
    pub params: &'static [Param],
    /// One line saying what it measures or shows.
    pub summary: &'static str,
}

/// The most parameters any task takes (`write N BYTES`, `fuzz SEED N`).
pub const MAX_PARAMS: usize = 2;

const fn param(name: &'static str, default: u64, min: u64, max: u64) -> Param {
    Param {
        name,
        default,
        min,
        max,
    }
}

/// Upper bound for iteration counts: the workload keeps them in 32 bits.
pub const MAX_ITERS: u64 = u32::MAX as u64;

/// `startup`.
pub const STARTUP: TaskSpec = TaskSpec {
    name: "startup",
    params: &[],
    summary: "print the start marker and exit at once",
};
/// `getpid N`.
pub const GETPID: TaskSpec = TaskSpec {
    name: "getpid",
    params: &[param("N", 1_000_000, 1, MAX_ITERS)],
    summary: "N getpid system calls: the cost of entering the kernel",
};
/// `compute N`.
pub const COMPUTE: TaskSpec = TaskSpec {
    name: "compute",
    params: &[param("N", 10_000_000, 1, MAX_ITERS)],
    summary: "N rounds of integer arithmetic with no system call",
};
/// `memtouch MIB`.
pub const MEMTOUCH: TaskSpec = TaskSpec {
    name: "memtouch",
    params: &[param("MIB", 64, 1, 65_536)],
    summary: "map MIB MiB and touch every page: page-fault cost",
};
/// `write N BYTES`.
pub const WRITE: TaskSpec = TaskSpec {
    name: "write",
    params: &[
        param("N", 1_000, 1, MAX_ITERS),
        param("BYTES", 64, 1, 65_536),
    ],
    summary: "N writes of BYTES bytes to stdout: console I/O cost",
};
/// `uname`.
pub const UNAME: TaskSpec = TaskSpec {
    name: "uname",
    params: &[],
    summary: "which kernel answers: sysname, release, version",
};
/// `ids`.
pub const IDS: TaskSpec = TaskSpec {
    name: "ids",
    params: &[],
    summary: "pid, ppid, uid, gid and hostname as the workload sees them",
};
/// `status`.
pub const STATUS: TaskSpec = TaskSpec {
    name: "status",
    params: &[],
    summary: "capabilities, no_new_privs and seccomp from /proc/self/status",
};
/// `probe`.
pub const PROBE: TaskSpec = TaskSpec {
    name: "probe",
    params: &[],
    summary: "try privileged calls harmlessly and report each errno",
};
/// `spawn N`.
pub const SPAWN: TaskSpec = TaskSpec {
    name: "spawn",
    params: &[param("N", 10, 1, 4_096)],
    summary: "fork N children that live at once; how many succeeded",
};
/// `fuzz SEED N`.
pub const FUZZ: TaskSpec = TaskSpec {
    name: "fuzz",
    params: &[
        param("SEED", 1, 0, MAX_ITERS),
        param("N", 10_000, 1, MAX_ITERS),
    ],
    summary: "N system calls with random numbers and hostile arguments: the kernel must answer each",
};
/// `park`.
pub const PARK: TaskSpec = TaskSpec {
    name: "park",
    params: &[],
    summary: "print the start marker, then wait without using CPU until stdin ends or says `finish`",
};
/// `suite`.
pub const SUITE: TaskSpec = TaskSpec {
    name: "suite",
    params: &[],
    summary: "every task above but fuzz and park, with small defaults",
};

/// Every task, in the order `suite` runs them and usage lists them (`suite`
/// leaves out `fuzz`, which measures nothing, and `park`, which waits to be
/// told to finish).
pub const TASKS: &[&TaskSpec] = &[
    &STARTUP, &GETPID, &COMPUTE, &MEMTOUCH, &WRITE, &UNAME, &IDS, &STATUS, &PROBE, &SPAWN, &FUZZ,
    &PARK, &SUITE,
];

/// Looks a task up by name (bytes: the workload's argv is not UTF-8-checked).
pub fn find(name: &[u8]) -> Option<&'static TaskSpec> {
    TASKS
        .iter()
        .copied()
        .find(|spec| spec.name.as_bytes() == name)
}

/// Whether two strings are equal, in a `const` context (`==` on `str` is not
/// `const`): lets the workload check its table against [`TASKS`] at compile
/// time.
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// Every task fits the workload's fixed parameter array.
const _: () = {
    let mut i = 0;
    while i < TASKS.len() {
        assert!(TASKS[i].params.len() <= MAX_PARAMS);
        i += 1;
    }
};

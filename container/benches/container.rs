//! Container benchmarks (need root; without it they print why and measure nothing).
//!
//! - `startup/container`: `spawn` → the workload's start marker read from the pipe,
//!   with every namespace, the default seccomp profile and a built tmpfs root.
//! - `startup/container_none`: the same launcher with every namespace shared and the
//!   host's root (the launcher's own floor: clone + cgroup + caps + seccomp + exec).
//! - `startup/container_<ns>`: only that one namespace is new (host root, so only the
//!   namespace's own cost differs from `container_none`).
//! - `syscall/container`, `syscall/container_unconfined`: ns per `getpid` inside,
//!   with and without the seccomp filter, from the workload's own `total_ns`.
//!
//! The network namespace is torn down by the kernel in the background after a
//! container exits; on a 2-core machine that work overlaps the next iterations.
//! Launches here follow each other closely, so cgroup v1's migration lock is
//! warm: a lone launch (`versus container run`) can pay an RCU grace period
//! (~10 ms here) joining its cgroup that these figures do not show.
//!
//! Memory (the cgroup's peak and the launcher's RSS) is printed once to
//! stderr, as criterion only measures time.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use container::rootfs::WORKLOAD_PATH;
use container::{ContainerBuilder, Namespace, RootfsSpec, SeccompMode};
use criterion::{Criterion, criterion_group, criterion_main};

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("container benches need root; skipping");
    }
    root
}

fn next_id(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "bench-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Spawns, reads until the start marker, returns spawn → marker, then finishes the run
/// and returns the workload's remaining output.
fn launch(b: ContainerBuilder) -> (Duration, String) {
    let (startup, rest, _) = launch_with_report(b);
    (startup, rest)
}

/// [`launch`], also returning the launcher's report.
fn launch_with_report(b: ContainerBuilder) -> (Duration, String, container::Report) {
    let (r, w) = std::io::pipe().expect("pipe");
    let running = b
        .stdout(w.into())
        .build()
        .expect("a valid spec")
        .spawn()
        .expect("the container starts");
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    let startup = loop {
        line.clear();
        if reader.read_line(&mut line).expect("read") == 0 {
            panic!("no start marker");
        }
        if line.starts_with("@versus start ") {
            break running.launched_at().elapsed();
        }
    };
    let mut rest = String::new();
    reader.read_to_string(&mut rest).expect("read");
    let report = running
        .wait(Some(Duration::from_secs(120)), &AtomicBool::new(false))
        .expect("the container ends");
    (startup, rest, report)
}

/// The memory figures of one default container running `startup`.
fn print_memory() {
    let (_, _, report) = launch_with_report(full(&["startup"]));
    let show = |b: Option<u64>| b.map_or_else(|| "—".to_string(), |b| format!("{} KiB", b / 1024));
    eprintln!(
        "memory (one `startup` container): cgroup peak {}, launcher peak RSS {} (this bench process)",
        show(
            report
                .cgroup
                .as_ref()
                .and_then(|c| c.stats.memory_peak_bytes)
        ),
        show(report.launcher_peak_rss_bytes),
    );
}

fn full(args: &[&str]) -> ContainerBuilder {
    ContainerBuilder::new(next_id("full"))
        .rootfs(RootfsSpec::workload(versus_images::WORKLOAD.to_vec()))
        .command(
            std::iter::once(WORKLOAD_PATH)
                .chain(args.iter().copied())
                .map(String::from)
                .collect::<Vec<_>>(),
        )
}

/// Only `only` is new (or none); the host's root and the workload from its build path.
fn alone(only: Option<Namespace>) -> ContainerBuilder {
    let shared: Vec<Namespace> = Namespace::ALL
        .into_iter()
        .filter(|n| Some(*n) != only && *n != Namespace::User)
        .collect();
    ContainerBuilder::new(next_id("alone"))
        .rootfs(RootfsSpec::Host)
        .command([versus_images::WORKLOAD_BUILD_PATH, "startup"])
        .share(&shared)
        .user_namespace(only == Some(Namespace::User))
}

fn startup(c: &mut Criterion) {
    if !is_root() {
        return;
    }
    print_memory();
    let mut g = c.benchmark_group("startup");
    g.sample_size(30).measurement_time(Duration::from_secs(6));
    let mut cases: Vec<(String, Box<dyn Fn() -> ContainerBuilder>)> = vec![
        ("container".into(), Box::new(|| full(&["startup"]))),
        ("container_none".into(), Box::new(|| alone(None))),
    ];
    for ns in Namespace::ALL {
        cases.push((format!("container_{ns}"), Box::new(move || alone(Some(ns)))));
    }
    for (name, make) in &cases {
        g.bench_function(name.as_str(), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| launch(make()).0).sum());
        });
    }
    g.finish();
}

/// `total_ns` of the workload's `getpid` line.
fn getpid_total(out: &str) -> Duration {
    let line = out
        .lines()
        .find(|l| l.starts_with("@versus task=getpid"))
        .expect("a getpid line");
    let ns: u64 = line
        .split(' ')
        .find_map(|f| f.strip_prefix("total_ns="))
        .and_then(|v| v.parse().ok())
        .expect("total_ns");
    Duration::from_nanos(ns)
}

fn syscall(c: &mut Criterion) {
    if !is_root() {
        return;
    }
    let mut g = c.benchmark_group("syscall");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, mode) in [
        ("container", SeccompMode::Default),
        ("container_unconfined", SeccompMode::Unconfined),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let n = iters.clamp(1, u64::from(u32::MAX)).to_string();
                let (_, out) = launch(full(&["getpid", &n]).seccomp(mode));
                getpid_total(&out)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, startup, syscall);
criterion_main!(benches);

//! Launches the embedded workload in containers N times and prints the median of
//! every phase, with all namespaces and with the network namespace shared, plus the
//! `getpid` cost with and without seccomp. Needs root.
//!
//! `cargo run --release -p container --example phases -- [RUNS]`

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use container::rootfs::WORKLOAD_PATH;
use container::{ContainerBuilder, Namespace, Phases, RootfsSpec, SeccompMode};

fn run(
    id: String,
    args: &[&str],
    share: &[Namespace],
    seccomp: SeccompMode,
) -> (Phases, u64, String) {
    let (r, w) = std::io::pipe().unwrap();
    let mut argv = vec![WORKLOAD_PATH.to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let running = ContainerBuilder::new(id)
        .rootfs(RootfsSpec::workload(versus_images::WORKLOAD.to_vec()))
        .command(argv)
        .share(share)
        .seccomp(seccomp)
        .stdout(w.into())
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let marker = running.launched_at().elapsed().as_nanos() as u64;
    let exec_to_marker = marker - running.phases_so_far().spawn_ns;
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    let report = running
        .wait(Some(Duration::from_secs(60)), &AtomicBool::new(false))
        .unwrap();
    let _ = exec_to_marker;
    (report.phases, marker, rest)
}

fn median(mut v: Vec<u64>) -> f64 {
    v.sort_unstable();
    v[v.len() / 2] as f64 / 1e6
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    for (label, share) in [
        ("all namespaces", &[][..]),
        ("net shared", &[Namespace::Net][..]),
    ] {
        let mut all = Vec::new();
        for i in 0..runs {
            all.push(run(
                format!("phases-{}-{i}", std::process::id()),
                &["startup"],
                share,
                SeccompMode::Default,
            ));
        }
        let col = |f: &dyn Fn(&(Phases, u64, String)) -> u64| median(all.iter().map(f).collect());
        println!(
            "{label:15} launch→marker {:.2} ms | cgroup {:.2} clone {:.2} join {:.2} setup {:.2} (mounts {:.2}, security {:.2}) exec {:.2} | spawn {:.2} exec→marker {:.2} run {:.2} teardown {:.2} (medians of {runs})",
            col(&|r| r.1),
            col(&|r| r.0.cgroup_ns),
            col(&|r| r.0.clone_ns),
            col(&|r| r.0.join_ns),
            col(&|r| r.0.setup_ns.unwrap_or(0)),
            col(&|r| r.0.setup_mounts_ns.unwrap_or(0)),
            col(&|r| r.0.setup_security_ns.unwrap_or(0)),
            col(&|r| r.0.exec_ns.unwrap_or(0)),
            col(&|r| r.0.spawn_ns),
            col(&|r| r.1 - r.0.spawn_ns),
            col(&|r| r.0.run_ns.unwrap_or(0)),
            col(&|r| r.0.teardown_ns.unwrap_or(0)),
        );
    }
    for mode in [SeccompMode::Default, SeccompMode::Unconfined] {
        let mut ns = Vec::new();
        for i in 0..3 {
            let (_, _, out) = run(
                format!("getpid-{}-{i}", std::process::id()),
                &["getpid", "10000000"],
                &[],
                mode,
            );
            let l = out
                .lines()
                .find(|l| l.starts_with("@versus task=getpid"))
                .unwrap();
            let v: f64 = l
                .split(' ')
                .find_map(|f| f.strip_prefix("ns_per_op="))
                .unwrap()
                .parse()
                .unwrap();
            ns.push((v * 100.0) as u64);
        }
        ns.sort_unstable();
        println!(
            "getpid seccomp={mode}: {:.2} ns/op (median of 3 × 10M)",
            ns[1] as f64 / 100.0
        );
    }
}

//! `process/{host,container,vm}`: the whole `versus <backend> run --
//! startup` process, as a user meets it with `time` — spawn of the `versus`
//! binary to its exit, with the process start, argument parsing, the
//! launch, the run, the teardown and printing the report all inside.
//!
//! `startup/host` and the VM benches time the launch → start marker only;
//! this one is the figure the whole-process goals are about
//! (issue 13: whole `vm run` ≤ 1.5× its own launch figure). It runs the
//! `versus` binary cargo built with the bench (release under `cargo
//! bench`). A backend that cannot run here (no root for containers, no
//! usable /dev/kvm for VMs) is skipped with the reason on stderr.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use testkit::Requirement;

/// The `versus` binary of this build.
const VERSUS: &str = env!("CARGO_BIN_EXE_versus");

/// Samples per backend: a sample is tens of whole processes of a few ms.
const SAMPLES: usize = 30;
/// Measured time per backend (criterion's estimate).
const MEASUREMENT: Duration = Duration::from_secs(5);

/// One whole `versus <backend> run -- startup`: spawn → exit, or why it
/// failed (with its stderr, so a broken host says what broke).
fn whole_process(backend: &str) -> Result<Duration, String> {
    let start = Instant::now();
    let output = Command::new(VERSUS)
        .args([backend, "run", "--", "startup"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot spawn {VERSUS}: {e}"))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(format!(
            "`versus {backend} run -- startup` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(elapsed)
}

fn process_bench(c: &mut Criterion, backend: &str, needs: &[Requirement]) {
    if let Some(why) = needs.iter().find_map(|need| need.missing()) {
        eprintln!("process/{backend}: skipped: {why}");
        return;
    }
    // One trial run first: a backend that fails here is reported, not
    // benchmarked.
    if let Err(why) = whole_process(backend) {
        eprintln!("process/{backend}: skipped: {why}");
        return;
    }
    let mut group = c.benchmark_group("process");
    group.sample_size(SAMPLES).measurement_time(MEASUREMENT);
    group.bench_function(backend, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total +=
                    whole_process(backend).unwrap_or_else(|why| panic!("process/{backend}: {why}"));
            }
            total
        });
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    process_bench(&mut c, "host", &[]);
    process_bench(&mut c, "container", &[Requirement::Root]);
    process_bench(&mut c, "vm", &[Requirement::Kvm]);
    c.final_summary();
}

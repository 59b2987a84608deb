//! `versus scale` through the binary: N instances of each backend held at
//! once, measured, and torn down with nothing left behind; a count the
//! host cannot hold refused up front; the exports.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bench::scale::{ScaleBackend, ScaleReport};

/// The `versus` binary cargo built for these tests.
fn versus() -> PathBuf {
    assert_cmd::cargo::cargo_bin("versus")
}

/// Makes this test process the reaper of orphaned descendants: a `park`
/// instance versus left running when it exited would become our child,
/// where [`orphaned_instances`] finds it.
fn reap_orphans() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no
    // memory of ours.
    let ret = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(ret, 0, "prctl(PR_SET_CHILD_SUBREAPER)");
}

/// Our children running `park` (orphans of a versus that left them):
/// versus processes of other tests are our children too, but not `park`.
fn orphaned_instances() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| container::host::parent_pid(pid) == Some(me))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
                args.contains(&b"park".as_slice()) && !args.contains(&b"scale".as_slice())
            })
        })
        .collect()
}

/// The cgroup directories of a versus process `pid` that still exist:
/// its runs are named `run-PID-…` under each hierarchy's `versus` parent.
fn cgroups_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("{}{pid}-", container::cgroup::stale::RUN_PREFIX);
    std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|hierarchy| {
            std::fs::read_dir(hierarchy.path().join("versus"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .map(|entry| entry.path())
        .collect()
}

/// Runs `program args…` to completion; returns versus' pid and its output.
fn run(program: &Path, args: &[&str]) -> (u32, Output) {
    let child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("versus starts");
    let pid = child.id();
    (pid, child.wait_with_output().expect("versus ends"))
}

/// `versus scale --counts 1,3 --backends BACKENDS --json`: every count
/// measured, every instance started, a PSS for each, nothing left behind
/// (by versus' own check and from outside: no cgroup, no orphan).
fn scale_holds_and_tears_down(backends: &[ScaleBackend]) {
    reap_orphans();
    let names: Vec<&str> = backends.iter().map(|backend| backend.name()).collect();
    let list = names.join(",");
    let (pid, output) = run(
        &versus(),
        &["scale", "--counts", "1,3", "--backends", &list, "--json"],
    );
    assert!(
        output.status.success(),
        "versus scale: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: ScaleReport = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let measured: Vec<(ScaleBackend, usize)> = report
        .points
        .iter()
        .map(|point| (point.backend, point.count))
        .collect();
    let expected: Vec<(ScaleBackend, usize)> = backends
        .iter()
        .flat_map(|&backend| [(backend, 1), (backend, 3)])
        .collect();
    assert_eq!(measured, expected);
    for point in &report.points {
        let what = format!("{} ×{}", point.backend.name(), point.count);
        assert_eq!(point.started, point.count, "{what}: all started");
        assert_eq!(point.start_latency.n, point.count, "{what}: a latency each");
        assert!(point.start_latency.median > 0.0, "{what}: a start latency");
        assert!(point.pss_per_instance_bytes > 0, "{what}: a PSS");
        assert!(
            point.leftovers.is_empty(),
            "{what}: left {:?}",
            point.leftovers
        );
        match point.backend {
            ScaleBackend::Host => assert!(point.own_pss_bytes > 0, "{what}: own PSS"),
            ScaleBackend::Container => assert!(
                point.cgroup_memory_bytes.is_some_and(|bytes| bytes > 0),
                "{what}: cgroup memory"
            ),
            ScaleBackend::Vm => assert!(
                point.guest_touched_bytes.is_some_and(|bytes| bytes > 0),
                "{what}: guest memory touched"
            ),
        }
    }
    assert_eq!(report.fits.len(), backends.len(), "a fit per backend");
    for fit in &report.fits {
        assert!(
            fit.accounted.is_some() && fit.pss.is_some() && fit.host_memory.is_some(),
            "{fit:?}"
        );
    }
    assert_eq!(cgroups_of(pid), Vec::<PathBuf>::new(), "no cgroup left");
    assert_eq!(orphaned_instances(), Vec::<u32>::new(), "no instance left");
}

#[testkit::needs(root, kvm)]
#[test]
fn scale_holds_host_containers_and_vms_and_leaves_nothing() {
    if !common::require_root("scale_holds_host_containers_and_vms_and_leaves_nothing") {
        return;
    }
    if !common::require_kvm("scale_holds_host_containers_and_vms_and_leaves_nothing") {
        return;
    }
    scale_holds_and_tears_down(&[
        ScaleBackend::Host,
        ScaleBackend::Container,
        ScaleBackend::Vm,
    ]);
}

#[test]
fn scale_holds_host_processes_and_leaves_nothing() {
    scale_holds_and_tears_down(&[ScaleBackend::Host]);
}

/// A count above what the open-file limit allows is refused before any of
/// them starts, with the number the host can hold and the limit to raise.
#[test]
fn a_count_above_the_open_file_limit_is_refused_up_front() {
    reap_orphans();
    let (_, output) = run(
        Path::new("prlimit"),
        &[
            "--nofile=48:48",
            versus().to_str().expect("a UTF-8 path"),
            "scale",
            "--count",
            "200",
            "--backends",
            "host",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "no table for a refused count");
    let can_hold: u64 = stderr
        .split("can hold at most ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("the number it can hold: {stderr}"));
    assert!(
        (1..200).contains(&can_hold),
        "{can_hold} within the limit: {stderr}"
    );
    assert!(
        stderr.contains("RLIMIT_NOFILE") && stderr.contains("ulimit -n"),
        "{stderr}"
    );
    assert_eq!(orphaned_instances(), Vec::<u32>::new(), "no instance left");
}

/// The JSON and CSV exports hold every point; the plot is an SVG naming
/// each backend.
#[test]
fn scale_exports_json_csv_and_a_plot() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (json, csv, plot) = (
        dir.path().join("scale.json"),
        dir.path().join("scale.csv"),
        dir.path().join("scale.svg"),
    );
    let (_, output) = run(
        &versus(),
        &[
            "scale",
            "--counts",
            "1,2",
            "--backends",
            "host",
            "--export-json",
            json.to_str().expect("UTF-8"),
            "--export-csv",
            csv.to_str().expect("UTF-8"),
            "--plot",
            plot.to_str().expect("UTF-8"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Each extra host cost"), "{stdout}");
    let report: ScaleReport =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON export"))
            .expect("JSON");
    assert_eq!(report.points.len(), 2);
    let csv = std::fs::read_to_string(&csv).expect("the CSV export");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "a header and a row per count: {csv}");
    assert!(
        rows[1].starts_with("host,1,1,") && rows[2].starts_with("host,2,2,"),
        "{csv}"
    );
    let svg = std::fs::read_to_string(&plot).expect("the plot");
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(
        svg.contains("memory (PSS + kernel) against N")
            && svg.contains("start latency (median) against N"),
        "both charts: {svg}"
    );
    assert_eq!(
        svg.matches("\nhost\n").count(),
        2,
        "the host line named in each chart's legend: {svg}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the directory")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert_eq!(left.len(), 3, "no temporary file left: {left:?}");
}

/// An output file that cannot be written is refused before any instance
/// starts, with status 2.
#[test]
fn an_unwritable_export_is_refused_before_anything_starts() {
    let (_, output) = run(
        &versus(),
        &[
            "scale",
            "--count",
            "1",
            "--backends",
            "host",
            "--export-csv",
            "/nonexistent-dir/scale.csv",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write /nonexistent-dir/scale.csv"),
        "{stderr}"
    );
}

/// `versus scale --count 1000 --backends host`, returned once the
/// instances of the count itself are starting (the probe instance comes and
/// goes first, so: more than one child at once), with versus' pid.
fn scale_a_thousand_host_processes() -> (std::process::Child, u32) {
    spawn_scale_with_children(&["--count", "1000", "--backends", "host"], 2)
}

/// `versus scale ARGS`, returned once versus has at least `children`
/// children alive at once, with versus' pid.
fn spawn_scale_with_children(args: &[&str], children: usize) -> (std::process::Child, u32) {
    let child = Command::new(versus())
        .arg("scale")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("versus starts");
    let pid = child.id();
    let children_of_versus = || {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&child| container::host::parent_pid(child) == Some(pid))
            .count()
    };
    while children_of_versus() < children {
        assert!(
            std::fs::metadata(format!("/proc/{pid}")).is_ok(),
            "versus ended before its instances started"
        );
        std::thread::yield_now();
    }
    (child, pid)
}

/// Sends SIGINT to a running `versus scale` (as Ctrl-C would), waits for it,
/// checks it exited 130, and returns its stderr.
fn interrupt(child: std::process::Child, pid: u32) -> String {
    let pid_t = libc::pid_t::try_from(pid).expect("a pid");
    // SAFETY: kill has no memory effects; `pid` is our child, not yet reaped.
    unsafe { libc::kill(pid_t, libc::SIGINT) };
    let output = child.wait_with_output().expect("versus ends");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    stderr
}

/// Ctrl-C while instances are starting: versus stops starting more, tears
/// down the ones it started, says how far it got, and exits 130.
#[test]
fn ctrl_c_while_starting_tears_everything_down() {
    reap_orphans();
    let (child, pid) = scale_a_thousand_host_processes();
    let stderr = interrupt(child, pid);
    assert!(
        stderr.contains("interrupted after") && stderr.contains("nothing left behind"),
        "{stderr}"
    );
    assert_eq!(orphaned_instances(), Vec::<u32>::new(), "no instance left");
}

/// An instance that fails mid-way (here: versus' open-file limit lowered
/// under it while instances start) stops the run: everything started is
/// torn down, and the error says which one failed and how far it got.
#[test]
fn an_instance_failing_mid_way_stops_and_tears_everything_down() {
    reap_orphans();
    let (child, pid) = scale_a_thousand_host_processes();
    let limited = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--nofile=16:16"])
        .status()
        .expect("prlimit runs");
    assert!(limited.success(), "prlimit --pid");
    let output = child.wait_with_output().expect("versus ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "no table after a failure: {stderr}"
    );
    assert!(
        stderr.contains("host instance ") && stderr.contains(" of 1000 failed"),
        "{stderr}"
    );
    assert!(stderr.contains("had started"), "{stderr}");
    assert_eq!(orphaned_instances(), Vec::<u32>::new(), "no instance left");
}

/// `--hold` takes a duration, at most a day; anything else is refused
/// before an instance starts, saying how to write it.
#[test]
fn a_malformed_or_overlong_hold_is_refused() {
    for (hold, says) in [
        ("soon", "write it like 0s, 500ms, 5s or 2m"),
        ("2days", "longer than the longest hold, 1day"),
    ] {
        let output = common::versus()
            .args([
                "scale",
                "--count",
                "1",
                "--backends",
                "host",
                "--hold",
                hold,
            ])
            .output()
            .expect("versus runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--hold {hold}: {stderr}");
        assert!(
            stderr.contains("--hold") && stderr.contains(says),
            "--hold {hold}: {stderr}"
        );
    }
}

/// Ctrl-C while the instances are held (`--hold 1h`) ends the hold, tears
/// everything down and exits 130, instead of keeping them for the hour.
#[test]
fn ctrl_c_during_a_hold_ends_it_and_tears_everything_down() {
    reap_orphans();
    // All three of the count alive: measured now, or already held.
    let (child, pid) =
        spawn_scale_with_children(&["--count", "3", "--backends", "host", "--hold", "1h"], 3);
    let stderr = interrupt(child, pid);
    assert!(
        stderr.contains("interrupted after 3 of 3") && stderr.contains("nothing left behind"),
        "{stderr}"
    );
    assert_eq!(orphaned_instances(), Vec::<u32>::new(), "no instance left");
}

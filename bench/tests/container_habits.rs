//! `versus container run` with the habits of `docker run`: stdin (`-i`), a
//! terminal (`-t`), `-e`, `-w`, `-v`, `-u`, `--network`, commands found on
//! the container's PATH, the program's output passed through live, and
//! `--rootfs-overlay`. Everything goes through the real binary, as a user
//! meets it; the runs need root and the host's static busybox.

mod common;

use common::versus;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bench::report::RunReport;
use predicates::prelude::*;

/// Root and a static busybox, or a printed reason to skip.
fn ready(test: &str) -> bool {
    common::require_root(test) && common::require_busybox(test)
}

/// `versus container run --busybox ARGS`, with `stdin`.
fn busybox(args: &[&str], stdin: &str) -> std::process::Output {
    versus()
        .args(["container", "run", "--busybox", "--timeout", "60s"])
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[testkit::needs(root, busybox)]
#[test]
fn a_script_on_stdin_runs_with_i_and_its_status_is_versus_status() {
    if !ready("a_script_on_stdin_runs_with_i_and_its_status_is_versus_status") {
        return;
    }
    let out = busybox(
        &["-i", "--", "/bin/sh"],
        "echo line-one\necho to-stderr >&2\necho line-two\nexit 7\n",
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let one = stdout.find("line-one\n").expect("the script's stdout");
    let two = stdout.find("line-two\n").expect("the script's stdout");
    assert!(one < two, "{stdout}");
    assert!(text(&out.stderr).contains("to-stderr"), "stderr kept apart");
    assert!(!stdout[..two].contains("to-stderr"), "{stdout}");
    // Without -i the container's stdin is /dev/null: the shell reads
    // nothing and ends with 0.
    let out = busybox(&["--", "/bin/sh"], "exit 7\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[testkit::needs(root, busybox)]
#[test]
fn env_workdir_and_user_are_what_the_command_sees() {
    if !ready("env_workdir_and_user_are_what_the_command_sees") {
        return;
    }
    let out = versus()
        .args(["container", "run", "--busybox", "--timeout", "60s"])
        .args(["-e", "GREETING=hello world", "--env", "FROM_HOST"])
        .args(["-e", "NOT_ON_HOST", "-w", "/tmp", "-u", "1000:1001"])
        .args([
            "--",
            "sh",
            "-c",
            "env; echo cwd=$(pwd) uid=$(id -u) gid=$(id -g)",
        ])
        .env("FROM_HOST", "passed")
        .env_remove("NOT_ON_HOST")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("GREETING=hello world\n"), "{stdout}");
    assert!(stdout.contains("FROM_HOST=passed\n"), "{stdout}");
    assert!(!stdout.contains("NOT_ON_HOST"), "{stdout}");
    assert!(stdout.contains("cwd=/tmp uid=1000 gid=1001"), "{stdout}");
    // A uid other than 0 holds no capabilities, as with `docker run -u`.
    busybox(
        &["-u", "1000", "--", "grep", "CapEff", "/proc/self/status"],
        "",
    )
    .stdout
    .windows(16)
    .find(|w| *w == b"0000000000000000")
    .expect("no effective capabilities");
    // And the report says so instead of listing them as held.
    let json = busybox(&["--json", "-u", "1000", "--", "sh", "-c", "true"], "");
    let report: RunReport = serde_json::from_slice(&json.stdout).unwrap();
    let notes = report.container.unwrap().notes.join("\n");
    assert!(notes.contains("bounding set only"), "{notes}");
}

#[testkit::needs(root, busybox)]
#[test]
fn a_command_name_is_found_on_the_containers_path() {
    if !ready("a_command_name_is_found_on_the_containers_path") {
        return;
    }
    let out = busybox(&["--", "sh", "-c", "exit 4"], "");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    // A name missing from PATH is an error naming the PATH, before launch.
    versus()
        .args(["container", "run", "--busybox", "--", "no-such-command"])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("no-such-command").and(predicate::str::contains(
                "PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)",
            )),
        );
    // -e PATH changes where it is looked for.
    versus()
        .args([
            "container",
            "run",
            "--busybox",
            "-e",
            "PATH=/nowhere",
            "--",
            "sh",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("PATH (/nowhere)"));
}

#[testkit::needs(root, busybox)]
#[test]
fn volumes_bind_host_paths_and_ro_refuses_writes() {
    if !ready("volumes_bind_host_paths_and_ro_refuses_writes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "from the host\n").unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let ro = format!("{}:/data/note.txt:ro", file.display());
    let rw = format!("{}:/srv/out", shared.display());
    let script = "cat /data/note.txt; echo changed > /data/note.txt || echo refused; \
                  echo written > /srv/out/result";
    let out = busybox(&["-v", &ro, "--volume", &rw, "--", "sh", "-c", script], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("from the host\n"), "{stdout}");
    assert!(stdout.contains("refused\n"), "{stdout}");
    assert!(text(&out.stderr).contains("Read-only file system"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "from the host\n");
    assert_eq!(
        std::fs::read_to_string(shared.join("result")).unwrap(),
        "written\n"
    );
    // Bad volumes are refused before anything is created.
    versus()
        .args(["container", "run", "--busybox", "-v", "/nonexistent/x:/x"])
        .args(["--", "sh"])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("--volume").and(predicate::str::contains("/nonexistent/x")),
        );
    versus()
        .args([
            "container",
            "run",
            "--busybox",
            "-v",
            "/tmp:relative",
            "--",
            "sh",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("must be absolute"));
}

#[testkit::needs(root, busybox)]
#[test]
fn stderr_of_a_command_comes_live_before_the_tables() {
    if !ready("stderr_of_a_command_comes_live_before_the_tables") {
        return;
    }
    let binary = assert_cmd::cargo::cargo_bin("versus");
    // One file for both streams, as `2>&1` makes it. The two streams are
    // two pipes read apart (as docker run reads them), so only each one's
    // own order is kept; both come before the report.
    let out = StdCommand::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' container run --busybox -- sh -c 'echo out-first; echo err-second >&2' 2>&1",
            binary.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    let all = text(&out.stdout);
    let first = all.find("out-first").expect("stdout passed through");
    let second = all.find("err-second").expect("stderr passed through");
    let table = all.find("phase").expect("the report's tables");
    assert!(first < table && second < table, "{all}");
}

#[testkit::needs(root, busybox)]
#[test]
fn the_output_of_a_command_is_kept_in_the_json_report() {
    if !ready("the_output_of_a_command_is_kept_in_the_json_report") {
        return;
    }
    let out = busybox(
        &["--json", "--", "sh", "-c", "echo kept; echo also-kept >&2"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: RunReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.stdout, "kept\n");
    assert_eq!(report.stderr, "also-kept\n");
    assert!(!report.output_echoed);
    assert_eq!(report.other_output_lines, 1);
}

#[testkit::needs(root, busybox)]
#[test]
fn network_host_shares_the_network_namespace() {
    if !ready("network_host_shares_the_network_namespace") {
        return;
    }
    let shared = |args: &[&str]| {
        let out = busybox(
            &[&["--json"], args, &["--", "sh", "-c", "true"]].concat(),
            "",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: RunReport = serde_json::from_slice(&out.stdout).unwrap();
        report.container.unwrap().shared_namespaces
    };
    assert!(shared(&["--network", "host", "--rm"]).contains(&container::Namespace::Net));
    assert!(!shared(&["--network", "none"]).contains(&container::Namespace::Net));
    // `--network none --share net` is refused: see hardening.rs.
}

#[test]
fn bad_habits_are_named() {
    // Parsed before anything is created: no root needed.
    versus()
        .args(["container", "run", "-u", "bob", "--", "ids"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("numeric"));
    versus()
        .args(["container", "run", "--rootfs-overlay", "--", "ids"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--rootfs"));
    versus()
        .args(["container", "run", "--name", "x", "--", "ids"])
        .assert()
        .code(2);
    // As docker run: -it wants a terminal; a pipe goes with -i alone.
    versus()
        .args(["container", "run", "--busybox", "-it", "--", "sh"])
        .write_stdin("exit 3\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("drop -t"));
}

#[testkit::needs(root, busybox)]
#[test]
fn a_missing_workdir_is_refused_before_launch() {
    if !ready("a_missing_workdir_is_refused_before_launch") {
        return;
    }
    versus()
        .args([
            "container",
            "run",
            "--busybox",
            "-w",
            "/nowhere",
            "--",
            "sh",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--workdir").and(predicate::str::contains("/nowhere")));
}

/// A root filesystem directory holding the host's static busybox as `sh`.
fn busybox_dir(root: &Path) {
    for dir in ["bin", "proc", "dev", "tmp", "etc"] {
        std::fs::create_dir(root.join(dir)).unwrap();
    }
    let busybox = container::rootfs::host_busybox().unwrap();
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    std::fs::write(root.join("etc/original"), "untouched\n").unwrap();
}

/// The host's mounts naming `path` (none may be left behind).
fn mounts_naming(path: &Path) -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&*path.to_string_lossy()))
        .count()
}

#[testkit::needs(root, busybox)]
#[test]
fn the_rootfs_overlay_keeps_the_directory_unchanged_and_leaves_nothing() {
    if !ready("the_rootfs_overlay_keeps_the_directory_unchanged_and_leaves_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    busybox_dir(root);
    let root_arg = root.to_str().unwrap();
    let before: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    let script = "echo changed > /etc/original; echo new > /etc/added; mkdir /made; \
                  cat /etc/original";
    let out = versus()
        .args([
            "container",
            "run",
            "--json",
            "--rootfs",
            root_arg,
            "--rootfs-overlay",
        ])
        .args(["--", "/bin/sh", "-c", script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: RunReport = serde_json::from_slice(&out.stdout).unwrap();
    // The container saw its own write…
    assert_eq!(report.stdout, "changed\n");
    // …which never reached the directory.
    assert_eq!(
        std::fs::read_to_string(root.join("etc/original")).unwrap(),
        "untouched\n"
    );
    assert!(!root.join("etc/added").exists());
    assert!(!root.join("made").exists());
    assert_eq!(
        std::fs::read_dir(root.join("tmp")).unwrap().count(),
        before.len()
    );
    assert_eq!(mounts_naming(root), 0, "a mount was left behind");
    let container = report.container.unwrap();
    assert!(container.rootfs.contains("overlay"), "{}", container.rootfs);
    for path in container.cgroup.map(|c| c.paths).unwrap_or_default() {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    // Without the overlay the container's writes go through, as the help says.
    let out = versus()
        .args(["container", "run", "--rootfs", root_arg])
        .args(["--", "/bin/sh", "-c", "echo through > /etc/original"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(root.join("etc/original")).unwrap(),
        "through\n"
    );
}

/// What versus writes on its terminal, as it arrives.
struct Screen {
    chunks: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Screen {
    /// Waits until `needle` has appeared after `from` (a generous bound only
    /// guards against a hang; nothing is timed).
    fn wait_for(&mut self, needle: &str, from: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(at) = self.seen[from..].find(needle) {
                return from + at + needle.len();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!("{needle:?} never came; the terminal showed:\n{}", self.seen),
            }
        }
    }
}

/// `versus container run --busybox -it -- sh` on a new terminal: the
/// child, what it writes, the terminal's master side (for typing) and a
/// copy of its slave side (versus' terminal, to look at its settings).
struct Session {
    child: std::process::Child,
    screen: Screen,
    keys: std::fs::File,
    terminal: std::os::fd::OwnedFd,
}

fn interactive_shell() -> Option<Session> {
    let Ok(pty) = container::tty::Pty::open() else {
        eprintln!("skipped: no pseudo-terminals here (/dev/ptmx)");
        return None;
    };
    set_size(&pty.master, 40, 160);
    let slave = || Stdio::from(pty.slave.try_clone().unwrap());
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("versus"))
        .args(["container", "run", "--busybox", "-it", "--", "sh"])
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let keys = std::fs::File::from(pty.master);
    let mut reader = keys.try_clone().unwrap();
    let (tx, chunks) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 || tx.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    Some(Session {
        child,
        screen: Screen {
            chunks,
            seen: String::new(),
        },
        keys,
        terminal: pty.slave,
    })
}

/// Gives the terminal of `master` this window size.
fn set_size(master: &impl AsRawFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a valid winsize.
    let set = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(set, 0);
}

/// Whether the terminal turns Ctrl-C into a signal (off in raw mode).
fn signals_on(terminal: &std::os::fd::OwnedFd) -> bool {
    // SAFETY: termios is plain data; all-zero is valid before tcgetattr.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer and a terminal descriptor.
    let got = unsafe { libc::tcgetattr(terminal.as_raw_fd(), &mut settings) };
    assert_eq!(got, 0);
    settings.c_lflag & libc::ISIG != 0
}

#[testkit::needs(root, busybox)]
#[test]
fn an_interactive_shell_on_a_terminal_gets_ctrl_c_and_its_exit_status() {
    if !ready("an_interactive_shell_on_a_terminal_gets_ctrl_c_and_its_exit_status") {
        return;
    }
    let Some(mut s) = interactive_shell() else {
        return;
    };
    let at = s.screen.wait_for("# ", 0);
    // The foreground job prints its marker itself, so that once it shows,
    // the job is running in its own process group and the shell's
    // terminal is out of line editing.
    s.keys
        .write_all(b"sh -c 'echo job-$((6*7)); exec sleep 30'\n")
        .unwrap();
    let at = s.screen.wait_for("job-42\r\n", at);
    // Ctrl-C as the user types it: a byte the terminal turns into SIGINT
    // for the foreground job, not a signal for versus.
    s.keys.write_all(b"\x03").unwrap();
    let at = s.screen.wait_for("# ", at);
    s.keys.write_all(b"echo job-status=$?\n").unwrap();
    let at = s
        .screen
        .wait_for(&format!("\njob-status={}\r\n", 128 + libc::SIGINT), at);
    // The window size came along at start, and follows a change (the
    // terminal tells versus with SIGWINCH).
    s.keys.write_all(b"busybox stty size\n").unwrap();
    let at = s.screen.wait_for("\n40 160\r\n", at);
    set_size(&s.keys, 50, 132);
    let pid = i32::try_from(s.child.id()).unwrap();
    // SAFETY: kill has no memory effects; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGWINCH) }, 0);
    // The copy happens on versus' own time: ask until it shows.
    let mut at = at;
    loop {
        s.keys.write_all(b"busybox stty size\n").unwrap();
        let next = s.screen.wait_for(" # ", at);
        if s.screen.seen[at..next].contains("\n50 132\r\n") {
            at = next;
            break;
        }
        at = next;
    }
    s.keys.write_all(b"echo hi-$((40+2)); exit 5\n").unwrap();
    s.screen.wait_for("hi-42\r\n", at);
    let status = s.child.wait().unwrap();
    let seen = &s.screen.seen;
    assert_eq!(status.code(), Some(5), "{seen}");
    assert!(!seen.contains("interrupted"), "{seen}");
    assert!(signals_on(&s.terminal), "the terminal was left in raw mode");
}

#[testkit::needs(root, busybox)]
#[test]
fn sigterm_to_versus_during_an_interactive_shell_restores_the_terminal() {
    if !ready("sigterm_to_versus_during_an_interactive_shell_restores_the_terminal") {
        return;
    }
    let Some(mut s) = interactive_shell() else {
        return;
    };
    s.screen.wait_for("# ", 0);
    assert!(
        !signals_on(&s.terminal),
        "versus put its terminal in raw mode"
    );
    let pid = i32::try_from(s.child.id()).unwrap();
    // SAFETY: kill has no memory effects; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = s.child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "{}",
        s.screen.seen
    );
    assert!(signals_on(&s.terminal), "the terminal was left in raw mode");
}

/// A prompt without a newline reaches the user before the program waits
/// for the answer: versus prints a program's own bytes as they arrive, not
/// line by line. The answer is only written once the prompt was seen, so a
/// prompt held back would leave the shell waiting until its timeout.
#[testkit::needs(root, busybox)]
#[test]
fn a_prompt_shows_before_the_program_reads_its_answer() {
    if !ready("a_prompt_shows_before_the_program_reads_its_answer") {
        return;
    }
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("versus"))
        .args(["container", "run", "--busybox", "--timeout", "30s", "-i"])
        .args([
            "--",
            "/bin/sh",
            "-c",
            "printf 'Name: '; read name; echo \"hi $name\"",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buffer) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buffer[..n]);
            let _ = tx.send(text(&seen));
        }
    });
    let mut seen = String::new();
    while !seen.contains("Name: ") {
        match rx.recv() {
            Ok(text) => seen = text,
            Err(_) => break,
        }
    }
    assert_eq!(seen, "Name: ", "the prompt alone, before any answer");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"bob\n").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    while let Ok(text) = rx.recv() {
        seen = text;
    }
    assert!(seen.starts_with("Name: hi bob\n"), "{seen}");
    assert_eq!(status.code(), Some(0));
}

/// A command found on the container's PATH is reported as a command of the
/// root filesystem, like one given by its path: no empty results table of
/// the workload, and the root it ran in named in the header.
#[testkit::needs(root, busybox)]
#[test]
fn a_command_by_name_is_reported_as_a_command_not_as_the_workload() {
    if !ready("a_command_by_name_is_reported_as_a_command_not_as_the_workload") {
        return;
    }
    let out = busybox(&["--", "sh", "-c", "echo hi"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("hi\n"), "{stdout}");
    assert!(stdout.contains("· in built tmpfs"), "{stdout}");
    assert!(!stdout.contains("no result lines"), "{stdout}");
    let json = busybox(&["--json", "--", "sh", "-c", "echo hi"], "");
    let report: RunReport = serde_json::from_slice(&json.stdout).unwrap();
    assert!(report.rootfs_command);
}

//! Isolation from the host's devices, system calls and file system: the container
//! cannot make and open a host device (device cgroup, `nodev` mounts), cannot set up
//! io_uring (seccomp), and an external rootfs cannot redirect versus's mounts through a
//! symbolic link. These need root: they skip with a printed reason without it, and fail
//! instead when `VERSUS_REQUIRE_ROOT=1` (as CI sets it). Every container run also
//! checks that nothing was left behind: no `versus/<id>` cgroup, no new mount.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{busybox, cgroup_mounts, copy_executable, host_mounts, require_root, unique_id};
use container::{ContainerBuilder, Error, Outcome, Report, RootfsFile, RootfsSpec};

/// Asserts that container `id` left no cgroup and no host mount behind.
fn assert_clean(id: &str, mounts_before: &BTreeSet<String>) {
    for m in cgroup_mounts() {
        let dir = m.join("versus").join(id);
        assert!(!dir.exists(), "cgroup {} was left behind", dir.display());
    }
    let new: Vec<_> = host_mounts().difference(mounts_before).cloned().collect();
    assert!(new.is_empty(), "new mounts on the host: {new:?}");
}

struct Run {
    report: Report,
    stdout: String,
    stderr: String,
}

/// Runs a container to completion, collecting stdout and stderr, and checks the cleanup
/// whether or not it launched.
fn run(id: &str, b: ContainerBuilder) -> Result<Run, Error> {
    let before = host_mounts();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let (mut err_r, err_w) = std::io::pipe().unwrap();
    let result = b
        .stdout(out_w.into())
        .stderr(err_w.into())
        .build()
        .and_then(|s| s.spawn());
    let running = match result {
        Ok(r) => r,
        Err(e) => {
            assert_clean(id, &before);
            return Err(e);
        }
    };
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_r.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    let _ = out_r.read_to_string(&mut stdout);
    let report = running.wait(Some(Duration::from_secs(60)), &AtomicBool::new(false))?;
    let stderr = err_thread.join().unwrap();
    assert_clean(id, &before);
    Ok(Run {
        report,
        stdout,
        stderr,
    })
}

/// A built rootfs with busybox and its `mknod` applet.
fn busybox_root(bb: &Path) -> RootfsSpec {
    RootfsSpec::Build { files: Vec::new() }.with_busybox(bb)
}

fn sh(id: &str, bb: &Path, script: &str) -> Run {
    run(
        id,
        ContainerBuilder::new(id)
            .rootfs(busybox_root(bb))
            .command(["/bin/sh", "-c", script]),
    )
    .unwrap_or_else(|e| panic!("container {id} failed: {e}"))
}

#[testkit::needs(root, busybox)]
#[test]
fn a_host_device_cannot_be_made_or_opened() {
    let test = "a_host_device_cannot_be_made_or_opened";
    if !require_root(test) {
        return;
    }
    let Some(bb) = busybox(test) else { return };
    // The probe from the hardening issue: make the host's KVM node and read from it.
    let id = unique_id("kvm");
    let r = sh(&id, &bb, "mknod /dev/kvm c 10 232 && head -c1 /dev/kvm");
    eprintln!(
        "mknod probe: {:?}, stdout {:?}, stderr {:?}",
        r.report.outcome, r.stdout, r.stderr
    );
    assert_ne!(r.report.outcome, Outcome::Exited(0));
    assert!(
        r.stderr.contains("mknod") && r.stderr.contains("Operation not permitted"),
        "{}",
        r.stderr
    );

    // An allowed device (null, 1:3) can be made, but not opened where it was made: /tmp
    // is a `nodev` tmpfs. Its node in /dev (bound from the host) works.
    let id = unique_id("null");
    let r = sh(
        &id,
        &bb,
        "mknod /tmp/x c 1 3 && echo made; echo hi > /tmp/x || echo refused; \
         echo hi > /dev/null && echo null-ok; \
         head -c 16 /dev/urandom | wc -c; head -c 4 /dev/zero | wc -c",
    );
    assert_eq!(r.report.outcome, Outcome::Exited(0), "{}", r.stderr);
    assert_eq!(r.stdout, "made\nrefused\nnull-ok\n16\n4\n", "{}", r.stderr);
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);

    // A device outside the allow-list cannot be made anywhere, not even on /tmp.
    let id = unique_id("sda");
    let r = sh(&id, &bb, "mknod /tmp/sda b 8 0");
    assert_eq!(r.report.outcome, Outcome::Exited(1));
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
}

#[testkit::needs(root, busybox)]
#[test]
fn an_external_rootfs_mount_does_not_allow_device_nodes() {
    let test = "an_external_rootfs_mount_does_not_allow_device_nodes";
    if !require_root(test) {
        return;
    }
    let Some(bb) = busybox(test) else { return };
    // A device node shipped inside the rootfs (as an image might carry one) must not open.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in ["bin", "proc", "dev"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    copy_executable(&bb, &root.join("bin/busybox"));
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    nix::sys::stat::mknod(
        &root.join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let id = unique_id("extdev");
    let r = run(
        &id,
        ContainerBuilder::new(&id)
            .rootfs(RootfsSpec::Dir(root.to_path_buf()))
            .command(["/bin/sh", "-c", "echo x > /null || echo refused"]),
    )
    .unwrap();
    assert_eq!(r.stdout, "refused\n", "{}", r.stderr);
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
}

/// A static C program that reports what `io_uring_setup` returns.
const IO_URING_PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    /* struct io_uring_params is 120 bytes; zeroed asks for the defaults. */
    unsigned char params[120];
    memset(params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 4, params);
    if (fd >= 0) {
        printf("io_uring_setup: fd %ld\n", fd);
        return 0;
    }
    printf("io_uring_setup: %s\n", strerror(errno));
    return errno == EPERM ? 3 : 4;
}
"#;

/// Compiles [`IO_URING_PROBE`] statically into `dir`; `None` (after saying why) if no C
/// compiler can, unless `VERSUS_REQUIRE_ROOT=1`.
fn compile_probe(test: &str, dir: &Path) -> Option<PathBuf> {
    testkit::c_program(test, "cc", "-static", dir, "probe", IO_URING_PROBE)
}

#[testkit::needs(root, cc)]
#[test]
fn io_uring_is_refused_by_the_default_seccomp_profile() {
    let test = "io_uring_is_refused_by_the_default_seccomp_profile";
    if !require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(probe) = compile_probe(test, dir.path()) else {
        return;
    };
    // On the host the call works (or the kernel disabled io_uring itself, which the
    // probe would report as EPERM too — then the container result proves nothing).
    let host = Command::new(&probe).output().unwrap();
    let host_out = String::from_utf8_lossy(&host.stdout);
    assert!(host_out.starts_with("io_uring_setup: "), "{host_out}");
    let id = unique_id("uring");
    let r = run(
        &id,
        ContainerBuilder::new(&id)
            .rootfs(RootfsSpec::Build {
                files: vec![RootfsFile::host("/bin/probe", &probe)],
            })
            .command(["/bin/probe"]),
    )
    .unwrap();
    assert_eq!(
        r.stdout, "io_uring_setup: Operation not permitted\n",
        "{}",
        r.stderr
    );
    assert_eq!(r.report.outcome, Outcome::Exited(3));
    if host.status.success() {
        eprintln!("host: {host_out}");
    }
}

#[testkit::needs(root, busybox)]
#[test]
fn a_symlinked_mount_point_in_an_external_rootfs_is_refused() {
    let test = "a_symlinked_mount_point_in_an_external_rootfs_is_refused";
    if !require_root(test) {
        return;
    }
    let Some(bb) = busybox(test) else { return };
    for (name, target) in [("dev", "/etc"), ("proc", "/"), ("tmp", "/etc")] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["bin", "proc", "dev", "tmp"] {
            if d != name {
                std::fs::create_dir(root.join(d)).unwrap();
            }
        }
        std::os::unix::fs::symlink(target, root.join(name)).unwrap();
        copy_executable(&bb, &root.join("bin/busybox"));
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        let id = unique_id("link");
        let e = run(
            &id,
            ContainerBuilder::new(&id)
                .rootfs(RootfsSpec::Dir(root.to_path_buf()))
                .command(["/bin/sh", "-c", "ls /dev; exit 0"]),
        )
        .err()
        .unwrap_or_else(|| panic!("a rootfs with /{name} -> {target} must be refused"));
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "the root filesystem's /{name} is a symbolic link (to {target})"
            )),
            "{msg}"
        );
        assert!(msg.contains("replace it with a directory"), "{msg}");
    }
}

/// The cgroup v2 mount of this host, if any (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified`
/// in the hybrid layout).
fn cgroup2_mount() -> Option<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .map(|l| PathBuf::from(l.split(' ').nth(4).unwrap()))
}

#[testkit::needs(root, busybox)]
#[test]
fn the_cgroup_v2_device_program_refuses_what_the_list_does_not_hold() {
    let test = "the_cgroup_v2_device_program_refuses_what_the_list_does_not_hold";
    if !require_root(test) {
        return;
    }
    let Some(bb) = busybox(test) else { return };
    let Some(mount) = cgroup2_mount() else {
        testkit::skip(test, testkit::Need::Root, "no cgroup v2 mount on this host");
        return;
    };
    // The launcher uses the program only where no v1 devices controller exists; test
    // it directly on a cgroup of its own in the v2 hierarchy (on a hybrid host its
    // processes are also in the v1 root devices cgroup, which allows everything, so
    // only the program can refuse).
    let dir = mount.join(format!("versus-devtest-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let attached = container::cgroup::devices::attach_program(&dir);
    let out = attached.as_ref().ok().map(|()| {
        let script = format!(
            "echo $$ > {}/cgroup.procs || exit 9; \
             head -c1 /dev/kvm; echo kvm=$?; \
             mknod /tmp/versus-devtest-{pid} c 10 232; echo mknod=$?; \
             head -c1 /dev/null; echo null=$?; head -c1 /dev/zero | wc -c",
            dir.display(),
            pid = std::process::id()
        );
        Command::new(&bb)
            .args(["sh", "-c", &script])
            .output()
            .unwrap()
    });
    // Removing the cgroup (the shell has exited) frees the program.
    std::fs::remove_dir(&dir).unwrap();
    let out = out.unwrap_or_else(|| panic!("{}", attached.unwrap_err()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "kvm=1\nmknod=1\nnull=0\n1\n", "{stderr}");
    assert!(
        stderr.contains("head: /dev/kvm: Operation not permitted"),
        "{stderr}"
    );
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert!(!Path::new(&format!("/tmp/versus-devtest-{}", std::process::id())).exists());
}

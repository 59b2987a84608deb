//! The report as a whole: an empty view, JSON, the rendered table, and the
//! invariants on this real machine.

use super::*;

// --- empty view, serde, render --------------------------------------------------

#[test]
fn empty_view_degrades_to_unknown() {
    let f = Fixture::empty();
    let probes = FakeProbes {
        kvm: KvmOpen::Other("boom".into()),
        euid: 1000,
        hypervisor: None,
        stale: Vec::new(),
        join_us: None,
        join_asked: Default::default(),
    };
    let r = diagnose(&f.view(), &probes);
    assert_eq!(r.kernel_release, None);
    assert_eq!(r.cpu_model, None);
    assert!(r.namespaces.is_empty());
    assert_eq!(r.cgroup.layout, Layout::None);
    assert!(
        r.check("host.kernel")
            .unwrap()
            .detail
            .starts_with("unknown")
    );
    // Every check has a title and every failure a fix.
    for c in &r.checks {
        assert!(!c.title.is_empty());
        if c.status == Status::Fail {
            assert!(c.fix.is_some(), "{} fails without a fix", c.id);
        }
    }
}

#[test]
fn report_round_trips_through_json() {
    let f = Fixture::host(&format!("{BASE_FLAGS} hypervisor")).with_kvm(&["kvm", "kvm_pvm"]);
    f.mountinfo(HYBRID_MOUNTINFO)
        .file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
    let r = diagnose(&f.view(), &FakeProbes::in_vm("KVMKVMKVM"));
    let json = serde_json::to_string(&r).expect("serialize");
    let back: DoctorReport = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["kvm"]["backend"]["software"]["module"], "kvm_pvm");
    assert_eq!(v["kvm"]["open"]["ok"]["api_version"], 12);
    assert_eq!(v["checks"][0]["id"], "host.kernel");
    assert_eq!(v["checks"][0]["status"], "info");
}

fn failing_report() -> DoctorReport {
    let f = Fixture::host(BASE_FLAGS);
    f.modules(&["kvm"]);
    diagnose(&f.view(), &FakeProbes::root())
}

#[test]
fn render_shows_titles_failures_and_fixes() {
    let r = failing_report();
    // Wide enough that nothing wraps: each row is one line.
    let out = render_with_width(&r, false, Some(1000));
    for c in &r.checks {
        assert!(
            out.contains(&c.title),
            "missing title {:?} in\n{out}",
            c.title
        );
    }
    let dev = r.check("kvm.device").unwrap();
    assert_eq!(dev.status, Status::Fail);
    let line = out
        .lines()
        .find(|l| l.contains("/dev/kvm present"))
        .expect("kvm.device row");
    assert!(line.contains('✗'), "{line}");
    assert!(line.contains(dev.fix.as_deref().unwrap()), "{line}");
    assert!(line.contains("modprobe kvm_intel"), "{line}");
    let backend = out
        .lines()
        .find(|l| l.contains("KVM backend") && l.contains('✗'))
        .expect("kvm.backend row");
    assert!(backend.contains("unavailable (no /dev/kvm)"), "{backend}");
    assert!(out.contains(&format!("{} failed", r.counts().fail)));
    assert!(out.contains("only host and container numbers"));
    assert!(!out.contains('\x1b'), "no ANSI codes without color");
}

#[test]
fn render_wraps_details_but_not_titles() {
    let r = failing_report();
    let out = render_with_width(&r, false, Some(90));
    for c in &r.checks {
        assert!(out.contains(&c.title), "missing title {:?}", c.title);
    }
    assert!(out.contains('✗') && out.contains('✓') && out.contains('·'));
    // Table rows stay within the requested width.
    for l in out.lines().filter(|l| l.starts_with('│')) {
        assert!(l.chars().count() <= 90, "too wide: {l}");
    }
}

#[test]
fn render_keeps_each_number_with_its_unit_at_every_width() {
    let mut r = failing_report();
    r.checks[0].detail = "joining a new cgroup took 286 µs here, without an RCU grace-period \
                          wait (a migration moments before)"
        .to_owned();
    r.checks[0].fix = Some("it took 12.5 ms and 3 runs of 4 KiB".to_owned());
    for width in 20..=120 {
        let out = render_with_width(&r, false, Some(width));
        for line in out.lines() {
            for segment in line.split(['│', '┆']) {
                let first = segment.split_whitespace().next().unwrap_or("");
                assert!(
                    !["µs", "ms", "runs", "KiB"].contains(&first),
                    "width {width}: a unit starts a line:\n{line}\nin\n{out}"
                );
            }
        }
    }
}

#[test]
fn render_default_and_colored() {
    let r = failing_report();
    let out = render(&r, false);
    for c in &r.checks {
        assert!(out.contains(&c.title), "missing title {:?}", c.title);
    }
    let colored = render_with_width(&r, true, Some(200));
    assert!(colored.contains('\x1b'), "color adds ANSI codes");
    assert!(colored.contains('✗'));
}

// --- the real machine -----------------------------------------------------------

fn uname_release() -> String {
    // SAFETY: utsname is plain old data (arrays of c_char); all zeroes is valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname for uname to fill.
    let rc = unsafe { libc::uname(&mut u) };
    assert_eq!(rc, 0, "uname failed");
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn real_machine_invariants() {
    let r = diagnose(&HostView::real(), &RealProbes);
    assert_eq!(r.kernel_release.as_deref(), Some(uname_release().as_str()));
    assert!(
        r.namespaces.iter().any(|n| n == "pid"),
        "{:?}",
        r.namespaces
    );
    assert!(r.namespaces.iter().any(|n| n == "mnt"));
    assert!(r.seccomp.supported);
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(r.euid, euid);
    assert_eq!(r.is_root, euid == 0);
    assert_eq!(r.kvm.device_present, Path::new("/dev/kvm").exists());
    if !r.kvm.device_present {
        assert_eq!(r.kvm.backend, KvmBackend::Unavailable);
    }
    if let KvmOpen::Ok { api_version } = r.kvm.open {
        assert_eq!(api_version, 12);
    }
    // kvm_pvm without vmx/svm is software (a nested host with kvm_intel + vmx
    // is hardware, even with kvm_pvm loaded: `hypervisor::kvm::classify`).
    if r.kvm.modules.iter().any(|m| m == "kvm_pvm")
        && r.kvm.cpu_virt_flags.is_empty()
        && r.kvm.device_present
    {
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Software {
                module: "kvm_pvm".into()
            }
        );
    }
    // Check ids are unique, and all namespace checks are present.
    let mut ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate check ids");
    for ns in NAMESPACES {
        assert!(r.check(&format!("ns.{ns}")).is_some());
    }
    // A cgroup layout was found wherever /proc and /sys are mounted normally.
    if Path::new("/sys/fs/cgroup").exists() {
        assert_ne!(r.cgroup.layout, Layout::None);
    }
    let out = render(&r, false);
    assert!(out.contains("KVM backend"));
    println!("{out}");
}

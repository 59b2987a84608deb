//! The lessons on what each place runs on and carries: `two-stacks` (uname
//! on the host, in a container and in a VM), `windows-and-mac` (the
//! workload's ELF header, and the Linux kernel each place gives it) and
//! `images` (a container image's files next to a VM's kernel and initrd,
//! and the overlay a container writes into).

use super::{run, uname_in, watched_container};
use crate::backend::Backend;
use crate::backend::container::{ContainerBackend, ContainerSettings};
use crate::backend::host::HostBackend;
use crate::backend::vm::VmBackend;
use crate::explain::catalog::Catalog;
use crate::explain::escape;
use crate::explain::observe::{self, Look};
use crate::explain::{ExplainError, Line, Presenter};
use crate::fmt;
use crate::workload::Workload;

/// `two-stacks`.
pub(crate) fn two_stacks(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("two-stacks.running")?);
    let vm_backend = VmBackend::new();
    let places: [(&str, &dyn Backend); 3] = [
        ("host", &HostBackend),
        ("container", &ContainerBackend::new()),
        ("vm", &vm_backend),
    ];
    let mut lines = Vec::new();
    let mut kernels = Vec::new();
    let mut reports = Vec::new();
    for (place, backend) in places {
        let report = run(backend, place, &["uname"])?;
        let (sysname, release) = uname_in(&report, place)?;
        lines.push(Line::Figure(catalog.text(
            "two-stacks.row",
            &[
                ("place", &catalog.subject(place)),
                ("sysname", &sysname),
                ("release", &release),
            ],
        )?));
        kernels.push((sysname, release));
        reports.push(report);
    }
    let verdict = |yes: bool| {
        catalog.plain(if yes {
            "two-stacks.yes"
        } else {
            "two-stacks.no"
        })
    };
    lines.push(Line::Figure(catalog.text(
        "two-stacks.same",
        &[("verdict", &verdict(kernels[1] == kernels[0])?)],
    )?));
    lines.push(Line::Figure(catalog.text(
        "two-stacks.differs",
        &[("verdict", &verdict(kernels[2] != kernels[0])?)],
    )?));
    // The two stacks, drawn with the kernels that answered.
    let name = |(sysname, release): &(String, String)| format!("{sysname} {release}");
    let (host, guest) = (name(&kernels[0]), name(&kernels[2]));
    lines.push(Line::Figure(
        catalog.text("two-stacks.stack-container", &[("host", &host)])?,
    ));
    lines.push(Line::Figure(catalog.text(
        "two-stacks.stack-vm",
        &[("guest", &guest), ("host", &host)],
    )?));
    let size = |bytes: Option<u64>| bytes.map_or_else(|| "?".to_string(), fmt::bytes);
    let guest_memory = match &vm_backend.settings.memory {
        hypervisor::config::MemoryConfig::Total(bytes) => *bytes,
        hypervisor::config::MemoryConfig::Regions(regions) => {
            regions.iter().map(|(_, size)| size).sum()
        }
    };
    let vm = &reports[2].memory;
    lines.push(Line::Figure(catalog.text(
        "two-stacks.vm-size",
        &[
            ("image", &size(vm.image_bytes)),
            ("memory", &fmt::bytes(guest_memory)),
            ("touched", &size(vm.guest_touched_bytes)),
        ],
    )?));
    lines.push(Line::Figure(catalog.text(
        "two-stacks.container-size",
        &[("image", &size(reports[1].memory.image_bytes))],
    )?));
    Ok(lines)
}

/// Guest RAM for the Linux guest: what `versus vm run --linux` gives the
/// minimal kernel (it boots in 40 MiB; every page more is set up by
/// emulated instructions on a software backend).
const LINUX_GUEST_MEMORY: u64 = 64 << 20;
/// How long the Linux boot may take: minutes on a busy software backend,
/// as `versus vm run --linux` allows.
const LINUX_GUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);
/// Console output kept to find the banner in: the kernel prints it among
/// its first lines, and a boot's whole log is a few tens of KiB.
const LINUX_CONSOLE_KEEP: usize = 256 << 10;
/// What the kernel's banner line starts with (`linux_banner` in
/// init/version.c): "Linux version RELEASE (BUILDER) …".
const LINUX_BANNER: &str = "Linux version ";

/// The Linux part of `two-stacks` (`--linux`): the kernel in `kernel_path`
/// booted through the same [`hypervisor::linux::run::boot`] as `versus vm
/// run --linux`, with the workload as `/init`; its banner next to the
/// host's release, its image next to the tiny kernel's, and how long it
/// took to "Run /init".
pub(crate) fn two_stacks_linux(
    catalog: &Catalog,
    kernel_path: &std::path::Path,
    kernel: Vec<u8>,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    use hypervisor::linux::milestones::Milestone;
    use hypervisor::linux::run::{LinuxEnd, LinuxRunConfig};
    use std::sync::{Arc, Mutex};

    presenter.progress(&catalog.text(
        "two-stacks.linux-running",
        &[("kernel", &kernel_path.display().to_string())],
    )?);
    let console = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&console);
    let config = LinuxRunConfig {
        kernel,
        cmdline: None,
        vcpus: 1,
        memory: LINUX_GUEST_MEMORY,
        timeout: LINUX_GUEST_TIMEOUT,
        stall_silence: hypervisor::linux::run::STALL_SILENCE,
        console_observer: Some(hypervisor::console::ConsoleObserver::new(move |write| {
            // A poisoned lock only loses console text: the banner is then
            // reported missing, never a panic.
            if let Ok(mut kept) = kept.lock() {
                let room = LINUX_CONSOLE_KEEP.saturating_sub(kept.len());
                kept.extend_from_slice(&write.bytes[..write.bytes.len().min(room)]);
            }
        })),
        stop_flag: Some(&crate::interrupt::INTERRUPTED),
        initrd: Some(hypervisor::linux::initrd::workload_archive(
            Workload::embedded().bytes(),
        )),
        init_args: vec!["uname".to_string()],
    };
    let report = hypervisor::linux::run::boot(&config).map_err(ExplainError::LinuxBoot)?;
    let console = console
        .lock()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let place = "vm (Linux)";
    let banner = linux_banner(&console).ok_or_else(|| ExplainError::Workload {
        place: place.to_string(),
        what: format!(
            "printed no \"{}\" banner on its console",
            LINUX_BANNER.trim_end()
        ),
    })?;
    let host = std::fs::read_to_string(HOST_RELEASE)
        .map(|release| release.trim().to_string())
        .map_err(|error| ExplainError::Workload {
            place: "host".to_string(),
            what: format!("has no readable {HOST_RELEASE} ({error})"),
        })?;
    let tiny = crate::backend::vm::Kernel::embedded().bytes.len() as u64;
    let linux = config.kernel.len() as u64;
    let mut lines = vec![
        Line::Figure(catalog.text(
            "two-stacks.linux-banner",
            &[("banner", banner), ("host", &host)],
        )?),
        Line::Figure(catalog.text(
            "two-stacks.linux-size",
            &[
                ("linux", &fmt::bytes(linux)),
                ("tiny", &fmt::bytes(tiny)),
                (
                    "times",
                    &fmt::significant(linux as f64 / tiny.max(1) as f64),
                ),
            ],
        )?),
    ];
    let seconds = |d: std::time::Duration| format!("{:.1} s", d.as_secs_f64());
    match report
        .milestones
        .iter()
        .find(|(m, _)| *m == Milestone::RunInit)
    {
        Some((_, at)) => lines.push(Line::Figure(
            catalog.text("two-stacks.linux-init", &[("time", &seconds(*at))])?,
        )),
        None => lines.push(Line::Figure(catalog.text(
            "two-stacks.linux-ended",
            &[
                ("end", &report.end.to_string()),
                ("time", &seconds(report.elapsed)),
            ],
        )?)),
    }
    if report.end == LinuxEnd::InitReached {
        lines.push(Line::Prose(catalog.plain("two-stacks.linux-stops")?));
    }
    Ok(lines)
}

/// The Linux kernel of `two-stacks --linux`, read before the lesson starts
/// (a missing kernel is an error before anything runs), by the same
/// [`crate::workload::file::read_image`] as `versus vm run --linux`.
pub(crate) fn read_linux_kernel(path: &std::path::Path) -> Result<Vec<u8>, ExplainError> {
    crate::workload::file::read_image(path, crate::workload::file::ImageKind::LinuxKernel).map_err(
        |source| ExplainError::LinuxKernel {
            path: path.display().to_string(),
            source,
        },
    )
}

/// Where the host kernel's release is (what `uname -r` prints).
const HOST_RELEASE: &str = "/proc/sys/kernel/osrelease";

/// The kernel's banner line in `console`, from "Linux version" to the end
/// of its line.
fn linux_banner(console: &str) -> Option<&str> {
    let start = console.find(LINUX_BANNER)?;
    console[start..].lines().next().map(str::trim_end)
}

// The fields of an ELF header that say which system and machine a program
// is for (System V ABI, "ELF Header"): offsets into the file, and the
// values the lesson names.
/// `e_ident[EI_CLASS]`: 1 = 32-bit, 2 = 64-bit.
const ELF_CLASS_AT: usize = 4;
/// `e_ident[EI_DATA]`: 1 = little-endian, 2 = big-endian.
const ELF_DATA_AT: usize = 5;
/// `e_ident[EI_OSABI]`: the operating system's ABI the file is for.
const ELF_OSABI_AT: usize = 7;
/// `e_machine`, a little-endian u16: the instruction set.
const ELF_MACHINE_AT: usize = 18;
/// `EI_OSABI` values, by name: Linux linkers leave 0 (System V) unless a
/// GNU extension needs 3; the BSDs and Solaris mark theirs.
const ELF_OSABIS: [(u8, &str); 5] = [
    (0, "ELFOSABI_NONE (System V)"),
    (3, "ELFOSABI_GNU (Linux)"),
    (6, "ELFOSABI_SOLARIS"),
    (9, "ELFOSABI_FREEBSD"),
    (12, "ELFOSABI_OPENBSD"),
];
/// `e_machine` values, by name.
const ELF_MACHINES: [(u16, &str); 3] = [(3, "EM_386"), (62, "EM_X86_64"), (183, "EM_AARCH64")];

/// `windows-and-mac`.
pub(crate) fn windows_and_mac(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("windows-and-mac.running")?);
    let workload = Workload::embedded();
    let bytes = workload.bytes();
    let byte = |at: usize| bytes.get(at).copied();
    let (Some(class), Some(data), Some(osabi), Some(machine)) = (
        byte(ELF_CLASS_AT),
        byte(ELF_DATA_AT),
        byte(ELF_OSABI_AT),
        bytes
            .get(ELF_MACHINE_AT..ELF_MACHINE_AT + 2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
    ) else {
        return Err(ExplainError::Workload {
            place: "host".to_string(),
            what: "has an embedded workload too short for an ELF header (rebuild versus)"
                .to_string(),
        });
    };
    let named = |value: u64, names: &[(u64, &str)]| {
        names.iter().find(|(known, _)| *known == value).map_or_else(
            || format!("{value}"),
            |(_, name)| format!("{value} = {name}"),
        )
    };
    let osabis: Vec<(u64, &str)> = ELF_OSABIS
        .iter()
        .map(|(v, n)| (u64::from(*v), *n))
        .collect();
    let machines: Vec<(u64, &str)> = ELF_MACHINES
        .iter()
        .map(|(v, n)| (u64::from(*v), *n))
        .collect();
    let is_static = crate::workload::elf::check_static_elf(bytes).is_ok();
    let yes_no = |yes: bool| {
        catalog.plain(if yes {
            "windows-and-mac.yes"
        } else {
            "windows-and-mac.no"
        })
    };
    let mut lines = vec![Line::Figure(catalog.text(
        "windows-and-mac.elf",
        &[
            ("size", &fmt::bytes(bytes.len() as u64)),
            ("class", &class.to_string()),
            ("data", &data.to_string()),
            ("osabi", &named(u64::from(osabi), &osabis)),
            ("machine", &named(u64::from(machine), &machines)),
            ("static", &yes_no(is_static)?),
        ],
    )?)];
    let vm_backend = VmBackend::new();
    let places: [(&str, &dyn Backend); 3] = [
        ("host", &HostBackend),
        ("container", &ContainerBackend::new()),
        ("vm", &vm_backend),
    ];
    for (place, backend) in places {
        let report = run(backend, place, &["uname"])?;
        let (sysname, release) = uname_in(&report, place)?;
        lines.push(Line::Figure(catalog.text(
            "windows-and-mac.answered",
            &[
                ("place", &catalog.subject(place)),
                ("size", &fmt::bytes(bytes.len() as u64)),
                ("kernel", &format!("{sysname} {release}")),
            ],
        )?));
    }
    Ok(lines)
}

/// `images`' throwaway image: the directories a `--rootfs` must have to
/// mount on, and `bin` for busybox.
const IMAGE_DIRS: [&str; 3] = ["bin", "proc", "dev"];

/// The file the `images` container writes into its overlaid root.
const IMAGE_NOTE: &str = "/written-in-the-container";

/// What the `images` container runs: it writes [`IMAGE_NOTE`], reads it
/// back and prints its own mount table, whose `/` line is the overlay.
fn image_script() -> String {
    format!(
        "echo yes > {IMAGE_NOTE} && /bin/busybox cat {IMAGE_NOTE} && /bin/busybox cat /proc/self/mountinfo"
    )
}

/// The `lowerdir` and `upperdir` of the overlay mounted on `/` in a
/// `/proc/PID/mountinfo` table.
pub(crate) fn overlay_dirs(mountinfo: &str) -> Option<(String, String)> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mount_point = mount.split(' ').nth(4)?;
        let mut fs = fs.split(' ');
        if mount_point != "/" || fs.next()? != "overlay" {
            return None;
        }
        let options = fs.nth(1)?;
        let option = |name: &str| {
            options
                .split(',')
                .find_map(|option| option.strip_prefix(name))
                .map(str::to_string)
        };
        Some((option("lowerdir=")?, option("upperdir=")?))
    })
}

/// `images`' overlay part: a busybox image the lesson makes, run with
/// `--rootfs-overlay`; a file written in the container is read back inside
/// and looked for in the image on the host.
fn image_overlay(catalog: &Catalog, busybox: &std::path::Path) -> Result<Vec<Line>, ExplainError> {
    let scratch = |source| ExplainError::Scratch {
        dir: std::env::temp_dir().display().to_string(),
        source,
    };
    // Removed when dropped, whatever happens below.
    let image = escape::Jail::with_dirs("versus-image", &IMAGE_DIRS).map_err(scratch)?;
    std::fs::copy(busybox, image.path().join("bin/busybox")).map_err(scratch)?;
    let tree = observe::tree_of(image.path());
    let backend = ContainerBackend::with_settings(ContainerSettings {
        rootfs: crate::backend::container::Rootfs::Dir(image.path().to_path_buf()),
        rootfs_overlay: true,
        ..Default::default()
    });
    let place = "container --rootfs-overlay";
    let script = image_script();
    let report = run(&backend, place, &["/bin/busybox", "sh", "-c", &script])?;
    let (lower, upper) = overlay_dirs(&report.stdout).ok_or_else(|| ExplainError::Workload {
        place: place.to_string(),
        what: "printed no overlay mounted on / in its /proc/self/mountinfo".to_string(),
    })?;
    let inside = report.stdout.lines().next() == Some("yes");
    let in_image = image
        .path()
        .join(IMAGE_NOTE.trim_start_matches('/'))
        .exists();
    let yes_no = |yes: bool| catalog.plain(if yes { "images.yes" } else { "images.no" });
    Ok(vec![
        Line::Figure(catalog.text(
            "images.lower-tree",
            &[
                ("dir", &image.path().display().to_string()),
                ("files", &tree.files.to_string()),
                ("bytes", &fmt::bytes(tree.bytes)),
                ("kernels", &tree.kernels.to_string()),
            ],
        )?),
        Line::Figure(catalog.text("images.overlay", &[("lower", &lower), ("upper", &upper)])?),
        Line::Figure(catalog.text(
            "images.cow",
            &[
                ("file", IMAGE_NOTE),
                ("inside", &yes_no(inside)?),
                ("image", &yes_no(in_image)?),
            ],
        )?),
    ])
}

/// `images`.
pub(crate) fn images(
    catalog: &Catalog,
    presenter: &mut dyn Presenter,
) -> Result<Vec<Line>, ExplainError> {
    presenter.progress(&catalog.plain("images.running")?);
    let seen = watched_container(
        &ContainerBackend::new(),
        "container",
        Look {
            root_tree: true,
            ..Look::default()
        },
    )?;
    let tree = seen
        .inspection
        .root_tree
        .ok_or_else(|| ExplainError::Workload {
            place: "container".to_string(),
            what: "ended before versus could count its root filesystem (run the lesson again)"
                .to_string(),
        })?;
    let vm_backend = VmBackend::new();
    let vm = run(&vm_backend, "vm", &["uname"])?;
    let kernel = vm_backend.kernel.bytes.len() as u64;
    let workload = Workload::embedded().bytes().len() as u64;
    let initrd = vm_backend.initrd.len() as u64;
    let loaded = vm.memory.image_bytes.unwrap_or(kernel + workload + initrd);
    let touched = vm
        .memory
        .guest_touched_bytes
        .map_or_else(|| "?".to_string(), fmt::bytes);
    // The exact count too, so that a student can check it with `stat`.
    let exact = |count: u64| match fmt::bytes(count) {
        short if count < 1024 => short,
        short => format!("{short} ({count} B)"),
    };
    let times = if tree.bytes == 0 {
        "?".to_string()
    } else {
        fmt::ratio(loaded as f64 / tree.bytes as f64)
    };
    let mut lines = vec![
        Line::Figure(catalog.text(
            "images.container",
            &[
                ("pid", &seen.pid.to_string()),
                ("files", &tree.files.to_string()),
                ("bytes", &exact(tree.bytes)),
                ("kernels", &tree.kernels.to_string()),
            ],
        )?),
        Line::Figure(catalog.text(
            "images.vm",
            &[
                ("source", &vm_backend.kernel.source),
                ("kernel", &exact(kernel)),
                ("workload", &exact(workload)),
                ("initrd", &exact(initrd)),
            ],
        )?),
        Line::Figure(catalog.text(
            "images.vm-loaded",
            &[("loaded", &exact(loaded)), ("touched", &touched)],
        )?),
        Line::Figure(catalog.text("images.times", &[("times", &times)])?),
    ];
    match container::rootfs::host_busybox() {
        Some(busybox) => lines.extend(image_overlay(catalog, &busybox)?),
        None => lines.push(Line::Prose(catalog.plain("images.no-busybox")?)),
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_on_root_is_found_in_a_mount_table_and_other_mounts_are_not() {
        let table = "\
67 42 0:41 / / rw,relatime - overlay overlay rw,lowerdir=/tmp/image,upperdir=/mnt/upper,workdir=/mnt/work
68 67 0:44 / /proc rw - proc proc rw
69 67 0:45 / /data rw - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
";
        assert_eq!(
            overlay_dirs(table),
            Some(("/tmp/image".to_string(), "/mnt/upper".to_string()))
        );
        // An overlay elsewhere, or a root that is not one, is not the image.
        assert_eq!(overlay_dirs(&table[table.find("68 ").unwrap()..]), None);
        assert_eq!(overlay_dirs("1 0 0:1 / / rw - tmpfs tmpfs rw\n"), None);
    }
}

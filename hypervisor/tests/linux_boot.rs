//! The Linux boot protocol on a real distribution kernel: Debian's
//! `linux-image-cloud-amd64` bzImage (LZ4 payload, PVH note), fetched with
//! `apt-get download` into a temporary directory and unpacked with
//! `dpkg-deb -x`, or the bzImage/vmlinux named by `VERSUS_LINUX_KERNEL`.
//!
//! Ignored by default: the download is about 26 MB. Run it with
//! `cargo test -p hypervisor --test linux_boot -- --ignored`. Where neither
//! a kernel path nor the download is available it skips with a printed
//! reason (a failure under `VERSUS_REQUIRE_ROOT=1`).

use std::path::{Path, PathBuf};
use std::process::Command;

use hypervisor::linux::{self, Compression, EntryProtocol, KernelFormat};
use hypervisor::memory::{MemoryLayout, create_guest_memory};
use vm_memory::{Bytes, GuestAddress};

/// Debian's metapackage for its smallest x86-64 kernel.
const PACKAGE: &str = "linux-image-cloud-amd64";

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Downloads the metapackage, then the kernel package it depends on, and
/// unpacks it; returns the path of its `/boot/vmlinuz-*`.
fn fetch_debian_kernel(dir: &Path) -> Result<PathBuf, String> {
    run(Command::new("apt-get")
        .arg("download")
        .arg(PACKAGE)
        .current_dir(dir))?;
    let meta = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let depends = run(Command::new("dpkg-deb").arg("-f").arg(&meta).arg("Depends"))?;
    let image = depends
        .split([',', ' '])
        .find(|d| d.starts_with("linux-image-"))
        .ok_or_else(|| format!("{PACKAGE} depends on no linux-image package: {depends}"))?;
    run(Command::new("apt-get")
        .arg("download")
        .arg(image)
        .current_dir(dir))?;
    let deb = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(image))
        })
        .ok_or("the kernel package was not downloaded")?;
    let root = dir.join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    std::fs::read_dir(root.join("boot"))
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| "the package has no /boot/vmlinuz-*".into())
}

#[test]
#[ignore = "downloads a 26 MB Debian kernel package"]
fn a_debian_bzimage_unpacks_and_loads_with_its_pvh_note() {
    let dir = tempfile::tempdir().unwrap();
    let path = match std::env::var_os("VERSUS_LINUX_KERNEL") {
        Some(p) => PathBuf::from(p),
        None => match fetch_debian_kernel(dir.path()) {
            Ok(p) => p,
            Err(why) => {
                testkit::skip(
                    "a_debian_bzimage_unpacks_and_loads_with_its_pvh_note",
                    testkit::Need::Root,
                    &format!("no Debian kernel to try: {why}"),
                );
                return;
            }
        },
    };
    let bytes = std::fs::read(&path).unwrap();
    let image = linux::image::parse(&bytes).unwrap();
    if std::env::var_os("VERSUS_LINUX_KERNEL").is_none() {
        // Debian builds its x86-64 kernels with CONFIG_KERNEL_LZ4.
        assert_eq!(image.format, KernelFormat::BzImage(Compression::Lz4));
    }
    assert!(
        image.vmlinux.len() > bytes.len(),
        "the vmlinux is larger than the bzImage"
    );
    let header = image.setup_header.expect("a bzImage has a setup header");
    assert!({ header.version } >= 0x020f);

    let layout = MemoryLayout::split(512 << 20).unwrap();
    let mem = create_guest_memory(&layout).unwrap();
    let boot = linux::load(
        &mem,
        &layout,
        &image,
        "console=ttyS0 noxsave",
        2,
        None,
        EntryProtocol::Pvh,
    )
    .unwrap();
    // Debian's kernels have CONFIG_PVH: linux-loader finds the note.
    assert_eq!(boot.protocol, EntryProtocol::Pvh);
    assert!(boot.entry >= 0x10_0000 && boot.entry < boot.kernel_end);
    let mut magic = [0u8; 4];
    mem.read_slice(&mut magic, GuestAddress(boot.boot_params))
        .unwrap();
    assert_eq!(
        u32::from_le_bytes(magic),
        0x336e_c578,
        "hvm_start_info magic"
    );

    // The 64-bit entry gets the zero page with the kernel's own header.
    let boot = linux::load(
        &mem,
        &layout,
        &image,
        "console=ttyS0",
        1,
        None,
        EntryProtocol::Linux64,
    )
    .unwrap();
    assert_eq!(boot.protocol, EntryProtocol::Linux64);
    let mut zp = [0u8; 4096];
    mem.read_slice(&mut zp, GuestAddress(boot.boot_params))
        .unwrap();
    assert_eq!(&zp[0x202..0x206], b"HdrS");
    assert_eq!(u16::from_le_bytes([zp[0x206], zp[0x207]]), {
        header.version
    });
}

//! Builds the freestanding guest images in `../guest-images` with a nested
//! `cargo build` and tells the library where they are, so that a plain
//! `cargo build` of the host workspace needs no extra step.
//!
//! 1. Run `cargo build --release` in `guest-images/` with a target directory
//!    of our own under `OUT_DIR`; the guest workspace's `.cargo/config.toml`
//!    supplies its target and flags.
//! 2. Strip the variables the outer cargo set for *this* build (wrappers,
//!    flags, target dir) so they cannot leak into the guest build.
//! 3. Export each image's path as `VERSUS_<NAME>_ELF` for `include_bytes!`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// The guest binaries this crate embeds: (cargo binary name, env var exported).
/// One nested build makes both: the guest workspace's flags suit both (the
/// kernel's `-C code-model=kernel` changes nothing the workload relies on).
const IMAGES: &[(&str, &str)] = &[
    ("versus-workload", "VERSUS_WORKLOAD_ELF"),
    ("versus-kernel", "VERSUS_KERNEL_ELF"),
];

/// Variables of the outer build that must not reach the nested one.
const OUTER_BUILD_VARS: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_PROFILE_RELEASE_DEBUG",
    "CARGO_PROFILE_RELEASE_STRIP",
];

/// Entries of `guest-images/` that are build output, not sources: watching
/// them would make every build (`make guest-images`, an editor's cargo
/// check) look like a source change and rebuild the host workspace.
const NOT_SOURCES: &[&str] = &["target"];

/// Asks cargo to rerun this script when a guest source changes: every entry
/// of `guest-images/` (cargo watches a directory recursively) except its
/// build output. The entries are listed rather than named so that a new
/// guest crate is watched without editing this file (adding one edits the
/// watched `Cargo.toml`). The folder itself is not watched: cargo would scan
/// it recursively, `target/` included.
fn watch_sources(guest_dir: &std::path::Path) {
    let entries = std::fs::read_dir(guest_dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", guest_dir.display()));
    for entry in entries.flatten() {
        let name = entry.file_name();
        if NOT_SOURCES.iter().any(|skip| name == *skip) {
            continue;
        }
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }
}

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let guest_dir = manifest_dir
        .parent()
        .expect("images/ sits inside the workspace")
        .join("guest-images");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = out_dir.join("guest-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    watch_sources(&guest_dir);

    // 1.-2. The nested build, in the guest workspace, with a clean environment.
    let mut build = Command::new(&cargo);
    build
        .current_dir(&guest_dir)
        .args(["build", "--release", "--locked", "--target-dir"])
        .arg(&target_dir);
    for var in OUTER_BUILD_VARS {
        build.env_remove(var);
    }
    let status = build
        .status()
        .unwrap_or_else(|err| panic!("cannot run {cargo:?} to build the guest images: {err}"));
    assert!(
        status.success(),
        "building the guest images in {} failed ({status}); run `make guest-images` to see why",
        guest_dir.display()
    );

    // 3. Tell the library where each image is.
    let release = target_dir.join("x86_64-unknown-linux-gnu").join("release");
    for (binary, var) in IMAGES {
        let path = release.join(binary);
        assert!(
            path.is_file(),
            "the guest build did not produce {}",
            path.display()
        );
        println!("cargo:rustc-env={var}={}", path.display());
    }
}

//! The build script watches the guest sources and nothing else: a build of
//! the guest images on their own (`make guest-images`, an editor's cargo
//! check) writes into `guest-images/target`, and watching that would make
//! every later host build rebuild the images and everything that embeds
//! them (`make demo` after `make test` rebuilt everything).

use std::path::{Path, PathBuf};

/// The paths the build script asked cargo to watch, read from the output
/// cargo kept of its last run (`OUT_DIR/../output`).
fn watched() -> Vec<PathBuf> {
    let output = Path::new(env!("OUT_DIR"))
        .parent()
        .expect("OUT_DIR sits in the build script's folder")
        .join("output");
    let text = std::fs::read_to_string(&output)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", output.display()));
    text.lines()
        .filter_map(|line| line.strip_prefix("cargo:rerun-if-changed="))
        .map(PathBuf::from)
        .collect()
}

#[test]
fn the_guest_sources_are_watched_and_their_build_output_is_not() {
    let guest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("guest-images");
    let watched = watched();
    for source in [
        "kernel",
        "workload",
        "abi",
        "protocol",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        assert!(
            watched.contains(&guest.join(source)),
            "{source} is not watched: {watched:?}"
        );
    }
    let build_output = guest.join("target");
    for path in &watched {
        // A watched folder is scanned whole: none may contain the target.
        assert!(
            !build_output.starts_with(path),
            "{} is watched and holds {}",
            path.display(),
            build_output.display()
        );
    }
}

//! `#[testkit::needs]` decides when a test is compiled; cargo recompiles a
//! test only when its inputs change. Rerunning this script when one of the
//! decision's inputs changes rebuilds the macro crate and with it every test
//! that uses the attribute, so the decision is made again.
//!
//! Not covered (the run-time guards in the tests still skip visibly there):
//! the user the build runs as, a tool installed on `PATH` after the build,
//! and a changed owner or mode of `/dev/kvm` (it changes the file's ctime,
//! cargo watches the mtime). `cargo clean -p testkit-macros` makes the
//! decision again.

use testkit_probe::{KVM_DEVICE, Need};

fn main() {
    for need in [Need::Kvm, Need::Root] {
        println!("cargo::rerun-if-env-changed={}", need.require_var());
    }
    // Only when it exists: cargo reruns a script on every build while a
    // watched path is missing, which would rebuild every test every time.
    if std::path::Path::new(KVM_DEVICE).exists() {
        println!("cargo::rerun-if-changed={KVM_DEVICE}");
    }
}

//! Link the workload as a freestanding static executable at a fixed address,
//! with page-aligned segments (see `workload.ld`), so that a kernel can map
//! it in place.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    println!("cargo:rerun-if-changed={dir}/workload.ld");
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-Wl,--build-id=none",
        "-Wl,-z,noexecstack",
        &format!("-Wl,-T,{dir}/workload.ld"),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

//! Link the kernel as a freestanding static executable with its own linker
//! script (`kernel.ld`): a low entry stub at 1 MiB, the rest in the top
//! 2 GiB of the address space (`-C code-model=kernel`, set for the guest
//! workspace in `../.cargo/config.toml`), loaded at its physical addresses.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    println!("cargo:rerun-if-changed={dir}/kernel.ld");
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-Wl,--build-id=none",
        "-Wl,-z,noexecstack",
        "-Wl,-z,max-page-size=4096",
        &format!("-Wl,-T,{dir}/kernel.ld"),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

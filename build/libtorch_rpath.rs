//! Build script shared by every package whose binaries or tests link libtorch.
//!
//! torch-sys links `libtorch_cpu.so` but emits no rpath, so binaries fail at
//! start-up with "libtorch_cpu.so: cannot open shared object file" unless the
//! user exports LD_LIBRARY_PATH. `.cargo/config.toml` sets `LIBTORCH` to the
//! project's virtual environment (see `scripts/setup`); this script turns it
//! into an rpath for the package's binaries, tests, examples and benches.
//! It also hands the directory to the code (`MURMUR_LIBTORCH_LIB`) so CUDA
//! support can be loaded at run time only when a GPU is present.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=../build/libtorch_rpath.rs");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        println!("cargo:warning=LIBTORCH is not set: run `scripts/setup` (binaries will need LD_LIBRARY_PATH)");
        return;
    };
    let lib = std::path::Path::new(&libtorch).join("lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:rustc-env=MURMUR_LIBTORCH_LIB={}", lib.display());
}

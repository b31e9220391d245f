//! Release builds of the daemon link its hot code together (docs/memory.md,
//! "Hot code first"): `link/hot-text.ld` names, by pattern, the functions
//! profiled daemons ran, and the linker puts them in `.text.hot` and
//! `.text.warm`, ahead of the rest of `.text`. The kernel maps a binary's
//! code into a process 64 KiB around each page it first touches, so
//! scattered hot code kept 5.7 MiB of the text resident; packed, 2.5 MiB.
//! Only the layout changes: a function the file does not name, or a name
//! the file has that the code no longer has, only costs memory, never
//! correctness. `scripts/hot-text.sh` writes the file anew.

fn main() {
    println!("cargo:rerun-if-changed=link/hot-text.ld");
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !(release && linux) {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rustc-link-arg-bin=failoverd=-Wl,-T,{dir}/link/hot-text.ld");
}

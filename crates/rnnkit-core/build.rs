//! Sets `cfg(rnnkit_avx512)` when the compiler has the AVX-512 intrinsics (stable since Rust
//! 1.89). The crate builds on Rust 1.63 (the Debian toolchain that provides wasm32); there the
//! avx512 kernel level is simply not compiled and the avx2-fma level is the best on x86_64.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).and_then(|ver| ver.split('.').nth(1).and_then(|m| m.parse::<u32>().ok())))
        .unwrap_or(0);
    if minor >= 80 {
        // Declares the cfg to rustc's unexpected_cfgs lint (cargo ≥ 1.80 understands this key).
        println!("cargo:rustc-check-cfg=cfg(rnnkit_avx512)");
    }
    if minor >= 89 {
        println!("cargo:rustc-cfg=rnnkit_avx512");
    }
}

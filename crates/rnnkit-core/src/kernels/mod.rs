//! Dense primitives behind a table of function pointers, chosen once at run time.
//!
//! `scalar.rs` is the reference: safe, plain loops, the test oracle and the fallback. SIMD
//! variants (one file per instruction set, same function names) plug in as further `Kernels`
//! tables; `get()` returns the best one this CPU/engine runs, `force_level()` pins one for tests
//! and benchmarks.
//!
//! Quick start for adding a kernel: add a row to `Kernels`, a scalar function in `scalar.rs`,
//! the variant (or an explicit `scalar::` entry) in every table, and a case in the
//! kernels-vs-scalar test.

pub mod scalar;

use std::sync::atomic::{AtomicU8, Ordering};

/// Signature shared by the three GEMM shapes (see `Real::gemm_*` for their meaning).
pub type GemmFn = fn(&mut [f32], usize, &[f32], usize, &[f32], usize, usize, usize, usize);

pub struct Kernels {
    pub level: Level,
    pub gemm_nt: GemmFn,
    pub gemm_nn: GemmFn,
    pub gemm_tn: GemmFn,
}

/// Kernel levels, with their ABI codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Level {
    Scalar = 1,
    Avx2Fma = 2,
    Simd128 = 3,
    Neon = 4,
}

impl Level {
    pub fn from_code(code: u32) -> Option<Level> {
        match code {
            1 => Some(Level::Scalar),
            2 => Some(Level::Avx2Fma),
            3 => Some(Level::Simd128),
            4 => Some(Level::Neon),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2Fma => "avx2-fma",
            Level::Simd128 => "simd128",
            Level::Neon => "neon",
        }
    }
}

pub static SCALAR: Kernels = Kernels {
    level: Level::Scalar,
    gemm_nt: scalar::gemm_nt::<f32>,
    gemm_nn: scalar::gemm_nn::<f32>,
    gemm_tn: scalar::gemm_tn::<f32>,
};

/// 0 = not chosen yet; otherwise a `Level` code. (`OnceLock` needs Rust 1.70; MSRV is 1.63.)
static CHOSEN: AtomicU8 = AtomicU8::new(0);

fn table(level: Level) -> Option<&'static Kernels> {
    match level {
        Level::Scalar => Some(&SCALAR),
        _ => None,
    }
}

/// The levels this build can run on this machine, best first.
pub fn available() -> Vec<Level> {
    vec![Level::Scalar]
}

/// The kernel table in use.
pub fn get() -> &'static Kernels {
    let code = CHOSEN.load(Ordering::Relaxed);
    if let Some(k) = Level::from_code(code as u32).and_then(table) {
        return k;
    }
    let best = available()[0];
    CHOSEN.store(best as u8, Ordering::Relaxed);
    table(best).unwrap_or(&SCALAR)
}

/// Pins a level (tests, benchmarks). Fails if this build or CPU cannot run it.
pub fn force_level(level: Level) -> Result<(), String> {
    if available().contains(&level) {
        CHOSEN.store(level as u8, Ordering::Relaxed);
        Ok(())
    } else {
        let names: Vec<&str> = available().iter().map(|l| l.name()).collect();
        Err(format!("kernel level: {} is not available here (available: {})", level.name(), names.join(", ")))
    }
}

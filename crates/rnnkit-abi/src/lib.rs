//! The C ABI of rnnkit, defined once. Built for wasm32 this crate's cdylib *is* `rnnkit.wasm`;
//! the Node addon (`rnnkit-node`) links it as an rlib and wraps the same functions.
//!
//! Rules for every export:
//! - Name `rk_*`, returns `i32`: ≥ 0 success (0 or a count), < 0 the negated error code
//!   (`rnnkit_core::ErrorCode`) with a message in `rk_last_error_*`.
//! - Buffers are (pointer, element count) pairs; a null pointer means "absent". Lengths are
//!   checked against the configuration; written buffers may not overlap any other buffer.
//! - Stateless: the caller owns every buffer, including the BPTT cache. No handles.
//! - `cfg` is an i32 array of `CFG_LEN` values: [cell, input_size, hidden_size, proj_size,
//!   num_layers, bidirectional, bias, batch_first, seq_len, batch, dropout (parts per million,
//!   0 = none), dropout_seed_lo, dropout_seed_hi (u32 bit patterns)]; cell codes in
//!   `rnnkit_core::CellKind::from_code`.
//!
//! The list of exports is mirrored in `ts/backend/abi.ts`; a test checks that the `.wasm`
//! exports and the addon's functions equal that list.

pub mod guard;
pub mod layers;
pub mod mem;
pub mod optim;
pub mod status;
pub mod threads;

use guard::{count, guard};
use mem::{required, Borrows};
use rnnkit_core::kernels::{self, Level};
use rnnkit_core::{
    seq_backward_dropout, seq_cache_len_dropout, seq_forward_packed, CellKind, Error, LayerDropout, RnnConfig, SeqBuffers, SeqGradBuffers,
};

/// Bumped when any export's signature or meaning changes.
pub const ABI_VERSION: i32 = 4;
pub const CFG_LEN: usize = 13;

/// A decoded `cfg` array.
pub struct Call {
    pub cfg: RnnConfig,
    pub seq_len: usize,
    pub batch: usize,
    /// Inter-layer dropout of stacked layers (training); None when 0.
    pub dropout: Option<LayerDropout>,
}

fn decode_cfg(raw: Option<&[i32]>) -> Result<Call, Error> {
    let raw = required("cfg", raw)?;
    if raw.len() != CFG_LEN {
        return Err(Error::shape("cfg", CFG_LEN, raw.len(), "the rk_* configuration array"));
    }
    const NAMES: [&str; CFG_LEN] = [
        "cell",
        "input_size",
        "hidden_size",
        "proj_size",
        "num_layers",
        "bidirectional",
        "bias",
        "batch_first",
        "seq_len",
        "batch",
        "dropout",
        "dropout_seed_lo",
        "dropout_seed_hi",
    ];
    // The two seed words are bit patterns: any i32 is fine.
    for (i, &v) in raw[..11].iter().enumerate() {
        if v < 0 {
            return Err(Error::bad_argument(format!("{}: must not be negative, got {}", NAMES[i], v)));
        }
    }
    let flag = |i: usize| -> Result<bool, Error> {
        match raw[i] {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(Error::bad_argument(format!("{}: must be 0 or 1, got {}", NAMES[i], v))),
        }
    };
    Ok(Call {
        cfg: RnnConfig {
            cell: CellKind::from_code(raw[0] as u32)?,
            input_size: raw[1] as usize,
            hidden_size: raw[2] as usize,
            proj_size: raw[3] as usize,
            num_layers: raw[4] as usize,
            bidirectional: flag(5)?,
            bias: flag(6)?,
            batch_first: flag(7)?,
        },
        seq_len: raw[8] as usize,
        batch: raw[9] as usize,
        dropout: if raw[10] == 0 {
            None
        } else {
            if raw[10] >= 1_000_000 {
                return Err(Error::bad_argument(format!("dropout: must be below 1 (1000000 ppm), got {} ppm", raw[10])));
            }
            Some(LayerDropout { p: raw[10] as f64 / 1e6, seed: ((raw[12] as u32 as u64) << 32) | raw[11] as u32 as u64 })
        },
    })
}

// ---- housekeeping ----

#[no_mangle]
pub extern "C" fn rk_abi_version() -> i32 {
    ABI_VERSION
}

/// Does nothing: measures the cost of crossing the boundary.
#[no_mangle]
pub extern "C" fn rk_noop() -> i32 {
    0
}

/// Length in bytes of the last error message (UTF-8).
#[no_mangle]
pub extern "C" fn rk_last_error_len() -> i32 {
    status::last_error_len() as i32
}

/// Copies up to `cap` bytes of the last error message to `out`; returns the bytes copied.
///
/// # Safety
/// `out` must be valid for `cap` bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn rk_last_error_copy(out: *mut u8, cap: usize) -> i32 {
    if out.is_null() {
        return 0;
    }
    status::last_error_copy(std::slice::from_raw_parts_mut(out, cap)) as i32
}

/// The kernel level in use: 1 scalar, 2 avx2-fma, 3 simd128, 4 neon, 5 avx512.
#[no_mangle]
pub extern "C" fn rk_kernel_level() -> i32 {
    guard(|| Ok(kernels::get().level as i32))
}

/// Pins a kernel level (tests, benchmarks); fails if this build or CPU cannot run it.
#[no_mangle]
pub extern "C" fn rk_set_kernel_level(level: i32) -> i32 {
    guard(|| {
        let l = Level::from_code(level.max(0) as u32)
            .ok_or_else(|| Error::bad_argument(format!("kernel level: unknown code {} (expected 1..=5)", level)))?;
        kernels::force_level(l).map_err(Error::unsupported)?;
        Ok(0)
    })
}

/// Opt-in fused multiply-add in the large products (`kernels::set_fused`: the avx2-fma level
/// only; products then differ from the other levels in the last bits). on: 0 or 1. Returns 1 if
/// fused products are now in effect, 0 if not (off, or a level without them).
#[no_mangle]
pub extern "C" fn rk_set_fused(on: i32) -> i32 {
    guard(|| {
        if on != 0 && on != 1 {
            return Err(Error::bad_argument(format!("fused: expected 0 or 1, got {}", on)));
        }
        Ok(kernels::set_fused(on == 1) as i32)
    })
}

/// 1 if the large products use fused multiply-add (asked for, and the avx2-fma level in use).
#[no_mangle]
pub extern "C" fn rk_fused() -> i32 {
    guard(|| Ok(kernels::fused() as i32))
}

/// Panics on purpose: the tests check that a panic never takes the host process down.
#[no_mangle]
pub extern "C" fn rk_debug_panic() -> i32 {
    guard(|| -> Result<i32, Error> { panic!("rk_debug_panic was called") })
}

// ---- memory (used by the wasm backend; native passes JS typed arrays directly) ----

/// Allocates `bytes` zeroed bytes aligned to 16; returns 0 (null) on failure or for 0 bytes.
#[no_mangle]
pub extern "C" fn rk_alloc(bytes: usize) -> *mut u8 {
    match std::alloc::Layout::from_size_align(bytes, mem::ALLOC_ALIGN) {
        Ok(layout) if bytes > 0 => unsafe { std::alloc::alloc_zeroed(layout) },
        _ => std::ptr::null_mut(),
    }
}

/// Frees what `rk_alloc(bytes)` returned.
///
/// # Safety
/// `ptr` must come from `rk_alloc` with the same `bytes`, and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn rk_free(ptr: *mut u8, bytes: usize) {
    if ptr.is_null() || bytes == 0 {
        return;
    }
    if let Ok(layout) = std::alloc::Layout::from_size_align(bytes, mem::ALLOC_ALIGN) {
        std::alloc::dealloc(ptr, layout);
    }
}

// ---- initialisation ----

/// Fills `out` (len values) with U(lo, hi) from the seeded generator (seed = hi32 << 32 | lo32).
///
/// # Safety
/// `out` must be valid for `len` f32 writes.
#[no_mangle]
pub unsafe extern "C" fn rk_fill_uniform(out: *mut f32, len: usize, lo: f64, hi: f64, seed_lo: u32, seed_hi: u32) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("out", b.output("out", out, len)?)?;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::bad_argument(format!("fill_uniform: need finite lo <= hi, got lo={} hi={}", lo, hi)));
        }
        rnnkit_core::rng::fill_uniform(out, lo, hi, ((seed_hi as u64) << 32) | seed_lo as u64);
        Ok(0)
    })
}

// ---- recurrent layers ----

/// Number of f32 values in the flat parameter buffer of `cfg` (seq_len and batch are ignored).
///
/// # Safety
/// `cfg` must be valid for `cfg_len` i32 reads.
#[no_mangle]
pub unsafe extern "C" fn rk_rnn_param_count(cfg: *const i32, cfg_len: usize) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let call = decode_cfg(b.input("cfg", cfg, cfg_len)?)?;
        call.cfg.validate()?;
        count("params", call.cfg.param_count())
    })
}

/// Number of f32 values of the BPTT cache for one forward of `cfg` with these `lengths`
/// (i32, one per batch entry; null = all seq_len).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_rnn_cache_len(cfg: *const i32, cfg_len: usize, lengths: *const i32, lengths_len: usize) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let call = decode_cfg(b.input("cfg", cfg, cfg_len)?)?;
        let lengths = b.input("lengths", lengths, lengths_len)?;
        count("cache", seq_cache_len_dropout(&call.cfg, call.dropout.as_ref(), lengths, call.seq_len, call.batch)?)
    })
}

/// Number of f32 values of the packed-weights buffer of `cfg` under the current kernel level
/// (`rnnkit_core::prepack`; seq_len and batch are ignored).
///
/// # Safety
/// `cfg` must be valid for `cfg_len` i32 reads.
#[no_mangle]
pub unsafe extern "C" fn rk_rnn_packed_len(cfg: *const i32, cfg_len: usize) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let call = decode_cfg(b.input("cfg", cfg, cfg_len)?)?;
        count("packed", rnnkit_core::prepack::packed_weights_len(&call.cfg)?)
    })
}

/// Packs the weight matrices of `params` for rk_rnn_forward's `packed` argument: valid until the
/// parameters change (the caller repacks) or the kernel level does (then it is ignored).
///
/// # Safety
/// Each pointer must be valid for its length (packed: writes).
#[no_mangle]
pub unsafe extern "C" fn rk_rnn_pack(cfg: *const i32, cfg_len: usize, params: *const f32, params_len: usize, packed: *mut f32, packed_len: usize) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let call = decode_cfg(b.input("cfg", cfg, cfg_len)?)?;
        let params = required("params", b.input("params", params, params_len)?)?;
        let packed = required("packed", b.output("packed", packed, packed_len)?)?;
        rnnkit_core::prepack::pack_weights(&call.cfg, params, packed)?;
        Ok(0)
    })
}

/// Forward over whole sequences, all layers and directions.
/// params (param_count) read; input (T, B, I) or (B, T, I) read; lengths (B) i32 or null;
/// h0 (L*D, B, P) or null = 0; c0 (L*D, B, H) LSTM or null = 0;
/// output (T, B, D*P) or (B, T, D*P) written; h_n (L*D, B, P) written; c_n (L*D, B, H) written
/// (LSTM, or null); cache (rk_rnn_cache_len) written, or null for inference without backward;
/// packed: rk_rnn_pack's buffer for these params, or null (the same results, faster when given).
///
/// # Safety
/// Each non-null pointer must be valid for its length (reads, or writes for outputs).
#[no_mangle]
pub unsafe extern "C" fn rk_rnn_forward(
    cfg: *const i32,
    cfg_len: usize,
    params: *const f32,
    params_len: usize,
    input: *const f32,
    input_len: usize,
    lengths: *const i32,
    lengths_len: usize,
    h0: *const f32,
    h0_len: usize,
    c0: *const f32,
    c0_len: usize,
    output: *mut f32,
    output_len: usize,
    h_n: *mut f32,
    h_n_len: usize,
    c_n: *mut f32,
    c_n_len: usize,
    cache: *mut f32,
    cache_len: usize,
    packed: *const f32,
    packed_len: usize,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let call = decode_cfg(b.input("cfg", cfg, cfg_len)?)?;
        let packed = b.input("packed", packed, packed_len)?;
        let bufs = SeqBuffers {
            params: required("params", b.input("params", params, params_len)?)?,
            input: required("input", b.input("input", input, input_len)?)?,
            lengths: b.input("lengths", lengths, lengths_len)?,
            h0: b.input("h0", h0, h0_len)?,
            c0: b.input("c0", c0, c0_len)?,
            output: required("output", b.output("output", output, output_len)?)?,
            h_n: required("h_n", b.output("h_n", h_n, h_n_len)?)?,
            c_n: b.output("c_n", c_n, c_n_len)?,
            cache: b.output("cache", cache, cache_len)?,
        };
        seq_forward_packed(&call.cfg, call.dropout.as_ref(), call.seq_len, call.batch, bufs, packed)?;
        Ok(0)
    })
}

/// Full BPTT for the forward that wrote `cache` (same cfg, params and lengths).
/// d_output, d_h_n, d_c_n: upstream gradients, null = 0. d_input, d_h0, d_c0: written if
/// non-null. d_params (param_count): accumulated (+=).
///
/// # Safety
/// Each non-null pointer must be valid for its length (reads, or writes for gradients).
#[no_mangle]
pub unsafe extern "C" fn rk_rnn_backward(
    cfg: *const i32,
    cfg_len: usize,
    params: *const f32,
    params_len: usize,
    lengths: *const i32,
    lengths_len: usize,
    cache: *const f32,
    cache_len: usize,
    d_output: *const f32,
    d_output_len: usize,
    d_h_n: *const f32,
    d_h_n_len: usize,
    d_c_n: *const f32,
    d_c_n_len: usize,
    d_input: *mut f32,
    d_input_len: usize,
    d_h0: *mut f32,
    d_h0_len: usize,
    d_c0: *mut f32,
    d_c0_len: usize,
    d_params: *mut f32,
    d_params_len: usize,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let call = decode_cfg(b.input("cfg", cfg, cfg_len)?)?;
        let bufs = SeqGradBuffers {
            params: required("params", b.input("params", params, params_len)?)?,
            lengths: b.input("lengths", lengths, lengths_len)?,
            cache: required("cache", b.input("cache", cache, cache_len)?)?,
            d_output: b.input("d_output", d_output, d_output_len)?,
            d_h_n: b.input("d_h_n", d_h_n, d_h_n_len)?,
            d_c_n: b.input("d_c_n", d_c_n, d_c_n_len)?,
            d_input: b.output("d_input", d_input, d_input_len)?,
            d_h0: b.output("d_h0", d_h0, d_h0_len)?,
            d_c0: b.output("d_c0", d_c0, d_c0_len)?,
            d_params: required("d_params", b.output("d_params", d_params, d_params_len)?)?,
        };
        seq_backward_dropout(&call.cfg, call.dropout.as_ref(), call.seq_len, call.batch, bufs)?;
        Ok(0)
    })
}

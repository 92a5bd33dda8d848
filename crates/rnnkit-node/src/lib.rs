//! rnnkit's Node-API addon: one JS function per rk_* export of `rnnkit-abi`, same names, with
//! typed arrays where the C ABI takes (pointer, length) pairs. Marshalling only: the math,
//! the validation and the error messages are rnnkit-abi's, shared with the wasm build.
//! Every function returns the rk_* i32 (≥ 0 success, < 0 negated error code); the TS side reads
//! the message with `rk_last_error_copy`. Only a wrong kind of JS value throws here.

mod marshal;
mod napi;

use marshal::Args;
use napi::*;
use rnnkit_abi as abi;
use rnnkit_abi::{layers, optim};
use std::os::raw::c_void;
use std::ptr;

// Each row's body is unsafe: it hands JS-owned memory to the C ABI, which checks lengths.
type Wrapper = fn(&Args) -> Result<i32, String>;

/// The registration table: names equal the rk_* exports (minus rk_alloc / rk_free, which only
/// the wasm backend needs). `ts/backend/abi.ts` lists the same names.
const EXPORTS: &[(&str, Wrapper)] = &[
    ("rk_abi_version", |_| Ok(abi::rk_abi_version())),
    ("rk_noop", |_| Ok(abi::rk_noop())),
    ("rk_last_error_len", |_| Ok(abi::rk_last_error_len())),
    ("rk_last_error_copy", |a| unsafe {
        let (p, n) = a.u8s(0)?;
        Ok(abi::rk_last_error_copy(p, n))
    }),
    ("rk_kernel_level", |_| Ok(abi::rk_kernel_level())),
    ("rk_set_kernel_level", |a| unsafe { Ok(abi::rk_set_kernel_level(a.int(0, -1e9, 1e9)? as i32)) }),
    ("rk_set_fused", |a| unsafe { Ok(abi::rk_set_fused(a.int(0, -1e9, 1e9)? as i32)) }),
    ("rk_fused", |_| Ok(abi::rk_fused())),
    ("rk_debug_panic", |_| Ok(abi::rk_debug_panic())),
    ("rk_fill_uniform", |a| unsafe {
        let (p, n) = a.f32s(0)?;
        Ok(abi::rk_fill_uniform(p, n, a.num(1)?, a.num(2)?, a.int(3, 0.0, 4294967295.0)? as u32, a.int(4, 0.0, 4294967295.0)? as u32))
    }),
    ("rk_rnn_param_count", |a| unsafe {
        let (c, cn) = a.i32s(0)?;
        Ok(abi::rk_rnn_param_count(c, cn))
    }),
    ("rk_rnn_cache_len", |a| unsafe {
        let (c, cn) = a.i32s(0)?;
        let (l, ln) = a.i32s(1)?;
        Ok(abi::rk_rnn_cache_len(c, cn, l, ln))
    }),
    ("rk_rnn_packed_len", |a| unsafe {
        let (c, cn) = a.i32s(0)?;
        Ok(abi::rk_rnn_packed_len(c, cn))
    }),
    ("rk_rnn_pack", |a| unsafe {
        let (c, cn) = a.i32s(0)?;
        let (p, pn) = a.f32s(1)?;
        let (w, wn) = a.f32s(2)?;
        Ok(abi::rk_rnn_pack(c, cn, p, pn, w, wn))
    }),
    ("rk_rnn_forward", |a| unsafe {
        let (c, cn) = a.i32s(0)?;
        let (p, pn) = a.f32s(1)?;
        let (x, xn) = a.f32s(2)?;
        let (l, ln) = a.i32s(3)?;
        let (h0, h0n) = a.f32s(4)?;
        let (c0, c0n) = a.f32s(5)?;
        let (y, yn) = a.f32s(6)?;
        let (hn, hnn) = a.f32s(7)?;
        let (cnn, cnnn) = a.f32s(8)?;
        let (k, kn) = a.f32s(9)?;
        let (w, wn) = a.f32s(10)?;
        Ok(abi::rk_rnn_forward(c, cn, p, pn, x, xn, l, ln, h0, h0n, c0, c0n, y, yn, hn, hnn, cnn, cnnn, k, kn, w, wn))
    }),
    ("rk_rnn_backward", |a| unsafe {
        let (c, cn) = a.i32s(0)?;
        let (p, pn) = a.f32s(1)?;
        let (l, ln) = a.i32s(2)?;
        let (k, kn) = a.f32s(3)?;
        let (dy, dyn_) = a.f32s(4)?;
        let (dhn, dhnn) = a.f32s(5)?;
        let (dcn, dcnn) = a.f32s(6)?;
        let (dx, dxn) = a.f32s(7)?;
        let (dh0, dh0n) = a.f32s(8)?;
        let (dc0, dc0n) = a.f32s(9)?;
        let (dp, dpn) = a.f32s(10)?;
        Ok(abi::rk_rnn_backward(c, cn, p, pn, l, ln, k, kn, dy, dyn_, dhn, dhnn, dcn, dcnn, dx, dxn, dh0, dh0n, dc0, dc0n, dp, dpn))
    }),
    // ---- layers and losses (rnnkit-abi/src/layers.rs) ----
    ("rk_embedding_forward", |a| unsafe {
        let ((o, on), (w, wn), (ids, idn)) = (a.f32s(0)?, a.f32s(1)?, a.i32s(2)?);
        Ok(layers::rk_embedding_forward(o, on, w, wn, ids, idn, a.i32(3)?, a.i32(4)?))
    }),
    ("rk_embedding_backward", |a| unsafe {
        let ((dw, dwn), (d, dn), (ids, idn)) = (a.f32s(0)?, a.f32s(1)?, a.i32s(2)?);
        Ok(layers::rk_embedding_backward(dw, dwn, d, dn, ids, idn, a.i32(3)?, a.i32(4)?, a.i32(5)?))
    }),
    ("rk_linear_forward", |a| unsafe {
        let ((y, yn), (x, xn), (w, wn), (b, bn)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?, a.f32s(3)?);
        Ok(layers::rk_linear_forward(y, yn, x, xn, w, wn, b, bn, a.i32(4)?, a.i32(5)?))
    }),
    ("rk_linear_backward", |a| unsafe {
        let ((dx, dxn), (dw, dwn), (db, dbn)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?);
        let ((dy, dyn_), (x, xn), (w, wn)) = (a.f32s(3)?, a.f32s(4)?, a.f32s(5)?);
        Ok(layers::rk_linear_backward(dx, dxn, dw, dwn, db, dbn, dy, dyn_, x, xn, w, wn, a.i32(6)?, a.i32(7)?))
    }),
    ("rk_dropout_forward", |a| unsafe {
        let ((o, on), (m, mn), (x, xn)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?);
        Ok(layers::rk_dropout_forward(o, on, m, mn, x, xn, a.num(3)?, a.u32(4)?, a.u32(5)?))
    }),
    ("rk_dropout_backward", |a| unsafe {
        let ((dx, dxn), (dy, dyn_), (m, mn)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?);
        Ok(layers::rk_dropout_backward(dx, dxn, dy, dyn_, m, mn))
    }),
    ("rk_pool_forward", |a| unsafe {
        let ((o, on), (am, amn), (x, xn), (l, ln)) = (a.f32s(0)?, a.i32s(1)?, a.f32s(2)?, a.i32s(3)?);
        Ok(layers::rk_pool_forward(o, on, am, amn, x, xn, l, ln, a.i32(4)?, a.i32(5)?, a.i32(6)?, a.i32(7)?, a.i32(8)?, a.i32(9)?))
    }),
    ("rk_pool_backward", |a| unsafe {
        let ((dx, dxn), (dy, dyn_), (am, amn), (l, ln)) = (a.f32s(0)?, a.f32s(1)?, a.i32s(2)?, a.i32s(3)?);
        Ok(layers::rk_pool_backward(dx, dxn, dy, dyn_, am, amn, l, ln, a.i32(4)?, a.i32(5)?, a.i32(6)?, a.i32(7)?, a.i32(8)?, a.i32(9)?))
    }),
    ("rk_cross_entropy", |a| unsafe {
        let ((lo, lon), (d, dn), (z, zn), (t, tn)) = (a.f64s(0)?, a.f32s(1)?, a.f32s(2)?, a.i32s(3)?);
        Ok(layers::rk_cross_entropy(lo, lon, d, dn, z, zn, t, tn, a.i32(4)?, a.i32(5)?, a.i32(6)?))
    }),
    ("rk_bce_with_logits", |a| unsafe {
        let ((lo, lon), (d, dn), (z, zn), (t, tn)) = (a.f64s(0)?, a.f32s(1)?, a.f32s(2)?, a.f32s(3)?);
        Ok(layers::rk_bce_with_logits(lo, lon, d, dn, z, zn, t, tn, a.i32(4)?))
    }),
    ("rk_mse", |a| unsafe {
        let ((lo, lon), (d, dn), (p, pn), (t, tn)) = (a.f64s(0)?, a.f32s(1)?, a.f32s(2)?, a.f32s(3)?);
        Ok(layers::rk_mse(lo, lon, d, dn, p, pn, t, tn, a.i32(4)?))
    }),
    // ---- optimizers, gradient utilities, initialisers (rnnkit-abi/src/optim.rs) ----
    ("rk_sgd_step", |a| unsafe {
        let ((p, pn), (g, gn), (m, mn)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?);
        Ok(optim::rk_sgd_step(p, pn, g, gn, m, mn, a.num(3)?, a.num(4)?, a.num(5)?, a.num(6)?, a.i32(7)?, a.i32(8)?))
    }),
    ("rk_adam_step", |a| unsafe {
        let ((p, pn), (g, gn), (m, mn), (v, vn), (vm, vmn)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?, a.f32s(3)?, a.f32s(4)?);
        Ok(optim::rk_adam_step(p, pn, g, gn, m, mn, v, vn, vm, vmn, a.num(5)?, a.num(6)?, a.num(7)?, a.num(8)?, a.num(9)?, a.i32(10)?, a.i32(11)?, a.i32(12)?))
    }),
    ("rk_rmsprop_step", |a| unsafe {
        let ((p, pn), (g, gn), (s, sn), (m, mn), (ga, gan)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?, a.f32s(3)?, a.f32s(4)?);
        Ok(optim::rk_rmsprop_step(p, pn, g, gn, s, sn, m, mn, ga, gan, a.num(5)?, a.num(6)?, a.num(7)?, a.num(8)?, a.num(9)?, a.i32(10)?))
    }),
    ("rk_adagrad_step", |a| unsafe {
        let ((p, pn), (g, gn), (s, sn)) = (a.f32s(0)?, a.f32s(1)?, a.f32s(2)?);
        Ok(optim::rk_adagrad_step(p, pn, g, gn, s, sn, a.num(3)?, a.num(4)?, a.num(5)?, a.num(6)?, a.i32(7)?))
    }),
    ("rk_grad_stats", |a| unsafe {
        let ((x, xn), (o, on)) = (a.f32s(0)?, a.f64s(1)?);
        Ok(optim::rk_grad_stats(x, xn, o, on))
    }),
    ("rk_scale", |a| unsafe {
        let (x, xn) = a.f32s(0)?;
        Ok(optim::rk_scale(x, xn, a.num(1)?))
    }),
    ("rk_clamp", |a| unsafe {
        let (x, xn) = a.f32s(0)?;
        Ok(optim::rk_clamp(x, xn, a.num(1)?, a.num(2)?))
    }),
    ("rk_init", |a| unsafe {
        let (o, on) = a.f32s(0)?;
        Ok(optim::rk_init(o, on, a.i32(1)?, a.num(2)?, a.num(3)?, a.i32(4)?, a.i32(5)?, a.u32(6)?, a.u32(7)?))
    }),
    ("rk_permutation", |a| unsafe {
        let (o, on) = a.i32s(0)?;
        Ok(optim::rk_permutation(o, on, a.u32(1)?, a.u32(2)?))
    }),
    ("rk_sample_logits", |a| unsafe {
        let ((o, on), (z, zn)) = (a.i32s(0)?, a.f32s(1)?);
        Ok(optim::rk_sample_logits(o, on, z, zn, a.i32(2)?, a.num(3)?, a.i32(4)?, a.u32(5)?, a.u32(6)?))
    }),
    ("rk_threads", |_| Ok(abi::threads::rk_threads())),
    ("rk_set_threads", |a| unsafe { Ok(abi::threads::rk_set_threads(a.int(0, -1e9, 1e9)? as i32)) }),
];

unsafe fn throw(env: napi_env, type_error: bool, msg: &str) {
    let mut pending = false;
    napi_is_exception_pending(env, &mut pending);
    if pending {
        return;
    }
    let msg = std::ffi::CString::new(msg.replace('\0', " ")).unwrap_or_default();
    if type_error {
        napi_throw_type_error(env, ptr::null(), msg.as_ptr());
    } else {
        napi_throw_error(env, b"RNNKIT_PANIC\0".as_ptr() as *const _, msg.as_ptr());
    }
}

/// The one callback behind every exported function; `data` is the row index in `EXPORTS`.
unsafe extern "C" fn trampoline(env: napi_env, info: napi_callback_info) -> napi_value {
    let outcome = std::panic::catch_unwind(|| -> Result<i32, String> {
        let (mut args, data) = Args::read(env, info, "rnnkit")?;
        let (name, f) = EXPORTS[data as usize];
        args.name = name;
        f(&args)
    });
    match outcome {
        Ok(Ok(status)) => {
            let mut out = ptr::null_mut();
            napi_create_int32(env, status, &mut out);
            out
        }
        Ok(Err(msg)) => {
            throw(env, true, &msg);
            ptr::null_mut()
        }
        Err(_) => {
            throw(env, false, "rnnkit native addon panicked while reading arguments (a bug, please report it)");
            ptr::null_mut()
        }
    }
}

/// Node calls this when the addon is loaded (the N-API module entry point).
///
/// # Safety
/// Called by Node with a valid env and exports object.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    for (i, (name, _)) in EXPORTS.iter().enumerate() {
        let mut f = ptr::null_mut();
        let cname = std::ffi::CString::new(*name).unwrap_or_default();
        if napi_create_function(env, cname.as_ptr(), name.len(), Some(trampoline), i as *mut c_void, &mut f) != 0
            || napi_set_named_property(env, exports, cname.as_ptr(), f) != 0
        {
            throw(env, false, &format!("rnnkit: could not register {}", name));
            return ptr::null_mut();
        }
    }
    exports
}

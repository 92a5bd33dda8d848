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
        Ok(abi::rk_rnn_forward(c, cn, p, pn, x, xn, l, ln, h0, h0n, c0, c0n, y, yn, hn, hnn, cnn, cnnn, k, kn))
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

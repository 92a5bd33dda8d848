//! JS values → the (pointer, length) and scalar arguments of the rk_* functions.
//! No math and no validation beyond "is this the right kind of JS value": lengths are checked
//! by rnnkit-abi, exactly as for the wasm backend.

use crate::napi::*;
use std::os::raw::c_void;
use std::ptr;

pub const MAX_ARGS: usize = 16;

pub struct Args {
    env: napi_env,
    argv: [napi_value; MAX_ARGS],
    argc: usize,
    pub name: &'static str,
}

impl Args {
    /// # Safety
    /// `env` and `info` must be the ones Node passed to the running callback.
    pub unsafe fn read(env: napi_env, info: napi_callback_info, name: &'static str) -> Result<(Args, *mut c_void), String> {
        let mut argc = MAX_ARGS;
        let mut argv = [ptr::null_mut(); MAX_ARGS];
        let mut data: *mut c_void = ptr::null_mut();
        if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data) != 0 {
            return Err(format!("{}: could not read the call's arguments", name));
        }
        Ok((Args { env, argv, argc: argc.min(MAX_ARGS), name }, data))
    }

    fn arg(&self, i: usize) -> napi_value {
        if i < self.argc {
            self.argv[i]
        } else {
            ptr::null_mut()
        }
    }

    unsafe fn is_nullish(&self, v: napi_value) -> bool {
        if v.is_null() {
            return true;
        }
        let mut t = -1;
        napi_typeof(self.env, v, &mut t) == 0 && (t == NAPI_UNDEFINED || t == NAPI_NULL)
    }

    /// A typed array of `kind`, or null/undefined → (null, 0).
    unsafe fn typed(&self, i: usize, kind: i32, kind_name: &str) -> Result<(*mut c_void, usize), String> {
        let v = self.arg(i);
        if self.is_nullish(v) {
            return Ok((ptr::null_mut(), 0));
        }
        let mut is_ta = false;
        napi_is_typedarray(self.env, v, &mut is_ta);
        let (mut t, mut len, mut data, mut offset) = (-1, 0usize, ptr::null_mut(), 0usize);
        if !is_ta || napi_get_typedarray_info(self.env, v, &mut t, &mut len, &mut data, ptr::null_mut(), &mut offset) != 0 || t != kind {
            return Err(format!("{}: argument {} must be a {} or null", self.name, i, kind_name));
        }
        // An empty typed array may have no backing store; treat it as present-but-empty only
        // when it has one, else as absent (the ABI rejects a missing required buffer).
        Ok((data, len))
    }

    pub unsafe fn f32s(&self, i: usize) -> Result<(*mut f32, usize), String> {
        self.typed(i, NAPI_FLOAT32_ARRAY, "Float32Array").map(|(p, n)| (p as *mut f32, n))
    }
    pub unsafe fn i32s(&self, i: usize) -> Result<(*mut i32, usize), String> {
        self.typed(i, NAPI_INT32_ARRAY, "Int32Array").map(|(p, n)| (p as *mut i32, n))
    }
    pub unsafe fn f64s(&self, i: usize) -> Result<(*mut f64, usize), String> {
        self.typed(i, NAPI_FLOAT64_ARRAY, "Float64Array").map(|(p, n)| (p as *mut f64, n))
    }
    /// A u32 passed as a JS number (seeds).
    pub unsafe fn u32(&self, i: usize) -> Result<u32, String> {
        self.int(i, 0.0, 4294967295.0).map(|v| v as u32)
    }
    /// An i32 passed as a JS number (sizes, codes, flags).
    pub unsafe fn i32(&self, i: usize) -> Result<i32, String> {
        self.int(i, -2147483648.0, 2147483647.0).map(|v| v as i32)
    }
    pub unsafe fn u8s(&self, i: usize) -> Result<(*mut u8, usize), String> {
        self.typed(i, NAPI_UINT8_ARRAY, "Uint8Array").map(|(p, n)| (p as *mut u8, n))
    }
    pub unsafe fn num(&self, i: usize) -> Result<f64, String> {
        let v = self.arg(i);
        let mut t = -1;
        let mut out = 0.0;
        if v.is_null() || napi_typeof(self.env, v, &mut t) != 0 || t != NAPI_NUMBER || napi_get_value_double(self.env, v, &mut out) != 0 {
            return Err(format!("{}: argument {} must be a number", self.name, i));
        }
        Ok(out)
    }
    /// A number that must be an integer in [lo, hi].
    pub unsafe fn int(&self, i: usize, lo: f64, hi: f64) -> Result<f64, String> {
        let v = self.num(i)?;
        if v.fract() != 0.0 || v < lo || v > hi {
            return Err(format!("{}: argument {} must be an integer in [{}, {}], got {}", self.name, i, lo, hi, v));
        }
        Ok(v)
    }
}

//! Threads of the native kernels (`rnnkit_core::kernels::pool`): how many the big products and
//! the per-step recurrent product are split among. Results do not depend on the count.
//! wasm32 has no threads: there the count is always 1.

use crate::guard::guard;
use rnnkit_core::kernels::pool;
use rnnkit_core::Error;

/// The thread count in use (the calling thread included): the last `rk_set_threads`, else env
/// RNNKIT_THREADS, else the available cores. 1 on wasm32.
#[no_mangle]
pub extern "C" fn rk_threads() -> i32 {
    guard(|| Ok(pool::threads() as i32))
}

/// Sets the thread count: n ≥ 1, or 0 for the default (env RNNKIT_THREADS, else the available
/// cores). Returns the count now in effect. wasm32 accepts only 0 and 1.
#[no_mangle]
pub extern "C" fn rk_set_threads(n: i32) -> i32 {
    guard(|| {
        if n < 0 || n as usize > pool::MAX_THREADS {
            return Err(Error::bad_argument(format!("threads: expected 0 (default) to {}, got {}", pool::MAX_THREADS, n)));
        }
        pool::set_threads(n as usize).map(|t| t as i32).map_err(Error::unsupported)
    })
}

//! One place that turns a call's `Result` — or a panic — into the i32 the ABI returns.
//! Native builds unwind, so a panic becomes `-ErrorCode::Panic` and Node survives. wasm32
//! aborts on panic (a trap); the hook below has stored the message first, so the TS loader can
//! still read it from the trapped instance before it recreates one.

use crate::status::set_last_error;
use rnnkit_core::{Error, ErrorCode};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

static HOOK_SET: AtomicBool = AtomicBool::new(false);

fn install_hook() {
    if !HOOK_SET.swap(true, Ordering::Relaxed) {
        std::panic::set_hook(Box::new(|info| {
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic".to_string()
            };
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            set_last_error(&format!("rnnkit panicked (a bug, please report it): {}{}", msg, at));
        }));
    }
}

/// Runs `f`; returns its value (≥ 0) or the negated error code with the message stored.
pub fn guard<F: FnOnce() -> Result<i32, Error>>(f: F) -> i32 {
    install_hook();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            -(e.code as i32)
        }
        // The hook has already stored the message.
        Err(_) => -(ErrorCode::Panic as i32),
    }
}

/// A count returned through the i32 channel; larger than i32::MAX is an error, not a wrap.
pub fn count(what: &str, n: usize) -> Result<i32, Error> {
    if n > i32::MAX as usize {
        return Err(Error::bad_argument(format!("{}: {} values is more than this build can address", what, n)));
    }
    Ok(n as i32)
}

//! Return values and the last-error message.
//!
//! Every `rk_*` function returns an `i32`: ≥ 0 is success (0, or a count), < 0 is the negated
//! error code, with a message readable through `rk_last_error_len` / `rk_last_error_copy`.

use std::cell::RefCell;

thread_local! {
    static LAST_ERROR: RefCell<String> = RefCell::new(String::new());
}

pub fn set_last_error(message: &str) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.clear();
        e.push_str(message);
    });
}

pub fn last_error_len() -> usize {
    LAST_ERROR.with(|e| e.borrow().len())
}

/// Copies up to `out.len()` bytes of the message; returns how many were copied.
pub fn last_error_copy(out: &mut [u8]) -> usize {
    LAST_ERROR.with(|e| {
        let e = e.borrow();
        let n = e.len().min(out.len());
        out[..n].copy_from_slice(&e.as_bytes()[..n]);
        n
    })
}

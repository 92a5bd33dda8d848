//! Errors of the core. Every message names the argument, the expected and the actual value.

use std::fmt;

/// Numeric codes shared with the C ABI (`rk_*` return values) and the TS `RnnkitError.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorCode {
    /// An argument has an invalid value (unknown cell code, zero size, length out of range).
    BadArgument = 1,
    /// A buffer has the wrong number of elements for the configuration.
    ShapeMismatch = 2,
    /// The combination of options is not supported (e.g. proj_size on a GRU).
    Unsupported = 3,
    /// A Rust panic was caught at the ABI boundary (a bug in rnnkit).
    Panic = 4,
    /// Two buffers passed to one call overlap in memory.
    Aliasing = 5,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn bad_argument(message: String) -> Error {
        Error { code: ErrorCode::BadArgument, message }
    }
    pub fn unsupported(message: String) -> Error {
        Error { code: ErrorCode::Unsupported, message }
    }
    pub fn shape(what: &str, expected: usize, got: usize, how: &str) -> Error {
        Error {
            code: ErrorCode::ShapeMismatch,
            message: format!("{}: expected {} elements ({}), got {}", what, expected, how, got),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Checked product of sizes; an overflow is a bad argument, not a panic.
pub fn checked_product(what: &str, factors: &[usize]) -> Result<usize> {
    let mut acc: usize = 1;
    for &f in factors {
        acc = acc
            .checked_mul(f)
            .ok_or_else(|| Error::bad_argument(format!("{}: size {:?} overflows", what, factors)))?;
    }
    Ok(acc)
}

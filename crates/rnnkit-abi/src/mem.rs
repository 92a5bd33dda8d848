//! Raw buffers crossing the ABI: (pointer, length) pairs checked into slices, with alignment,
//! null and overlap checks, so no Rust reference ever aliases another.

use rnnkit_core::{Error, ErrorCode};

/// Records every buffer of one call to reject overlaps between a written buffer and any other.
#[derive(Default)]
pub struct Borrows {
    seen: Vec<(&'static str, usize, usize, bool)>,
}

impl Borrows {
    fn note(&mut self, name: &'static str, addr: usize, bytes: usize, write: bool) -> Result<(), Error> {
        for &(other, start, end, other_write) in &self.seen {
            if (write || other_write) && addr < end && start < addr + bytes {
                return Err(Error {
                    code: ErrorCode::Aliasing,
                    message: format!("{} and {}: the buffers overlap in memory; pass separate arrays", name, other),
                });
            }
        }
        self.seen.push((name, addr, addr + bytes, write));
        Ok(())
    }

    fn check_ptr<T>(name: &str, ptr: *const T, len: usize) -> Result<(), Error> {
        if (ptr as usize) % std::mem::align_of::<T>() != 0 {
            return Err(Error::bad_argument(format!("{}: pointer {:#x} is not aligned to {} bytes", name, ptr as usize, std::mem::align_of::<T>())));
        }
        if len.checked_mul(std::mem::size_of::<T>()).is_none() {
            return Err(Error::bad_argument(format!("{}: length {} overflows", name, len)));
        }
        Ok(())
    }

    /// A read-only buffer; null = absent.
    ///
    /// # Safety
    /// A non-null `ptr` must point to `len` initialised values that stay valid and unwritten
    /// for the lifetime `'a` (the duration of the ABI call).
    pub unsafe fn input<'a, T>(&mut self, name: &'static str, ptr: *const T, len: usize) -> Result<Option<&'a [T]>, Error> {
        if ptr.is_null() {
            return Ok(None);
        }
        Self::check_ptr(name, ptr, len)?;
        self.note(name, ptr as usize, len * std::mem::size_of::<T>(), false)?;
        Ok(Some(std::slice::from_raw_parts(ptr, len)))
    }

    /// A written buffer; null = absent.
    ///
    /// # Safety
    /// A non-null `ptr` must point to `len` values, valid for writes for the lifetime `'a` and
    /// not accessed through any other path meanwhile (overlaps with this call's other buffers
    /// are rejected here).
    pub unsafe fn output<'a, T>(&mut self, name: &'static str, ptr: *mut T, len: usize) -> Result<Option<&'a mut [T]>, Error> {
        if ptr.is_null() {
            return Ok(None);
        }
        Self::check_ptr(name, ptr, len)?;
        self.note(name, ptr as usize, len * std::mem::size_of::<T>(), true)?;
        Ok(Some(std::slice::from_raw_parts_mut(ptr, len)))
    }
}

pub fn required<T>(name: &str, v: Option<T>) -> Result<T, Error> {
    v.ok_or_else(|| Error::bad_argument(format!("{}: required, got a null pointer", name)))
}

/// Bytes allocated by `rk_alloc` are aligned to 16 (SIMD loads, f64 views).
pub const ALLOC_ALIGN: usize = 16;

//! Linear layer: y = x Wᵀ + b. x (N, I); W (O, I) (PyTorch's layout); b (O); y (N, O).

use crate::copy::copy;
use crate::error::{Error, Result};
use crate::real::Real;

fn rows_of(what: &str, len: usize, width: usize) -> Result<usize> {
    if width == 0 || len % width != 0 {
        return Err(Error::shape(what, (len / width.max(1)) * width.max(1), len, &format!("a multiple of {} (rows × features)", width)));
    }
    Ok(len / width)
}

fn check_weights<T>(w: &[T], b: Option<&[T]>, inp: usize, out: usize) -> Result<()> {
    if inp == 0 || out == 0 {
        return Err(Error::bad_argument(format!("linear: in_features and out_features must be at least 1, got {} and {}", inp, out)));
    }
    if w.len() != inp * out {
        return Err(Error::shape("weight", inp * out, w.len(), "(out_features, in_features)"));
    }
    if let Some(b) = b {
        if b.len() != out {
            return Err(Error::shape("bias", out, b.len(), "(out_features)"));
        }
    }
    Ok(())
}

/// y (N, O) written.
pub fn linear_forward<T: Real>(y: &mut [T], x: &[T], w: &[T], b: Option<&[T]>, inp: usize, out: usize) -> Result<()> {
    check_weights(w, b, inp, out)?;
    let n = rows_of("x", x.len(), inp)?;
    if y.len() != n * out {
        return Err(Error::shape("y", n * out, y.len(), "(rows, out_features)"));
    }
    for r in 0..n {
        let row = &mut y[r * out..(r + 1) * out];
        match b {
            Some(b) => copy(row, b),
            None => row.iter_mut().for_each(|v| *v = T::ZERO),
        }
    }
    T::gemm_nt(y, out, x, inp, w, inp, n, out, inp);
    Ok(())
}

/// dx (N, I) written if given; dw (O, I) and db (O) accumulated (+=).
#[allow(clippy::too_many_arguments)]
pub fn linear_backward<T: Real>(
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: Option<&mut [T]>,
    dy: &[T],
    x: &[T],
    w: &[T],
    inp: usize,
    out: usize,
) -> Result<()> {
    check_weights(w, None, inp, out)?;
    let n = rows_of("x", x.len(), inp)?;
    if dy.len() != n * out {
        return Err(Error::shape("dy", n * out, dy.len(), "(rows, out_features)"));
    }
    if dw.len() != w.len() {
        return Err(Error::shape("dw", w.len(), dw.len(), "same as weight"));
    }
    if let Some(dx) = dx {
        if dx.len() != x.len() {
            return Err(Error::shape("dx", x.len(), dx.len(), "same as x"));
        }
        dx.iter_mut().for_each(|v| *v = T::ZERO);
        T::gemm_nn(dx, inp, dy, out, w, inp, n, inp, out);
    }
    T::gemm_tn(dw, inp, dy, out, x, inp, out, inp, n);
    if let Some(db) = db {
        if db.len() != out {
            return Err(Error::shape("db", out, db.len(), "(out_features)"));
        }
        for r in 0..n {
            for (acc, &g) in db.iter_mut().zip(&dy[r * out..(r + 1) * out]) {
                *acc += g;
            }
        }
    }
    Ok(())
}

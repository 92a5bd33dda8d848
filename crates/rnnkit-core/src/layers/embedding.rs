//! Embedding: out[n] = weight[ids[n]]. weight (V, E); ids (N); out (N, E).
//! Rows for `padding_idx` are looked up as usual but never receive gradient (PyTorch).

use crate::copy::copy;
use crate::error::{Error, Result};
use crate::real::Real;

fn check_ids(ids: &[i32], vocab: usize) -> Result<()> {
    for (n, &id) in ids.iter().enumerate() {
        if id < 0 || id as usize >= vocab {
            return Err(Error::bad_argument(format!("ids[{}]: token id {} is outside 0..{} (num_embeddings)", n, id, vocab)));
        }
    }
    Ok(())
}

fn check_sizes<T>(what: &str, weight: &[T], vocab: usize, dim: usize, ids: &[i32], rows: &[T]) -> Result<()> {
    if weight.len() != vocab * dim {
        return Err(Error::shape(&format!("{}weight", what), vocab * dim, weight.len(), "(num_embeddings, embedding_dim)"));
    }
    if rows.len() != ids.len() * dim {
        return Err(Error::shape(&format!("{}out", what), ids.len() * dim, rows.len(), "(number of ids, embedding_dim)"));
    }
    Ok(())
}

/// out (N, E) written; weight (V, E); ids (N).
pub fn embedding_forward<T: Real>(out: &mut [T], weight: &[T], ids: &[i32], vocab: usize, dim: usize) -> Result<()> {
    check_sizes("", weight, vocab, dim, ids, out)?;
    check_ids(ids, vocab)?;
    for (n, &id) in ids.iter().enumerate() {
        let id = id as usize;
        copy(&mut out[n * dim..(n + 1) * dim], &weight[id * dim..(id + 1) * dim]);
    }
    Ok(())
}

/// d_weight (V, E) accumulated (+=, a scatter-add: repeated ids add up); d_out (N, E).
/// padding_idx < 0 = none.
pub fn embedding_backward<T: Real>(d_weight: &mut [T], d_out: &[T], ids: &[i32], vocab: usize, dim: usize, padding_idx: i32) -> Result<()> {
    check_sizes("d_", d_weight, vocab, dim, ids, d_out)?;
    check_ids(ids, vocab)?;
    for (n, &id) in ids.iter().enumerate() {
        if id == padding_idx {
            continue;
        }
        let id = id as usize;
        for (w, &g) in d_weight[id * dim..(id + 1) * dim].iter_mut().zip(&d_out[n * dim..(n + 1) * dim]) {
            *w += g;
        }
    }
    Ok(())
}

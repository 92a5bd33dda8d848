//! Copies between buffers, in pieces of at most 1 KB.
//!
//! glibc's memcpy hands copies from a few KB up to `rep movsb`, and on AMD Zen 3 (this machine)
//! `rep movsb` runs 20–35× slower when the destination lies a few bytes (4–28) after the source
//! modulo 4 KB: a 16 KB copy took 6.3–9.1 µs instead of 0.25–0.4 µs. Buffers from different
//! allocations land on such an offset by chance, and then every step of a sequence pays it (an
//! LSTM state copy took 2 % of a train-lstm-s step). Pieces below glibc's `rep movsb` threshold
//! (by default 2048 bytes on SSE2-only CPUs, 2112 with FSRM, 4096 with AVX2) take its vector loop,
//! which is fast at every offset (measured, 16 KB in 1 KB pieces: 0.26–0.38 µs). Elsewhere the
//! pieces cost a loop iteration per 1 KB.

/// Bytes per piece.
const PIECE_BYTES: usize = 1024;

/// dst ← src (equal lengths; panics otherwise, like `copy_from_slice`).
pub fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "copy: destination has {} values, source {}", dst.len(), src.len());
    let piece = (PIECE_BYTES / std::mem::size_of::<T>().max(1)).max(1);
    for (d, s) in dst.chunks_mut(piece).zip(src.chunks(piece)) {
        d.copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::copy;

    #[test]
    fn copies_every_length_across_piece_boundaries() {
        for len in [0usize, 1, 255, 256, 257, 511, 512, 513, 1024, 1537, 4099] {
            let src: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let mut dst = vec![f32::NAN; len];
            copy(&mut dst, &src);
            assert_eq!(dst, src, "f32, {} values", len);
            let src64: Vec<f64> = src.iter().map(|&v| v as f64 + 0.25).collect();
            let mut dst64 = vec![0.0f64; len];
            copy(&mut dst64, &src64);
            assert_eq!(dst64, src64, "f64, {} values", len);
        }
    }

    #[test]
    #[should_panic(expected = "copy: destination has 3 values, source 4")]
    fn unequal_lengths_panic() {
        copy(&mut [0.0f32; 3], &[1.0f32; 4]);
    }
}

/*
 * Single-core fp32 FMA peak of this CPU (AVX2 + FMA, 256-bit): the ceiling "% of peak" in
 * bench/RESULTS.md is measured against. Used by bench/run.mjs when the Rust probe
 * (bench/rust, crate rnnkit-bench) is not there. Built and run at bench time:
 *
 *     cc -O2 -mavx2 -mfma bench/fma_peak.c -o fma_peak && ./fma_peak
 *
 * 12 independent accumulator chains of vfmadd (latency 4 x 2 ports needs >= 8 in flight), so the
 * loop is bound by FMA throughput, not latency. Prints one line: `fma_peak_gflops <number>`,
 * the best of several timed runs of 2 FLOPs x 8 lanes per FMA.
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CHAINS 12
#define FMA4(a, b, c, d)            \
  a = _mm256_fmadd_ps(a, m, z);       \
  b = _mm256_fmadd_ps(b, m, z);       \
  c = _mm256_fmadd_ps(c, m, z);       \
  d = _mm256_fmadd_ps(d, m, z);

static float run(long iters) {
  __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f), a3 = _mm256_set1_ps(1.3f);
  __m256 a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f), a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f);
  __m256 a8 = _mm256_set1_ps(1.8f), a9 = _mm256_set1_ps(1.9f), a10 = _mm256_set1_ps(2.0f), a11 = _mm256_set1_ps(2.1f);
  /* a * 1 + 0 keeps every value finite and normal; the FMA units do the same work. */
  __m256 m = _mm256_set1_ps(1.0f), z = _mm256_set1_ps(0.0f);
  /* opaque to the compiler, so it cannot fold a*1+0 away */
  __asm__ volatile("" : "+x"(m), "+x"(z));
  for (long i = 0; i < iters; i++) {
    FMA4(a0, a1, a2, a3)
    FMA4(a4, a5, a6, a7)
    FMA4(a8, a9, a10, a11)
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
    __asm__ volatile("" : "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

int main(void) {
  const long iters = 50 * 1000 * 1000; /* 12 * 8 * 2 * 5e7 = 9.6 GFLOP per run */
  double best = 0;
  float sink = 0;
  run(iters / 10); /* warm up the clock */
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    sink += run(iters);
    double dt = now() - t0;
    double gflops = (double)iters * CHAINS * 8 * 2 / dt * 1e-9;
    if (gflops > best) best = gflops;
  }
  printf("fma_peak_gflops %.2f\n", best);
  fprintf(stderr, "(checksum %g)\n", sink);
  return 0;
}

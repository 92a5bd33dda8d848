/*
 * Single-core fp32 FMA peak of this CPU: the ceiling "% of peak" in bench/RESULTS.md is measured
 * against. bench/run.mjs builds and runs it at bench time, as the cross-check of the Rust probe
 * (bench/rust, crate rnnkit-bench), or alone when that is not there:
 *
 *     cc -O2 -mavx2 -mfma bench/fma_peak.c -o fma_peak && ./fma_peak       256-bit AVX2 FMA
 *     cc -O2 -mavx512f bench/fma_peak.c -o fma_peak && ./fma_peak          512-bit AVX-512 FMA
 *
 * 12 independent accumulator chains of vfmadd (latency 4 x 2 ports needs >= 8 in flight), so the
 * loop is bound by FMA throughput, not latency. Prints one line: `fma_peak_gflops <number> lanes <8|16>`,
 * the best of several timed runs of 2 FLOPs x LANES (8 or 16) per FMA.
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#ifdef __AVX512F__
#define LANES 16
#define VEC __m512
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#define REG "+v"
#else
#define LANES 8
#define VEC __m256
#define SET1 _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#define REG "+x"
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CHAINS 12
#define FMA4(a, b, c, d)            \
  a = FMADD(a, m, z);                 \
  b = FMADD(b, m, z);                 \
  c = FMADD(c, m, z);                 \
  d = FMADD(d, m, z);

static float run(long iters) {
  VEC a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f);
  VEC a4 = SET1(1.4f), a5 = SET1(1.5f), a6 = SET1(1.6f), a7 = SET1(1.7f);
  VEC a8 = SET1(1.8f), a9 = SET1(1.9f), a10 = SET1(2.0f), a11 = SET1(2.1f);
  /* a * 1 + 0 keeps every value finite and normal; the FMA units do the same work. */
  VEC m = SET1(1.0f), z = SET1(0.0f);
  /* opaque to the compiler, so it cannot fold a*1+0 away */
  __asm__ volatile("" : REG(m), REG(z));
  for (long i = 0; i < iters; i++) {
    FMA4(a0, a1, a2, a3)
    FMA4(a4, a5, a6, a7)
    FMA4(a8, a9, a10, a11)
    __asm__ volatile("" : REG(a0), REG(a1), REG(a2), REG(a3), REG(a4), REG(a5));
    __asm__ volatile("" : REG(a6), REG(a7), REG(a8), REG(a9), REG(a10), REG(a11));
  }
  VEC s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));
  s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));
  float out[LANES];
  STORE(out, s);
  return out[0];
}

int main(void) {
  const long iters = 50 * 1000 * 1000; /* 12 chains * LANES * 2 flops * 5e7 per run */
  double best = 0;
  float sink = 0;
  run(iters / 10); /* warm up the clock */
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    sink += run(iters);
    double dt = now() - t0;
    double gflops = (double)iters * CHAINS * LANES * 2 / dt * 1e-9;
    if (gflops > best) best = gflops;
  }
  printf("fma_peak_gflops %.2f lanes %d\n", best, LANES);
  fprintf(stderr, "(checksum %g)\n", sink);
  return 0;
}

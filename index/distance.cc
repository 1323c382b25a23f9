#include "index/distance.h"

#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VASGD_X86 1
#endif

namespace vasgd {
namespace {

float DotPortable(const float* a, const float* b, int32_t dim) {
  // Four partial sums so the compiler can keep several multiply-adds in flight.
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int32_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < dim; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void DotRowsPortable(const float* q, const float* rows, int64_t n, int32_t dim, float* out) {
  for (int64_t r = 0; r < n; ++r) out[r] = DotPortable(q, rows + r * dim, dim);
}

#ifdef VASGD_X86
__attribute__((target("avx2,fma"))) inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, int32_t dim) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  int32_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

// Four rows per pass: every query load feeds four multiply-adds.
__attribute__((target("avx2,fma"))) void DotRowsAvx2(const float* q, const float* rows, int64_t n,
                                                     int32_t dim, float* out) {
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const float* r0 = rows + r * dim;
    const float* r1 = r0 + dim;
    const float* r2 = r1 + dim;
    const float* r3 = r2 + dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int32_t i = 0;
    for (; i + 8 <= dim; i += 8) {
      __m256 qv = _mm256_loadu_ps(q + i);
      a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r0 + i), a0);
      a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r1 + i), a1);
      a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r2 + i), a2);
      a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r3 + i), a3);
    }
    float s0 = HorizontalSum(a0), s1 = HorizontalSum(a1);
    float s2 = HorizontalSum(a2), s3 = HorizontalSum(a3);
    for (; i < dim; ++i) {
      s0 += q[i] * r0[i];
      s1 += q[i] * r1[i];
      s2 += q[i] * r2[i];
      s3 += q[i] * r3[i];
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < n; ++r) out[r] = DotAvx2(q, rows + r * dim, dim);
}
#endif

using DotFn = float (*)(const float*, const float*, int32_t);
using DotRowsFn = void (*)(const float*, const float*, int64_t, int32_t, float*);

struct Kernels {
  DotFn dot = DotPortable;
  DotRowsFn dot_rows = DotRowsPortable;
  const char* name = "portable";
};

Kernels ChooseKernels() {
  Kernels k;
#ifdef VASGD_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    k.dot = DotAvx2;
    k.dot_rows = DotRowsAvx2;
    k.name = "avx2-fma";
  }
#endif
  return k;
}

// Chosen once, before main() can start threads; constant afterwards.
const Kernels kKernels = ChooseKernels();

}  // namespace

float Dot(const float* a, const float* b, int32_t dim) { return kKernels.dot(a, b, dim); }

void DotRows(const float* query, const float* rows, int64_t n, int32_t dim, float* out) {
  kKernels.dot_rows(query, rows, n, dim, out);
}

float NormalizeInPlace(float* v, int32_t dim) {
  double sq = 0;
  for (int32_t i = 0; i < dim; ++i) sq += static_cast<double>(v[i]) * v[i];
  float norm = static_cast<float>(std::sqrt(sq));
  if (norm > 0) {
    float inv = 1.0f / norm;
    for (int32_t i = 0; i < dim; ++i) v[i] *= inv;
  }
  return norm;
}

const char* DotImplementation() { return kKernels.name; }

}  // namespace vasgd

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

void DotGatherPortable(const float* q, const float* const* rows, int64_t n, int32_t dim, float* out) {
  for (int64_t r = 0; r < n; ++r) out[r] = DotPortable(q, rows[r], dim);
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
  if (i + 8 <= dim) {  // at most one 8-float step remains after the 16-float ones
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    i += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

// Four rows per call: every query load feeds four rows. Each row accumulates exactly as DotAvx2
// does (two 8-wide sums over 16-float steps, an 8-float step into the first, then the scalar
// tail), so a product gets the bitwise-same score from every kernel.
__attribute__((target("avx2,fma"))) inline void Dot4Avx2(const float* q, const float* const row[4], int32_t dim,
                                                         float* out) {
  __m256 lo[4], hi[4];
  for (int j = 0; j < 4; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
  int32_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256 q0 = _mm256_loadu_ps(q + i);
    const __m256 q1 = _mm256_loadu_ps(q + i + 8);
    for (int j = 0; j < 4; ++j) {
      lo[j] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(row[j] + i), lo[j]);
      hi[j] = _mm256_fmadd_ps(q1, _mm256_loadu_ps(row[j] + i + 8), hi[j]);
    }
  }
  if (i + 8 <= dim) {
    const __m256 q0 = _mm256_loadu_ps(q + i);
    for (int j = 0; j < 4; ++j) lo[j] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(row[j] + i), lo[j]);
    i += 8;
  }
  for (int j = 0; j < 4; ++j) {
    float sum = HorizontalSum(_mm256_add_ps(lo[j], hi[j]));
    for (int32_t t = i; t < dim; ++t) sum += q[t] * row[j][t];
    out[j] = sum;
  }
}

__attribute__((target("avx2,fma"))) void DotRowsAvx2(const float* q, const float* rows, int64_t n,
                                                     int32_t dim, float* out) {
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const float* row[4] = {rows + r * dim, rows + (r + 1) * dim, rows + (r + 2) * dim, rows + (r + 3) * dim};
    Dot4Avx2(q, row, dim, out + r);
  }
  for (; r < n; ++r) out[r] = DotAvx2(q, rows + r * dim, dim);
}

__attribute__((target("avx2,fma"))) void DotGatherAvx2(const float* q, const float* const* rows, int64_t n,
                                                       int32_t dim, float* out) {
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) Dot4Avx2(q, rows + r, dim, out + r);
  for (; r < n; ++r) out[r] = DotAvx2(q, rows[r], dim);
}

// Half rows are padded to whole 8-value steps: no scalar tail, one 16-byte load per step.
__attribute__((target("avx2,fma,f16c"))) void ToHalfRowF16c(const float* v, int32_t dim, uint16_t* out) {
  const int32_t padded = HalfRowLength(dim);
  for (int32_t i = 0; i < padded; i += 8) {
    alignas(32) float chunk[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int32_t j = 0; j < 8 && i + j < dim; ++j) chunk[j] = v[i + j];
    const __m128i h = _mm256_cvtps_ph(_mm256_load_ps(chunk), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 LoadHalf(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma,f16c"))) void DotHalfGatherF16c(const float* q, const uint16_t* const* rows,
                                                               int64_t n, int32_t dim, float* out) {
  const int32_t padded = HalfRowLength(dim);
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) {  // four rows per query load, as DotRows
    __m256 acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_setzero_ps();
    for (int32_t i = 0; i < padded; i += 8) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(qv, LoadHalf(rows[r + j] + i), acc[j]);
    }
    for (int j = 0; j < 4; ++j) out[r + j] = HorizontalSum(acc[j]);
  }
  for (; r < n; ++r) {
    __m256 acc = _mm256_setzero_ps();
    for (int32_t i = 0; i < padded; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadHalf(rows[r] + i), acc);
    out[r] = HorizontalSum(acc);
  }
}
#endif

using DotFn = float (*)(const float*, const float*, int32_t);
using DotRowsFn = void (*)(const float*, const float*, int64_t, int32_t, float*);
using DotGatherFn = void (*)(const float*, const float* const*, int64_t, int32_t, float*);
using ToHalfFn = void (*)(const float*, int32_t, uint16_t*);
using DotHalfGatherFn = void (*)(const float*, const uint16_t* const*, int64_t, int32_t, float*);

struct Kernels {
  DotFn dot = DotPortable;
  DotRowsFn dot_rows = DotRowsPortable;
  DotGatherFn dot_gather = DotGatherPortable;
  ToHalfFn to_half = nullptr;  // null: no hardware fp16 conversion
  DotHalfGatherFn dot_half_gather = nullptr;
  const char* name = "portable";
};

Kernels ChooseKernels() {
  Kernels k;
#ifdef VASGD_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    k.dot = DotAvx2;
    k.dot_rows = DotRowsAvx2;
    k.dot_gather = DotGatherAvx2;
    k.name = "avx2-fma";
    if (__builtin_cpu_supports("f16c")) {
      k.to_half = ToHalfRowF16c;
      k.dot_half_gather = DotHalfGatherF16c;
    }
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

void DotGather(const float* query, const float* const* rows, int64_t n, int32_t dim, float* out) {
  kKernels.dot_gather(query, rows, n, dim, out);
}

bool HalfRowsSupported() { return kKernels.to_half != nullptr; }

int32_t HalfRowLength(int32_t dim) { return (dim + 7) / 8 * 8; }

void ToHalfRow(const float* v, int32_t dim, uint16_t* out) { kKernels.to_half(v, dim, out); }

void DotHalfGather(const float* query, const uint16_t* const* rows, int64_t n, int32_t dim, float* out) {
  kKernels.dot_half_gather(query, rows, n, dim, out);
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

namespace distance_testing {
float DotPortable(const float* a, const float* b, int32_t dim) { return vasgd::DotPortable(a, b, dim); }
void DotRowsPortable(const float* query, const float* rows, int64_t n, int32_t dim, float* out) {
  vasgd::DotRowsPortable(query, rows, n, dim, out);
}
}  // namespace distance_testing

}  // namespace vasgd

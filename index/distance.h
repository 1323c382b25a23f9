// Inner products of float vectors, the one kernel behind exact search and the HNSW graph.
// The fastest implementation the CPU supports (AVX2+FMA or portable C++) is chosen once at
// run time, so the binary runs on any x86-64 and still uses wide registers where they exist.
#pragma once

#include <cstdint>

namespace vasgd {

// sum_i a[i] * b[i] over `dim` floats. Neither pointer needs any alignment.
float Dot(const float* a, const float* b, int32_t dim);

// out[r] = Dot(query, rows + r * dim, dim) for r in [0, n), bitwise the same value: rows are
// contiguous, row-major. Faster than n calls to Dot: each query load serves four rows.
void DotRows(const float* query, const float* rows, int64_t n, int32_t dim, float* out);

// Scales v to unit L2 norm in place and returns the norm it had; a zero vector stays zero.
float NormalizeInPlace(float* v, int32_t dim);

// Name of the implementation in use ("avx2-fma" or "portable"), for benchmarks and logs.
const char* DotImplementation();

// For tests only: the portable kernels behind Dot and DotRows, whichever implementation this CPU
// uses, so that the scalar fallback is checked against the vectorised kernel on every machine.
namespace distance_testing {
float DotPortable(const float* a, const float* b, int32_t dim);
void DotRowsPortable(const float* query, const float* rows, int64_t n, int32_t dim, float* out);
}  // namespace distance_testing

}  // namespace vasgd

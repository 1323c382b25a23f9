// Inner products of float vectors, the one kernel behind exact search and the HNSW graph.
// The fastest implementation the CPU supports (AVX2+FMA or portable C++) is chosen once at
// run time, so the binary runs on any x86-64 and still uses wide registers where they exist.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vasgd {

// Asks the CPU to bring `bytes` at p into the caches ahead of use. For rows scattered over a table
// larger than the caches (a query's candidates): each row is a miss, and asking for the next
// rows while the current ones are used overlaps the misses instead of waiting them out in turn.
inline void Prefetch(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(c + at, 0, 3);
}

// sum_i a[i] * b[i] over `dim` floats. Neither pointer needs any alignment.
float Dot(const float* a, const float* b, int32_t dim);

// out[r] = Dot(query, rows + r * dim, dim) for r in [0, n), bitwise the same value: rows are
// contiguous, row-major. Faster than n calls to Dot: each query load serves four rows.
void DotRows(const float* query, const float* rows, int64_t n, int32_t dim, float* out);

// out[r] = Dot(query, rows[r], dim) for r in [0, n), bitwise the same value, for rows that lie
// anywhere (a graph node's neighbours): DotRows' four-rows-per-query-load kernel over pointers.
void DotGather(const float* query, const float* const* rows, int64_t n, int32_t dim, float* out);

// Half-precision (IEEE fp16) rows for a graph walk that reads half the bytes per neighbour. A
// half row of a `dim`-float vector holds HalfRowLength(dim) values: the vector, zero-padded to a
// multiple of 8. Supported only where the CPU converts in hardware (F16C with AVX2+FMA); elsewhere
// callers keep float rows.
bool HalfRowsSupported();
int32_t HalfRowLength(int32_t dim);
// out[0, HalfRowLength(dim)) = v rounded to nearest fp16, then zeros. Requires HalfRowsSupported().
void ToHalfRow(const float* v, int32_t dim, uint16_t* out);
// out[r] = the dot product of `query` (HalfRowLength(dim) floats, zero-padded like a half row) with
// rows[r] (half rows), summed in float. Within fp16 rounding (about 2^-11 relative per
// coordinate) of the float Dot. Requires HalfRowsSupported().
void DotHalfGather(const float* query, const uint16_t* const* rows, int64_t n, int32_t dim, float* out);

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

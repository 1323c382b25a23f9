// Synthetic product embeddings with cluster structure, for the index tests and benchmark:
// `clusters` random centres of norm about 1 in `dim` dimensions; each vector is a centre plus a
// Gaussian offset of norm about `spread`, then (optionally) scaled by a random length so that
// inner products and cosines rank differently. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <vector>

namespace vasgd {

struct ClusteredSpec {
  int64_t n = 0;
  int32_t dim = 0;
  int32_t clusters = 100;
  float spread = 0.5f;        // norm of the within-cluster offset relative to a centre's
  float min_length = 1.0f;    // each vector is scaled by a length uniform in [min, max]
  float max_length = 1.0f;
  uint64_t seed = 1;
};

// n × dim floats, row-major. Rows i and j with the same `i % clusters` share a centre.
std::vector<float> ClusteredVectors(const ClusteredSpec& spec);

}  // namespace vasgd

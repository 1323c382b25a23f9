// Synthetic product embeddings with cluster structure, for the index tests and benchmark:
// `clusters` random centres of norm about 1 in `dim` dimensions; each vector is a centre plus a
// Gaussian offset of norm about `spread`, then (optionally) scaled by a random length so that
// inner products and cosines rank differently. Deterministic for a seed.
// With latent_dim = 0 the offset is isotropic in all `dim` dimensions: within a cluster the data
// is as high-dimensional as it can be, the hardest case for a graph index. With latent_dim = r > 0
// the offset lies in a random r-dimensional subspace per cluster (plus isotropic noise of norm
// `noise`), as in trained embeddings, whose variation within a neighbourhood has few directions.
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
  uint64_t seed = 1;           // draws the centres (and subspaces)
  uint64_t point_seed = 0;     // draws the points around them; 0 = seed. Same seed, other
                               // point_seed: new points (e.g. queries) around the same centres
  int32_t latent_dim = 0;     // 0 = isotropic offsets; else their dimension within a cluster
  float noise = 0.0f;         // with latent_dim > 0: norm of the extra isotropic noise
};

// n × dim floats, row-major. Rows i and j with the same `i % clusters` share a centre.
std::vector<float> ClusteredVectors(const ClusteredSpec& spec);

}  // namespace vasgd

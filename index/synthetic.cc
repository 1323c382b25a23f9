#include "index/synthetic.h"

#include <cmath>
#include <random>

namespace vasgd {

std::vector<float> ClusteredVectors(const ClusteredSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::uniform_real_distribution<float> length(spec.min_length, spec.max_length);
  const float unit = 1.0f / std::sqrt(static_cast<float>(spec.dim));  // makes a Gaussian vector's norm ~1
  std::vector<float> centres(static_cast<size_t>(spec.clusters) * spec.dim);
  for (float& x : centres) x = gauss(rng) * unit;
  std::vector<float> out(static_cast<size_t>(spec.n) * spec.dim);
  for (int64_t i = 0; i < spec.n; ++i) {
    const float* c = centres.data() + (i % spec.clusters) * spec.dim;
    float* row = out.data() + i * spec.dim;
    const float scale = length(rng);
    for (int32_t d = 0; d < spec.dim; ++d) row[d] = (c[d] + spec.spread * gauss(rng) * unit) * scale;
  }
  return out;
}

}  // namespace vasgd

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
  // Per cluster, latent_dim random directions; a coefficient vector of norm ~1 along them.
  const int32_t r = spec.latent_dim;
  std::vector<float> bases(static_cast<size_t>(spec.clusters) * r * spec.dim);
  for (float& x : bases) x = gauss(rng) * unit;
  const float latent_unit = r > 0 ? 1.0f / std::sqrt(static_cast<float>(r)) : 0.0f;
  rng.seed(spec.point_seed ? spec.point_seed : spec.seed + 0x9e3779b97f4a7c15ULL);
  std::vector<float> out(static_cast<size_t>(spec.n) * spec.dim);
  std::vector<float> coef(r);
  for (int64_t i = 0; i < spec.n; ++i) {
    const int64_t cluster = i % spec.clusters;
    const float* c = centres.data() + cluster * spec.dim;
    float* row = out.data() + i * spec.dim;
    const float scale = length(rng);
    if (r == 0) {
      for (int32_t d = 0; d < spec.dim; ++d) row[d] = (c[d] + spec.spread * gauss(rng) * unit) * scale;
      continue;
    }
    for (float& z : coef) z = gauss(rng) * latent_unit * spec.spread;
    const float* basis = bases.data() + cluster * r * spec.dim;
    for (int32_t d = 0; d < spec.dim; ++d) {
      float v = c[d] + spec.noise * gauss(rng) * unit;
      for (int32_t j = 0; j < r; ++j) v += coef[j] * basis[j * spec.dim + d];
      row[d] = v * scale;
    }
  }
  return out;
}

}  // namespace vasgd

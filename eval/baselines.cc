#include "eval/baselines.h"

#include <cmath>
#include <cstring>

#include "eval/eval_data.h"

namespace vasgd {

namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class RandomScorer : public Scorer {
 public:
  RandomScorer(int32_t num_products, uint64_t seed) : num_products_(num_products), seed_(SplitMix64(seed)) {}
  int32_t num_products() const override { return num_products_; }
  void Score(const int32_t* users, int32_t n, float* out) const override {
    for (int32_t k = 0; k < n; ++k) {
      const uint64_t user_key = SplitMix64(seed_ ^ (static_cast<uint64_t>(static_cast<uint32_t>(users[k])) << 32));
      float* row = out + static_cast<int64_t>(k) * num_products_;
      for (int32_t p = 0; p < num_products_; ++p) {
        // 24 random bits -> [0, 1): distinct values are exact in float.
        row[p] = static_cast<float>(SplitMix64(user_key + static_cast<uint64_t>(p)) >> 40) * (1.0f / 16777216.0f);
      }
    }
  }

 private:
  int32_t num_products_;
  uint64_t seed_;
};

class PopularityScorer : public Scorer {
 public:
  explicit PopularityScorer(std::vector<float> degree) : degree_(std::move(degree)) {}
  int32_t num_products() const override { return static_cast<int32_t>(degree_.size()); }
  void Score(const int32_t*, int32_t n, float* out) const override {
    for (int32_t k = 0; k < n; ++k) std::memcpy(out + k * degree_.size(), degree_.data(), sizeof(float) * degree_.size());
  }

 private:
  std::vector<float> degree_;
};

}  // namespace

std::unique_ptr<Scorer> MakeRandomScorer(int32_t num_products, uint64_t seed) {
  return std::make_unique<RandomScorer>(num_products, seed);
}

std::unique_ptr<Scorer> MakePopularityScorer(const InteractionGraph& graph) {
  return std::make_unique<PopularityScorer>(ProductDegrees(graph));
}

namespace {

// Per-dimension (x − mean) / std over the rows present; constant dimensions are only centred.
std::vector<float> Standardized(const FeatureMatrix& f) {
  std::vector<double> mean(f.dim, 0.0), var(f.dim, 0.0);
  int64_t n = 0;
  for (size_t p = 0; p < f.present.size(); ++p) {
    if (!f.present[p]) continue;
    ++n;
    for (int32_t d = 0; d < f.dim; ++d) mean[d] += f.row(static_cast<int32_t>(p))[d];
  }
  std::vector<float> out(f.values.size(), 0.f);
  if (n == 0) return out;
  for (double& m : mean) m /= n;
  for (size_t p = 0; p < f.present.size(); ++p) {
    if (!f.present[p]) continue;
    for (int32_t d = 0; d < f.dim; ++d) {
      const double x = f.row(static_cast<int32_t>(p))[d] - mean[d];
      var[d] += x * x;
    }
  }
  for (size_t p = 0; p < f.present.size(); ++p) {
    if (!f.present[p]) continue;
    for (int32_t d = 0; d < f.dim; ++d) {
      const double sd = std::sqrt(var[d] / n);
      const double x = f.row(static_cast<int32_t>(p))[d] - mean[d];
      out[p * f.dim + d] = static_cast<float>(sd > 1e-12 ? x / sd : x);
    }
  }
  return out;
}

}  // namespace

Embeddings WboiEmbeddings(const TrainingData& data, bool standardize) {
  const InteractionGraph& g = data.graph;
  const FeatureMatrix& raw = data.features;
  FeatureMatrix standardized;
  if (standardize) {
    standardized.dim = raw.dim;
    standardized.present = raw.present;
    standardized.values = Standardized(raw);
  }
  const FeatureMatrix& f = standardize ? standardized : raw;
  Embeddings e;
  e.dim = f.dim;
  e.num_users = g.num_users;
  e.num_products = g.num_products;
  e.products = f.values;
  e.has_product = f.present;
  e.users.assign(static_cast<size_t>(g.num_users) * f.dim, 0.f);
  for (int32_t u = 0; u < g.num_users; ++u) {
    float* x = e.users.data() + static_cast<int64_t>(u) * f.dim;
    double total = 0;
    for (int64_t k = g.user_offsets[u]; k < g.user_offsets[u + 1]; ++k) {
      const int32_t p = g.product_index[k];
      if (!f.present[p]) continue;
      const float w = g.weight[k];
      const float* fp = f.row(p);
      for (int32_t d = 0; d < f.dim; ++d) x[d] += w * fp[d];
      total += w;
    }
    if (total > 0) {
      for (int32_t d = 0; d < f.dim; ++d) x[d] = static_cast<float>(x[d] / total);
    }
  }
  return e;
}

}  // namespace vasgd

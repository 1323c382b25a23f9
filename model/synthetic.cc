#include "model/synthetic.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/rng.h"
#include "model/tsv.h"

namespace vasgd {
namespace {

// Samples an index from cumulative weights.
int32_t Pick(const std::vector<double>& cumulative, Rng* rng) {
  const double x = rng->Uniform() * cumulative.back();
  return static_cast<int32_t>(std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin());
}

}  // namespace

SyntheticShop MakeSyntheticShop(const SyntheticShopOptions& o) {
  Rng rng(o.seed);
  SyntheticShop shop;
  const int32_t k = std::max(1, o.num_clusters);
  shop.product_cluster.resize(o.num_products);
  shop.cold.assign(o.num_products, 0);
  std::vector<std::vector<int32_t>> members(k);
  for (int32_t p = 0; p < o.num_products; ++p) {
    shop.product_cluster[p] = p % k;
    members[p % k].push_back(p);
    shop.cold[p] = rng.Uniform() < o.cold_fraction ? 1 : 0;
  }
  // Per cluster: cumulative popularity over its members, one table for all and one warm-only.
  std::vector<std::vector<double>> all_cum(k), warm_cum(k);
  std::vector<std::vector<int32_t>> warm_members(k);
  for (int32_t c = 0; c < k; ++c) {
    double total = 0, warm_total = 0;
    for (size_t r = 0; r < members[c].size(); ++r) {
      const double w = 1.0 / std::pow(static_cast<double>(r + 1), o.popularity_skew);
      total += w;
      all_cum[c].push_back(total);
      if (!shop.cold[members[c][r]]) {
        warm_total += w;
        warm_cum[c].push_back(warm_total);
        warm_members[c].push_back(members[c][r]);
      }
    }
  }
  auto pick_cluster = [&](int32_t home) {
    return rng.Uniform() < o.in_cluster_prob ? home : static_cast<int32_t>(rng.Below(k));
  };

  TrainingData& d = shop.train;
  for (int32_t u = 0; u < o.num_users; ++u) d.user_ids.push_back("u" + std::to_string(u));
  for (int32_t p = 0; p < o.num_products; ++p) d.product_ids.push_back("p" + std::to_string(p));
  std::vector<int32_t> users, products;
  std::vector<float> weights;
  shop.user_cluster.resize(o.num_users);
  for (int32_t u = 0; u < o.num_users; ++u) {
    const int32_t home = static_cast<int32_t>(rng.Below(k));
    shop.user_cluster[u] = home;
    // 1 + geometric, mean purchases_per_user.
    const double q = 1.0 / std::max(1.0, o.purchases_per_user);
    int n = 1;
    while (rng.Uniform() > q && n < 1000) ++n;
    std::vector<int32_t> bought;
    for (int i = 0; i < n; ++i) {
      const int32_t c = pick_cluster(home);
      if (warm_members[c].empty()) continue;
      const int32_t p = warm_members[c][Pick(warm_cum[c], &rng)];
      users.push_back(u);
      products.push_back(p);
      weights.push_back(1.0f);
      bought.push_back(p);
    }
    // The held-out purchase may be any product of the cluster, warm or cold, not bought before.
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int32_t c = pick_cluster(home);
      if (members[c].empty()) continue;
      const int32_t p = members[c][Pick(all_cum[c], &rng)];
      if (std::find(bought.begin(), bought.end(), p) != bought.end()) continue;
      shop.test.emplace_back(u, p);
      break;
    }
  }
  d.graph = BuildInteractionGraph(o.num_users, o.num_products, users, products, weights);

  if (o.feature_dim > 0) {
    std::vector<float> centroids(static_cast<size_t>(k) * o.feature_dim);
    for (float& x : centroids) x = static_cast<float>(rng.Normal());
    FeatureMatrix& f = d.features;
    f.dim = o.feature_dim;
    f.values.assign(static_cast<size_t>(o.num_products) * o.feature_dim, 0.0f);
    f.present.assign(o.num_products, 0);
    for (int32_t p = 0; p < o.num_products; ++p) {
      if (rng.Uniform() < o.missing_features_fraction) continue;
      f.present[p] = 1;
      const float* centre = centroids.data() + static_cast<size_t>(shop.product_cluster[p]) * o.feature_dim;
      float* row = f.values.data() + static_cast<size_t>(p) * o.feature_dim;
      for (int32_t j = 0; j < o.feature_dim; ++j)
        row[j] = centre[j] + static_cast<float>(o.feature_noise * rng.Normal());
    }
  }
  return shop;
}

}  // namespace vasgd

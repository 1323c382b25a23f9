// A deterministic planted shop: users and products belong to latent clusters, users buy mostly
// inside their cluster, and product features are the cluster's centroid plus noise, so features
// determine taste. Some products are cold (never bought in the training graph) yet appear as
// held-out test purchases. Used by tests, the evaluation and the daemon's demo; the same options
// and seed give the same shop on every platform.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "model/dataset.h"

namespace vasgd {

struct SyntheticShopOptions {
  int32_t num_users = 2000;
  int32_t num_products = 1000;
  int32_t num_clusters = 10;
  int32_t feature_dim = 32;             // 0 = no features at all
  double purchases_per_user = 8;        // mean training purchases per user (at least 1 each)
  double in_cluster_prob = 0.9;         // share of purchases inside the user's cluster
  double cold_fraction = 0.1;           // products never bought in the training graph
  double missing_features_fraction = 0; // products without a feature vector
  double feature_noise = 0.5;           // noise std around the cluster centroid (centroids ~ N(0,1))
  double popularity_skew = 0.5;         // within a cluster, product r is bought ∝ 1/(r+1)^skew
  uint64_t seed = 1;
};

struct SyntheticShop {
  TrainingData train;  // ids "u<i>" and "p<j>"; dense id j is product "p<j>"
  std::vector<std::pair<int32_t, int32_t>> test;  // one held-out (user, product) per user
  std::vector<int32_t> user_cluster;
  std::vector<int32_t> product_cluster;
  std::vector<uint8_t> cold;  // per product: 1 = no training purchase by construction
};

SyntheticShop MakeSyntheticShop(const SyntheticShopOptions& options);

}  // namespace vasgd

#include "model/synthetic.h"

#include <gtest/gtest.h>

namespace vasgd {
namespace {

TEST(SyntheticShop, DeterministicAndPlanted) {
  SyntheticShopOptions o;
  o.num_users = 500;
  o.num_products = 200;
  o.num_clusters = 5;
  o.feature_dim = 8;
  const SyntheticShop a = MakeSyntheticShop(o), b = MakeSyntheticShop(o);
  EXPECT_EQ(a.train.graph.product_index, b.train.graph.product_index);
  EXPECT_EQ(a.train.features.values, b.train.features.values);
  EXPECT_EQ(a.test, b.test);
  o.seed = 2;
  EXPECT_NE(MakeSyntheticShop(o).train.graph.product_index, a.train.graph.product_index);

  const InteractionGraph& g = a.train.graph;
  ASSERT_EQ(g.num_users, 500);
  ASSERT_EQ(g.num_products, 200);
  int64_t inside = 0;
  for (int32_t u = 0; u < g.num_users; ++u) {
    EXPECT_GT(g.user_offsets[u + 1], g.user_offsets[u]) << "every user has a purchase";
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) {
      EXPECT_FALSE(a.cold[g.product_index[e]]) << "cold products are never bought in training";
      inside += a.product_cluster[g.product_index[e]] == a.user_cluster[u];
    }
  }
  EXPECT_GT(static_cast<double>(inside) / g.num_edges(), 0.85);  // in_cluster_prob 0.9
  EXPECT_EQ(a.test.size(), 500u);
  int cold_tests = 0;
  for (auto [u, p] : a.test) cold_tests += a.cold[p];
  EXPECT_GT(cold_tests, 0);

  // Features determine the cluster: same-cluster rows are closer than other-cluster rows.
  const FeatureMatrix& f = a.train.features;
  auto dist = [&](int32_t p, int32_t q) {
    double s = 0;
    for (int j = 0; j < f.dim; ++j) s += (f.row(p)[j] - f.row(q)[j]) * (f.row(p)[j] - f.row(q)[j]);
    return s;
  };
  double same = 0, other = 0;
  for (int32_t p = 0; p + 5 < 200; ++p) {
    same += dist(p, p + 5);   // p % 5 == (p + 5) % 5
    other += dist(p, p + 1);
  }
  EXPECT_LT(same * 2, other);
}

TEST(SyntheticShop, WithoutFeatures) {
  SyntheticShopOptions o;
  o.num_users = 50;
  o.num_products = 20;
  o.feature_dim = 0;
  const SyntheticShop s = MakeSyntheticShop(o);
  EXPECT_EQ(s.train.features.dim, 0);
  EXPECT_TRUE(s.train.features.values.empty());
}

}  // namespace
}  // namespace vasgd

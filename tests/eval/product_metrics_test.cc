// Product relations, analogies and the cosine spread on planted spaces with known answers.
#include "eval/product_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "tests/eval/eval_test_util.h"

namespace vasgd {
namespace {

using testing::MakeGraph;

// 4 clusters of 10 products (product p in cluster p / 10) and 5 users per cluster; each user
// bought 4 products of the cluster in train, one more in test. Space: one axis per cluster.
struct Planted {
  static constexpr int kClusters = 4, kPerCluster = 10, kUsersPer = 5;
  EvalData data;
  Embeddings space;

  Planted() {
    std::mt19937 rng(5);
    std::vector<UserProduct> edges;
    const int users = kClusters * kUsersPer, products = kClusters * kPerCluster;
    for (int u = 0; u < users; ++u) {
      const int c = u / kUsersPer;
      std::vector<int> items(kPerCluster);
      for (int i = 0; i < kPerCluster; ++i) items[i] = c * kPerCluster + i;
      std::shuffle(items.begin(), items.end(), rng);
      for (int i = 0; i < 4; ++i) edges.push_back({u, items[i]});
      data.test.push_back({u, items[4]});
      data.val.push_back({u, items[5]});
    }
    data.train.graph = MakeGraph(users, products, edges);
    space.dim = kClusters;
    space.num_users = users;
    space.num_products = products;
    space.users.assign(users * kClusters, 0.f);
    space.products.assign(products * kClusters, 0.f);
    for (int u = 0; u < users; ++u) space.users[u * kClusters + u / kUsersPer] = 1.f;
    for (int p = 0; p < products; ++p) space.products[p * kClusters + p / kPerCluster] = 1.f;
  }
};

TEST(RelationPairsTest, BalancedAndLabelledByCoPurchase) {
  Planted w;
  const std::vector<LabeledPair> pairs = BuildRelationPairs(w.data, w.data.test, 3);
  int pos = 0, neg = 0;
  for (const LabeledPair& p : pairs) {
    EXPECT_NE(p.a, p.b);
    const bool same_cluster = p.a / Planted::kPerCluster == p.b / Planted::kPerCluster;
    if (p.related) {
      ++pos;
      EXPECT_TRUE(same_cluster);  // users only buy inside their cluster
    } else {
      ++neg;
    }
  }
  EXPECT_EQ(pos, 20);
  EXPECT_EQ(neg, 20);
  const std::vector<LabeledPair> again = BuildRelationPairs(w.data, w.data.test, 3);
  ASSERT_EQ(again.size(), pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) EXPECT_EQ(again[i].b, pairs[i].b);
}

TEST(RelationAccuracyTest, PlantedSpaceSeparatesAndShuffledDoesNot) {
  Planted w;
  const auto val = BuildRelationPairs(w.data, w.data.val, 1);
  const auto test = BuildRelationPairs(w.data, w.data.test, 2);
  // Negatives whose partner shares the cluster but no buyer would be "related" in the space;
  // count them to know the best reachable accuracy.
  int confusable = 0;
  for (const LabeledPair& p : test) confusable += !p.related && p.a / 10 == p.b / 10;
  const RelationResult r = RelationAccuracy(w.space, val, test);
  EXPECT_NEAR(r.test_accuracy, 1.0 - static_cast<double>(confusable) / test.size(), 1e-12);
  EXPECT_GT(r.threshold, 0.0);
  EXPECT_LT(r.threshold, 1.0);

  // A space that knows nothing (all products alike) gets at most the share of the majority.
  Embeddings flat = w.space;
  for (float& x : flat.products) x = 1.f;
  const RelationResult f = RelationAccuracy(flat, val, test);
  EXPECT_NEAR(f.test_accuracy, 0.5, 1e-12);
}

TEST(AnalogyTest, PlantedClustersAnswerWithTheSecondUsersCluster) {
  Planted w;
  AnalogyOptions o;
  o.queries = 300;
  o.k = 5;
  const AnalogyResult r = AnalogyPrecision(w.space, w.data, o);
  EXPECT_EQ(r.queries, 300);
  // Answers are the u2 cluster's 10 products (all at cosine 1, lowest ids first); u2 bought
  // 6 of them (train + val + test), so precision is the share of u2's purchases among those 5.
  EXPECT_GT(r.precision, 0.4);
  // With clusters swapped for products, answers fall in the wrong cluster: nothing relevant.
  Embeddings wrong = w.space;
  for (int p = 0; p < 40; ++p) {
    std::fill_n(wrong.products.begin() + p * 4, 4, 0.f);
    wrong.products[p * 4 + (p / 10 + 1) % 4] = 1.f;
  }
  const AnalogyResult bad = AnalogyPrecision(wrong, w.data, o);
  EXPECT_LT(bad.precision, r.precision);
  EXPECT_DOUBLE_EQ(bad.precision_target_only, 0.0);
}

TEST(CosineSpreadTest, UniformAnglesGiveTheArcsineKurtosis) {
  // 2-D unit vectors at uniform angles: the cosine of a random pair follows the arcsine law on
  // [-1, 1], mean 0, variance 1/2, excess kurtosis −1.5.
  Embeddings e;
  e.dim = 2;
  e.num_products = 3600;
  for (int p = 0; p < e.num_products; ++p) {
    const double a = 2 * M_PI * p / e.num_products;
    e.products.push_back(static_cast<float>(std::cos(a)));
    e.products.push_back(static_cast<float>(std::sin(a)));
  }
  const CosineSpread s = RandomPairCosines(e, 200000, 9);
  EXPECT_EQ(s.samples.size(), 200000u);
  EXPECT_NEAR(s.mean, 0.0, 0.01);
  EXPECT_NEAR(s.stddev, std::sqrt(0.5), 0.01);
  EXPECT_NEAR(s.excess_kurtosis, -1.5, 0.02);
}

}  // namespace
}  // namespace vasgd

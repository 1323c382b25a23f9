// The neighbour lists (model/neighbours.h, model/ease.h) against brute-force computations of the
// same formulas in double precision on small random graphs, and their stored form.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "model/ease.h"
#include "model/neighbour_lists.h"
#include "model/neighbours.h"
#include "model/rng.h"

namespace vasgd {
namespace {

// A random bipartite graph with a few heavy users and popular products, each purchase once.
InteractionGraph RandomGraph(int users, int products, uint64_t seed) {
  Rng rng(seed);
  InteractionGraph g;
  g.num_users = users;
  g.num_products = products;
  g.user_offsets.push_back(0);
  for (int u = 0; u < users; ++u) {
    const int degree = 1 + static_cast<int>(rng.Below(u % 7 == 0 ? 12 : 4));
    std::set<int32_t> bought;
    while (static_cast<int>(bought.size()) < degree) {
      // Skewed: low ids are bought more often.
      const double x = rng.Uniform();
      bought.insert(static_cast<int32_t>(x * x * products));
    }
    for (int32_t p : bought) {
      g.product_index.push_back(p);
      g.weight.push_back(1.0f);
    }
    g.user_offsets.push_back(static_cast<int64_t>(g.product_index.size()));
  }
  return g;
}

using Dense = std::vector<std::vector<double>>;

Dense BruteRp3b(const InteractionGraph& g, double alpha, double beta) {
  const int n = g.num_products;
  std::vector<double> du(g.num_users), dp(n, 0);
  for (int u = 0; u < g.num_users; ++u) {
    du[u] = static_cast<double>(g.user_offsets[u + 1] - g.user_offsets[u]);
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) dp[g.product_index[e]] += 1;
  }
  Dense w(n, std::vector<double>(n, 0));
  for (int u = 0; u < g.num_users; ++u)
    for (int64_t a = g.user_offsets[u]; a < g.user_offsets[u + 1]; ++a)
      for (int64_t b = g.user_offsets[u]; b < g.user_offsets[u + 1]; ++b) {
        const int i = g.product_index[a], j = g.product_index[b];
        if (i == j) continue;
        // P(i -> u) · P(u -> j), each transition probability raised to α, divided by deg(j)^β.
        w[i][j] += std::pow(1.0 / dp[i], alpha) * std::pow(1.0 / du[u], alpha) / std::pow(dp[j], beta);
      }
  return w;
}

Dense BruteItemKnn(const InteractionGraph& g, double shrink) {
  const int n = g.num_products;
  std::vector<double> dp(n, 0);
  Dense common(n, std::vector<double>(n, 0));
  for (int u = 0; u < g.num_users; ++u)
    for (int64_t a = g.user_offsets[u]; a < g.user_offsets[u + 1]; ++a) {
      dp[g.product_index[a]] += 1;
      for (int64_t b = g.user_offsets[u]; b < g.user_offsets[u + 1]; ++b) common[g.product_index[a]][g.product_index[b]] += 1;
    }
  Dense w(n, std::vector<double>(n, 0));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j && common[i][j] > 0) w[i][j] = common[i][j] / (std::sqrt(dp[i] * dp[j]) + shrink);
  return w;
}

// Gauss-Jordan inverse in double: EASE's closed form, B_ij = -P_ij / P_jj.
Dense BruteEase(const InteractionGraph& g, double lambda) {
  const int n = g.num_products;
  Dense a(n, std::vector<double>(2 * n, 0));
  for (int u = 0; u < g.num_users; ++u)
    for (int64_t x = g.user_offsets[u]; x < g.user_offsets[u + 1]; ++x)
      for (int64_t y = g.user_offsets[u]; y < g.user_offsets[u + 1]; ++y) a[g.product_index[x]][g.product_index[y]] += 1;
  for (int i = 0; i < n; ++i) {
    a[i][i] += lambda;
    a[i][n + i] = 1;
  }
  for (int c = 0; c < n; ++c) {
    const double pivot = a[c][c];
    for (double& v : a[c]) v /= pivot;
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r][c];
      for (int k = 0; k < 2 * n; ++k) a[r][k] -= f * a[c][k];
    }
  }
  Dense b(n, std::vector<double>(n, 0));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) b[i][j] = -a[i][n + j] / a[j][n + j];
  return b;
}

// Each row of `lists` must hold the row's top-k positive brute-force weights, best first, equal
// to 1e-4 relative; rows may differ only in the order of (nearly) tied weights.
void ExpectListsMatch(const NeighbourLists& lists, const Dense& brute, int k) {
  ASSERT_EQ(lists.num_products, static_cast<int32_t>(brute.size()));
  ASSERT_TRUE(CheckNeighbourLists(lists).ok());
  for (int i = 0; i < lists.num_products; ++i) {
    std::vector<std::pair<double, int>> want;
    for (int j = 0; j < lists.num_products; ++j)
      if (brute[i][j] > 1e-12) want.push_back({brute[i][j], j});
    std::sort(want.begin(), want.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    if (static_cast<int>(want.size()) > k) want.resize(k);
    const int64_t begin = lists.offsets[i], end = lists.offsets[i + 1];
    ASSERT_EQ(end - begin, static_cast<int64_t>(want.size())) << "row " << i;
    for (int64_t e = begin; e < end; ++e) {
      const int j = lists.neighbours[e];
      EXPECT_NEAR(lists.weights[e], brute[i][j], 1e-4 * brute[i][j] + 1e-7) << "row " << i << " neighbour " << j;
      EXPECT_NEAR(lists.weights[e], want[e - begin].first, 1e-4 * want[e - begin].first + 1e-7) << "row " << i << " rank " << e - begin;
      if (e > begin) EXPECT_GE(lists.weights[e - 1], lists.weights[e]) << "row " << i << " is not best first";
    }
  }
}

TEST(NeighbourLists, Rp3bMatchesBruteForceP3AlphaAndRp3Beta) {
  const InteractionGraph g = RandomGraph(300, 60, 1);
  const CoPurchaseGraph walk = CoPurchaseGraph::Build(g, /*max_user_degree=*/1000, 1);
  EXPECT_EQ(walk.capped_users, 0);
  NeighbourBuildOptions o;
  o.top_k = 15;
  o.threads = 2;
  for (auto [alpha, beta] : {std::pair<double, double>{1.0, 0.0}, {0.8, 0.0}, {0.6, 0.3}}) {
    SCOPED_TRACE(testing::Message() << "alpha " << alpha << " beta " << beta);
    const NeighbourLists lists = BuildRp3bLists(walk, alpha, beta, o);
    EXPECT_EQ(lists.family, "rp3b");
    ExpectListsMatch(lists, BruteRp3b(g, alpha, beta), o.top_k);
  }
}

// A retraining chooses the lists' settings on the rows its holdout reads: those rows must be the
// whole build's, every other row empty.
TEST(NeighbourLists, OnlyTheRowsAskedForAreBuiltAsTheWholeBuildHasThem) {
  const InteractionGraph g = RandomGraph(300, 60, 4);
  const CoPurchaseGraph walk = CoPurchaseGraph::Build(g, /*max_user_degree=*/6, 4);  // some hubs capped
  NeighbourBuildOptions o;
  o.top_k = 10;
  o.threads = 2;
  const NeighbourLists whole[] = {BuildRp3bLists(walk, 0.8, 0.2, o), BuildItemKnnLists(walk, 10, o)};
  for (int32_t p = 0; p < g.num_products; p += 5) o.rows.push_back(p);
  const NeighbourLists some[] = {BuildRp3bLists(walk, 0.8, 0.2, o), BuildItemKnnLists(walk, 10, o)};
  for (int f = 0; f < 2; ++f) {
    SCOPED_TRACE(whole[f].family);
    int64_t compared = 0;
    ASSERT_TRUE(CheckNeighbourLists(some[f]).ok());
    ASSERT_EQ(some[f].num_products, whole[f].num_products);
    EXPECT_EQ(some[f].params_json, whole[f].params_json);
    for (int32_t p = 0; p < g.num_products; ++p) {
      const bool asked = std::count(o.rows.begin(), o.rows.end(), p) > 0;
      const auto row = [p](const NeighbourLists& l) {
        return std::make_pair(std::vector<int32_t>(l.neighbours.begin() + l.offsets[p], l.neighbours.begin() + l.offsets[p + 1]),
                              std::vector<float>(l.weights.begin() + l.offsets[p], l.weights.begin() + l.offsets[p + 1]));
      };
      if (asked) {
        compared += !row(whole[f]).first.empty();
        EXPECT_EQ(row(some[f]), row(whole[f])) << "row " << p;
      } else {
        EXPECT_TRUE(row(some[f]).first.empty()) << "row " << p << " was not asked for";
      }
    }
    EXPECT_GE(compared, 6) << "rows with neighbours to compare";
  }
}

TEST(NeighbourLists, ItemKnnMatchesBruteForceCosine) {
  const InteractionGraph g = RandomGraph(250, 50, 2);
  const CoPurchaseGraph walk = CoPurchaseGraph::Build(g, 1000, 2);
  NeighbourBuildOptions o;
  o.top_k = 10;
  for (double shrink : {0.0, 5.0}) ExpectListsMatch(BuildItemKnnLists(walk, shrink, o), BruteItemKnn(g, shrink), o.top_k);
}

TEST(NeighbourLists, EaseMatchesTheClosedFormAndRefusesLargeCatalogues) {
  const InteractionGraph g = RandomGraph(200, 40, 3);
  EaseOptions o;
  o.lambda = 5;
  o.top_k = 8;
  Result<NeighbourLists> lists = BuildEaseLists(g, o);
  ASSERT_TRUE(lists.ok()) << lists.status().ToString();
  ExpectListsMatch(*lists, BruteEase(g, o.lambda), o.top_k);
  o.max_products = 39;
  Result<NeighbourLists> refused = BuildEaseLists(g, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("ease_max_products"), std::string::npos) << refused.status().message();
}

TEST(NeighbourLists, HubUsersTakePartWithAFixedSubsetOfTheirPurchases) {
  const InteractionGraph g = RandomGraph(300, 60, 4);
  const CoPurchaseGraph capped = CoPurchaseGraph::Build(g, 3, 9);
  int64_t heavy = 0;
  for (int u = 0; u < g.num_users; ++u) {
    const int64_t d = g.user_offsets[u + 1] - g.user_offsets[u];
    heavy += d > 3;
    EXPECT_EQ(capped.user_degree(u), std::min<int64_t>(d, 3));
    // The subset is made of the user's own purchases.
    for (int64_t e = capped.user_offsets[u]; e < capped.user_offsets[u + 1]; ++e) {
      const int32_t p = capped.user_products[e];
      EXPECT_TRUE(std::find(g.product_index.begin() + g.user_offsets[u], g.product_index.begin() + g.user_offsets[u + 1], p) !=
                  g.product_index.begin() + g.user_offsets[u + 1]);
    }
  }
  EXPECT_GT(heavy, 0);
  EXPECT_EQ(capped.capped_users, heavy);
  // The same seed chooses the same subsets; buyers per product are the transpose of the rows.
  EXPECT_EQ(CoPurchaseGraph::Build(g, 3, 9).user_products, capped.user_products);
  int64_t buyers = 0;
  for (int p = 0; p < g.num_products; ++p) buyers += capped.product_degree(p);
  EXPECT_EQ(buyers, static_cast<int64_t>(capped.user_products.size()));
}

TEST(NeighbourLists, RoundTripAndCorruptionIsNamed) {
  const InteractionGraph g = RandomGraph(100, 30, 5);
  NeighbourBuildOptions o;
  o.top_k = 5;
  const NeighbourLists lists = BuildRp3bLists(CoPurchaseGraph::Build(g, 100, 5), 0.8, 0.2, o);
  const std::string bytes = EncodeNeighbourLists(lists);
  Result<NeighbourLists> back = DecodeNeighbourLists(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->family, "rp3b");
  EXPECT_EQ(back->params_json, lists.params_json);
  EXPECT_EQ(back->offsets, lists.offsets);
  EXPECT_EQ(back->neighbours, lists.neighbours);
  EXPECT_EQ(back->weights, lists.weights);
  EXPECT_FALSE(DecodeNeighbourLists(bytes.substr(0, bytes.size() - 3)).ok());
  std::string out_of_range = bytes;
  const size_t first_id = bytes.size() - lists.weights.size() * 4 - lists.neighbours.size() * 4;
  const int32_t bad = 1000;
  std::memcpy(&out_of_range[first_id], &bad, 4);
  Result<NeighbourLists> rejected = DecodeNeighbourLists(out_of_range);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace vasgd

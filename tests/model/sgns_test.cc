// The Hogwild skip-gram kernel: negative sampling, its update rule, and parity with the batched
// LibTorch path (same loss and gradients on a tiny case).
#include "model/sgns.h"

#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "model/sgns_torch.h"
#include "model/tsv.h"

namespace vasgd {
namespace {

WalkGraph StarGraph() {
  // u0 bought p0..p3; u1 bought p0; u2 bought p0, p1; p4 never bought.
  return WalkGraph::FromInteractions(
      BuildInteractionGraph(3, 5, {0, 0, 0, 0, 1, 2, 2}, {0, 1, 2, 3, 0, 0, 1}, std::vector<float>(7, 1.0f)));
}

TEST(NegativeSampler, DrawsProportionalToDegreePowerWithinType) {
  const WalkGraph g = StarGraph();
  for (double power : {0.0, 0.75, 1.0}) {
    const NegativeSampler s(g, power, /*typed=*/true);
    Rng rng(3);
    std::map<int32_t, int> counts;
    const int n = 200000;
    for (int i = 0; i < n; ++i) ++counts[s.Sample(/*context_is_user=*/false, &rng)];
    double total = 0;
    for (int32_t p = 0; p < 5; ++p) total += g.degree(g.product_node(p)) ? std::pow(g.degree(g.product_node(p)), power) : 0;
    for (int32_t p = 0; p < 5; ++p) {
      const int32_t v = g.product_node(p);
      const double want = g.degree(v) ? std::pow(g.degree(v), power) / total : 0.0;
      EXPECT_NEAR(counts[v] / static_cast<double>(n), want, 0.005) << "power " << power << " product " << p;
    }
    for (auto [v, c] : counts) EXPECT_FALSE(g.is_user(v)) << "typed: product context -> product negative";
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(g.is_user(s.Sample(true, &rng)));
  }
  const NegativeSampler any(g, 0.0, /*typed=*/false);
  Rng rng(5);
  int users = 0;
  for (int i = 0; i < 8000; ++i) users += g.is_user(any.Sample(false, &rng));
  EXPECT_NEAR(users / 8000.0, 3.0 / 7.0, 0.03);  // 3 users and 4 bought products, uniform
}

// A small table with values in a range where σ is far from saturated.
std::vector<float> SmallTable(int rows, int dim) {
  std::vector<float> t(static_cast<size_t>(rows) * dim);
  Rng rng(11);
  for (float& x : t) x = static_cast<float>(rng.Uniform() - 0.5);
  return t;
}

TEST(SgnsPairGradient, MatchesFiniteDifferences) {
  const int dim = 5, rows = 6;
  std::vector<float> table = SmallTable(rows, dim);
  const int32_t negs[2] = {3, 4};
  std::vector<float> grad(table.size(), 0.0f);
  const double loss = SgnsPairGradient(table.data(), dim, 0, 1, negs, 2, 0.7f, grad.data());
  auto exact = [&](const std::vector<float>& t) {
    auto dot = [&](int a, int b) {
      double s = 0;
      for (int j = 0; j < dim; ++j) s += t[a * dim + j] * t[b * dim + j];
      return s;
    };
    return 0.7 * (NegLogSigmoid(dot(0, 1)) + NegLogSigmoid(-dot(0, 3)) + NegLogSigmoid(-dot(0, 4)));
  };
  EXPECT_NEAR(loss, exact(table), 1e-5);
  const double h = 1e-3;
  for (size_t i = 0; i < table.size(); ++i) {
    std::vector<float> plus = table, minus = table;
    plus[i] += static_cast<float>(h);
    minus[i] -= static_cast<float>(h);
    EXPECT_NEAR(grad[i], (exact(plus) - exact(minus)) / (2 * h), 2e-4) << "entry " << i;
  }
  EXPECT_EQ(grad[2 * dim], 0.0f) << "row 2 takes no part";
}

TEST(SgnsParity, HogwildKernelAndLibTorchBatchComputeTheSameLossAndGradients) {
  const int dim = 16, rows = 12, k = 3;
  const std::vector<float> table = SmallTable(rows, dim);
  const std::vector<int32_t> centres = {0, 0, 5, 7, 2}, contexts = {1, 2, 6, 8, 9};
  const std::vector<int32_t> negs = {3, 4, 10, 8, 9, 11, 1, 2, 3, 4, 10, 11, 0, 5, 6};
  const std::vector<float> weights = {1.0f, 0.5f, 2.0f, 1.0f, 0.25f};
  std::vector<float> g_kernel(table.size(), 0.0f), g_torch(table.size(), 0.0f);
  double loss_kernel = 0;
  for (size_t i = 0; i < centres.size(); ++i)
    loss_kernel += SgnsPairGradient(table.data(), dim, centres[i], contexts[i], negs.data() + i * k, k, weights[i],
                                    g_kernel.data());
  const double loss_torch =
      TorchSgnsGradient(table.data(), rows, dim, centres, contexts, negs, k, weights, g_torch.data());
  EXPECT_NEAR(loss_kernel, loss_torch, 1e-5 * std::abs(loss_torch));
  double norm = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_NEAR(g_kernel[i], g_torch[i], 1e-5) << "entry " << i;
    norm += std::abs(g_torch[i]);
  }
  EXPECT_GT(norm, 1.0);  // the comparison is not between two zero vectors
}

TEST(SgnsTrainWalk, AppliesSequentialSgdStepsOfThePairGradients) {
  // A 2-node walk with window 1 and no negatives trains (c, v) then (v, c). The kernel's result
  // must equal two explicit gradient steps, the second taken at the updated table.
  const WalkGraph g = StarGraph();
  const int dim = 8;
  const int32_t u = 1, p = g.product_node(0);
  std::vector<float> table = SmallTable(g.num_nodes(), dim), expected = table;
  const float lr = 0.05f, w1 = 0.6f;
  for (auto [c, v, w] : {std::tuple<int32_t, int32_t, float>{u, p, 1.0f}, {p, u, w1}}) {
    std::vector<float> grad(expected.size(), 0.0f);
    SgnsPairGradient(expected.data(), dim, c, v, nullptr, 0, w, grad.data());
    for (size_t i = 0; i < expected.size(); ++i) expected[i] -= lr * grad[i];
  }
  SgnsSettings s;
  s.window_side = 1;
  s.negatives = 0;
  s.product_weight = w1;
  const NegativeSampler sampler(g, 0.75, true);
  const int32_t walk[2] = {u, p};
  Rng rng(1);
  std::vector<float> scratch(dim);
  SgnsStats stats;
  std::vector<int32_t> product_centres;
  SgnsTrainWalk(table.data(), dim, g, walk, 2, s, sampler, lr, &rng, scratch.data(), &stats, &product_centres);
  for (size_t i = 0; i < table.size(); ++i) EXPECT_NEAR(table[i], expected[i], 1e-6) << i;
  EXPECT_EQ(stats.pairs[0], 1);
  EXPECT_EQ(stats.pairs[1], 1);
  EXPECT_GT(stats.loss[0], 0.0);
  EXPECT_EQ(product_centres, std::vector<int32_t>{p});
}

TEST(SgnsTrainWalk, SkipsSelfPairsAndCountsWindowPairs) {
  const WalkGraph g = StarGraph();
  const int dim = 4;
  std::vector<float> table = SmallTable(g.num_nodes(), dim);
  SgnsSettings s;
  s.window_side = 3;
  s.negatives = 2;
  const NegativeSampler sampler(g, 0.75, true);
  // u0 p0 u0 p1: u0 at 0 and 2 are the same node, so (0,2) and (2,0) are skipped.
  const int32_t walk[4] = {0, g.product_node(0), 0, g.product_node(1)};
  Rng rng(2);
  std::vector<float> scratch(dim);
  SgnsStats stats;
  SgnsTrainWalk(table.data(), dim, g, walk, 4, s, sampler, 0.01f, &rng, scratch.data(), &stats, nullptr);
  EXPECT_EQ(stats.pairs[0] + stats.pairs[1], 4 * 3 - 2);
}

}  // namespace
}  // namespace vasgd

#include "model/walks.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "model/parallel.h"
#include "model/synthetic.h"
#include "model/tsv.h"

namespace vasgd {
namespace {

// users 0..2, products 0..3: u0-{p0,p1,p2,p3}, u1-{p0}, u2-{p1,p2}; product 3 of... plus an
// isolated product p4 and an isolated user u3.
TrainingData SmallGraph() {
  TrainingData d;
  d.graph = BuildInteractionGraph(4, 5, {0, 0, 0, 0, 1, 2, 2}, {0, 1, 2, 3, 0, 1, 2}, std::vector<float>(7, 1.0f));
  return d;
}

TEST(WalkGraph, BothDirectionsOfEveryEdge) {
  const WalkGraph g = WalkGraph::FromInteractions(SmallGraph().graph);
  ASSERT_EQ(g.num_nodes(), 9);
  EXPECT_EQ(g.degree(0), 4);
  EXPECT_EQ(g.degree(3), 0);                  // isolated user
  EXPECT_EQ(g.degree(g.product_node(0)), 2);  // u0, u1
  EXPECT_EQ(g.degree(g.product_node(4)), 0);  // isolated product
  for (int32_t v = 0; v < g.num_nodes(); ++v)
    for (int64_t e = g.offsets[v]; e < g.offsets[v + 1]; ++e) {
      const int32_t w = g.neighbors[e];
      EXPECT_NE(g.is_user(v), g.is_user(w));
      int back = 0;
      for (int64_t f = g.offsets[w]; f < g.offsets[w + 1]; ++f) back += g.neighbors[f] == v;
      EXPECT_EQ(back, 1);
    }
}

TEST(RandomWalk, AlternatesAlongEdges) {
  SyntheticShopOptions o;
  o.num_users = 200;
  o.num_products = 100;
  const WalkGraph g = WalkGraph::FromInteractions(MakeSyntheticShop(o).train.graph);
  std::vector<int32_t> walk(40);
  for (int32_t start = 0; start < g.num_nodes(); ++start) {
    if (g.degree(start) == 0) continue;
    Rng rng(start);
    ASSERT_EQ(RandomWalk(g, start, 40, &rng, walk.data()), 40);
    EXPECT_EQ(walk[0], start);
    for (int i = 1; i < 40; ++i) {
      ASSERT_NE(g.is_user(walk[i - 1]), g.is_user(walk[i])) << "users and products alternate";
      bool edge = false;
      for (int64_t e = g.offsets[walk[i - 1]]; e < g.offsets[walk[i - 1] + 1]; ++e) edge |= g.neighbors[e] == walk[i];
      ASSERT_TRUE(edge);
    }
  }
  // A node without neighbours (a cold product, never bought) is a walk of itself alone.
  const SyntheticShop shop = MakeSyntheticShop(o);
  const auto cold = std::find(shop.cold.begin(), shop.cold.end(), 1);
  ASSERT_NE(cold, shop.cold.end()) << "the shop has no cold product to start from";
  const int32_t isolated = g.product_node(static_cast<int32_t>(cold - shop.cold.begin()));
  ASSERT_EQ(g.degree(isolated), 0);
  Rng rng(1);
  walk.assign(40, -1);
  EXPECT_EQ(RandomWalk(g, isolated, 40, &rng, walk.data()), 1);
  EXPECT_EQ(walk[0], isolated);
  EXPECT_EQ(walk[1], -1) << "nothing written past the walk";
}

TEST(RandomWalk, UniformOverNeighboursChiSquare) {
  const WalkGraph g = WalkGraph::FromInteractions(SmallGraph().graph);
  // From u0 (4 neighbours) the first step is uniform; from p1 = {u0, u2} it is 50/50.
  for (int32_t start : {0, g.product_node(1)}) {
    std::map<int32_t, int> counts;
    const int n = 40000;
    int32_t walk[2];
    for (int i = 0; i < n; ++i) {
      Rng rng(MixSeed(7, static_cast<uint64_t>(i)));
      RandomWalk(g, start, 2, &rng, walk);
      ++counts[walk[1]];
    }
    ASSERT_EQ(static_cast<int64_t>(counts.size()), g.degree(start));
    const double expected = static_cast<double>(n) / g.degree(start);
    double chi2 = 0;
    for (auto [node, c] : counts) chi2 += (c - expected) * (c - expected) / expected;
    // Critical values at p = 0.001: 16.27 for 3 degrees of freedom, 10.83 for 1.
    EXPECT_LT(chi2, g.degree(start) == 4 ? 16.27 : 10.83) << "start " << start;
  }
}

TEST(WalkCorpus, EveryNodeWithANeighbourStartsWalksPerNodeWalks) {
  const WalkGraph g = WalkGraph::FromInteractions(SmallGraph().graph);
  const WalkCorpus corpus(g, 3, 10, 42, 0);
  EXPECT_EQ(corpus.size(), 3 * 7);  // 9 nodes, 2 isolated
  std::map<int32_t, int> starts;
  for (int64_t i = 0; i < corpus.size(); ++i) ++starts[corpus.start(i)];
  EXPECT_EQ(starts.size(), 7u);
  for (auto [node, c] : starts) {
    EXPECT_EQ(c, 3);
    EXPECT_GT(g.degree(node), 0);
  }
}

// A refit's corpus (TrainScope::walk_starts) starts walks only at the nodes given, skipping those
// without a neighbour and ids outside the graph.
TEST(WalkCorpus, GivenStartsAreTheOnlyStarts) {
  const WalkGraph g = WalkGraph::FromInteractions(SmallGraph().graph);
  const std::vector<int32_t> given = {1, 3 /* isolated user */, g.product_node(2), g.product_node(4) /* isolated */, 99};
  const WalkCorpus corpus(g, 3, 10, 42, 0, 0, &given);
  EXPECT_EQ(corpus.size(), 3 * 2);
  EXPECT_EQ(corpus.uncapped_size(), 3 * 2);
  std::map<int32_t, int> starts;
  std::vector<int32_t> walk(10);
  for (int64_t i = 0; i < corpus.size(); ++i) {
    ++starts[corpus.start(i)];
    ASSERT_GT(corpus.Walk(i, walk.data()), 1);
    EXPECT_EQ(walk[0], corpus.start(i));
  }
  EXPECT_EQ(starts, (std::map<int32_t, int>{{1, 3}, {g.product_node(2), 3}}));
}

// A capped corpus (train.max_walk_tokens) starts its walks at distinct nodes, a different shuffled
// share of them each epoch, and stops at the cap.
TEST(WalkCorpus, ACapStopsTheCorpusAtAShuffledShareOfTheNodes) {
  const WalkGraph g = WalkGraph::FromInteractions(SmallGraph().graph);
  EXPECT_EQ(WalkCorpus(g, 3, 10, 42, 0, 100).size(), 3 * 7) << "a cap above the corpus changes nothing";
  std::set<int32_t> seen;
  for (int epoch = 0; epoch < 8; ++epoch) {
    const WalkCorpus corpus(g, 3, 10, 42, epoch, 4);
    ASSERT_EQ(corpus.size(), 4);
    EXPECT_EQ(corpus.uncapped_size(), 3 * 7);
    std::set<int32_t> starts;
    for (int64_t i = 0; i < corpus.size(); ++i) starts.insert(corpus.start(i));
    EXPECT_EQ(starts.size(), 4u) << "within one round every start is another node";
    seen.insert(starts.begin(), starts.end());
  }
  EXPECT_EQ(seen.size(), 7u) << "over epochs the shares cover every node with a neighbour";
}

// Collects every walk of the corpus through a pool of `threads` workers, by walk index.
std::vector<std::vector<int32_t>> AllWalks(const WalkCorpus& corpus, int threads) {
  std::vector<std::vector<int32_t>> walks(corpus.size());
  WorkerPool pool(threads);
  pool.Run(corpus.size(), 3, [&](int, int64_t i) {
    std::vector<int32_t> w(corpus.walk_length());
    w.resize(corpus.Walk(i, w.data()));
    walks[i] = std::move(w);
  });
  return walks;
}

TEST(WalkCorpus, ReproducibleAcrossThreadCounts) {
  SyntheticShopOptions o;
  o.num_users = 300;
  o.num_products = 120;
  const WalkGraph g = WalkGraph::FromInteractions(MakeSyntheticShop(o).train.graph);
  const WalkCorpus corpus(g, 4, 20, 42, 0);
  const auto one = AllWalks(corpus, 1);
  EXPECT_EQ(one, AllWalks(corpus, 4));
  EXPECT_EQ(one, AllWalks(WalkCorpus(g, 4, 20, 42, 0), 3));
  EXPECT_NE(one, AllWalks(WalkCorpus(g, 4, 20, 42, 1), 2)) << "another epoch, other walks";
  EXPECT_NE(one, AllWalks(WalkCorpus(g, 4, 20, 43, 0), 2)) << "another seed, other walks";
}

TEST(WorkerPool, RunsEveryItemOnceAndIsReusable) {
  WorkerPool pool(3);
  EXPECT_EQ(pool.size(), 3);
  for (int round = 0; round < 50; ++round) {
    std::vector<int> hits(1000, 0);
    std::mutex mu;
    std::vector<int> seen_workers(3, 0);
    pool.Run(1000, 7, [&](int w, int64_t i) {
      ++hits[i];
      std::lock_guard<std::mutex> lock(mu);
      seen_workers.at(w) = 1;
    });
    for (int h : hits) ASSERT_EQ(h, 1);
  }
  pool.Run(0, 1, [](int, int64_t) { FAIL(); });
}

}  // namespace
}  // namespace vasgd

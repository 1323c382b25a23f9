// HnswGraph's two-phase insertion: the graph it builds is hnswlib's own addPoint graph, byte for
// byte (saved files compared, growth and deleted entry points included); searches run while an
// insertion is prepared and see it only once published; replacing a label leaves a tombstone.
#include "index/hnsw_graph.h"

#include <gtest/gtest.h>

// The reference: hnswlib itself, compiled as index/hnsw_graph.cc compiles it.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "index/distance.h"
#include "index/synthetic.h"
#include "index/writer_first_lock.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

constexpr int32_t kDim = 16;

// The same distance as HnswGraph's: 1 - the run-time chosen Dot kernel.
class ReferenceSpace : public hnswlib::SpaceInterface<float> {
 public:
  size_t get_data_size() override { return kDim * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &Distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  static float Distance(const void* a, const void* b, const void*) {
    return 1.0f - Dot(static_cast<const float*>(a), static_cast<const float*>(b), kDim);
  }
  size_t dim_ = kDim;
};

std::vector<float> UnitVectors(int64_t n, uint64_t seed) {
  ClusteredSpec spec;
  spec.n = n;
  spec.dim = kDim;
  spec.clusters = 30;
  spec.spread = 0.8f;
  spec.seed = seed;
  std::vector<float> v = ClusteredVectors(spec);
  for (int64_t i = 0; i < n; ++i) NormalizeInPlace(v.data() + i * kDim, kDim);
  return v;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class HnswGraphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
  }

  static std::unique_ptr<HnswGraph> NewGraph(int64_t capacity, bool half_walk = false) {
    HnswGraph::Params params;
    params.half_walk = half_walk;
    params.dim = kDim;
    params.capacity = capacity;
    params.m = 8;
    params.ef_construction = 40;
    Result<std::unique_ptr<HnswGraph>> graph = HnswGraph::Create(params);
    EXPECT_TRUE(graph.ok()) << graph.status().ToString();
    return std::move(graph.value());
  }

  testing_support::TempDir tmp_;
  std::filesystem::path dir_;
};

// n vectors added to both, the labels deleted_every-th of the first `delete_after` deleted in
// both after those (and the entry point with them), then the rest added.
void BuildBoth(const std::vector<float>& v, int64_t n, int64_t delete_after, HnswGraph* graph,
               hnswlib::HierarchicalNSW<float>* reference) {
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(graph->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());
    reference->addPoint(v.data() + i * kDim, static_cast<size_t>(i));
    if (i + 1 == delete_after) {
      std::vector<int32_t> doomed;
      for (int64_t d = 0; d < delete_after; d += 7) doomed.push_back(static_cast<int32_t>(d));
      doomed.push_back(static_cast<int32_t>(reference->getExternalLabel(reference->enterpoint_node_)));
      for (int32_t label : doomed) {
        graph->SetDeleted(label, true);
        if (!reference->isMarkedDeleted(reference->label_lookup_.at(label))) reference->markDelete(label);
      }
    }
  }
}

TEST_F(HnswGraphTest, BuildsHnswlibsOwnGraphByteForByte) {
  const int64_t n = 3000;
  const std::vector<float> v = UnitVectors(n, 11);
  // Starting small, the graph grows several times on its own; the reference gets its final
  // capacity up front (the capacity is part of the file).
  std::unique_ptr<HnswGraph> graph = NewGraph(100);
  ReferenceSpace space;
  std::vector<float> probe(kDim, 0.0f);
  {
    // A throwaway build of the same sequence tells the final capacity.
    std::unique_ptr<HnswGraph> sizing = NewGraph(100);
    for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(sizing->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());
    ASSERT_GT(sizing->capacity(), 1000);
    hnswlib::HierarchicalNSW<float> reference(&space, static_cast<size_t>(sizing->capacity()), 8, 40);
    BuildBoth(v, n, 1200, graph.get(), &reference);
    reference.saveIndex((dir_ / "reference.hnsw").string());
  }
  ASSERT_TRUE(graph->Save((dir_ / "graph.hnsw").string()).ok());
  const std::string ours = ReadFile(dir_ / "graph.hnsw");
  const std::string theirs = ReadFile(dir_ / "reference.hnsw");
  ASSERT_GT(ours.size(), static_cast<size_t>(n * kDim * 4));
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_TRUE(ours == theirs) << "the graphs differ";
  EXPECT_EQ(graph->size(), n);
  EXPECT_EQ(graph->Labels().size(), static_cast<size_t>(n));
}

// HnswGraph::Search walks layer 0 with its own loop (prefetching, per-thread scratch): its
// answers must be hnswlib's searchKnn answers exactly, distances and order included, with and
// without deleted elements, for beams narrower and wider than the fetch, on one thread reused
// across graphs of different sizes (the visited marks carry over between searches).
TEST_F(HnswGraphTest, SearchAnswersExactlyAsHnswlibsSearchKnn) {
  ReferenceSpace space;
  for (const int64_t deleted_after : {int64_t{0}, int64_t{900}}) {
    const int64_t n = deleted_after ? 2500 : 1500;
    const std::vector<float> v = UnitVectors(n + 200, 15 + n);
    std::unique_ptr<HnswGraph> graph = NewGraph(n);
    hnswlib::HierarchicalNSW<float> reference(&space, static_cast<size_t>(n), 8, 40);
    BuildBoth(v, n, deleted_after ? deleted_after : -1, graph.get(), &reference);
    ASSERT_EQ(reference.num_deleted_ > 0, deleted_after > 0);
    std::vector<std::pair<float, int32_t>> ours;
    int64_t compared = 0;
    for (const int64_t ef : {int64_t{4}, int64_t{20}, int64_t{64}}) {
      reference.setEf(static_cast<size_t>(ef));
      for (const int64_t fetch : {int64_t{1}, int64_t{10}, int64_t{30}}) {
        for (int64_t q = n; q < n + 200; q += 3) {  // vectors the graphs do not hold
          const float* query = v.data() + q * kDim;
          graph->Search(query, fetch, ef, &ours);
          auto theirs = reference.searchKnn(query, static_cast<size_t>(fetch));
          ASSERT_EQ(ours.size(), theirs.size()) << "ef " << ef << " fetch " << fetch << " query " << q;
          for (size_t i = ours.size(); i-- > 0;) {  // theirs: farthest on top
            ASSERT_EQ(ours[i].first, theirs.top().first) << "ef " << ef << " fetch " << fetch << " rank " << i;
            ASSERT_EQ(ours[i].second, static_cast<int32_t>(theirs.top().second));
            theirs.pop();
          }
          ++compared;
        }
      }
    }
    EXPECT_EQ(compared, 9 * 67);
  }
}

TEST_F(HnswGraphTest, SearchesRunWhileAnInsertionIsPreparedAndSeeItOncePublished) {
  const int64_t n = 2000;
  const std::vector<float> v = UnitVectors(n + 40, 12);
  std::unique_ptr<HnswGraph> graph = NewGraph(n);  // full: every prepared insertion grows it
  for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(graph->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());

  WriterFirstLock publishing;  // as ProductIndex: searches shared, PublishAdd exclusive
  std::atomic<bool> done{false};
  std::atomic<int64_t> searches{0}, wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::vector<std::pair<float, int32_t>> out;
      for (int64_t q = t; !done; q += 2) {
        std::shared_lock<WriterFirstLock> lock(publishing);
        const int64_t row = q % n;
        graph->Search(v.data() + row * kDim, 5, 20, &out);
        wrong += out.empty() || out.front().second != row;  // its own vector is its nearest
        ++searches;
      }
    });
  }
  std::vector<std::pair<float, int32_t>> out;
  for (int64_t i = n; i < n + 40; ++i) {
    const int64_t before = searches.load();
    Result<HnswGraph::Pending> pending = graph->PrepareAdd(v.data() + i * kDim, static_cast<int32_t>(i));
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    // Not visible before it is published, whatever the readers did meanwhile.
    {
      std::shared_lock<WriterFirstLock> lock(publishing);
      graph->Search(v.data() + i * kDim, 50, 50, &out);
      for (const auto& hit : out) ASSERT_NE(hit.second, i);
    }
    while (searches.load() < before + 3) std::this_thread::yield();  // searches ran beside it
    {
      std::unique_lock<WriterFirstLock> lock(publishing);
      graph->PublishAdd(pending->get());
    }
    pending->reset();  // frees the arrays a growth replaced, outside the exclusive section
    std::shared_lock<WriterFirstLock> lock(publishing);
    graph->Search(v.data() + i * kDim, 1, 20, &out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out.front().second, i);
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_GT(searches.load(), 120);
  EXPECT_LE(wrong.load(), searches.load() / 100);  // a graph search, not exact: a rare miss is fine
  EXPECT_EQ(graph->size(), n + 40);
  EXPECT_GT(graph->capacity(), n + 39);
}

TEST_F(HnswGraphTest, ADroppedPreparationLeavesTheGraphAsItWas) {
  const std::vector<float> v = UnitVectors(600, 13);
  std::unique_ptr<HnswGraph> graph = NewGraph(500);
  for (int64_t i = 0; i < 500; ++i) ASSERT_TRUE(graph->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());
  ASSERT_TRUE(graph->Save((dir_ / "before.hnsw").string()).ok());
  {
    Result<HnswGraph::Pending> dropped = graph->PrepareAdd(v.data() + 500 * kDim, 500);  // would grow it
    ASSERT_TRUE(dropped.ok());
  }
  EXPECT_EQ(graph->size(), 500);
  EXPECT_EQ(graph->capacity(), 500);
  std::vector<std::pair<float, int32_t>> out;
  graph->Search(v.data() + 500 * kDim, 500, 500, &out);
  for (const auto& hit : out) EXPECT_NE(hit.second, 500);
  ASSERT_TRUE(graph->Save((dir_ / "after.hnsw").string()).ok());
  EXPECT_TRUE(ReadFile(dir_ / "before.hnsw") == ReadFile(dir_ / "after.hnsw"));
  // And the graph takes further insertions normally.
  for (int64_t i = 500; i < 600; ++i) ASSERT_TRUE(graph->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());
  graph->Search(v.data() + 550 * kDim, 1, 20, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.front().second, 550);
}

TEST_F(HnswGraphTest, ReplacingALabelLeavesATombstoneThatIsNeverReturned) {
  const std::vector<float> v = UnitVectors(1000, 14);
  std::unique_ptr<HnswGraph> graph = NewGraph(2000);
  for (int64_t i = 0; i < 1000; ++i) ASSERT_TRUE(graph->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());
  // Label 7 moves onto product 900's direction, twice (two tombstones).
  ASSERT_TRUE(graph->Add(v.data() + 300 * kDim, 7).ok());
  ASSERT_TRUE(graph->Add(v.data() + 900 * kDim, 7).ok());
  EXPECT_EQ(graph->size(), 1000);
  std::vector<int32_t> labels = graph->Labels();
  EXPECT_EQ(labels.size(), 1000u);
  EXPECT_EQ(std::count(labels.begin(), labels.end(), 7), 1);
  const float* stored = graph->VectorOf(7);
  ASSERT_NE(stored, nullptr);
  EXPECT_TRUE(std::equal(stored, stored + kDim, v.data() + 900 * kDim));
  std::vector<std::pair<float, int32_t>> out;
  graph->Search(v.data() + 7 * kDim, 1000, 1000, &out);  // everything reachable
  EXPECT_EQ(std::count_if(out.begin(), out.end(), [](const auto& h) { return h.second == 7; }), 1);
  graph->Search(v.data() + 900 * kDim, 2, 40, &out);
  ASSERT_EQ(out.size(), 2u);
  std::set<int32_t> top2 = {out[0].second, out[1].second};
  EXPECT_EQ(top2, (std::set<int32_t>{7, 900}));  // the same vector twice
  // Availability marks follow the label's live element; the tombstones stay deleted.
  graph->SetDeleted(7, true);
  graph->Search(v.data() + 900 * kDim, 1000, 1000, &out);
  EXPECT_EQ(std::count_if(out.begin(), out.end(), [](const auto& h) { return h.second == 7; }), 0);
  graph->SetDeleted(7, false);
  // A saved and reloaded graph holds the same labels and vectors.
  ASSERT_TRUE(graph->Save((dir_ / "g.hnsw").string()).ok());
  Result<std::unique_ptr<HnswGraph>> loaded = HnswGraph::Load((dir_ / "g.hnsw").string(), kDim);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 1000);
  EXPECT_EQ((*loaded)->Labels(), labels);
  EXPECT_TRUE(std::equal(stored, stored + kDim, (*loaded)->VectorOf(7)));
  (*loaded)->Search(v.data() + 300 * kDim, 1000, 1000, &out);
  EXPECT_EQ(std::count_if(out.begin(), out.end(), [](const auto& h) { return h.second == 7; }), 1);
}

// Recall@10 of `graph` against brute force over v's first n rows, for queries v[n, n + queries).
double RecallAt10(const HnswGraph& graph, const std::vector<float>& v, int64_t n, int64_t queries, int64_t ef) {
  int64_t hits = 0;
  std::vector<std::pair<float, int32_t>> out;
  for (int64_t q = n; q < n + queries; ++q) {
    const float* query = v.data() + q * kDim;
    std::vector<std::pair<double, int32_t>> exact;
    for (int64_t i = 0; i < n; ++i) {
      double dot = 0;
      for (int32_t d = 0; d < kDim; ++d) dot += double(query[d]) * v[i * kDim + d];
      exact.emplace_back(-dot, static_cast<int32_t>(i));
    }
    std::partial_sort(exact.begin(), exact.begin() + 10, exact.end());
    graph.Search(query, 10, ef, &out);
    for (const auto& hit : out) {
      hits += std::any_of(exact.begin(), exact.begin() + 10, [&](const auto& e) { return e.second == hit.second; });
    }
  }
  return static_cast<double>(hits) / static_cast<double>(10 * queries);
}

// The fp16 walk (index.walk_fp16): answers carry distances within fp16 rounding of the float
// ones, nearest first; it finds about what the float walk finds; its fp16 rows
// follow growth (every element, old or added after a growth, is its own nearest) and are
// remade when a saved graph is loaded.
TEST_F(HnswGraphTest, HalfWalkAnswersWithinFp16RoundingAndTheFloatWalksRecall) {
  if (!HalfRowsSupported()) GTEST_SKIP() << "no hardware fp16 conversion on this CPU";
  const int64_t n = 3000, queries = 200;
  const std::vector<float> v = UnitVectors(n + queries, 21);
  std::unique_ptr<HnswGraph> half = NewGraph(1000, true);  // grows three times while built
  std::unique_ptr<HnswGraph> full = NewGraph(1000, false);
  ASSERT_TRUE(half->half_walk());
  ASSERT_FALSE(full->half_walk());
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(half->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());
    ASSERT_TRUE(full->Add(v.data() + i * kDim, static_cast<int32_t>(i)).ok());
  }
  ASSERT_GT(half->capacity(), 1000);
  std::vector<std::pair<float, int32_t>> out;
  for (int64_t q = n; q < n + queries; ++q) {
    const float* query = v.data() + q * kDim;
    half->Search(query, 20, 40, &out);
    ASSERT_EQ(out.size(), 20u);
    for (size_t i = 0; i < out.size(); ++i) {
      // fp16 rows of unit vectors: each product within 2^-11 relative, so the dot within 2^-11.
      ASSERT_NEAR(out[i].first, 1.0f - Dot(query, half->VectorOf(out[i].second), kDim), std::ldexp(1.0, -11) + 1e-6)
          << "query " << q;
      if (i > 0) {
        ASSERT_LE(out[i - 1].first, out[i].first);
      }
    }
  }
  const double half_recall = RecallAt10(*half, v, n, queries, 20);
  const double full_recall = RecallAt10(*full, v, n, queries, 20);
  std::printf("recall@10 at ef 20: fp16 walk %.4f, float walk %.4f\n", half_recall, full_recall);
  EXPECT_GE(half_recall, full_recall - 0.01);
  EXPECT_GE(half_recall, 0.9);
  for (int64_t i = 0; i < n; ++i) {
    half->Search(v.data() + i * kDim, 1, 20, &out);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].second, i) << "element " << i << ": its fp16 row is not its vector";
  }
  ASSERT_TRUE(half->Save((dir_ / "h.hnsw").string()).ok());
  Result<std::unique_ptr<HnswGraph>> loaded = HnswGraph::Load((dir_ / "h.hnsw").string(), kDim, true);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_TRUE((*loaded)->half_walk());
  std::vector<std::pair<float, int32_t>> again;
  for (int64_t q = n; q < n + queries; ++q) {
    half->Search(v.data() + q * kDim, 20, 40, &out);
    (*loaded)->Search(v.data() + q * kDim, 20, 40, &again);
    ASSERT_EQ(out, again) << "query " << q;
  }
}

}  // namespace
}  // namespace vasgd

// ProductIndex: HNSW against an independent brute-force oracle, filters, pagination, live
// updates, save/load and concurrency, on clustered synthetic embeddings.
#include "index/product_index.h"
#include "index/writer_first_lock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <future>
#include <thread>

#include "index/distance.h"
#include "index/synthetic.h"
#include "model/model_version.h"
#include "model/rng.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

std::string Pid(int64_t i) { return "p" + std::to_string(i); }

ModelVersion MakeModel(const std::vector<float>& vectors, int32_t dim, const std::string& score = "cosine") {
  ModelVersion m;
  m.version = "test";
  m.score = score;
  m.dim = dim;
  const int64_t n = static_cast<int64_t>(vectors.size()) / dim;
  for (int64_t i = 0; i < n; ++i) m.product_ids.push_back(Pid(i));
  m.product_vectors = vectors;
  m.product_kind.assign(n, static_cast<uint8_t>(ProductKind::kWarm));
  m.popularity.resize(n);
  for (int64_t i = 0; i < n; ++i) m.popularity[i] = static_cast<float>((i * 7919) % 1000);
  return m;
}

// The default graph parameters, but the graph answers whatever the catalogue's size.
// The graph at ef_search 128, the beam this file's recall floors and fetch arithmetic (widening
// rounds, the cost rule) are written for; the served default is chosen by measurement
// (docs/BENCHMARKS.md, Serving) and may change without changing what these tests check.
IndexOptions GraphOptions() {
  IndexOptions o;
  o.exact_below = 0;
  o.ef_search = 128;
  return o;
}

IndexOptions ExactOptions() {
  IndexOptions o;
  o.exact_below = int64_t{1} << 40;
  return o;
}

std::unique_ptr<ProductIndex> BuildOrDie(const ModelVersion& m, const IndexOptions& o) {
  Result<std::unique_ptr<ProductIndex>> r = ProductIndex::Build(m, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r.value());
}

// The oracle: scores every row with a plain loop, nothing shared with the index's code.
std::vector<int64_t> BruteForce(const std::vector<float>& rows, int32_t dim, const float* q, bool cosine,
                                int64_t k, const std::function<bool(int64_t)>& eligible) {
  const int64_t n = static_cast<int64_t>(rows.size()) / dim;
  std::vector<std::pair<double, int64_t>> scored;
  double qn = 0;
  for (int32_t d = 0; d < dim; ++d) qn += double(q[d]) * q[d];
  qn = std::sqrt(qn);
  for (int64_t i = 0; i < n; ++i) {
    if (!eligible(i)) continue;
    double dot = 0, rn = 0;
    for (int32_t d = 0; d < dim; ++d) {
      dot += double(q[d]) * rows[i * dim + d];
      rn += double(rows[i * dim + d]) * rows[i * dim + d];
    }
    scored.push_back({cosine ? dot / (qn * std::sqrt(rn)) : dot, i});
  }
  std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  std::vector<int64_t> out;
  for (int64_t i = 0; i < std::min<int64_t>(k, scored.size()); ++i) out.push_back(scored[i].second);
  return out;
}

double Recall(const std::vector<ScoredProduct>& got, const std::vector<int64_t>& truth) {
  std::set<std::string> want;
  for (int64_t i : truth) want.insert(Pid(i));
  int hit = 0;
  for (const auto& p : got) hit += want.count(p.id);
  return truth.empty() ? 1.0 : double(hit) / truth.size();
}

bool AnyEligible(int64_t) { return true; }

class ClusteredIndexTest : public ::testing::Test {
 protected:
  static constexpr int32_t kDim = 32;
  static constexpr int64_t kN = 20000;
  static void SetUpTestSuite() {
    ClusteredSpec spec;
    spec.n = kN;
    spec.dim = kDim;
    spec.clusters = 200;
    spec.spread = 1.5f;  // overlapping clusters: nearest neighbours span several of them
    spec.seed = 7;
    vectors_ = new std::vector<float>(ClusteredVectors(spec));
    spec.n = 200;
    spec.point_seed = 8;  // queries: fresh points around the same centres
    queries_ = new std::vector<float>(ClusteredVectors(spec));
    model_ = new ModelVersion(MakeModel(*vectors_, kDim));
    index_ = BuildOrDie(*model_, GraphOptions()).release();
  }
  static void TearDownTestSuite() {
    delete index_;
    delete model_;
    delete queries_;
    delete vectors_;
  }
  const float* query(int i) const { return queries_->data() + int64_t(i) * kDim; }

  static std::vector<float>* vectors_;
  static std::vector<float>* queries_;
  static ModelVersion* model_;
  static ProductIndex* index_;
};
std::vector<float>* ClusteredIndexTest::vectors_ = nullptr;
std::vector<float>* ClusteredIndexTest::queries_ = nullptr;
ModelVersion* ClusteredIndexTest::model_ = nullptr;
ProductIndex* ClusteredIndexTest::index_ = nullptr;

TEST_F(ClusteredIndexTest, HnswAgreesWithExactSearch) {
  double recall = 0;
  int graph_answers = 0;
  for (int i = 0; i < 200; ++i) {
    SearchStats stats;
    auto got = index_->Search(query(i), Metric::kCosine, SearchFilter(), 20, 0, &stats);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 20u);
    for (size_t j = 1; j < got->size(); ++j) EXPECT_GE((*got)[j - 1].score, (*got)[j].score);
    graph_answers += !stats.exact;
    recall += Recall(*got, BruteForce(*vectors_, kDim, query(i), true, 20, AnyEligible));
  }
  recall /= 200;
  std::printf("recall@20 HNSW vs exact, 20000 products in 200 overlapping clusters, D=32, M 16, ef 128: %.4f\n", recall);
  EXPECT_EQ(graph_answers, 200);  // the graph answered, not the fallback
  EXPECT_GE(recall, 0.9);         // conservative floor; bench/index_bench measures the real figure
}

TEST_F(ClusteredIndexTest, ExactSearchMatchesOracleExactly) {
  auto exact = BuildOrDie(*model_, ExactOptions());
  for (int i = 0; i < 20; ++i) {
    SearchStats stats;
    auto got = exact->Search(query(i), Metric::kCosine, SearchFilter(), 20, 0, &stats);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(stats.exact);
    auto truth = BruteForce(*vectors_, kDim, query(i), true, 20, AnyEligible);
    ASSERT_EQ(got->size(), truth.size());
    // Near-ties may swap places between float and double scoring; the sets must agree.
    EXPECT_DOUBLE_EQ(Recall(*got, truth), 1.0);
    // A product found by both paths has bitwise the same score on both.
    auto graph = index_->Search(query(i), Metric::kCosine, SearchFilter(), 20, 0);
    ASSERT_TRUE(graph.ok());
    std::map<std::string, float> by_id;
    for (const auto& p : *got) by_id[p.id] = p.score;
    for (const auto& p : *graph) {
      if (by_id.count(p.id)) {
        EXPECT_EQ(p.score, by_id[p.id]) << p.id;
      }
    }
  }
}

TEST_F(ClusteredIndexTest, ExcludingTheNearestStillReturnsK) {
  for (int i = 0; i < 20; ++i) {
    // Exclude the 300 true nearest: the graph must widen (or fall back) to find 20 more.
    auto nearest = BruteForce(*vectors_, kDim, query(i), true, 300, AnyEligible);
    std::vector<std::string> exclude;
    for (int64_t p : nearest) exclude.push_back(Pid(p));
    SearchFilter filter = index_->MakeFilter(exclude, "");
    ASSERT_EQ(filter.excluded.size(), 300u);
    auto got = index_->Search(query(i), Metric::kCosine, filter, 20, 0);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 20u);
    std::set<std::string> banned(exclude.begin(), exclude.end());
    for (const auto& p : *got) EXPECT_EQ(banned.count(p.id), 0u) << p.id;
    std::set<int64_t> banned_rows(nearest.begin(), nearest.end());
    auto truth = BruteForce(*vectors_, kDim, query(i), true, 20, [&](int64_t r) { return !banned_rows.count(r); });
    EXPECT_GE(Recall(*got, truth), 0.7);
  }
}


TEST_F(ClusteredIndexTest, SmallAndLargeCategoriesReturnKFromTheCategoryOnly) {
  // Categories only narrow searches that name them, so the shared index can carry them.
  std::set<int64_t> rare, most;
  for (int64_t p = 0; p < kN; ++p) {
    std::vector<std::string> cats;
    if (p % 100 == 17) {
      cats.push_back("rare");
      rare.insert(p);
    }
    if (p % 10 != 0) {
      cats.push_back("most");
      most.insert(p);
    }
    ASSERT_TRUE(index_->SetCategories(Pid(p), cats).ok());
  }
  for (const char* name : {"rare", "most"}) {
    const bool is_rare = std::string(name) == "rare";
    const std::set<int64_t>& members = is_rare ? rare : most;
    SearchFilter filter = index_->MakeFilter({}, name);
    double recall = 0;
    for (int i = 0; i < 20; ++i) {
      SearchStats stats;
      auto got = index_->Search(query(i), Metric::kCosine, filter, 20, 0, &stats);
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(got->size(), 20u) << name;
      for (const auto& p : *got) EXPECT_EQ(members.count(std::stoll(p.id.substr(1))), 1u) << name << " " << p.id;
      // 200 members are scanned faster than a graph beam; 18,000 are not.
      EXPECT_EQ(stats.exact, is_rare) << name;
      auto truth = BruteForce(*vectors_, kDim, query(i), true, 20, [&](int64_t r) { return members.count(r) > 0; });
      recall += Recall(*got, truth) / 20;
    }
    EXPECT_GE(recall, is_rare ? 1.0 : 0.9) << name;
  }
  // Unknown category: no product matches, an empty answer rather than an error.
  auto none = index_->Search(query(0), Metric::kCosine, index_->MakeFilter({}, "no-such"), 20, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(ClusteredIndexTest, CategoryAbsentNearTheQueryWidensThenFallsBackToExact) {
  // A large category that holds none of query 0's 400 nearest products: the first fetch, sized
  // by the category's share, finds no member; the widened one would cost more than a scan.
  auto nearest = BruteForce(*vectors_, kDim, query(0), true, 400, AnyEligible);
  std::set<int64_t> outside(nearest.begin(), nearest.end());
  std::set<int64_t> members;
  for (int64_t p = 0; p < kN; ++p) {
    if (outside.count(p)) continue;
    ASSERT_TRUE(index_->SetCategories(Pid(p), {"elsewhere"}).ok());
    members.insert(p);
  }
  SearchFilter filter = index_->MakeFilter({}, "elsewhere");
  SearchStats stats;
  auto got = index_->Search(query(0), Metric::kCosine, filter, 20, 0, &stats);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 20u);
  EXPECT_EQ(stats.graph_rounds, 1);
  EXPECT_TRUE(stats.exact);
  auto truth = BruteForce(*vectors_, kDim, query(0), true, 20, [&](int64_t r) { return members.count(r) > 0; });
  EXPECT_DOUBLE_EQ(Recall(*got, truth), 1.0);
  // Far from the hole, the same filter is answered by the graph in one round.
  int graph_answers = 0;
  for (int i = 1; i < 40; ++i) {
    auto other = index_->Search(query(i), Metric::kCosine, filter, 20, 0, &stats);
    ASSERT_TRUE(other.ok());
    ASSERT_EQ(other->size(), 20u);
    graph_answers += !stats.exact && stats.graph_rounds == 1;
  }
  EXPECT_GE(graph_answers, 30);
}

TEST_F(ClusteredIndexTest, UnavailableProductsAreNeverReturnedAndComeBack) {
  auto index = BuildOrDie(*model_, GraphOptions());
  auto nearest = BruteForce(*vectors_, kDim, query(0), true, 50, AnyEligible);
  std::set<std::string> hidden;
  for (int64_t p : nearest) hidden.insert(Pid(p));
  for (int64_t p = 0; p < kN; p += 3) hidden.insert(Pid(p));  // and a third of the catalogue
  for (const auto& id : hidden) ASSERT_TRUE(index->SetAvailable(id, false).ok());
  EXPECT_EQ(index->num_unavailable(), static_cast<int64_t>(hidden.size()));
  ASSERT_TRUE(index->SetAvailable(Pid(nearest[0]), false).ok());  // idempotent
  EXPECT_EQ(index->num_unavailable(), static_cast<int64_t>(hidden.size()));
  for (int i = 0; i < 50; ++i) {
    auto got = index->Search(query(i), Metric::kCosine, SearchFilter(), 20, 0);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 20u);
    for (const auto& p : *got) EXPECT_EQ(hidden.count(p.id), 0u) << p.id;
  }
  auto sim = index->Similar(Pid(1), SearchFilter(), 20, 0);
  ASSERT_TRUE(sim.ok());
  for (const auto& p : *sim) EXPECT_EQ(hidden.count(p.id), 0u);
  for (const auto& id : hidden) ASSERT_TRUE(index->SetAvailable(id, true).ok());
  auto back = index->Search(query(0), Metric::kCosine, SearchFilter(), 20, 0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->front().id, Pid(nearest[0]));
  EXPECT_EQ(index->num_unavailable(), 0);
}

TEST_F(ClusteredIndexTest, OffsetPagesConcatenateToOneRanking) {
  auto exact = BuildOrDie(*model_, ExactOptions());
  SearchFilter filter = exact->MakeFilter({Pid(5), Pid(6)}, "");
  auto all = exact->Search(query(3), Metric::kCosine, filter, 60, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 60u);
  for (int page = 0; page < 3; ++page) {
    auto got = exact->Search(query(3), Metric::kCosine, filter, 20, page * 20);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 20u);
    for (int j = 0; j < 20; ++j) EXPECT_EQ((*got)[j].id, (*all)[page * 20 + j].id);
  }
  // The graph path pages the same way for the first pages of a clustered query.
  auto g_all = index_->Search(query(3), Metric::kCosine, SearchFilter(), 40, 0);
  auto g_second = index_->Search(query(3), Metric::kCosine, SearchFilter(), 20, 20);
  ASSERT_TRUE(g_all.ok() && g_second.ok());
  ASSERT_EQ(g_second->size(), 20u);
  int same = 0;
  for (int j = 0; j < 20; ++j) same += (*g_second)[j].id == (*g_all)[20 + j].id;
  EXPECT_GE(same, 15);
  // Beyond the eligible products: an empty page, not an error.
  auto beyond = exact->Search(query(3), Metric::kCosine, filter, 20, static_cast<int>(kN));
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->empty());
}

// Score terms (the cold products' visual-profile term): the termed products are scored exactly
// with their term and merged into the ranking; filters still apply to them.
TEST_F(ClusteredIndexTest, ScoreTermsRerankTheirProductsExactly) {
  auto exact = BuildOrDie(*model_, ExactOptions());
  ScoreTerms terms;
  Rng rng(11);
  for (int32_t label = 3; label < kN; label += 397) {
    terms.labels.push_back(label);
    terms.terms.push_back(static_cast<float>(rng.Uniform() - 0.5));
  }
  terms.terms[1] = 10.f;                                   // far from the query, lifted to the top
  const int32_t excluded = terms.labels[2];
  SearchFilter filter = exact->MakeFilter({Pid(excluded)}, "");
  // Oracle: every product's cosine, plus its term, minus the excluded one.
  std::vector<std::pair<float, int32_t>> oracle;
  std::vector<float> q(query(4), query(4) + kDim);
  NormalizeInPlace(q.data(), kDim);
  for (int32_t p = 0; p < kN; ++p) {
    if (p == excluded) continue;
    std::vector<float> v(vectors_->begin() + int64_t(p) * kDim, vectors_->begin() + int64_t(p + 1) * kDim);
    NormalizeInPlace(v.data(), kDim);
    float score = Dot(q.data(), v.data(), kDim);
    auto it = std::lower_bound(terms.labels.begin(), terms.labels.end(), p);
    if (it != terms.labels.end() && *it == p) score += terms.terms[it - terms.labels.begin()];
    oracle.push_back({-score, p});
  }
  std::sort(oracle.begin(), oracle.end());
  auto got = exact->Search(query(4), Metric::kCosine, filter, 30, 0, nullptr, &terms);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 30u);
  EXPECT_EQ((*got)[0].label, terms.labels[1]);
  for (int j = 0; j < 30; ++j) {
    EXPECT_EQ((*got)[j].label, oracle[j].second) << j;
    EXPECT_NEAR((*got)[j].score, -oracle[j].first, 1e-5f) << j;
  }
  // Pages of the merged ranking concatenate to it.
  auto second = exact->Search(query(4), Metric::kCosine, filter, 10, 10, nullptr, &terms);
  ASSERT_TRUE(second.ok());
  for (int j = 0; j < 10; ++j) EXPECT_EQ((*second)[j].label, (*got)[10 + j].label);
  // The graph path merges the same way: the lifted product first, termed scores exact.
  auto graph = index_->Search(query(4), Metric::kCosine, filter, 30, 0, nullptr, &terms);
  ASSERT_TRUE(graph.ok());
  ASSERT_EQ(graph->size(), 30u);
  EXPECT_EQ((*graph)[0].label, terms.labels[1]);
  int same = 0;
  for (int j = 0; j < 30; ++j) {
    EXPECT_NE((*graph)[j].label, excluded);
    same += std::any_of(got->begin(), got->end(), [&](const ScoredProduct& p) { return p.label == (*graph)[j].label; });
  }
  EXPECT_GE(same, 27);
  // An unavailable termed product is never returned, however large its term.
  ASSERT_TRUE(exact->SetAvailable(Pid(terms.labels[1]), false).ok());
  auto hidden = exact->Search(query(4), Metric::kCosine, filter, 30, 0, nullptr, &terms);
  ASSERT_TRUE(hidden.ok());
  for (const ScoredProduct& p : *hidden) EXPECT_NE(p.label, terms.labels[1]);
  EXPECT_EQ(hidden->size(), 30u);
}

TEST(ProductIndexTest, SmallCatalogueReturnsEveryEligibleProductWhenFewerThanK) {
  ClusteredSpec spec{50, 8, 5, 0.5f, 1.0f, 1.0f, 11};
  auto vectors = ClusteredVectors(spec);
  auto index = BuildOrDie(MakeModel(vectors, 8), IndexOptions());
  std::vector<std::string> exclude;
  for (int i = 0; i < 45; ++i) exclude.push_back(Pid(i));
  auto got = index->Search(vectors.data(), Metric::kCosine, index->MakeFilter(exclude, ""), 20, 0);
  ASSERT_TRUE(got.ok());
  std::set<std::string> ids;
  for (const auto& p : *got) ids.insert(p.id);
  EXPECT_EQ(ids, (std::set<std::string>{"p45", "p46", "p47", "p48", "p49"}));
}

// A beam the cost rule prefers to scanning a catalogue of a few thousand products.
IndexOptions NarrowGraphOptions() {
  IndexOptions o = GraphOptions();
  o.ef_search = 48;
  return o;
}

TEST(ProductIndexTest, LiveAddsAreFoundAndGrowTheGraph) {
  ClusteredSpec spec{1000, 16, 20, 0.5f, 1.0f, 1.0f, 5};
  auto vectors = ClusteredVectors(spec);
  auto index = BuildOrDie(MakeModel(vectors, 16), NarrowGraphOptions());
  spec.n = 3000;  // three times the catalogue: the graph must resize twice or more
  spec.seed = 6;
  auto fresh = ClusteredVectors(spec);
  for (int64_t i = 0; i < spec.n; ++i) {
    std::vector<float> v(fresh.begin() + i * 16, fresh.begin() + (i + 1) * 16);
    ASSERT_TRUE(index->AddProduct("new" + std::to_string(i), v).ok());
  }
  EXPECT_EQ(index->num_with_vector(), 4000);
  int top1 = 0;
  for (int64_t i = 0; i < spec.n; i += 30) {
    SearchStats stats;
    auto got = index->Search(fresh.data() + i * 16, Metric::kCosine, SearchFilter(), 5, 0, &stats);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(stats.exact);
    top1 += !got->empty() && got->front().id == "new" + std::to_string(i);
    auto sim = index->Similar("new" + std::to_string(i), SearchFilter(), 5, 0);
    ASSERT_TRUE(sim.ok());
    EXPECT_EQ(sim->size(), 5u);
    for (const auto& p : *sim) EXPECT_NE(p.id, "new" + std::to_string(i));
  }
  EXPECT_GE(top1, 95);  // of 100: a product's own vector is its nearest neighbour
  // Replacing a vector moves the product.
  std::vector<float> far(16, 0.0f);
  far[0] = -1.0f;
  ASSERT_TRUE(index->AddProduct("new0", far).ok());
  EXPECT_EQ(index->num_with_vector(), 4000);
  auto got = index->Search(far.data(), Metric::kCosine, SearchFilter(), 1, 0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->front().id, "new0");
  EXPECT_NEAR(got->front().score, 1.0f, 1e-5);
}

TEST(ProductIndexTest, IdsOfAPageAreEachLabelsIdAndEmptyForUnknownLabels) {
  ClusteredSpec spec{200, 16, 5, 0.5f, 1.0f, 1.0f, 9};
  auto index = BuildOrDie(MakeModel(ClusteredVectors(spec), 16), NarrowGraphOptions());
  ASSERT_TRUE(index->AddProduct("a-live-one-with-a-long-id-beyond-small-strings", std::vector<float>(16, 1.0f)).ok());
  const std::vector<int32_t> labels = {199, 0, 200, -1, 7, 201, 7};
  std::vector<std::string> ids(labels.size(), "stale");
  index->IdsOf(labels.data(), static_cast<int64_t>(labels.size()), ids.data());
  for (size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(ids[i], index->IdOf(labels[i])) << "label " << labels[i];
  EXPECT_EQ(ids[2], "a-live-one-with-a-long-id-beyond-small-strings");
  EXPECT_EQ(ids[3], "");
  EXPECT_EQ(ids[5], "");
  EXPECT_NE(ids[1], "");
}

TEST(ProductIndexTest, UnavailableBeforeItsVectorStaysHidden) {
  ClusteredSpec spec{500, 8, 5, 0.5f, 1.0f, 1.0f, 9};
  auto vectors = ClusteredVectors(spec);
  auto index = BuildOrDie(MakeModel(vectors, 8), GraphOptions());
  ASSERT_TRUE(index->SetAvailable("late", false).ok());
  std::vector<float> v(vectors.begin(), vectors.begin() + 8);
  ASSERT_TRUE(index->AddProduct("late", v).ok());
  auto got = index->Search(v.data(), Metric::kCosine, SearchFilter(), 10, 0);
  ASSERT_TRUE(got.ok());
  for (const auto& p : *got) EXPECT_NE(p.id, "late");
  ASSERT_TRUE(index->SetAvailable("late", true).ok());
  got = index->Search(v.data(), Metric::kCosine, SearchFilter(), 2, 0);
  ASSERT_TRUE(got.ok());
  std::set<std::string> ids{(*got)[0].id, (*got)[1].id};
  EXPECT_EQ(ids, (std::set<std::string>{"late", "p0"}));
}

TEST(ProductIndexTest, RejectsBadInput) {
  ClusteredSpec spec{100, 8, 5, 0.5f, 1.0f, 1.0f, 9};
  auto vectors = ClusteredVectors(spec);
  ModelVersion m = MakeModel(vectors, 8);
  auto index = BuildOrDie(m, IndexOptions());
  EXPECT_EQ(index->AddProduct("x", std::vector<float>(7, 1.0f)).code(), Code::kInvalidArgument);
  std::vector<float> nan(8, 1.0f);
  nan[3] = std::nanf("");
  EXPECT_EQ(index->AddProduct("x", nan).code(), Code::kInvalidArgument);
  EXPECT_EQ(index->AddProduct("", std::vector<float>(8, 1.0f)).code(), Code::kInvalidArgument);
  EXPECT_EQ(index->Find("x"), -1);  // nothing half-registered
  EXPECT_EQ(index->Search(vectors.data(), Metric::kCosine, SearchFilter(), 0, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(index->Search(vectors.data(), Metric::kCosine, SearchFilter(), 5, -1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(index->Search(nan.data(), Metric::kCosine, SearchFilter(), 5, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(index->Search(vectors.data(), Metric::kDot, SearchFilter(), 5, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(index->Similar("nope", SearchFilter(), 5, 0).status().code(), Code::kNotFound);

  ModelVersion dup = m;
  dup.product_ids[7] = dup.product_ids[3];
  EXPECT_EQ(ProductIndex::Build(dup, IndexOptions()).status().code(), Code::kInvalidArgument);
  ModelVersion bad_score = m;
  bad_score.score = "euclid";
  EXPECT_EQ(ProductIndex::Build(bad_score, IndexOptions()).status().code(), Code::kInvalidArgument);
  ModelVersion short_rows = m;
  short_rows.product_vectors.pop_back();
  EXPECT_EQ(ProductIndex::Build(short_rows, IndexOptions()).status().code(), Code::kInvalidArgument);
  ModelVersion inf = m;
  inf.product_vectors[17] = INFINITY;
  EXPECT_EQ(ProductIndex::Build(inf, IndexOptions()).status().code(), Code::kInvalidArgument);
}

TEST(ProductIndexTest, ProductsWithoutEmbeddingAreKnownButNeverSearched) {
  ClusteredSpec spec{100, 8, 5, 0.5f, 1.0f, 1.0f, 9};
  auto vectors = ClusteredVectors(spec);
  ModelVersion m = MakeModel(vectors, 8);
  m.product_kind[0] = static_cast<uint8_t>(ProductKind::kNone);
  m.popularity[0] = 1e6;  // the most popular, yet without a vector
  auto index = BuildOrDie(m, GraphOptions());
  EXPECT_EQ(index->num_products(), 100);
  EXPECT_EQ(index->num_with_vector(), 99);
  EXPECT_EQ(index->Find("p0"), 0);
  auto got = index->Search(vectors.data(), Metric::kCosine, SearchFilter(), 99, 0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 99u);
  for (const auto& p : *got) EXPECT_NE(p.id, "p0");
  EXPECT_EQ(index->Similar("p0", SearchFilter(), 5, 0).status().code(), Code::kNotFound);
  auto popular = index->Popular(SearchFilter(), 3, 0);
  ASSERT_EQ(popular.size(), 3u);
  EXPECT_EQ(popular[0].id, "p0");
}

TEST(ProductIndexTest, PopularRanksByPurchaseWeightWithFilters) {
  ClusteredSpec spec{10, 4, 2, 0.5f, 1.0f, 1.0f, 9};
  ModelVersion m = MakeModel(ClusteredVectors(spec), 4);
  m.popularity = {5, 9, 1, 9, 0, 3, 7, 2, 8, 6};  // ranking: p1 p3 p8 p6 p9 p0 p5 p7 p2 p4
  auto index = BuildOrDie(m, IndexOptions());
  auto ids = [](const std::vector<ScoredProduct>& v) {
    std::vector<std::string> out;
    for (const auto& p : v) out.push_back(p.id);
    return out;
  };
  EXPECT_EQ(ids(index->Popular(SearchFilter(), 4, 0)), (std::vector<std::string>{"p1", "p3", "p8", "p6"}));
  EXPECT_EQ(ids(index->Popular(SearchFilter(), 3, 2)), (std::vector<std::string>{"p8", "p6", "p9"}));
  ASSERT_TRUE(index->SetAvailable("p3", false).ok());
  ASSERT_TRUE(index->SetCategories("p9", {"c"}).ok());
  ASSERT_TRUE(index->SetCategories("p2", {"c", "d"}).ok());
  ASSERT_TRUE(index->SetCategories("p1", {"c"}).ok());
  EXPECT_EQ(ids(index->Popular(index->MakeFilter({"p1"}, ""), 3, 0)), (std::vector<std::string>{"p8", "p6", "p9"}));
  EXPECT_EQ(ids(index->Popular(index->MakeFilter({}, "c"), 5, 0)), (std::vector<std::string>{"p1", "p9", "p2"}));
  ASSERT_TRUE(index->SetCategories("p1", {"d"}).ok());  // moved out of "c"
  EXPECT_EQ(ids(index->Popular(index->MakeFilter({}, "c"), 5, 0)), (std::vector<std::string>{"p9", "p2"}));
  EXPECT_EQ(index->Popular(SearchFilter(), 1, 0)[0].score, 9.0f);
}

TEST(ProductIndexTest, FoldInIsTheMeanOfUnitPurchaseVectors) {
  ModelVersion m;
  m.version = "fold";
  m.dim = 3;
  m.product_ids = {"a", "b", "c"};
  m.product_vectors = {2, 0, 0, /*b*/ 0, 0.5f, 0, /*c*/ 0, 0, 1};
  m.product_kind = {1, 1, 0};
  auto index = BuildOrDie(m, IndexOptions());
  float out[3] = {9, 9, 9};
  EXPECT_EQ(index->FoldIn({"c", "nope"}, out), 0);  // c has no vector, nope is unknown
  EXPECT_EQ(out[0], 9.0f);                          // untouched
  EXPECT_EQ(index->FoldIn({"a", "b", "c"}, out), 2);
  EXPECT_FLOAT_EQ(out[0], 0.5f);  // (1,0,0) and (0,1,0) averaged, whatever their lengths
  EXPECT_FLOAT_EQ(out[1], 0.5f);
  EXPECT_FLOAT_EQ(out[2], 0.0f);
  // The fold-in vector is a query like any other: equally close to a and b.
  auto got = index->Search(out, Metric::kCosine, SearchFilter(), 2, 0);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_NEAR((*got)[0].score, std::sqrt(0.5f), 1e-6);
  EXPECT_NEAR((*got)[1].score, std::sqrt(0.5f), 1e-6);
}

TEST(ProductIndexTest, DotModelRanksByInnerProductAndSimilarStaysCosine) {
  ClusteredSpec spec{8000, 24, 80, 0.6f, 0.3f, 3.0f, 21};  // lengths vary 10×
  auto vectors = ClusteredVectors(spec);
  auto index = BuildOrDie(MakeModel(vectors, 24, "dot"), GraphOptions());
  EXPECT_EQ(index->user_metric(), Metric::kDot);
  spec.n = 50;
  spec.point_seed = 22;
  auto queries = ClusteredVectors(spec);
  double recall_dot = 0, recall_cos = 0;
  for (int i = 0; i < 50; ++i) {
    const float* q = queries.data() + i * 24;
    SearchStats stats;
    auto got = index->Search(q, Metric::kDot, SearchFilter(), 20, 0, &stats);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(stats.exact);
    recall_dot += Recall(*got, BruteForce(vectors, 24, q, false, 20, AnyEligible));
    double expected_top = 0;
    for (int d = 0; d < 24; ++d) expected_top += double(q[d]) * vectors[std::stoll((*got)[0].id.substr(1)) * 24 + d];
    EXPECT_NEAR((*got)[0].score, expected_top, 1e-4 * std::max(1.0, std::abs(expected_top)));
    auto cos = index->Search(q, Metric::kCosine, SearchFilter(), 20, 0);
    ASSERT_TRUE(cos.ok());
    recall_cos += Recall(*cos, BruteForce(vectors, 24, q, true, 20, AnyEligible));
  }
  std::printf("dot model: recall@20 dot graph %.4f, cosine graph %.4f\n", recall_dot / 50, recall_cos / 50);
  EXPECT_GE(recall_dot / 50, 0.85);
  EXPECT_GE(recall_cos / 50, 0.85);
}

class SaveLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
  }
  testing_support::TempDir tmp_;
  std::filesystem::path dir_;
};

TEST_F(SaveLoadTest, RoundTripServesTheSameAnswers) {
  ClusteredSpec spec{5000, 16, 50, 0.6f, 0.5f, 2.0f, 31};
  auto vectors = ClusteredVectors(spec);
  for (const char* score : {"cosine", "dot"}) {
    ModelVersion m = MakeModel(vectors, 16, score);
    auto built = BuildOrDie(m, NarrowGraphOptions());
    ASSERT_TRUE(built->Save(dir_.string()).ok());
    for (const auto& f : ProductIndex::FileNames(built->user_metric())) {
      EXPECT_TRUE(std::filesystem::exists(dir_ / f)) << f;
      EXPECT_FALSE(std::filesystem::exists(dir_ / (f + ".tmp"))) << f;
    }
    auto loaded = ProductIndex::Load(dir_.string(), m, NarrowGraphOptions());
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    for (int i = 0; i < 50; ++i) {
      const float* q = vectors.data() + i * 97 * 16;
      for (Metric metric : {Metric::kCosine, built->user_metric()}) {
        SearchStats stats;
        auto a = built->Search(q, metric, SearchFilter(), 10, 0);
        auto b = (*loaded)->Search(q, metric, SearchFilter(), 10, 0, &stats);
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_FALSE(stats.exact);  // the loaded graph answers
        ASSERT_EQ(a->size(), b->size());
        for (size_t j = 0; j < a->size(); ++j) EXPECT_EQ((*a)[j].id, (*b)[j].id);
      }
    }
    // The loaded index takes live updates like a built one.
    ASSERT_TRUE((*loaded)->SetAvailable("p0", false).ok());
    std::vector<float> v(vectors.begin(), vectors.begin() + 16);
    ASSERT_TRUE((*loaded)->AddProduct("fresh", v).ok());
    auto got = (*loaded)->Search(v.data(), Metric::kCosine, SearchFilter(), 1, 0);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->front().id, "fresh");
  }
}

TEST_F(SaveLoadTest, RejectsAGraphOfAnotherModelOrADamagedFile) {
  ClusteredSpec spec{2000, 16, 20, 0.6f, 1.0f, 1.0f, 41};
  auto vectors = ClusteredVectors(spec);
  ModelVersion m = MakeModel(vectors, 16);
  auto built = BuildOrDie(m, GraphOptions());
  ASSERT_TRUE(built->Save(dir_.string()).ok());

  ModelVersion other = m;
  other.product_vectors[16 * 5 + 3] += 0.5f;  // one product's vector differs
  EXPECT_EQ(ProductIndex::Load(dir_.string(), other, GraphOptions()).status().code(), Code::kCorruption);
  ModelVersion fewer = m;
  fewer.product_ids.pop_back();
  fewer.product_vectors.resize(fewer.product_vectors.size() - 16);
  fewer.product_kind.pop_back();
  fewer.popularity.pop_back();
  EXPECT_EQ(ProductIndex::Load(dir_.string(), fewer, GraphOptions()).status().code(), Code::kCorruption);
  ModelVersion as_dot = m;
  as_dot.score = "dot";  // needs a dot graph that was never written
  EXPECT_EQ(ProductIndex::Load(dir_.string(), as_dot, GraphOptions()).status().code(), Code::kNotFound);
  ModelVersion wider = MakeModel(ClusteredVectors({2000, 8, 20, 0.6f, 1.0f, 1.0f, 41}), 8);
  EXPECT_EQ(ProductIndex::Load(dir_.string(), wider, GraphOptions()).status().code(), Code::kCorruption);

  const auto path = dir_ / ProductIndex::FileNames(Metric::kCosine)[0];
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  EXPECT_EQ(ProductIndex::Load(dir_.string(), m, GraphOptions()).status().code(), Code::kCorruption);
  std::filesystem::remove(path);
  EXPECT_EQ(ProductIndex::Load(dir_.string(), m, GraphOptions()).status().code(), Code::kNotFound);
}

TEST(ProductIndexConcurrencyTest, QueriesRunWhileOneWriterAddsAndMarks) {
  ClusteredSpec spec{4000, 16, 40, 0.6f, 1.0f, 1.0f, 51};
  auto vectors = ClusteredVectors(spec);
  auto index = BuildOrDie(MakeModel(vectors, 16), NarrowGraphOptions());
  // Hidden for the whole run: no reader may ever see these.
  std::set<std::string> hidden;
  for (int64_t p = 0; p < 4000; p += 10) {
    hidden.insert(Pid(p));
    ASSERT_TRUE(index->SetAvailable(Pid(p), false).ok());
  }
  spec.n = 1500;
  spec.seed = 52;
  auto fresh = ClusteredVectors(spec);
  std::atomic<bool> done{false};
  std::atomic<int64_t> queries{0}, failures{0}, graph_answers{0};
  auto reader = [&](int seed) {
    std::mt19937 rng(seed);
    while (!done) {
      const float* q = vectors.data() + (rng() % 4000) * 16;
      SearchStats stats;
      auto got = index->Search(q, Metric::kCosine, SearchFilter(), 10, 0, &stats);
      bool ok = got.ok() && got->size() == 10u;
      graph_answers += !stats.exact;
      for (size_t j = 0; ok && j < got->size(); ++j) {
        ok = !hidden.count((*got)[j].id) && (j == 0 || (*got)[j - 1].score >= (*got)[j].score);
      }
      auto sim = index->Similar(Pid(1 + rng() % 3999), SearchFilter(), 5, 0);
      ok = ok && (sim.ok() || sim.status().code() == Code::kNotFound);
      failures += !ok;
      ++queries;
    }
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) readers.emplace_back(reader, t);
  for (int64_t i = 0; i < spec.n; ++i) {
    std::vector<float> v(fresh.begin() + i * 16, fresh.begin() + (i + 1) * 16);
    ASSERT_TRUE(index->AddProduct("live" + std::to_string(i), v).ok());
    if (i % 7 == 0) {
      ASSERT_TRUE(index->SetAvailable("live" + std::to_string(i / 2), i % 2 == 0).ok());
    }
  }
  done = true;
  for (auto& t : readers) t.join();
  std::printf("%lld queries ran during 1500 adds\n", static_cast<long long>(queries.load()));
  EXPECT_GT(queries.load(), 0);
  EXPECT_EQ(graph_answers.load(), queries.load());  // the graph, not the fallback, was read
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(index->num_with_vector(), 5500);
}

// The insertion is held between its preparation and its publication (by the test hook) until
// queries started after it have finished: were it computed under the lock queries take, they
// would wait for it and the hook would never see them (the wait is bounded to fail, not hang).
TEST(ProductIndexConcurrencyTest, QueriesFinishWhileAnInsertionIsInProgress) {
  ClusteredSpec spec{4000, 16, 40, 0.6f, 1.0f, 1.0f, 61};
  auto vectors = ClusteredVectors(spec);
  auto index = BuildOrDie(MakeModel(vectors, 16), NarrowGraphOptions());
  std::vector<float> fresh(vectors.begin() + 123 * 16, vectors.begin() + 124 * 16);
  fresh[0] += 0.01f;  // next to p123, so a query for it would return it at once if visible

  std::atomic<bool> done{false};
  std::atomic<int64_t> finished{0};
  std::thread reader([&] {
    std::mt19937 rng(3);
    while (!done) {
      auto got = index->Search(vectors.data() + (rng() % 4000) * 16, Metric::kCosine, SearchFilter(), 10, 0);
      ASSERT_TRUE(got.ok());
      ++finished;
    }
  });
  int hook_calls = 0;
  bool queries_ran = false, hidden_meanwhile = true;
  index->SetPublishHookForTesting([&] {
    ++hook_calls;
    const int64_t at_start = finished.load();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (finished.load() < at_start + 50 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    queries_ran = finished.load() >= at_start + 50;
    // This thread's own queries are not held back either, and do not see the product yet.
    auto got = index->Search(fresh.data(), Metric::kCosine, SearchFilter(), 5, 0);
    ASSERT_TRUE(got.ok());
    for (const auto& p : *got) hidden_meanwhile = hidden_meanwhile && p.id != "fresh";
    EXPECT_EQ(index->Find("fresh"), -1);
  });
  ASSERT_TRUE(index->AddProduct("fresh", fresh).ok());
  done = true;
  reader.join();
  EXPECT_EQ(hook_calls, 1);
  EXPECT_TRUE(queries_ran) << "queries waited for the insertion";
  EXPECT_TRUE(hidden_meanwhile);
  auto got = index->Search(fresh.data(), Metric::kCosine, SearchFilter(), 1, 0);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().id, "fresh");  // visible once AddProduct returned

  // The same vector again is no insertion at all (a resent catalogue leaves no tombstones).
  index->SetPublishHookForTesting([&] { ++hook_calls; });
  ASSERT_TRUE(index->AddProduct("fresh", fresh).ok());
  EXPECT_EQ(hook_calls, 1);
  fresh[1] += 0.5f;
  ASSERT_TRUE(index->AddProduct("fresh", fresh).ok());
  EXPECT_EQ(hook_calls, 2);
  EXPECT_EQ(index->num_with_vector(), 4001);
}

}  // namespace
}  // namespace vasgd

namespace vasgd {
namespace {

// A reader keeps the lock (as a preempted background reader does) and a writer waits for it.
// lock() makes every new reader wait behind the writer; lock_politely() lets them in until its
// patience runs out, then queues as lock() does, so the writer still gets the lock.
TEST(WriterFirstLockTest, APoliteWriterLetsNewReadersInUntilItsPatienceRunsOut) {
  using std::chrono::milliseconds;
  for (const bool polite : {false, true}) {
    WriterFirstLock mu;
    mu.lock_shared();  // the long reader
    std::promise<void> writing;
    std::thread writer([&] {
      writing.set_value();
      if (polite) mu.lock_politely(std::chrono::microseconds(300000));
      else mu.lock();
      mu.unlock();
    });
    writing.get_future().wait();
    std::this_thread::sleep_for(milliseconds(50));  // the writer is waiting by now
    const bool reader_got_in = mu.try_lock_shared();
    if (reader_got_in) mu.unlock_shared();
    EXPECT_EQ(reader_got_in, polite) << (polite ? "polite" : "plain") << " writer";
    if (polite) {
      std::this_thread::sleep_for(milliseconds(400));  // past its patience: it queues now
      EXPECT_FALSE(mu.try_lock_shared()) << "a polite writer past its patience must hold new readers back";
    }
    mu.unlock_shared();
    writer.join();  // and it got the lock
  }
}

}  // namespace
}  // namespace vasgd

// The ranking metrics on hand-built cases whose answers are known in closed form.
#include "eval/ranking_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "eval/baselines.h"
#include "tests/eval/eval_test_util.h"

namespace vasgd {
namespace {

using testing::MakeGraph;
using testing::TableScorer;

RankingOptions WithK(int32_t k) {
  RankingOptions o;
  o.k = k;
  o.threads = 1;
  return o;
}

TEST(TopKTest, OrdersBestFirstBreaksTiesByLowerIdAndSkipsMasked) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float s[] = {0.5f, 0.9f, nan, 0.9f, 0.1f, 2.0f, 0.5f};
  const uint8_t mask[] = {0, 0, 0, 0, 0, 1, 0};
  int32_t out[7];
  ASSERT_EQ(TopK(s, mask, 7, 4, out), 4);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 3);
  EXPECT_EQ(out[2], 0);
  EXPECT_EQ(out[3], 6);
  // k beyond the unmasked count returns them all, NaN last.
  ASSERT_EQ(TopK(s, mask, 7, 7, out), 6);
  EXPECT_EQ(out[4], 4);
  EXPECT_EQ(out[5], 2);
  EXPECT_EQ(TopK(s, nullptr, 7, 0, out), 0);
}

// Users 0..2; warm products 0,1,2,3,5,6 (they have train edges), cold 4,7,8,9.
// Test: u0 -> 5 (warm), u1 -> 6 (warm), u2 -> 9 (cold).
struct SmallCase {
  InteractionGraph train = MakeGraph(3, 10, {{0, 0}, {0, 1}, {1, 5}, {1, 2}, {2, 6}, {2, 3}});
  std::vector<UserProduct> test = {{0, 5}, {1, 6}, {2, 9}};
};

TEST(RankingMetricsTest, PerfectRankingScoresOne) {
  SmallCase c;
  TableScorer s(3, 10);
  for (const UserProduct& t : c.test) s.at(t.user, t.product) = 1.f;
  const RankingMetrics m = EvaluateRanking(s, c.train, c.test, WithK(2));
  EXPECT_EQ(m.users, 3);
  EXPECT_EQ(m.pairs_warm, 2);
  EXPECT_EQ(m.pairs_cold, 1);
  EXPECT_DOUBLE_EQ(m.auc_warm, 1.0);
  EXPECT_DOUBLE_EQ(m.auc_cold, 1.0);
  EXPECT_DOUBLE_EQ(m.auc_cold_among_cold, 1.0);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(m.recall_warm, 1.0);
  EXPECT_DOUBLE_EQ(m.recall_cold, 1.0);
  EXPECT_EQ(m.users_warm, 2);
  EXPECT_EQ(m.users_cold, 1);
}

TEST(RankingMetricsTest, ReversedRankingScoresZero) {
  SmallCase c;
  TableScorer s(3, 10);
  for (const UserProduct& t : c.test) s.at(t.user, t.product) = -1.f;
  const RankingMetrics m = EvaluateRanking(s, c.train, c.test, WithK(2));
  EXPECT_DOUBLE_EQ(m.auc_warm, 0.0);
  EXPECT_DOUBLE_EQ(m.auc_cold, 0.0);
  EXPECT_DOUBLE_EQ(m.auc_cold_among_cold, 0.0);
  EXPECT_DOUBLE_EQ(m.recall, 0.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 0.0);
}

TEST(RankingMetricsTest, TiesCountHalf) {
  SmallCase c;
  TableScorer all_equal(3, 10);
  RankingMetrics m = EvaluateRanking(all_equal, c.train, c.test, WithK(2));
  EXPECT_DOUBLE_EQ(m.auc_warm, 0.5);
  EXPECT_DOUBLE_EQ(m.auc_cold, 0.5);
  EXPECT_DOUBLE_EQ(m.auc_cold_among_cold, 0.5);

  // u0: 7 candidates (10 − 2 train − 1 test); the test item ties with product 7, beats the rest.
  TableScorer one_tie(3, 10);
  one_tie.at(0, 5) = 1.f;
  one_tie.at(0, 7) = 1.f;
  m = EvaluateRanking(one_tie, c.train, {{0, 5}}, WithK(1));
  EXPECT_DOUBLE_EQ(m.auc_warm, 6.5 / 7.0);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);  // the tie goes to the lower id, 5
}

TEST(RankingMetricsTest, UserWithSeveralTestItems) {
  // u0 bought 0; u1 bought 3 (so 3 is warm); u0's test items: 3 (warm) and 5 (cold).
  const InteractionGraph train = MakeGraph(2, 8, {{0, 0}, {1, 3}});
  TableScorer s(2, 8);
  const float scores[8] = {10, 9, 7, 8, 6, 3, 5, 4};  // masked order: 1, 3, 2, 4, 6, 7, 5
  for (int p = 0; p < 8; ++p) s.at(0, p) = scores[p];
  const RankingMetrics m = EvaluateRanking(s, train, {{0, 3}, {0, 5}}, WithK(3));
  const double g1 = 1.0 / std::log2(3.0);  // hit at rank 1
  EXPECT_EQ(m.users, 1);
  EXPECT_DOUBLE_EQ(m.recall, 0.5);
  EXPECT_DOUBLE_EQ(m.ndcg, g1 / (1.0 + g1));
  EXPECT_DOUBLE_EQ(m.recall_warm, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg_warm, g1);
  EXPECT_DOUBLE_EQ(m.recall_cold, 0.0);
  EXPECT_DOUBLE_EQ(m.ndcg_cold, 0.0);
  // Candidates exclude train item 0 and both test items: {1, 2, 4, 6, 7}.
  EXPECT_DOUBLE_EQ(m.auc_warm, 4.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.auc_cold, 0.0);
  EXPECT_DOUBLE_EQ(m.auc_cold_among_cold, 0.0);  // cold candidates {1, 2, 4, 6, 7} all above
}

TEST(RankingMetricsTest, TrainItemsAreMaskedFromRankingAndAuc) {
  const InteractionGraph train = MakeGraph(1, 6, {{0, 0}, {0, 1}, {0, 2}});
  TableScorer s(1, 6);
  const float scores[6] = {9, 8, 7, 5, 1, 0};
  for (int p = 0; p < 6; ++p) s.at(0, p) = scores[p];
  const RankingMetrics m = EvaluateRanking(s, train, {{0, 3}}, WithK(1));
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(m.auc_cold, 1.0);  // 3 has no train edge: cold
}

TEST(RankingMetricsTest, NdcgOfKnownRank) {
  const InteractionGraph train = MakeGraph(1, 30, {});
  TableScorer s(1, 30);
  for (int p = 0; p < 30; ++p) s.at(0, p) = static_cast<float>(30 - p);  // rank of p is p
  const RankingMetrics m = EvaluateRanking(s, train, {{0, 3}}, WithK(20));
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0 / std::log2(5.0));
  const RankingMetrics beyond = EvaluateRanking(s, train, {{0, 20}}, WithK(20));
  EXPECT_DOUBLE_EQ(beyond.recall, 0.0);
  EXPECT_DOUBLE_EQ(beyond.auc_cold, 9.0 / 29.0);
}

TEST(RankingMetricsTest, ColdAmongColdSeesThroughColdAboveWarm) {
  // Products 0..3 warm (user 1 bought them), 4..9 cold. u0 bought 0; test item 4 (cold).
  const InteractionGraph train = MakeGraph(2, 10, {{0, 0}, {1, 0}, {1, 1}, {1, 2}, {1, 3}});
  TableScorer s(2, 10);
  s.at(0, 4) = 0.5f;
  for (int p = 5; p < 10; ++p) s.at(0, p) = 0.1f * p + 0.05f;  // every other cold product above 4
  const RankingMetrics m = EvaluateRanking(s, train, {{0, 4}}, WithK(20));
  EXPECT_DOUBLE_EQ(m.auc_cold, 3.0 / 8.0);  // beats the warm 1, 2, 3 only
  EXPECT_DOUBLE_EQ(m.auc_cold_among_cold, 0.0);
  EXPECT_TRUE(std::isnan(m.auc_warm));
  EXPECT_EQ(m.pairs_warm, 0);
}

TEST(RankingMetricsTest, DuplicateTestPairsCountOnceAndNaNIsLowest) {
  const InteractionGraph train = MakeGraph(1, 4, {});
  TableScorer s(1, 4);
  s.at(0, 0) = std::numeric_limits<float>::quiet_NaN();
  s.at(0, 1) = 1.f;
  const RankingMetrics m = EvaluateRanking(s, train, {{0, 1}, {0, 1}}, WithK(1));
  EXPECT_EQ(m.pairs_cold, 1);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.auc_cold, 1.0);
  EXPECT_EQ(m.non_finite_scores, 1);
}

TEST(RankingMetricsTest, ResultsDoNotDependOnThreadsOrBlocks) {
  std::mt19937 rng(7);
  const int32_t users = 60, products = 45;
  std::vector<UserProduct> edges, test;
  for (int32_t u = 0; u < users; ++u) {
    for (int i = 0; i < 3; ++i) edges.push_back({u, static_cast<int32_t>(rng() % 35)});
    for (int i = 0; i <= u % 3; ++i) test.push_back({u, static_cast<int32_t>(rng() % products)});
  }
  std::sort(edges.begin(), edges.end(), [](auto a, auto b) { return a.user != b.user ? a.user < b.user : a.product < b.product; });
  edges.erase(std::unique(edges.begin(), edges.end(), [](auto a, auto b) { return a.user == b.user && a.product == b.product; }), edges.end());
  const InteractionGraph train = MakeGraph(users, products, edges);
  TableScorer s(users, products);
  for (int32_t u = 0; u < users; ++u)
    for (int32_t p = 0; p < products; ++p) s.at(u, p) = static_cast<float>(rng() % 10);  // many ties
  RankingOptions a = WithK(5), b = WithK(5);
  a.block_users = 1;
  b.threads = 3;
  b.block_users = 7;
  const RankingMetrics x = EvaluateRanking(s, train, test, a), y = EvaluateRanking(s, train, test, b);
  EXPECT_EQ(x.recall, y.recall);
  EXPECT_EQ(x.ndcg, y.ndcg);
  EXPECT_EQ(x.auc_warm, y.auc_warm);
  EXPECT_EQ(x.auc_cold, y.auc_cold);
  EXPECT_EQ(x.auc_cold_among_cold, y.auc_cold_among_cold);
  EXPECT_EQ(x.recall_cold, y.recall_cold);
  EXPECT_GT(x.pairs_cold, 0);
  EXPECT_GT(x.pairs_warm, 0);
}

TEST(BaselinesTest, RandomIsNearHalfAndPopularityRanksByDegree) {
  std::mt19937 rng(3);
  const int32_t users = 400, products = 300;
  std::vector<UserProduct> edges, test;
  for (int32_t u = 0; u < users; ++u) {
    edges.push_back({u, static_cast<int32_t>(u % 50)});  // products 0..49 warm
    test.push_back({u, static_cast<int32_t>(rng() % products)});
  }
  const InteractionGraph train = MakeGraph(users, products, edges);
  const RankingMetrics r = EvaluateRanking(*MakeRandomScorer(products, 11), train, test, WithK(20));
  // 400 pairs, each AUC uniform on [0,1]: the mean has std ≈ 0.014.
  EXPECT_NEAR(r.auc_warm * r.pairs_warm / 400.0 + r.auc_cold * r.pairs_cold / 400.0, 0.5, 0.05);
  // Same seed, same scores.
  const RankingMetrics r2 = EvaluateRanking(*MakeRandomScorer(products, 11), train, test, WithK(20));
  EXPECT_EQ(r.recall, r2.recall);

  const InteractionGraph skewed = MakeGraph(3, 4, {{0, 2}, {1, 2}, {2, 2}, {0, 1}, {1, 1}, {2, 3}});
  std::vector<float> row(4);
  const int32_t u = 0;
  MakePopularityScorer(skewed)->Score(&u, 1, row.data());
  EXPECT_EQ(row, (std::vector<float>{0, 2, 3, 1}));
}

TEST(ScorerTest, EmbeddingScorerComputesDotAndCosine) {
  Embeddings e;
  e.dim = 3;
  e.num_users = 2;
  e.num_products = 3;
  e.users = {1, 2, 0, 0, 0, 0};
  e.products = {3, 0, 4, 0, 2, 0, 1, 1, 1};
  e.has_product = {1, 1, 0};
  const int32_t users[2] = {0, 1};
  float out[6];
  MakeEmbeddingScorer(e, ScoreKind::kDot)->Score(users, 2, out);
  EXPECT_FLOAT_EQ(out[0], 3.f);
  EXPECT_FLOAT_EQ(out[1], 4.f);
  EXPECT_EQ(out[2], -std::numeric_limits<float>::infinity());
  EXPECT_FLOAT_EQ(out[3], 0.f);  // zero user vector
  MakeEmbeddingScorer(e, ScoreKind::kCosine)->Score(users, 1, out);
  EXPECT_FLOAT_EQ(out[0], 3.f / (5.f * std::sqrt(5.f)));
  EXPECT_FLOAT_EQ(out[1], 2.f / std::sqrt(5.f));
}

TEST(ScorerTest, ProductBiasIsAddedToEveryUsersRow) {
  Embeddings e;
  e.dim = 2;
  e.num_users = 1;
  e.num_products = 2;
  e.users = {1, 0};
  e.products = {2, 0, 0, 3};
  const int32_t users[2] = {0, 7};  // 7: unknown user, bias alone
  float out[4];
  MakeEmbeddingScorer(e, ScoreKind::kCosine, {0.5f, 2.f})->Score(users, 2, out);
  EXPECT_FLOAT_EQ(out[0], 1.5f);
  EXPECT_FLOAT_EQ(out[1], 2.f);
  EXPECT_FLOAT_EQ(out[2], 0.5f);
  EXPECT_FLOAT_EQ(out[3], 2.f);
}

// model/visual_profile.h's term: cold products are reordered by the user's visual profile around
// their own level; warm products and users without a profile keep the plain score.
TEST(ScorerTest, ColdProfileTermReordersColdProductsOnly) {
  Embeddings e;
  e.dim = 2;
  e.num_users = 2;
  e.num_products = 3;  // 0 warm, 1 and 2 cold with equal vectors
  e.users = {1, 0, 0, 2};
  e.products = {1, 1, 2, 0, 2, 0};
  e.cold_profiles.weight = 0.5f;
  e.cold_profiles.dim = 2;
  e.cold_profiles.products = {1, 2};
  e.cold_profiles.product_z = {0, 1, 1, 0};  // product 2 looks like what user 0 bought
  e.cold_profiles.users = {1, 0, 0, 0};      // user 1: no profile
  const int32_t users[2] = {0, 1};
  float plain[6], blended[6];
  Embeddings off = e;
  off.cold_profiles.weight = 0;
  for (ScoreKind kind : {ScoreKind::kCosine, ScoreKind::kDot}) {
    MakeEmbeddingScorer(off, kind)->Score(users, 2, plain);
    MakeEmbeddingScorer(e, kind)->Score(users, 2, blended);
    ASSERT_FLOAT_EQ(plain[1], plain[2]);
    EXPECT_FLOAT_EQ(blended[0], plain[0]) << "warm product";
    EXPECT_GT(blended[2], blended[1]);
    // Centred: cosines 0 and 1 around their mean 0.5, times β and (dot) ‖X_u‖·‖X_c‖ = 1·2.
    const float scale = kind == ScoreKind::kDot ? 2.f : 1.f;
    EXPECT_FLOAT_EQ(blended[2] - plain[2], 0.5f * 0.5f * scale);
    EXPECT_FLOAT_EQ(blended[1] - plain[1], -0.5f * 0.5f * scale);
    for (int p = 3; p < 6; ++p) EXPECT_FLOAT_EQ(blended[p], plain[p]) << "user without a profile";
  }
}

TEST(BaselinesTest, WboiIsWeightedMeanOfBoughtFeatures) {
  TrainingData d;
  d.graph = MakeGraph(2, 3, {{0, 0}, {0, 1}});
  d.graph.weight = {1.f, 3.f};
  d.features.dim = 2;
  d.features.values = {1, 0, 0, 1, 5, 5};
  d.features.present = {1, 1, 0};
  const Embeddings e = WboiEmbeddings(d);
  EXPECT_FLOAT_EQ(e.user(0)[0], 0.25f);
  EXPECT_FLOAT_EQ(e.user(0)[1], 0.75f);
  EXPECT_FLOAT_EQ(e.user(1)[0], 0.f);
  EXPECT_FALSE(e.HasProduct(2));

  // Standardised: over products 0 and 1, dimension 0 is {1, 0} -> {1, -1}, dimension 1 {0, 1} -> {-1, 1}.
  const Embeddings z = WboiEmbeddings(d, /*standardize=*/true);
  EXPECT_FLOAT_EQ(z.product(0)[0], 1.f);
  EXPECT_FLOAT_EQ(z.product(0)[1], -1.f);
  EXPECT_FLOAT_EQ(z.product(1)[0], -1.f);
  EXPECT_FLOAT_EQ(z.user(0)[0], 0.25f * 1 + 0.75f * -1);
  EXPECT_FLOAT_EQ(z.product(2)[0], 0.f);  // absent: left at zero
}

}  // namespace
}  // namespace vasgd

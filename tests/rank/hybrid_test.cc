// The hybrid formula (rank/hybrid.h) on a hand-made model, the weight choice on planted holdouts
// (rank/weight_choice.h), and one whole retraining (rank/fit.h) on a planted shop.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <memory>

#include "model/holdout.h"
#include "model/neighbours.h"
#include "model/synthetic.h"
#include "rank/cold_order.h"
#include "rank/fit.h"
#include "rank/hybrid.h"
#include "rank/similar.h"
#include "rank/weight_choice.h"

namespace vasgd {
namespace {

// 4 products in 2-d: 0 and 1 warm, 2 cold (encoder), 3 without a vector; 2 users.
std::shared_ptr<ModelVersion> TinyModel() {
  auto m = std::make_shared<ModelVersion>();
  m->version = "tiny";
  m->dim = 2;
  m->user_ids = {"a", "b"};
  m->product_ids = {"p0", "p1", "p2", "p3"};
  m->user_vectors = {1, 0, 0, 1};
  m->product_vectors = {1, 0, 0.6f, 0.8f, 0, 1, 0, 0};
  m->product_kind = {1, 1, 2, 0};
  m->popularity = {9, 1, 0, 0};
  m->visual_dim = 2;
  m->visual = {1, 0, 0, 1, 0.6f, 0.8f, 0, 0};
  m->visual_mean = {0, 0};
  m->visual_scale = {1, 1};
  NeighbourLists& l = m->neighbour_lists;
  l.family = "rp3b";
  l.num_products = 4;
  l.offsets = {0, 2, 3, 3, 3};  // p0 -> p1 (0.5), p2 (0.25); p1 -> p0 (1)
  l.neighbours = {1, 2, 0};
  l.weights = {0.5f, 0.25f, 1.0f};
  return m;
}

TEST(HybridScorer, ComputesTheDocumentedFormula) {
  HybridWeights w;
  w.neighbours = 1;
  w.vasg = 0.5f;
  w.popularity = 0.2f;
  w.visual = 0.1f;
  w.cold_visual = 0.3f;
  HybridTables tables(TinyModel(), w);
  HybridScorer scorer(&tables);
  const int32_t bought[] = {0};
  const float user[] = {1, 0};
  scorer.Prepare({bought, 1, user});
  // N: p1 0.5/0.5 = 1, p2 0.25/0.5 = 0.5; profile = z(p0) = (1, 0).
  const float v[] = {1.0f, 0.6f, 0.0f, 0.0f};
  const float pop1 = std::log1p(1.f) / std::log1p(9.f);
  EXPECT_FLOAT_EQ(scorer.Score(1, v[1]), 1.0f + 0.5f * 0.6f + 0.2f * pop1 + 0.1f * 0.0f);
  EXPECT_FLOAT_EQ(scorer.Score(2, v[2]), 0.5f + 0.0f + 0.0f + (0.1f + 0.3f) * 0.6f);
  float all[4];
  scorer.ScoreAll(v, 4, all);
  for (int p = 0; p < 4; ++p) EXPECT_EQ(all[p], scorer.Score(p, v[p])) << "product " << p;  // bitwise
  EXPECT_STREQ(ReasonName(scorer.Explain(1, v[1])), "bought-with");
  EXPECT_STREQ(ReasonName(scorer.Explain(2, v[2])), "new-visual-match");
  // A purchase made later changes the lists' term at once: p1 now reaches p0.
  const int32_t both[] = {0, 1};
  scorer.Prepare({both, 2, user});
  EXPECT_GT(scorer.Score(0, v[0]), 0.9f);
}

// fresh(p): the place in arrival order, 0 for the model's oldest product, 1 for its newest and for
// every product added since; "new-arrival" when it is what lifts a product.
TEST(HybridScorer, FreshnessFollowsArrivalOrder) {
  HybridWeights w;
  w.neighbours = 0;
  w.popularity = 0.1f;
  w.freshness = 2;
  HybridTables tables(TinyModel(), w);
  const float raw[] = {0, 1};
  tables.AddProduct(4, raw);
  HybridScorer scorer(&tables);
  scorer.Prepare({nullptr, 0, nullptr});
  const float pop0 = 0.1f * 1.0f;  // p0 is the most bought
  EXPECT_FLOAT_EQ(scorer.Score(0, 0.f), pop0 + 2 * 0.f);
  EXPECT_FLOAT_EQ(scorer.Score(2, 0.f), 0.f + 2 * (2.f / 3.f));
  EXPECT_FLOAT_EQ(scorer.Score(3, 0.f), 2 * 1.f);
  EXPECT_FLOAT_EQ(scorer.Score(4, 0.f), 2 * 1.f);  // added after training: newer than all
  const float v[] = {0, 0, 0, 0, 0};
  float all[5], means[4];
  scorer.ScoreAll(v, 5, all, means);
  for (int p = 0; p < 5; ++p) EXPECT_EQ(all[p], scorer.Score(p, v[p])) << "product " << p;  // bitwise
  EXPECT_STREQ(ReasonName(scorer.Explain(1, 0.f)), "new-arrival") << "p1: freshness 2/3 over popularity";
  w.freshness = 0;
  tables.set_weights(w);
  EXPECT_STREQ(ReasonName(scorer.Explain(0, 0.f)), "popular");
  EXPECT_EQ(HybridWeights::FromJson(R"({"freshness":0.4})")->freshness, 0.4f);
}

TEST(HybridScorer, ProductsAddedAfterTrainingAreColdWithTheirFeatures) {
  HybridWeights w;
  w.neighbours = 0;
  w.visual = 1;
  HybridTables tables(TinyModel(), w);
  const float raw[] = {3, 0};
  tables.AddProduct(5, raw);
  EXPECT_TRUE(tables.IsCold(5));
  EXPECT_TRUE(tables.IsCold(4));  // a gap label stays an unknown, cold one
  EXPECT_FALSE(tables.IsCold(0));
  HybridScorer scorer(&tables);
  const int32_t bought[] = {0};
  scorer.Prepare({bought, 1, nullptr});
  EXPECT_FLOAT_EQ(scorer.Score(5, 0.f), 1.0f);  // unit z of (3, 0) against profile (1, 0)
  EXPECT_FLOAT_EQ(scorer.Score(4, 0.f), 0.0f);
}

TEST(HybridWeights, JsonRoundTripAndBadValuesAreRefused) {
  HybridWeights w;
  w.vasg = 2;
  w.cold_visual = 0.25f;
  Result<HybridWeights> back = HybridWeights::FromJson(w.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->vasg, 2.f);
  EXPECT_EQ(back->cold_visual, 0.25f);
  EXPECT_FALSE(HybridWeights::FromJson("[1]").ok());
  EXPECT_FALSE(HybridWeights::FromJson(R"({"vasg":"x"})").ok());
}

// 5 products in 2-d: p0 and p1 warm (looks (1, 0) and (0, 1)), p2 and p3 cold, p4 cold without
// features; the lists take p0 to p1.
std::shared_ptr<ModelVersion> ColdModel() {
  auto m = std::make_shared<ModelVersion>();
  m->version = "cold";
  m->dim = 2;
  m->user_ids = {"a"};
  m->product_ids = {"p0", "p1", "p2", "p3", "p4"};
  m->user_vectors = {1, 0};
  m->product_vectors = {1, 0, 0, 1, 1, 0, 0, 1, 0.6f, 0.8f};
  m->product_kind = {1, 1, 2, 2, 2};
  m->popularity = {9, 1, 0, 0, 0};
  m->visual_dim = 2;
  m->visual = {1, 0, 0, 1, 0, 1, 1, 0, 0, 0};
  m->visual_mean = {0, 0};
  m->visual_scale = {1, 1};
  NeighbourLists& l = m->neighbour_lists;
  l.family = "rp3b";
  l.num_products = 5;
  l.offsets = {0, 1, 1, 1, 1, 1};
  l.neighbours = {1};
  l.weights = {1};
  return m;
}

HybridWeights ColdOrderWeights(float rho, float phi) {
  HybridWeights w;
  w.vasg = 1;
  w.cold_order = true;
  w.cold_order_visual = rho;
  w.cold_order_freshness = phi;
  w.cold_query_idf = 0;
  w.cold_query_lists = 0;
  return w;
}

// The cold products keep the scores the formula gave them as a set and take them in C order;
// warm products and ineligible ones are untouched.
TEST(HybridScorer, TheColdOrderReordersColdProductsInTheirOwnPlaces) {
  HybridTables tables(ColdModel(), ColdOrderWeights(2, 0));
  HybridScorer scorer(&tables);
  const int32_t bought[] = {0};
  const float user[] = {1, 0};
  scorer.Prepare({bought, 1, user});
  const float v[] = {1, 0, 1, 0, 0.6f};
  float scores[5];
  scorer.ScoreAll(v, 5, scores);
  ASSERT_FLOAT_EQ(scores[2], 1.f);  // the formula (V alone) puts p2 first among the cold
  ASSERT_FLOAT_EQ(scores[3], 0.f);
  // C: p2 = 1 + 2·cos((1,0),(0,1)) = 1, p3 = 0 + 2·1 = 2, p4 = 0.6 + 0 (no features).
  EXPECT_FLOAT_EQ(scorer.ColdOrder(3, v[3]), 2.f);
  scores[4] = -INFINITY;  // ineligible
  const float before[5] = {scores[0], scores[1], scores[2], scores[3], scores[4]};
  scorer.ReorderCold(nullptr, v, 5, scores);
  EXPECT_EQ(scores[0], before[0]);
  EXPECT_EQ(scores[1], before[1]);
  EXPECT_EQ(scores[3], before[2]) << "p3 takes the first cold place";
  EXPECT_EQ(scores[2], before[3]);
  EXPECT_EQ(scores[4], before[4]);
  // Off: the formula's own order.
  HybridWeights off = ColdOrderWeights(2, 0);
  off.cold_order = false;
  tables.set_weights(off);
  scorer.Prepare({bought, 1, user});
  scorer.ScoreAll(v, 5, scores);
  scorer.ReorderCold(nullptr, v, 5, scores);
  EXPECT_FLOAT_EQ(scores[2], 1.f);
  EXPECT_FLOAT_EQ(scores[3], 0.f);
}

// The cold query: purchases weigh purchases^-a, and the user's top list products widen it.
TEST(HybridScorer, TheColdQueryWeighsRarePurchasesAndTheListsProducts) {
  const int32_t both[] = {0, 1};  // p0 bought 9 times, p1 once
  HybridWeights w = ColdOrderWeights(1, 0);
  HybridTables tables(ColdModel(), w);
  HybridScorer scorer(&tables);
  scorer.Prepare({both, 2, nullptr});
  EXPECT_NEAR(scorer.Unweighted(2, 0).cold_query, std::sqrt(0.5f), 1e-6) << "a = 0: the plain profile";
  w.cold_query_idf = 1;
  tables.set_weights(w);
  scorer.Prepare({both, 2, nullptr});
  const float idf = 1.f / std::sqrt(1.f + 1.f / 81.f);  // unit((1/9, 1)) against (0, 1)
  EXPECT_NEAR(scorer.Unweighted(2, 0).cold_query, idf, 1e-6);
  EXPECT_NEAR(scorer.Unweighted(3, 0).cold_query, idf / 9.f, 1e-6);
  // λ = 1, m = 1: p0's list brings p1, so the query is unit((1, 0) + (0, 1)).
  const int32_t first[] = {0};
  w.cold_query_idf = 0;
  w.cold_query_lists = 1;
  w.cold_query_top = 1;
  tables.set_weights(w);
  scorer.Prepare({first, 1, nullptr});
  EXPECT_NEAR(scorer.Unweighted(2, 0).cold_query, std::sqrt(0.5f), 1e-6);
  w.cold_query_top = 0;
  tables.set_weights(w);
  scorer.Prepare({first, 1, nullptr});
  EXPECT_NEAR(scorer.Unweighted(2, 0).cold_query, 0.f, 1e-6);
  EXPECT_EQ(scorer.Unweighted(4, 0).cold_query, 0.f) << "no features";
}

TEST(HybridWeights, TheColdOrderRoundTripsAndBadValuesAreRefused) {
  HybridWeights w = ColdOrderWeights(4, 0.8f);
  w.cold_query_top = 7;
  Result<HybridWeights> back = HybridWeights::FromJson(w.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->cold_order);
  EXPECT_EQ(back->cold_order_visual, 4.f);
  EXPECT_EQ(back->cold_order_freshness, 0.8f);
  EXPECT_EQ(back->cold_query_top, 7);
  EXPECT_FALSE(HybridWeights::FromJson(R"({"cold_order":1})").ok());
  EXPECT_FALSE(HybridWeights::FromJson(R"({"cold_query_top":-1})").ok());
  EXPECT_FALSE(HybridWeights::FromJson(R"({"cold_query_top":2.5})").ok());
  EXPECT_FALSE(HybridWeights::FromJson(R"({})")->cold_order) << "a manifest from before it: off";
}

// n users, each bought warm product u and went on to buy cold product n + u with the same look;
// V points elsewhere. Only the cold query finds the held-out products.
struct PlantedColdShop {
  std::shared_ptr<ModelVersion> model;
  InteractionGraph graph;
  HoldoutPairs pairs;
};

PlantedColdShop PlantCold(int n) {
  PlantedColdShop s;
  auto m = std::make_shared<ModelVersion>();
  m->dim = 2;
  m->visual_dim = 2;
  m->visual_mean = {0, 0};
  m->visual_scale = {1, 1};
  for (int u = 0; u < n; ++u) {
    m->user_ids.push_back("u" + std::to_string(u));
    m->user_vectors.insert(m->user_vectors.end(), {1, 0});
  }
  for (int p = 0; p < 2 * n; ++p) {
    const double angle = 6.283 * (p % n) / n;
    m->product_ids.push_back("p" + std::to_string(p));
    m->product_kind.push_back(p < n ? 1 : 2);
    m->popularity.push_back(p < n ? 1 : 0);
    m->visual.insert(m->visual.end(), {static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle))});
    const double look_away = 0.37 * ((p * 7) % n);  // V unrelated to the look
    m->product_vectors.insert(m->product_vectors.end(), {static_cast<float>(std::cos(look_away)),
                                                         static_cast<float>(std::sin(look_away))});
  }
  s.model = m;
  s.graph.num_users = n;
  s.graph.num_products = 2 * n;
  for (int u = 0; u <= n; ++u) s.graph.user_offsets.push_back(u);
  for (int u = 0; u < n; ++u) {
    s.graph.product_index.push_back(u);
    s.graph.weight.push_back(1);
    s.pairs.users.push_back(u);
    s.pairs.products.push_back(n + u);
  }
  s.pairs.train = &s.graph;
  return s;
}

TEST(ColdOrder, IsChosenWhereItBeatsTheFormulasOwnOrderOnHeldOutColdPurchases) {
  const PlantedColdShop shop = PlantCold(40);
  HybridWeights w;
  w.vasg = 1;
  w.cold_query_idf = 0;
  w.cold_query_lists = 0;
  ColdOrderOptions o;
  o.visual = {0, 1, 100};
  o.freshness = {0, 0.5f};
  o.min_pairs = 10;
  o.threads = 1;
  const ColdOrderChoice c = ChooseColdOrder(shop.model, w, shop.pairs, o);
  EXPECT_EQ(c.pairs, 40);
  EXPECT_EQ(c.cold_products, 40);
  EXPECT_EQ(c.settings_tried, 6);
  ASSERT_EQ(c.grid_auc.size(), 6u);
  EXPECT_EQ(c.grid_auc[2 * 2 + 0], c.chosen_auc) << "rho = 100, phi = 0: row 2, column 0";
  EXPECT_TRUE(c.weights.cold_order);
  EXPECT_EQ(c.weights.cold_order_visual, 100.f);
  EXPECT_GT(c.chosen_auc, 0.95);
  EXPECT_LT(c.formula_auc, 0.8);
  EXPECT_EQ(c.weights.vasg, 1.f) << "the formula's weights stay";
  // Too few pairs to choose on: off.
  o.min_pairs = 41;
  const ColdOrderChoice few = ChooseColdOrder(shop.model, w, shop.pairs, o);
  EXPECT_FALSE(few.weights.cold_order);
  EXPECT_EQ(few.weights.cold_order_visual, 0.f);
  EXPECT_EQ(few.settings_tried, 0);
  // A grid that cannot beat the formula (ρ = 0, φ = 0 is the formula's V order): off.
  o.min_pairs = 10;
  o.visual = {0};
  o.freshness = {0};
  EXPECT_FALSE(ChooseColdOrder(shop.model, w, shop.pairs, o).weights.cold_order);
}

// The served ranking's holdout AUC over an even sample of the competitors estimates the AUC over
// all of them (the gate's cost at a million products), the cold order applied within the sample.
TEST(MeasureServedHoldout, ASampleOfTheCompetitorsEstimatesTheAucOverAll) {
  const PlantedColdShop shop = PlantCold(400);  // 800 products
  HybridWeights w;
  w.vasg = 1;
  w.popularity = 0.5f;
  w.cold_visual = 1;
  w.cold_order = true;
  w.cold_order_visual = 2;
  const double all = MeasureServedHoldout(shop.model, w, shop.pairs, 2, 800);
  const double sampled = MeasureServedHoldout(shop.model, w, shop.pairs, 2, 100);
  EXPECT_GT(all, 0.5) << "the planted look must rank the held-out cold products up";
  EXPECT_NE(sampled, all) << "100 of 800 competitors: a sample, not all of them";
  EXPECT_NEAR(sampled, all, 0.03);
  // Reproducible: the same sample for every pair and every call (threads change only the order
  // in which the pairs' shares are summed).
  EXPECT_NEAR(MeasureServedHoldout(shop.model, w, shop.pairs, 1, 100), sampled, 1e-9);
}

// The share of the products user u has not bought that score below t (ties half), by brute force.
double BruteForcePairAuc(const ModelVersion& m, const InteractionGraph& g, int32_t u, int32_t t, bool cosine) {
  auto score = [&](int32_t p) {
    double dot = 0, nu = 0, np = 0;
    for (int32_t d = 0; d < m.dim; ++d) {
      dot += static_cast<double>(m.user(u)[d]) * m.product(p)[d];
      nu += static_cast<double>(m.user(u)[d]) * m.user(u)[d];
      np += static_cast<double>(m.product(p)[d]) * m.product(p)[d];
    }
    return cosine ? dot / std::sqrt(nu * np) : dot;
  };
  const double s_t = score(t);
  double below = 0, n = 0;
  for (int32_t p = 0; p < static_cast<int32_t>(m.product_ids.size()); ++p) {
    if (p == t || std::count(&g.product_index[g.user_offsets[u]], &g.product_index[g.user_offsets[u + 1]], p)) continue;
    const double s = score(p);
    below += s < s_t ? 1 : (s == s_t ? 0.5 : 0);
    ++n;
  }
  return below / n;
}

// VASG's own holdout AUC (the retraining's record, and the gate of the VASG-only ranking): over
// every product it is the brute-force share, by the model's score; over an even sample it
// estimates it (exhaustive, it took 322 s of the 1M shop's retraining).
TEST(MeasureVasgHoldout, OverAllIsTheBruteForceAucAndASampleEstimatesIt) {
  const PlantedColdShop shop = PlantCold(400);  // 800 products
  ModelVersion dot = *shop.model;
  dot.score = "dot";
  // Norms that change the order: the held-out (cold) products the users' (1, 0) already likes
  // grow 5x, so by dot they pass their warm twins (same direction) and the AUC rises.
  for (size_t p = dot.product_ids.size() / 2; p < dot.product_ids.size(); ++p)
    if (dot.product_vectors[p * dot.dim] > 0)
      for (int32_t d = 0; d < dot.dim; ++d) dot.product_vectors[p * dot.dim + d] *= 5.0f;
  for (const ModelVersion* m : {static_cast<const ModelVersion*>(shop.model.get()), static_cast<const ModelVersion*>(&dot)}) {
    const bool cosine = m->score != "dot";
    double brute = 0;
    for (size_t i = 0; i < shop.pairs.users.size(); ++i)
      brute += BruteForcePairAuc(*m, shop.graph, shop.pairs.users[i], shop.pairs.products[i], cosine);
    brute /= static_cast<double>(shop.pairs.users.size());
    const double all = MeasureVasgHoldout(*m, shop.pairs, 2, 800);
    EXPECT_NEAR(all, brute, 1e-4) << m->score;
    const double sampled = MeasureVasgHoldout(*m, shop.pairs, 2, 100);
    EXPECT_NE(sampled, all) << "100 of 800 competitors: a sample, not all of them";
    EXPECT_NEAR(sampled, all, 0.03) << m->score;
    EXPECT_NEAR(MeasureVasgHoldout(*m, shop.pairs, 1, 100), sampled, 1e-9) << "the same sample on every call";
  }
  const double cosine_auc = MeasureVasgHoldout(*shop.model, shop.pairs, 2, 800);
  EXPECT_GT(MeasureVasgHoldout(dot, shop.pairs, 2, 800), cosine_auc + 0.05) << "the score kind is used";
}

// The choice scans the products in chunks for blocks of pairs: the planted visual twins (labels
// 1,200-2,399, across the chunks' seams) are found, and the result is the same float at any
// thread count (the holdout score is summed in pair order, so exact ties are decided alike).
TEST(WeightChoice, FindsTheVisualTwinsAcrossTheScanAndIsTheSameAtAnyThreadCount) {
  const PlantedColdShop shop = PlantCold(1200);
  HybridTables tables(shop.model, HybridWeights());
  ChoiceOptions o;
  o.candidates = 20;
  o.grids = {{0}, {0}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0}};
  std::vector<WeightChoice> runs;
  for (int threads : {1, 2, 3}) {
    o.threads = threads;
    Result<WeightChoice> c = ChooseWeights(tables, shop.pairs, o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    runs.push_back(*c);
  }
  EXPECT_GT(runs[0].weights.visual + runs[0].weights.cold_visual, 0.f);
  EXPECT_GT(runs[0].best.recall, 0.9) << "each user's twin shares the look of what they bought";
  for (const WeightChoice& c : runs) {
    EXPECT_EQ(c.weights.ToJson(), runs[0].weights.ToJson());
    EXPECT_EQ(c.best.recall, runs[0].best.recall);
    EXPECT_EQ(c.best.ndcg, runs[0].best.ndcg);
    EXPECT_EQ(c.vasg_only.ndcg, runs[0].vasg_only.ndcg);
  }
}

// Pairs whose held-out product only VASG predicts: the choice must raise w_v above 0.
TEST(WeightChoice, RaisesTheTermThatExplainsTheHoldout) {
  auto m = TinyModel();
  InteractionGraph g;  // user a bought p0, user b bought p1
  g.num_users = 2;
  g.num_products = 4;
  g.user_offsets = {0, 1, 2};
  g.product_index = {0, 1};
  g.weight = {1, 1};
  m->neighbour_lists.offsets = {0, 1, 2, 2, 2};  // p0 -> p1, p1 -> p0: the lists point away from p2
  m->neighbour_lists.neighbours = {1, 0};
  m->neighbour_lists.weights = {1, 1};
  HoldoutPairs pairs{&g, {1, 1, 1}, {2, 2, 2}};  // b (vector (0, 1)) went on to buy p2 (vector (0, 1))
  HybridTables tables(m, HybridWeights());
  ChoiceOptions o;
  o.k = 1;
  o.grids = {{1}, {0}, {0, 2}, {0}, {0}, {0}, {0}};  // w_v = 2 beats the lists' 1 for p0
  Result<WeightChoice> c = ChooseWeights(tables, pairs, o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->weights.vasg, 2.f);
  EXPECT_DOUBLE_EQ(c->best.recall, 1.0);
  EXPECT_DOUBLE_EQ(c->lists_only.recall, 0.0);
  EXPECT_DOUBLE_EQ(c->vasg_only.recall, 1.0);
  EXPECT_EQ(c->pairs, 3);
}

// Pairs whose held-out product is the newest, with nothing else pointing at it: the choice must
// raise w_f.
TEST(WeightChoice, RaisesFreshnessWhenTheHeldOutPurchasesAreOfNewProducts) {
  auto m = TinyModel();
  m->product_kind = {1, 1, 1, 1};
  m->product_vectors = {1, 0, 0.6f, 0.8f, 0, 1, 0.8f, 0.6f};
  InteractionGraph g;
  g.num_users = 2;
  g.num_products = 4;
  g.user_offsets = {0, 1, 2};
  g.product_index = {0, 1};
  g.weight = {1, 1};
  HoldoutPairs pairs{&g, {0, 1}, {3, 3}};
  HybridTables tables(m, HybridWeights());
  ChoiceOptions o;
  o.k = 1;
  o.grids = {{0}, {0}, {0}, {0, 1}, {0}, {0}, {0, 0.5f, 4}};
  Result<WeightChoice> c = ChooseWeights(tables, pairs, o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GT(c->weights.freshness, 0.f);
  EXPECT_DOUBLE_EQ(c->best.recall, 1.0);
  EXPECT_DOUBLE_EQ(c->popularity_only.recall, 0.0);
}

SyntheticShop SmallShop(int feature_dim) {
  SyntheticShopOptions so;
  so.num_users = 400;
  so.num_products = 200;
  so.num_clusters = 5;
  so.feature_dim = feature_dim;
  so.seed = 3;
  return MakeSyntheticShop(so);
}

Config FastConfig(uint64_t seed) {
  Config c;
  c.train.dim = 16;
  c.train.walks_per_node = 4;
  c.train.walk_length = 20;
  c.train.encoder_epochs = 5;
  c.train.threads = 1;  // Hogwild on several threads races by design: bitwise reproducible on one
  c.train.seed = seed;
  c.retrain.holdout_fraction = 0.3;
  return c;
}

nlohmann::json Hybrid(const ModelVersion& m) { return nlohmann::json::parse(m.manifest_extra_json)["hybrid"]; }

TEST(FitVersion, ChoosesWeightsOnItsHoldoutReproduciblyFromTheSeed) {
  const SyntheticShop shop = SmallShop(16);
  Result<FittedVersion> a = FitVersion(shop.train, FastConfig(7), nullptr);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Result<FittedVersion> b = FitVersion(shop.train, FastConfig(7), nullptr);
  ASSERT_TRUE(b.ok());
  const nlohmann::json h = Hybrid(a->model);
  EXPECT_EQ(h["weights"], Hybrid(b->model)["weights"]) << "same seed, same snapshot: same weights";
  EXPECT_EQ(a->model.neighbour_lists.neighbours, b->model.neighbour_lists.neighbours);
  EXPECT_GT(h["holdout"]["pairs"].get<int>(), 50);
  // The chosen blend is at least as good on the holdout as each term alone.
  const double chosen = h["holdout"]["chosen"]["recall@20"];
  for (const char* alone : {"lists_only", "vasg_only", "popularity_only"})
    EXPECT_GE(chosen, h["holdout"][alone]["recall@20"].get<double>()) << alone;
  // Refit: the served lists come from the whole graph, so they differ from the holdout's.
  EXPECT_FALSE(a->model.neighbour_lists.empty());
  EXPECT_EQ(a->model.visual_dim, 16);
  EXPECT_TRUE(h["lists_tried"].size() >= 9u);
  // The cold order was tried on the holdout's cold purchases and its choice recorded.
  ASSERT_TRUE(h.contains("cold_order"));
  EXPECT_EQ(h["cold_order"]["on"], h["weights"]["cold_order"]);
  EXPECT_GE(h["cold_order"]["pairs"].get<int>(), 0);
}

TEST(FitVersion, RefitVasgTrainsTheServedVectorsOnTheWholeGraphAndGatesOnTheHoldoutModel) {
  const SyntheticShop shop = SmallShop(16);
  Config c = FastConfig(5);
  c.retrain.refit_vasg = false;
  Result<FittedVersion> kept = FitVersion(shop.train, c, nullptr);
  c.retrain.refit_vasg = true;
  Result<FittedVersion> refit = FitVersion(shop.train, c, nullptr);
  ASSERT_TRUE(kept.ok() && refit.ok());
  // The gate's AUC comes from the model that never saw the held-out pairs, in both cases.
  EXPECT_GT(kept->holdout_auc, 0.5);
  EXPECT_EQ(refit->holdout_auc, kept->holdout_auc);
  EXPECT_EQ(Hybrid(refit->model)["weights"], Hybrid(kept->model)["weights"]);
  EXPECT_NE(refit->model.user_vectors, kept->model.user_vectors);
  EXPECT_EQ(Hybrid(refit->model)["refit"], "lists and VASG on the whole graph");
  const nlohmann::json extra = nlohmann::json::parse(refit->model.manifest_extra_json);
  EXPECT_EQ(extra["data"]["edges"].get<int64_t>(), shop.train.graph.num_edges()) << "the served VASG saw every purchase";
  EXPECT_LT(extra["holdout_training"]["data"]["edges"].get<int64_t>(), shop.train.graph.num_edges());
  // The refit starts from the holdout model (retrain.refit_from_holdout) with a warm start's epochs.
  const int warm_epochs = std::max(1, static_cast<int>(std::ceil(c.train.epochs * c.train.warm_start_epoch_fraction)));
  EXPECT_FALSE(extra["holdout_training"]["training"]["warm_started"].get<bool>());
  EXPECT_TRUE(extra["training"]["warm_started"].get<bool>());
  EXPECT_EQ(extra["training"]["epochs_run"].get<int>(), warm_epochs);
  EXPECT_GT(extra["training"]["encoder_epochs_run"].get<int>(), 0) << "an uncapped corpus refits everything";
  // Where the corpus is capped (retrain.refit_walks = "auto"), the refit walks only from the
  // held-out users and products and keeps the holdout model's encoder.
  Config capped = c;
  capped.train.max_walk_tokens = extra["training"]["tokens"].get<int64_t>() - 1;  // the whole graph's walks, less a hair
  Result<FittedVersion> scoped = FitVersion(shop.train, capped, nullptr);
  ASSERT_TRUE(scoped.ok());
  const nlohmann::json sx = nlohmann::json::parse(scoped->model.manifest_extra_json);
  EXPECT_EQ(Hybrid(scoped->model)["refit"], "lists on the whole graph; VASG walked from the held-out users and products, encoder kept");
  EXPECT_EQ(sx["training"]["encoder_epochs_run"].get<int>(), 0);
  EXPECT_EQ(sx["data"]["edges"].get<int64_t>(), shop.train.graph.num_edges());
  capped.retrain.refit_walks = "all";
  Result<FittedVersion> all = FitVersion(shop.train, capped, nullptr);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Hybrid(all->model)["refit"], "lists and VASG on the whole graph");
  const int64_t all_tokens = nlohmann::json::parse(all->model.manifest_extra_json)["training"]["tokens"];
  EXPECT_LT(sx["training"]["tokens"].get<int64_t>(), all_tokens / 2) << "walks from the held-out nodes alone";
  c.retrain.refit_from_holdout = false;
  Result<FittedVersion> scratch = FitVersion(shop.train, c, nullptr);
  ASSERT_TRUE(scratch.ok());
  const nlohmann::json from_scratch = nlohmann::json::parse(scratch->model.manifest_extra_json);
  EXPECT_FALSE(from_scratch["training"]["warm_started"].get<bool>());
  EXPECT_EQ(from_scratch["training"]["epochs_run"].get<int>(), c.train.epochs);
}

// A retraining builds the lists it chooses among only for the rows its holdout reads
// (RowsReadByTheHoldout): the weights, the similar weight and the gate must come out exactly as
// with the whole lists.
TEST(FitVersion, ListsBuiltForTheRowsTheHoldoutReadsChooseAsTheWholeListsDo) {
  const SyntheticShop shop = SmallShop(16);
  Result<FittedVersion> fitted = FitVersion(shop.train, FastConfig(7), nullptr);  // vectors and features
  ASSERT_TRUE(fitted.ok()) << fitted.status().ToString();
  const HoldoutSplit split = SplitHoldout(shop.train, 0.3, 7);
  const HoldoutPairs pairs{&split.train, split.test_user, split.test_product};
  ASSERT_GT(pairs.users.size(), 50u);
  const std::vector<int32_t> rows = RowsReadByTheHoldout(pairs);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  const CoPurchaseGraph walk = CoPurchaseGraph::Build(split.train, 500, 7);
  NeighbourBuildOptions o;
  o.top_k = 50;
  o.threads = 2;
  auto whole = std::make_shared<ModelVersion>(fitted->model);
  whole->neighbour_lists = BuildRp3bLists(walk, 0.8, 0.2, o);
  o.rows = rows;
  auto some = std::make_shared<ModelVersion>(fitted->model);
  some->neighbour_lists = BuildRp3bLists(walk, 0.8, 0.2, o);
  ASSERT_LT(some->neighbour_lists.size(), whole->neighbour_lists.size()) << "some rows must be left out";

  const HoldoutScore la = ListsScore(whole->neighbour_lists, pairs, 20), lb = ListsScore(some->neighbour_lists, pairs, 20);
  EXPECT_GT(la.recall, 0);
  EXPECT_EQ(la.recall, lb.recall);
  EXPECT_EQ(la.ndcg, lb.ndcg);
  ChoiceOptions co;
  co.threads = 1;
  co.grids = {{1, 0}, {}, {0, 0.5f, 2}, {0, 0.2f}, {0, 0.4f}, {0, 0.5f}, {0, 0.2f}};
  const HybridTables ta(whole, HybridWeights()), tb(some, HybridWeights());
  const Result<WeightChoice> ca = ChooseWeights(ta, pairs, co), cb = ChooseWeights(tb, pairs, co);
  ASSERT_TRUE(ca.ok() && cb.ok());
  EXPECT_EQ(ca->weights.ToJson(), cb->weights.ToJson());
  EXPECT_EQ(ca->best.recall, cb->best.recall);
  EXPECT_EQ(ca->best.ndcg, cb->best.ndcg);
  HybridWeights served = ca->weights;
  served.neighbours = 1;
  served.cold_order = true;  // the cold query reads the user's top list products
  served.cold_order_visual = 1;
  EXPECT_EQ(MeasureServedHoldout(whole, served, pairs, 1), MeasureServedHoldout(some, served, pairs, 1));
  const SimilarChoice sa = ChooseSimilarWeight(*whole, pairs, {0, 0.5f, 2, 1000}, 1);
  // At another thread count too: the scores are summed in pair order, the same floats on any split.
  const SimilarChoice sb = ChooseSimilarWeight(*some, pairs, {0, 0.5f, 2, 1000}, 3);
  EXPECT_EQ(sa.list_weight, sb.list_weight);
  ASSERT_EQ(sa.tried.size(), sb.tried.size());
  for (size_t i = 0; i < sa.tried.size(); ++i) {
    EXPECT_EQ(sa.tried[i].second.recall, sb.tried[i].second.recall) << "w_l " << sa.tried[i].first;
    EXPECT_EQ(sa.tried[i].second.ndcg, sb.tried[i].second.ndcg) << "w_l " << sa.tried[i].first;
  }
}

TEST(FitVersion, AGraphWithoutFeaturesTrainsTheHybridWithoutVisualTerms) {
  const SyntheticShop shop = SmallShop(0);
  ASSERT_EQ(shop.train.features.dim, 0);
  Result<FittedVersion> f = FitVersion(shop.train, FastConfig(1), nullptr);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->model.visual_dim, 0);
  EXPECT_TRUE(f->model.encoder.empty());
  const nlohmann::json w = Hybrid(f->model)["weights"];
  EXPECT_EQ(w["visual"].get<double>(), 0.0);
  EXPECT_EQ(w["cold_visual"].get<double>(), 0.0);
  EXPECT_FALSE(f->model.neighbour_lists.empty());
}

}  // namespace
}  // namespace vasgd

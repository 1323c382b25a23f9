// Every endpoint of the real daemon (`vasgd serve` as a child process, real RocksDB, real HTTP
// over loopback, a model trained by the real trainer in the daemon's training child), with its
// answers checked against the ranking computed here from the model version's files: the hybrid
// formula with the weights its manifest records (HybridTopK), cosine for similar products.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "rank/user_candidates.h"
#include "tests/daemon/serve_harness.h"

namespace vasgd::testing_daemon {
namespace {

// A daemon serving the small shop, trained once per suite (Suite: the fixture, so that each
// suite has its own daemon), with the config TestConfig gives, changed by `tweak`. A failure
// while starting fails every test of the suite (SuiteSetUpChecked).
template <typename Suite>
class ServedShop : public SuiteSetUpChecked<Suite> {
 protected:
  using SuiteSetUpChecked<Suite>::SetUpFailed;

  static void StartServing(const std::function<void(ConfigMap*)>& tweak = nullptr, int32_t feature_dim = 8) {
    dir_ = new TempDir();
    shop_ = new SyntheticShop(SmallShop(feature_dim));
    ConfigMap config = TestConfig(dir_->path() + "/data");
    if (tweak) tweak(&config);
    serve_ = ServeProcess::Start(WriteConfig(dir_->path() + "/vasgd.toml", config), dir_->path() + "/serve.log").release();
    if (serve_ == nullptr) return SetUpFailed("vasgd serve did not start");
    if (!PostEvents(*serve_, ShopEvents(*shop_))) return SetUpFailed("the shop's events were not all accepted");
    if (serve_->Retrain().empty()) return SetUpFailed("the first retraining did not finish\n" + serve_->Log());
    const std::string error = LastError(serve_->StatusJson());
    if (!error.empty()) return SetUpFailed("retraining failed: " + error + "\n" + serve_->Log());
    model_ = new ModelVersion(CurrentModel(dir_->path() + "/data"));
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete model_;
    delete shop_;
    delete dir_;
  }

  // The shop's training purchases of user u.
  static std::set<std::string> Purchases(int32_t u) {
    std::set<std::string> out;
    const InteractionGraph& g = shop_->train.graph;
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) out.insert(shop_->train.product_ids[g.product_index[e]]);
    return out;
  }
  static const float* UserVector(const std::string& user) {
    auto it = std::find(model_->user_ids.begin(), model_->user_ids.end(), user);
    return it == model_->user_ids.end() ? nullptr : model_->user(static_cast<int32_t>(it - model_->user_ids.begin()));
  }

  static const float* ProductVector(const std::string& product) {
    auto it = std::find(model_->product_ids.begin(), model_->product_ids.end(), product);
    return it == model_->product_ids.end() ? nullptr
                                           : model_->product(static_cast<int32_t>(it - model_->product_ids.begin()));
  }
  // The similar ranking of `product` (rank/similar.h) from the model's files: cosine against every
  // other product with a vector, plus the manifest's list weight times the product's list row
  // normalised to its largest weight (a product without a row: cosine alone).
  static std::vector<Ranked> ExactSimilar(const std::string& product, size_t k) {
    ModelVersion cosine_view = *model_;
    cosine_view.score = "cosine";  // product -> product is always cosine
    const float wl = json::parse(model_->manifest_extra_json)["hybrid"]["similar"].value("list_weight", 0.0f);
    std::map<std::string, float> terms;
    const int32_t a = static_cast<int32_t>(std::find(model_->product_ids.begin(), model_->product_ids.end(), product) -
                                           model_->product_ids.begin());
    const NeighbourLists& l = model_->neighbour_lists;
    if (wl > 0 && a < l.num_products && l.offsets[a + 1] > l.offsets[a]) {
      const float best = *std::max_element(l.weights.begin() + l.offsets[a], l.weights.begin() + l.offsets[a + 1]);
      for (int64_t e = l.offsets[a]; e < l.offsets[a + 1]; ++e) terms[model_->product_ids[l.neighbours[e]]] = wl * l.weights[e] / best;
    }
    return ExactTopK(cosine_view, ProductVector(product), {product}, k, {}, terms);
  }

  static inline TempDir* dir_ = nullptr;
  static inline SyntheticShop* shop_ = nullptr;
  static inline ServeProcess* serve_ = nullptr;
  static inline ModelVersion* model_ = nullptr;
};

class ServeApiTest : public ServedShop<ServeApiTest> {
 protected:
  static void SetUpTestSuite() { StartServing(); }

  static int32_t Kind(const std::string& product) {
    auto it = std::find(model_->product_ids.begin(), model_->product_ids.end(), product);
    return model_->product_kind[it - model_->product_ids.begin()];
  }
  static std::vector<std::string> Ids(const json& items) {
    std::vector<std::string> out;
    for (const json& i : items) out.push_back(i["product"].get<std::string>());
    return out;
  }
};

TEST_F(ServeApiTest, RecommendationsMatchTheHybridFormulaOfTheModelVersion) {
  ASSERT_FALSE(model_->version.empty());
  const json hybrid = json::parse(model_->manifest_extra_json)["hybrid"];
  ASSERT_TRUE(hybrid.contains("weights")) << "the retraining recorded no hybrid weights";
  EXPECT_GT(hybrid["holdout"]["pairs"].get<int>(), 0);
  const std::set<std::string> reasons = {"bought-with",      "taste",      "popular",
                                         "visual-match",     "new-visual-match", "new-arrival"};
  for (int32_t u = 20; u < 60; ++u) {
    const std::string user = "u" + std::to_string(u);
    json r = serve_->GetJson("/v1/users/" + user + "/recommendations?k=10");
    ASSERT_EQ(r["__status"], 200) << r.dump();
    EXPECT_EQ(r["user"], user);
    EXPECT_EQ(r["strategy"], "model");
    EXPECT_EQ(r["model_version"], model_->version);
    EXPECT_TRUE(MatchesRanking(r["items"], HybridTopK(*model_, UserVector(user), Purchases(u), Purchases(u), 10))) << user;
    for (const json& item : r["items"]) EXPECT_TRUE(reasons.count(item["reason"].get<std::string>())) << item.dump();
  }
}

TEST_F(ServeApiTest, OffsetPagesThroughTheSameRanking) {
  json all = serve_->GetJson("/v1/users/u21/recommendations?k=12");
  json second = serve_->GetJson("/v1/users/u21/recommendations?k=6&offset=6");
  ASSERT_EQ(all["__status"], 200);
  ASSERT_EQ(second["__status"], 200);
  std::vector<std::string> ids = Ids(all["items"]);
  EXPECT_EQ(Ids(second["items"]), std::vector<std::string>(ids.begin() + 6, ids.end()));
}

TEST_F(ServeApiTest, ExcludeAndCategoryFilterWithoutShorteningTheAnswer) {
  const std::set<std::string> bought = Purchases(22);
  const std::vector<Ranked> top = HybridTopK(*model_, UserVector("u22"), bought, bought, 10);
  json r = serve_->GetJson("/v1/users/u22/recommendations?k=10&exclude=" + top[0].product + "," + top[1].product);
  ASSERT_EQ(r["__status"], 200);
  std::set<std::string> excluded = bought;
  excluded.insert(top[0].product);
  excluded.insert(top[1].product);
  EXPECT_TRUE(MatchesRanking(r["items"], HybridTopK(*model_, UserVector("u22"), bought, excluded, 10)));

  // category c2 = the shop's cluster 2: every other product is excluded from the exact ranking.
  std::set<std::string> not_c2 = bought;
  for (size_t p = 0; p < shop_->product_cluster.size(); ++p) {
    if (shop_->product_cluster[p] != 2) not_c2.insert(shop_->train.product_ids[p]);
  }
  json c = serve_->GetJson("/v1/users/u22/recommendations?k=15&category=c2");
  ASSERT_EQ(c["__status"], 200);
  EXPECT_EQ(c["items"].size(), 15u);
  EXPECT_TRUE(MatchesRanking(c["items"], HybridTopK(*model_, UserVector("u22"), bought, not_c2, 15)));
  json none = serve_->GetJson("/v1/users/u22/recommendations?k=5&category=no-such-category");
  EXPECT_EQ(none["__status"], 200);
  EXPECT_TRUE(none["items"].empty());
}

TEST_F(ServeApiTest, APurchaseChangesTheUsersExclusionsAtOnce) {
  json before = serve_->GetJson("/v1/users/u10/recommendations?k=5");
  ASSERT_EQ(before["__status"], 200);
  const std::string top = before["items"][0]["product"];
  json ingest = serve_->PostJson("/v1/events", "[" + PurchaseEvent("u10", top) + "]");
  ASSERT_EQ(ingest["accepted"], 1) << ingest.dump();
  json after = serve_->GetJson("/v1/users/u10/recommendations?k=5");
  std::vector<std::string> ids = Ids(after["items"]);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), top), 0) << "a just-bought product is still recommended";
  EXPECT_EQ(ids.size(), 5u);
  // include_purchased lifts the exclusions; the new purchase counts in the lists' term already.
  std::set<std::string> bought = Purchases(10);
  bought.insert(top);
  json with = serve_->GetJson("/v1/users/u10/recommendations?k=5&include_purchased=true");
  EXPECT_TRUE(MatchesRanking(with["items"], HybridTopK(*model_, UserVector("u10"), bought, {}, 5)));
}

// Live scoring: a purchase made after the retraining changes the user's next answer through the
// lists (what people who bought it go on to buy) and the visual profile, not only by excluding it.
TEST_F(ServeApiTest, APurchaseChangesTheNextRankingNotOnlyItsExclusions) {
  const NeighbourLists& lists = model_->neighbour_lists;
  ASSERT_FALSE(lists.empty());
  const std::set<std::string> bought = Purchases(30);
  // A product u30 has not bought whose list changes u30's ranking beyond its own exclusion.
  auto ids = [](const std::vector<Ranked>& r) {
    std::vector<std::string> out;
    for (const Ranked& x : r) out.push_back(x.product);
    return out;
  };
  std::string x;
  std::vector<Ranked> expected, unchanged;
  for (int32_t p = 0; p < lists.num_products && x.empty(); ++p) {
    if (bought.count(model_->product_ids[p]) || lists.offsets[p + 1] == lists.offsets[p]) continue;
    std::set<std::string> after = bought;
    after.insert(model_->product_ids[p]);
    expected = HybridTopK(*model_, UserVector("u30"), after, after, 10);
    unchanged = HybridTopK(*model_, UserVector("u30"), bought, after, 10);
    if (ids(expected) != ids(unchanged)) x = model_->product_ids[p];
  }
  ASSERT_FALSE(x.empty()) << "no purchase would change u30's answer beyond its exclusion";
  ASSERT_EQ(serve_->PostJson("/v1/events", "[" + PurchaseEvent("u30", x) + "]")["accepted"], 1);
  json r = serve_->GetJson("/v1/users/u30/recommendations?k=10");
  ASSERT_EQ(r["__status"], 200);
  EXPECT_TRUE(MatchesRanking(r["items"], expected)) << "the answer does not follow the purchase";
  EXPECT_FALSE(MatchesRanking(r["items"], unchanged)) << "only the exclusion changed";
}

TEST_F(ServeApiTest, AvailabilityHidesAndRestoresAProductAtOnce) {
  json before = serve_->GetJson("/v1/users/u30/recommendations?k=5");
  const std::string top = before["items"][0]["product"];
  // The product that ranks `top` highest among its similar products, and how deep that is.
  std::string neighbour;
  size_t depth = SIZE_MAX;
  for (size_t p = 0; p < model_->product_ids.size(); ++p) {
    if (model_->product_kind[p] == 0 || model_->product_ids[p] == top) continue;
    const std::vector<Ranked> similar = ExactSimilar(model_->product_ids[p], std::min<size_t>(depth, 200));
    for (size_t i = 0; i < similar.size(); ++i)
      if (similar[i].product == top && i < depth) depth = i, neighbour = model_->product_ids[p];
  }
  ASSERT_FALSE(neighbour.empty());
  const std::string similar_k = std::to_string(std::max<size_t>(5, depth + 1));
  auto contains_top = [&](const json& items) {
    for (const json& i : items) {
      if (i["product"] == top) return true;
    }
    return false;
  };
  ASSERT_TRUE(contains_top(serve_->GetJson("/v1/products/" + neighbour + "/similar?k=" + similar_k)["items"]));

  ASSERT_EQ(serve_->PostJson("/v1/events", R"([{"type":"product","product":")" + top + R"(","available":false}])")["accepted"], 1);
  const std::vector<std::string> targets = {"/v1/users/u30/recommendations?k=50",
                                            "/v1/products/" + neighbour + "/similar?k=50",
                                            "/v1/users/nobody-at-all/recommendations?k=50"};
  for (const std::string& target : targets) {
    json r = serve_->GetJson(target);
    ASSERT_EQ(r["__status"], 200) << target;
    std::vector<std::string> ids = Ids(r["items"]);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), top), 0) << target << " still returns a hidden product";
    EXPECT_EQ(ids.size(), 50u);
  }
  ASSERT_EQ(serve_->PostJson("/v1/events", R"([{"type":"product","product":")" + top + R"(","available":true}])")["accepted"], 1);
  EXPECT_EQ(serve_->GetJson("/v1/users/u30/recommendations?k=5")["items"][0]["product"], top);
  EXPECT_TRUE(contains_top(serve_->GetJson("/v1/products/" + neighbour + "/similar?k=" + similar_k)["items"]));
}

TEST_F(ServeApiTest, AnUnknownUserGetsThePopularProducts) {
  json r = serve_->GetJson("/v1/users/someone-new/recommendations?k=8");
  ASSERT_EQ(r["__status"], 200);
  EXPECT_EQ(r["strategy"], "popular");
  // The model's popularity (training purchase weight), ties by product order.
  std::vector<int32_t> order(model_->product_ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(), [](int32_t a, int32_t b) { return model_->popularity[a] > model_->popularity[b]; });
  ASSERT_EQ(r["items"].size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_FLOAT_EQ(r["items"][i]["score"].get<float>(), model_->popularity[order[i]]) << i;
  }
}

TEST_F(ServeApiTest, ANewUserWithPurchasesGetsAFoldIn) {
  // Three products the model embedded; the fold-in is the mean of their unit vectors.
  std::vector<std::string> bought = {shop_->train.product_ids[5], shop_->train.product_ids[10], shop_->train.product_ids[15]};
  std::string body = "[";
  for (const std::string& p : bought) body += (body.size() > 1 ? "," : "") + PurchaseEvent("fresh-user", p);
  ASSERT_EQ(serve_->PostJson("/v1/events", body + "]")["accepted"], 3);
  std::vector<float> query(model_->dim, 0.0f);
  for (const std::string& p : bought) {
    ASSERT_NE(Kind(p), 0);
    const float* v = ProductVector(p);
    const double norm = std::sqrt(Dot(v, v, model_->dim));
    for (int32_t i = 0; i < model_->dim; ++i) query[i] += static_cast<float>(v[i] / norm / 3.0);
  }
  json r = serve_->GetJson("/v1/users/fresh-user/recommendations?k=10");
  ASSERT_EQ(r["__status"], 200);
  EXPECT_EQ(r["strategy"], "fold-in");
  const std::set<std::string> purchased(bought.begin(), bought.end());
  EXPECT_TRUE(MatchesRanking(r["items"], HybridTopK(*model_, query.data(), purchased, purchased, 10)));
}

TEST_F(ServeApiTest, SimilarWorksForWarmAndColdProducts) {
  std::string warm, cold;
  for (size_t p = 0; p < model_->product_ids.size(); ++p) {
    if (model_->product_kind[p] == 1 && warm.empty()) warm = model_->product_ids[p];
    if (model_->product_kind[p] == 2 && cold.empty()) cold = model_->product_ids[p];
  }
  ASSERT_FALSE(warm.empty());
  ASSERT_FALSE(cold.empty()) << "the shop has cold products with features: the encoder must embed them";
  for (const std::string& p : {warm, cold}) {
    json r = serve_->GetJson("/v1/products/" + p + "/similar?k=10");
    ASSERT_EQ(r["__status"], 200) << p;
    EXPECT_EQ(r["product"], p);
    EXPECT_TRUE(MatchesRanking(r["items"], ExactSimilar(p, 10))) << p;
  }
}

TEST_F(ServeApiTest, AnalogyIsVectorArithmeticOverEmbeddings) {
  const std::string p = model_->product_ids[3];
  ASSERT_NE(Kind(p), 0);
  json r = serve_->PostJson("/v1/analogy", R"({"positive":["p:)" + p + R"(","u:u2"],"negative":["u:u1"],"k":7})");
  ASSERT_EQ(r["__status"], 200) << r.dump();
  std::vector<float> q(model_->dim);
  for (int32_t i = 0; i < model_->dim; ++i) q[i] = ProductVector(p)[i] - UserVector("u1")[i] + UserVector("u2")[i];
  EXPECT_TRUE(MatchesRanking(r["items"], ExactTopK(*model_, q.data(), {p}, 7)));
  EXPECT_EQ(serve_->PostJson("/v1/analogy", R"({"positive":["u:ghost"],"k":3})")["__status"], 404);
  EXPECT_EQ(serve_->PostJson("/v1/analogy", R"({"positive":["p:ghost"],"k":3})")["__status"], 404);
  EXPECT_EQ(serve_->PostJson("/v1/analogy", R"({"positive":"nope"})")["__status"], 400);
}

TEST_F(ServeApiTest, ErrorsAreJsonWithTheRightStatus) {
  auto code = [](const json& j) { return j["error"]["code"].is_string() && j["error"]["message"].is_string(); };
  // 401: admin endpoints without or with a wrong token; the right one works.
  json no_token = serve_->GetJson("/v1/admin/status");
  EXPECT_EQ(no_token["__status"], 401);
  EXPECT_TRUE(code(no_token));
  EXPECT_EQ(serve_->GetJson("/v1/admin/status", "wrong")["__status"], 401);
  EXPECT_EQ(serve_->Post("/v1/admin/retrain", "").status, 401);
  EXPECT_EQ(serve_->Post("/v1/admin/rollback", "", "wrong").status, 401);
  EXPECT_EQ(serve_->GetJson("/v1/admin/status", kAdminToken)["__status"], 200);
  // 404: unknown product, unknown path.
  json missing = serve_->GetJson("/v1/products/no-such-product/similar");
  EXPECT_EQ(missing["__status"], 404);
  EXPECT_TRUE(code(missing));
  EXPECT_EQ(serve_->Get("/v1/nothing").status, 404);
  // 400: bad k.
  for (const char* k : {"0", "-1", "abc", "1001", "2.5"}) {
    json bad = serve_->GetJson(std::string("/v1/users/u1/recommendations?k=") + k);
    EXPECT_EQ(bad["__status"], 400) << k;
    EXPECT_TRUE(code(bad)) << k;
  }
  EXPECT_EQ(serve_->Get("/v1/products/p1/similar?k=0").status, 400);
  EXPECT_EQ(serve_->Get("/v1/users/u1/recommendations?offset=-3").status, 400);
  // 413: a body over http.max_body_bytes (65536 in the test config).
  json big = serve_->PostJson("/v1/events", "[" + std::string(70000, ' ') + "]");
  EXPECT_EQ(big["__status"], 413);
  EXPECT_EQ(serve_->Post("/v1/events", "{not json").status, 400);
}

TEST_F(ServeApiTest, EventsAnswerPerEventWithReasons) {
  const std::string good = PurchaseEvent("ev-user", shop_->train.product_ids[1]);
  const std::string bad_weight = R"({"type":"purchase","user":"ev-user","product":"p2","weight":-1})";
  const std::string bad_dim = R"({"type":"product","product":"ev-product","features":[1,2,3]})";
  const std::string bad_type = R"({"type":"refund","user":"ev-user","product":"p2"})";
  const double before = serve_->Metric("vasgd_events_rejected_total{reason=\"bad_weight\"}");
  json r = serve_->PostJson("/v1/events", "[" + good + "," + bad_weight + "," + bad_dim + "," + bad_type + "]");
  ASSERT_EQ(r["__status"], 200) << r.dump();
  EXPECT_EQ(r["accepted"], 1);
  EXPECT_EQ(r["rejected"], 3);
  ASSERT_EQ(r["results"].size(), 4u);
  EXPECT_EQ(r["results"][0]["accepted"], true);
  EXPECT_EQ(r["results"][1]["reason"].get<std::string>().rfind("bad_weight", 0), 0u) << r.dump();
  EXPECT_EQ(r["results"][2]["reason"].get<std::string>().rfind("feature_dim_mismatch", 0), 0u) << r.dump();
  EXPECT_EQ(r["results"][3]["reason"].get<std::string>().rfind("unknown_type", 0), 0u) << r.dump();
  EXPECT_EQ(serve_->Metric("vasgd_events_rejected_total{reason=\"bad_weight\"}"), before + 1);
  // The valid one took effect: the user exists now (fold-in from its purchase).
  EXPECT_EQ(serve_->GetJson("/v1/users/ev-user/recommendations?k=3")["strategy"], "fold-in");
}

TEST_F(ServeApiTest, StatusReadinessAndMetrics) {
  ASSERT_EQ(serve_->Get("/v1/users/u1/recommendations?k=3").status, 200);  // a request to count
  json s = serve_->StatusJson();
  EXPECT_EQ(s["model_version"], model_->version);
  EXPECT_EQ(s["trained_at"], model_->trained_at);
  EXPECT_EQ(s["training"]["running"], false);
  EXPECT_EQ(LastError(s), "");
  EXPECT_TRUE(s["consumer_lag"].is_null()) << "no Kafka configured";
  EXPECT_GE(s["graph"]["users"].get<int64_t>(), shop_->train.graph.num_users);
  EXPECT_GE(s["graph"]["products"].get<int64_t>(), shop_->train.graph.num_products);
  EXPECT_GE(s["graph"]["edges"].get<int64_t>(), shop_->train.graph.num_edges());
  EXPECT_EQ(serve_->Get("/healthz").status, 200);
  EXPECT_EQ(serve_->Get("/readyz").status, 200);

  EXPECT_GE(serve_->Metric("vasgd_retrain_total{result=\"ok\"}"), 1);
  EXPECT_EQ(serve_->Metric("vasgd_index_products"),
            static_cast<double>(std::count_if(model_->product_kind.begin(), model_->product_kind.end(),
                                              [](uint8_t k) { return k != 0; })));
  EXPECT_GT(serve_->Metric("vasgd_process_resident_memory_bytes"), 1e6);
  EXPECT_GT(serve_->Metric("vasgd_store_memory_bytes{part=\"memtables\"}"), 0);  // the shop's events are in them
  // Every event is still in the memtables and nothing has been read from a table, so the block
  // cache may hold nothing yet: exported (NaN, absent, fails) and within its capacity
  // (store.block_cache_mb). LifecycleTest.RestartServesTheLastModelAtOnceWithTheSameAnswers
  // checks that it fills once the data is read from tables.
  const double block_cache = serve_->Metric("vasgd_store_memory_bytes{part=\"block_cache\"}");
  EXPECT_GE(block_cache, 0);
  EXPECT_LE(block_cache, static_cast<double>(StoreOptions().block_cache_mb) * (1 << 20));
  EXPECT_GT(serve_->Metric("vasgd_http_requests_total{route=\"recommendations\",code=\"200\"}"), 0);
  EXPECT_GT(serve_->Metric("vasgd_retrain_duration_seconds_count"), 0);
  EXPECT_TRUE(std::isfinite(serve_->Metric("vasgd_train_loss{part=\"skipgram\"}")));
  EXPECT_GT(serve_->Metric("vasgd_events_total{result=\"accepted\"}"), 0);
  EXPECT_GE(serve_->Metric("vasgd_model_holdout_auc"), 0.5);
  // The manifest records the validation that let the model be served.
  json manifest = json::parse(std::ifstream(dir_->path() + "/data/models/current/manifest.json"));
  EXPECT_EQ(manifest["validation"]["passed"], true);
  EXPECT_GT(manifest["validation"]["holdout_pairs"].get<int64_t>(), 0);
  EXPECT_GE(manifest["validation"]["holdout_auc"].get<double>(), 0.5);
  // No configured token ever reaches the log.
  EXPECT_EQ(serve_->Log().find(kAdminToken), std::string::npos);
}

// A model whose hybrid weights are pinned by one-value grids ([hybrid] in the config: the weight
// choice starts at, and can only keep, each grid's one value), with the cold visual term on: cold
// products (bought by nobody when it trained, or embedded live since) are lifted by the user's
// visual profile, and cold_share reserves slots for them.
class ServeHybridColdTest : public ServedShop<ServeHybridColdTest> {
 protected:
  static void SetUpTestSuite() {
    StartServing([](ConfigMap* c) {
      (*c)["hybrid"] = {{"neighbour_weights", "[1.0]"}, {"ease_weights", "[0.0]"}, {"vasg_weights", "[1.0]"},
                        {"popularity_weights", "[0.1]"}, {"visual_weights", "[0.2]"}, {"cold_visual_weights", "[1.0]"},
                        {"similar_list_weights", "[1.0]"}};
    });
  }
  static const float* Features(const std::string& product) {
    const TrainingData& d = shop_->train;
    auto it = std::find(d.product_ids.begin(), d.product_ids.end(), product);
    return it == d.product_ids.end() || !d.features.present[it - d.product_ids.begin()]
               ? nullptr : d.features.row(static_cast<int32_t>(it - d.product_ids.begin()));
  }
  static bool ModelCold(const std::string& product) {
    auto it = std::find(model_->product_ids.begin(), model_->product_ids.end(), product);
    return it != model_->product_ids.end() &&
           model_->product_kind[it - model_->product_ids.begin()] == static_cast<uint8_t>(ProductKind::kCold);
  }
};

TEST_F(ServeHybridColdTest, ColdProductsGetTheirVisualTermFromTheUsersProfile) {
  const json w = json::parse(model_->manifest_extra_json)["hybrid"]["weights"];
  EXPECT_EQ(w["cold_visual"].get<double>(), 1.0);
  EXPECT_EQ(w["visual"].get<float>(), 0.2f);
  int changed = 0;
  for (int32_t u = 20; u < 60; ++u) {
    const std::string user = "u" + std::to_string(u);
    json r = serve_->GetJson("/v1/users/" + user + "/recommendations?k=20");
    ASSERT_EQ(r["__status"], 200) << r.dump();
    const std::vector<Ranked> expected = HybridTopK(*model_, UserVector(user), Purchases(u), Purchases(u), 20);
    EXPECT_TRUE(MatchesRanking(r["items"], expected)) << user;
    const std::vector<Ranked> without = HybridTopK(*model_, UserVector(user), Purchases(u), Purchases(u), 20, {},
                                                   [](HybridWeights* w) { w->cold_visual = 0; });
    for (size_t i = 0; i < without.size(); ++i) changed += without[i].product != expected[i].product;
  }
  EXPECT_GT(changed, 0) << "the cold visual term never changed a ranking: the test checks nothing";
}

// Similar products of a warm product blend its list row in (w_l pinned to 1), a cold one has none.
TEST_F(ServeHybridColdTest, SimilarBlendsTheListRowForWarmProducts) {
  EXPECT_EQ(json::parse(model_->manifest_extra_json)["hybrid"]["similar"]["list_weight"].get<double>(), 1.0);
  int changed = 0, checked = 0;
  for (size_t p = 0; p < model_->product_ids.size() && checked < 20; ++p) {
    if (model_->product_kind[p] == 0) continue;
    const std::string id = model_->product_ids[p];
    json r = serve_->GetJson("/v1/products/" + id + "/similar?k=10");
    ASSERT_EQ(r["__status"], 200) << id;
    const std::vector<Ranked> expected = ExactSimilar(id, 10);
    EXPECT_TRUE(MatchesRanking(r["items"], expected)) << id;
    ModelVersion cosine_view = *model_;
    cosine_view.score = "cosine";
    const std::vector<Ranked> plain = ExactTopK(cosine_view, ProductVector(id), {id}, 10);
    for (size_t i = 0; i < plain.size(); ++i) changed += plain[i].product != expected[i].product;
    ++checked;
  }
  EXPECT_GT(changed, 0) << "the list row never changed a similar list: the test checks nothing";
}

// Runs before the live product arrives (tests run in file order), so the model's products are all.
TEST_F(ServeHybridColdTest, ColdShareReservesSlotsForColdProducts) {
  // A user whose plain top 10 holds fewer than 3 cold products.
  std::string user;
  int32_t u = 20;
  json plain, shared;
  int cold_in_plain = 0;
  for (; u < 120 && user.empty(); ++u) {
    plain = serve_->GetJson("/v1/users/u" + std::to_string(u) + "/recommendations?k=10");
    ASSERT_EQ(plain["__status"], 200);
    cold_in_plain = 0;
    for (const json& item : plain["items"]) cold_in_plain += ModelCold(item["product"]) ? 1 : 0;
    if (cold_in_plain < 3) user = "u" + std::to_string(u);
  }
  ASSERT_FALSE(user.empty()) << "every user's top 10 already holds 3 cold products: the test checks nothing";
  --u;
  const std::set<std::string> bought = Purchases(u);
  const std::vector<Ranked> ranking = HybridTopK(*model_, UserVector(user), bought, bought, model_->product_ids.size());
  shared = serve_->GetJson("/v1/users/" + user + "/recommendations?k=10&cold_share=3");
  ASSERT_EQ(shared["__status"], 200);
  // The expected answer: the best non-cold products of the ranking, then the best cold ones
  // that were not in the first 10, up to 3 cold products in all.
  std::vector<std::string> head, promoted;
  for (size_t i = 0; i < 10; ++i) head.push_back(ranking[i].product);
  const int room = 3 - cold_in_plain;
  for (size_t i = 10; i < ranking.size() && static_cast<int>(promoted.size()) < room; ++i)
    if (ModelCold(ranking[i].product)) promoted.push_back(ranking[i].product);
  ASSERT_EQ(static_cast<int>(promoted.size()), room);
  for (int dropped = 0, i = 9; dropped < room; --i)
    if (!ModelCold(head[i])) head.erase(head.begin() + i), ++dropped;
  head.insert(head.end(), promoted.begin(), promoted.end());
  ASSERT_EQ(shared["items"].size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(shared["items"][i]["product"], head[i]) << "rank " << i;
    if (i >= 10 - promoted.size()) {
      EXPECT_EQ(shared["items"][i]["reason"], "new-visual-match") << "rank " << i;
    }
  }
  json bad = serve_->GetJson("/v1/users/" + user + "/recommendations?k=10&cold_share=-1");
  EXPECT_EQ(bad["__status"], 400);
}

TEST_F(ServeHybridColdTest, AProductEmbeddedLiveGetsTheTermToo) {
  // A new product that looks exactly like one of u25's purchases.
  const std::set<std::string> bought = Purchases(25);
  const float* look = nullptr;
  for (const std::string& p : bought) look = look ? look : Features(p);
  ASSERT_NE(look, nullptr);
  const int32_t fdim = model_->encoder.input_dim();
  ASSERT_EQ(serve_->PostJson("/v1/events", "[" + ProductEvent("look-alike", look, fdim) + "]")["accepted"], 1);
  std::vector<float> embedding(model_->dim), scratch;
  model_->encoder.Forward(look, embedding.data(), &scratch);
  const std::vector<LiveProduct> live = {{"look-alike", embedding, look}};
  json r = serve_->GetJson("/v1/users/u25/recommendations?k=20");
  ASSERT_EQ(r["__status"], 200);
  EXPECT_TRUE(MatchesRanking(r["items"], HybridTopK(*model_, UserVector("u25"), bought, bought, 20, live)));
  bool found = false;
  for (const json& item : r["items"]) {
    if (item["product"] != "look-alike") continue;
    found = true;
    EXPECT_EQ(item["reason"], "new-visual-match");
  }
  EXPECT_TRUE(found) << "a live product that looks like the user's purchase is not in the top 20: " << r.dump();
}

// Candidate mode (index.exact_below = 1) with each user's nearest found at load, asked for more
// candidates than the shop has products (hybrid.serve_candidates), so that the candidates hold
// every product and the answers must be the formula's exactly: first from the nearest found at
// load, then, after UserCandidates::kRefreshAfter new products, from those found again in the
// background beside the scan of the products indexed since.
class ServeNearestTest : public ServedShop<ServeNearestTest> {
 protected:
  static void SetUpTestSuite() {
    StartServing([](ConfigMap* c) {
      (*c)["index"]["exact_below"] = "1";
      (*c)["hybrid"]["serve_candidates"] = "5000";
    });
  }
  // Posts n products with random features (ids prefix-0, ...) and records them, as the encoder
  // embeds them, in live_: the products the oracle adds to the model's.
  static void PostArrivals(const std::string& prefix, int n, uint32_t seed) {
    const int32_t fdim = model_->encoder.input_dim();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> look(0, 1);
    std::vector<float> scratch;
    std::string batch;
    for (int i = 0; i < n; ++i) {
      features_.emplace_back(fdim);
      for (float& x : features_.back()) x = look(rng);
      LiveProduct p{prefix + std::to_string(i), std::vector<float>(model_->dim), features_.back().data()};
      model_->encoder.Forward(p.features, p.vector.data(), &scratch);
      batch += (batch.empty() ? "[" : ",") + ProductEvent(p.id, p.features, fdim);
      live_.push_back(std::move(p));
      if (batch.size() > 50000 || i + 1 == n) {  // under the test config's max_body_bytes
        ASSERT_EQ(serve_->PostJson("/v1/events", batch + "]")["__status"], 200);
        batch.clear();
      }
    }
  }
  static inline std::vector<std::vector<float>> features_;  // live_'s features (their buffers stay put)
  static inline std::vector<LiveProduct> live_;

  static void ExpectTheFormulasAnswers(const std::vector<LiveProduct>& live) {
    for (int32_t u = 20; u < 30; ++u) {
      const std::string user = "u" + std::to_string(u);
      json r = serve_->GetJson("/v1/users/" + user + "/recommendations?k=20");
      ASSERT_EQ(r["__status"], 200) << r.dump();
      const std::set<std::string> bought = Purchases(u);
      EXPECT_TRUE(MatchesRanking(r["items"], HybridTopK(*model_, UserVector(user), bought, bought, 20, live))) << user;
    }
  }
};

TEST_F(ServeNearestTest, AnswersStayTheFormulasAsProductsArriveAndTheNearestAreFoundAgain) {
  EXPECT_EQ(serve_->Log().find("\"nearest_users\":0"), std::string::npos) << "no nearest were found at load";
  EXPECT_NE(serve_->Log().find("\"nearest_users\":"), std::string::npos);
  ExpectTheFormulasAnswers({});
  const char* found = "vasgd_hybrid_v_candidates_total{source=\"found-at-load\"}";
  const char* walked = "vasgd_hybrid_v_candidates_total{source=\"graph-walk\"}";
  EXPECT_GE(serve_->Metric(found), 10);
  EXPECT_EQ(serve_->Metric(walked), 0);
  PostArrivals("arrival-", UserCandidates::kRefreshAfter, 9);
  ASSERT_TRUE(WaitFor([&] { return serve_->Metric("vasgd_user_nearest_refreshes_total") >= 1; }, 60))
      << "the nearest were not found again after " << live_.size() << " new products";
  EXPECT_EQ(serve_->Metric("vasgd_index_products"),
            static_cast<double>(std::count_if(model_->product_kind.begin(), model_->product_kind.end(),
                                              [](uint8_t k) { return k != 0; }) + live_.size()));
  ExpectTheFormulasAnswers(live_);
  EXPECT_GE(serve_->Metric(found), 20);
  EXPECT_EQ(serve_->Metric(walked), 0) << "the products indexed since are scanned, not walked";
  // A category keeps walking the graph.
  ASSERT_EQ(serve_->GetJson("/v1/users/u22/recommendations?k=5&category=c2")["__status"], 200);
  EXPECT_EQ(serve_->Metric(walked), 1);
}

// A restart loads the last version and embeds the products the store holds beyond its snapshot
// (Reconcile); the nearest are extended over them before the version serves, and the answers stay
// the formula's with those products in it.
TEST_F(ServeNearestTest, ARestartExtendsTheNearestOverTheProductsItEmbeds) {
  PostArrivals("after-", 20, 17);
  ASSERT_EQ(serve_->Stop(), 0);
  delete serve_;
  serve_ = ServeProcess::Start(dir_->path() + "/vasgd.toml", dir_->path() + "/serve-2.log").release();
  ASSERT_NE(serve_, nullptr);
  EXPECT_EQ(serve_->Metric("vasgd_user_nearest_refreshes_total"), 1) << "extended once, before serving";
  EXPECT_NE(serve_->Log().find("\"event\":\"model.nearest_extended\""), std::string::npos);
  ExpectTheFormulasAnswers(live_);  // the 1,044 products since the model, all embedded again
}

// A retraining's version finds its nearest while the last one serves (one thread at nice 10), and
// its answers are its own formula's (the new products are in its snapshot now).
TEST_F(ServeNearestTest, ARetrainedVersionFindsItsNearestBesideServing) {
  const std::string first = model_->version;
  ASSERT_FALSE(serve_->Retrain().empty());
  *model_ = CurrentModel(dir_->path() + "/data");
  ASSERT_NE(model_->version, first);
  const std::string log = serve_->Log();
  const size_t loaded = log.rfind("\"event\":\"model.loaded\"");
  ASSERT_NE(loaded, std::string::npos);
  const std::string line = log.substr(loaded, log.find('\n', loaded) - loaded);
  EXPECT_NE(line.find(model_->version), std::string::npos) << line;
  EXPECT_EQ(line.find("\"nearest_users\":0"), std::string::npos) << line;
  const double found = serve_->Metric("vasgd_hybrid_v_candidates_total{source=\"found-at-load\"}");
  ExpectTheFormulasAnswers({});
  EXPECT_GE(serve_->Metric("vasgd_hybrid_v_candidates_total{source=\"found-at-load\"}"), found + 10);
}

// A shop that sends no product features at all: VASG trains as plain skip-gram, the hybrid
// without its visual terms, and every answer is still the formula's.
class ServeGraphOnlyTest : public ServedShop<ServeGraphOnlyTest> {
 protected:
  static void SetUpTestSuite() { StartServing(nullptr, /*feature_dim=*/0); }
};

TEST_F(ServeGraphOnlyTest, TrainsAndServesTheHybridWithoutFeatures) {
  EXPECT_EQ(model_->visual_dim, 0);
  EXPECT_TRUE(model_->encoder.empty());
  EXPECT_FALSE(model_->neighbour_lists.empty());
  const json w = json::parse(model_->manifest_extra_json)["hybrid"]["weights"];
  EXPECT_EQ(w["visual"].get<double>(), 0.0);
  EXPECT_EQ(w["cold_visual"].get<double>(), 0.0);
  for (int32_t u = 0; u < 30; ++u) {
    const std::string user = "u" + std::to_string(u);
    json r = serve_->GetJson("/v1/users/" + user + "/recommendations?k=10");
    ASSERT_EQ(r["__status"], 200) << r.dump();
    EXPECT_TRUE(MatchesRanking(r["items"], HybridTopK(*model_, UserVector(user), Purchases(u), Purchases(u), 10))) << user;
  }
  for (size_t p = 0; p < 10; ++p) {
    if (model_->product_kind[p] == 0) continue;  // cold products without features have no vector
    json r = serve_->GetJson("/v1/products/" + model_->product_ids[p] + "/similar?k=5");
    ASSERT_EQ(r["__status"], 200);
    EXPECT_TRUE(MatchesRanking(r["items"], ExactSimilar(model_->product_ids[p], 5)));
  }
  // A new product without features cannot be placed: it is known, has no vector, and is refused
  // by `similar` with a clear 404 rather than an empty or wrong answer.
  ASSERT_EQ(serve_->PostJson("/v1/events", R"([{"type":"product","product":"bare-new"}])")["accepted"], 1);
  EXPECT_EQ(serve_->GetJson("/v1/products/bare-new/similar?k=5")["__status"], 404);
}

TEST(ServeWithoutModel, IsLiveButNotReadyAndSays503) {
  TempDir dir;
  const std::string config = WriteConfig(dir.path() + "/vasgd.toml", TestConfig(dir.path() + "/data"));
  auto serve = ServeProcess::Start(config, dir.path() + "/serve.log");
  ASSERT_NE(serve, nullptr);
  EXPECT_EQ(serve->Get("/healthz").status, 200);
  json ready = serve->GetJson("/readyz");
  EXPECT_EQ(ready["__status"], 503);
  EXPECT_EQ(serve->Get("/v1/users/u1/recommendations").status, 503);
  EXPECT_TRUE(serve->StatusJson()["model_version"].is_null());
  EXPECT_EQ(serve->Post("/v1/admin/rollback", "", kAdminToken).status, 409);
  EXPECT_EQ(serve->Stop(), 0);
}

}  // namespace
}  // namespace vasgd::testing_daemon

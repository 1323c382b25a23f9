// The loader, the runner, the report and `vasgd eval` end to end, on files in a temporary
// directory and on the planted shop of model/synthetic.h (real LibTorch for VBPR).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/cli.h"
#include "eval/eval_data.h"
#include "eval/plots.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "model/npy.h"
#include "model/synthetic.h"
#include "tests/model/test_util.h"

namespace vasgd {
namespace {

using testing::TempDir;

void Write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

TEST(LoadEvalDataTest, PutsEverySplitInOneIdSpace) {
  TempDir dir;
  Write(dir.file("train.tsv"), "user\titem\nu1\t0\nu1\t1\nu2\t1\n");
  Write(dir.file("val.tsv"), "user\titem\nu3\t2\n");
  Write(dir.file("test.tsv"), "user\titem\nu1\t2\nu4\t9\nbad line\n");
  const float features[] = {1, 0, 0, 1, 1, 1};
  ASSERT_TRUE(WriteNpy(dir.file("image_feat.npy"), features, 3, 2).ok());
  int64_t rejected = 0;
  Result<EvalData> d = LoadEvalData(dir.path(), &rejected);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(rejected, 1);
  const TrainingData& t = d->train;
  EXPECT_EQ(t.graph.num_users, 4);       // u1 u2 from train, then u3 (val), u4 (test)
  EXPECT_EQ(t.graph.num_products, 4);    // feature rows "0" "1" "2", then "9" from test
  ASSERT_EQ(t.product_ids.size(), 4u);
  EXPECT_EQ(t.product_ids[2], "2");
  EXPECT_EQ(t.product_ids[3], "9");
  EXPECT_EQ(t.graph.user_offsets.size(), 5u);
  EXPECT_EQ(t.graph.num_edges(), 3);
  ASSERT_EQ(t.features.present.size(), 4u);
  EXPECT_EQ(t.features.present[2], 1);
  EXPECT_EQ(t.features.present[3], 0);
  ASSERT_EQ(d->val.size(), 1u);
  EXPECT_EQ(t.user_ids[d->val[0].user], "u3");
  EXPECT_EQ(d->val[0].product, 2);
  ASSERT_EQ(d->test.size(), 2u);
  EXPECT_EQ(t.user_ids[d->test[1].user], "u4");
  EXPECT_EQ(d->test[1].product, 3);
  const std::vector<uint8_t> warm = WarmProducts(t.graph);
  EXPECT_EQ(warm, (std::vector<uint8_t>{1, 1, 0, 0}));
}

TEST(LoadEvalDataTest, MissingOrUselessFilesAreNamed) {
  TempDir dir;
  Write(dir.file("train.tsv"), "user\titem\nu1\t0\n");
  Result<EvalData> d = LoadEvalData(dir.path());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kNotFound);
  EXPECT_NE(d.status().message().find("test.tsv"), std::string::npos);
  Write(dir.file("test.tsv"), "user\titem\nonly-one-column\n");
  d = LoadEvalData(dir.path());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  EXPECT_NE(d.status().message().find("test.tsv"), std::string::npos);
}

EvalData SmallShop() {
  SyntheticShopOptions o;
  o.num_users = 400;
  o.num_products = 200;
  o.num_clusters = 5;
  o.feature_dim = 16;
  o.seed = 3;
  return EvalDataFromShop(MakeSyntheticShop(o));
}

TEST(RunnerTest, BaselinesOnThePlantedShop) {
  const EvalData data = SmallShop();
  ASSERT_FALSE(data.val.empty());
  EvalOptions o;
  o.seeds = 2;
  o.methods = {"RAND", "POP", "WBOI", "VBPR"};
  o.vbpr.epochs = 10;
  o.vbpr.validate_every = 0;
  o.analogy.queries = 200;
  o.cosine_pairs = 2000;
  Result<EvalReport> r = RunEvaluation(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->methods.size(), 4u);
  auto mean = [&](const std::string& method, const std::string& metric) {
    for (const MethodResult& m : r->methods) {
      if (m.method == method && !MetricValues(m, metric).empty()) return Summarize(MetricValues(m, metric)).mean;
    }
    return std::nan("");
  };
  for (const MethodResult& m : r->methods) EXPECT_EQ(m.per_seed.size(), 2u) << m.method;
  EXPECT_NEAR(mean("RAND", "auc_warm"), 0.5, 0.06);
  // Features determine taste on this shop: the raw feature space ranks cold products well, and
  // VBPR learns the warm ones better than chance.
  EXPECT_GT(mean("WBOI", "auc_cold_among_cold"), 0.7);
  EXPECT_GT(mean("WBOI", "relation_accuracy"), 0.6);
  EXPECT_GT(mean("VBPR", "auc_warm"), 0.7);
  EXPECT_GT(mean("POP", "auc_warm"), mean("RAND", "auc_warm"));
  // Methods without a shared space omit the product metrics.
  EXPECT_TRUE(std::isnan(mean("POP", "relation_accuracy")));
  ASSERT_EQ(r->first_seed_spaces.count("WBOI"), 1u);

  const nlohmann::json j = nlohmann::json::parse(ReportJson(*r));
  EXPECT_EQ(j["dataset"], "synthetic");
  EXPECT_EQ(j["seeds"], 2);
  const auto& recall = j["methods"]["VBPR"]["recall@20"];
  ASSERT_EQ(recall["values"].size(), 2u);
  const double a = recall["values"][0], b = recall["values"][1];
  EXPECT_DOUBLE_EQ(recall["mean"].get<double>(), (a + b) / 2);
  EXPECT_NEAR(recall["std"].get<double>(), std::fabs(a - b) / std::sqrt(2.0), 1e-12);
  EXPECT_TRUE(j["methods"]["VBPR"].contains("train_seconds"));
  EXPECT_FALSE(j["methods"]["POP"].contains("analogy_p@5"));
  const std::string md = ReportMarkdown(*r);
  EXPECT_NE(md.find("| WBOI |"), std::string::npos);
  EXPECT_NE(md.find(" ± "), std::string::npos);
}

TEST(RunnerTest, VasgFamilyOnThePlantedShop) {
  const EvalData data = SmallShop();
  EvalOptions o;
  o.seeds = 1;
  o.methods = {"VASG", "VASG+pop", "SkipGram"};
  // The settings the TikTok evaluation chose (docs/EVALUATION.md), not the trainer's defaults,
  // so this test follows the evaluation rather than the defaults of the day.
  o.train.window = 3;
  o.train.negatives = 5;
  o.train.negative_power = 0;
  o.train.score = "cosine";
  o.train.epochs = 2;
  o.analogy.queries = 100;
  o.cosine_pairs = 1000;
  Result<EvalReport> r = RunEvaluation(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const nlohmann::json j = nlohmann::json::parse(ReportJson(*r));
  const auto& vasg = j["methods"]["VASG"];
  // Warm taste is learned from the walks; cold products are placed by the encoder from features
  // that determine taste on this shop.
  EXPECT_GT(vasg["auc_warm"]["mean"].get<double>(), 0.7);
  EXPECT_GT(vasg["auc_cold_among_cold"]["mean"].get<double>(), 0.6);
  // The other score is reported on the same vectors.
  EXPECT_TRUE(vasg.contains("recall@20_by_cosine") || vasg.contains("recall@20_by_dot"));
  // VASG+pop reuses VASG's vectors: β comes from the grid, chosen on validation pairs.
  const auto& pop = j["method_configs"]["VASG+pop"];
  const double beta = pop["beta"];
  bool in_grid = false;
  for (double b : o.popularity_prior_grid) in_grid |= b == beta;
  EXPECT_TRUE(in_grid);
  EXPECT_EQ(pop["val_recall_by_beta"].size(), o.popularity_prior_grid.size());
  EXPECT_LT(j["methods"]["VASG+pop"]["train_seconds"]["mean"].get<double>(),
            vasg["train_seconds"]["mean"].get<double>());
  EXPECT_FALSE(j["methods"]["VASG+pop"].contains("relation_accuracy"));
  EXPECT_TRUE(j["methods"]["SkipGram"].contains("relation_accuracy"));
  EXPECT_EQ(r->first_seed_spaces.count("VASG"), 1u);
}

TEST(RunnerTest, UnknownMethodAndMissingFeaturesAreErrors) {
  EvalData data = SmallShop();
  EvalOptions o;
  o.seeds = 1;
  o.methods = {"POP", "NoSuchMethod"};
  EXPECT_EQ(RunEvaluation(data, o).status().code(), Code::kInvalidArgument);
  data.train.features = FeatureMatrix();
  o.methods = {"WBOI"};
  Result<EvalReport> r = RunEvaluation(data, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("WBOI"), std::string::npos);
}

TEST(PlotsTest, PrincipalComponentsFindThePlantedAxes) {
  // Points spread 10× more along (1,1,0)/√2 than along (0,0,1), hardly at all along (1,-1,0).
  std::vector<float> v;
  for (int i = 0; i < 200; ++i) {
    const float a = static_cast<float>((i % 20) - 9.5) * 10.f, b = static_cast<float>((i / 20) - 4.5), c = 0.01f * (i % 3);
    v.insert(v.end(), {a / std::sqrt(2.f) + c, a / std::sqrt(2.f) - c, b});
  }
  const std::vector<float> pc = PrincipalComponents2(v, 200, 3);
  for (int i = 0; i < 200; ++i) {
    const float a = static_cast<float>((i % 20) - 9.5) * 10.f, b = static_cast<float>((i / 20) - 4.5);
    EXPECT_NEAR(std::fabs(pc[i * 2]), std::fabs(a), 0.05);
    EXPECT_NEAR(std::fabs(pc[i * 2 + 1]), std::fabs(b), 0.05);
  }
}

TEST(EvalCommandTest, WritesJsonAndRejectsBadFlags) {
  TempDir dir;
  Write(dir.file("train.tsv"), "user\titem\nu1\t0\nu1\t1\nu2\t1\nu3\t2\n");
  Write(dir.file("test.tsv"), "user\titem\nu1\t2\nu2\t0\nu3\t1\n");
  const std::string out = dir.file("report.json");
  EXPECT_EQ(RunEval({"--data", dir.path(), "--methods", "POP,RAND", "--seeds", "2", "--out", out}), 0);
  const nlohmann::json j = ReadJson(out);
  EXPECT_EQ(j["seeds"], 2);
  // Three products and K = 20: every unmasked product is in the top 20, so every test item is hit.
  EXPECT_DOUBLE_EQ(j["methods"]["POP"]["recall@20"]["mean"].get<double>(), 1.0);
  EXPECT_TRUE(j["methods"].contains("RAND"));

  // A setting given twice takes its last value; the options echo the train settings.
  EXPECT_EQ(RunEval({"--data", dir.path(), "--methods", "POP", "--seeds", "1", "--set",
                     "train.dim=8;train.score=cosine;train.dim=9", "--out", out}),
            0);
  EXPECT_EQ(ReadJson(out)["options"]["train"]["dim"], 9);
  EXPECT_EQ(ReadJson(out)["options"]["train"]["score"], "cosine");

  EXPECT_EQ(RunEval({"--methods", "POP"}), 2);                                     // no --data
  EXPECT_EQ(RunEval({"--data", dir.path(), "--split", "val"}), 2);                 // no val.tsv
  EXPECT_EQ(RunEval({"--data", dir.path(), "--methods", "Nope"}), 2);              // unknown method
  EXPECT_EQ(RunEval({"--data", dir.path(), "--bogus", "1"}), 2);                   // unknown flag
  EXPECT_EQ(RunEval({"--data", dir.path(), "--seeds", "zero"}), 2);                // not a number
  EXPECT_EQ(RunEval({"--data", dir.path(), "--set", "train.nope=1"}), 2);          // unknown knob
  EXPECT_EQ(RunEval({"--data", dir.path(), "--sweep", "train.dim=8,x"}), 2);       // bad sweep value
  EXPECT_EQ(RunEval({"--data", dir.file("missing"), "--methods", "POP"}), 2);      // no such dataset
}

TEST(EvalCommandTest, SweepWritesOneRunPerValue) {
  TempDir dir;
  Write(dir.file("train.tsv"), "user\titem\nu1\t0\nu1\t1\nu2\t1\nu3\t2\nu3\t0\n");
  Write(dir.file("test.tsv"), "user\titem\nu1\t2\nu2\t0\nu3\t1\n");
  const float features[] = {1, 0, 0, 1, 1, 1};
  ASSERT_TRUE(WriteNpy(dir.file("image_feat.npy"), features, 3, 2).ok());
  const std::string out = dir.file("sweep.json");
  ASSERT_EQ(RunEval({"--data", dir.path(), "--methods", "VBPR", "--seeds", "1", "--sweep", "vbpr.epochs=1,2",
                     "--set", "vbpr.validate_every=0", "--plots", dir.path(), "--plot-prefix", "t", "--out", out}),
            0);
  const nlohmann::json j = ReadJson(out);
  ASSERT_EQ(j["sweep"]["runs"].size(), 2u);
  EXPECT_EQ(j["sweep"]["runs"][1]["value"], "2");
  EXPECT_EQ(j["sweep"]["runs"][1]["options"]["vbpr"]["epochs"], 2);
  EXPECT_TRUE(std::ifstream(dir.file("t_sweep.dat")).good());
}

}  // namespace
}  // namespace vasgd

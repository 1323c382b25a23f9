#include "eval/runner.h"

#include <chrono>
#include <cmath>
#include <sstream>
#include <nlohmann/json.hpp>

#include "common/config_file.h"
#include "common/elapsed.h"
#include "common/log.h"

namespace vasgd {

namespace {

using nlohmann::json;

void Put(SeedMetrics* m, const std::string& name, double value) {
  if (!std::isnan(value)) (*m)[name] = value;
}

// Every [train] knob, taken from the config layer's own list so new knobs appear by themselves.
json TrainOptionsJson(const TrainOptions& t) {
  Config config;
  config.train = t;
  json out = json::object();
  std::istringstream lines(DescribeConfig(config));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, 6, "train.") != 0) continue;
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(6, eq - 6), value = line.substr(eq + 3);
    json v = json::parse(value, nullptr, /*allow_exceptions=*/false);
    out[key] = v.is_discarded() ? json(value) : v;
  }
  return out;
}

json DataJson(const EvalData& data) {
  const std::vector<uint8_t> warm = WarmProducts(data.train.graph);
  int64_t warm_products = 0, warm_test = 0;
  for (uint8_t w : warm) warm_products += w;
  for (const UserProduct& t : data.test) warm_test += warm[t.product];
  return {{"users", data.train.graph.num_users}, {"products", data.train.graph.num_products},
          {"warm_products", warm_products}, {"train_edges", data.train.graph.num_edges()},
          {"val_pairs", data.val.size()}, {"test_pairs", data.test.size()},
          {"test_pairs_warm", warm_test}, {"test_pairs_cold", static_cast<int64_t>(data.test.size()) - warm_test},
          {"feature_dim", data.train.features.dim}};
}

// Relation pairs for one seed, shared by every method of that seed.
struct SeedPairs {
  std::vector<LabeledPair> val, test;
};

SeedMetrics Measure(const MethodRun& run, const EvalData& data, const SeedPairs& pairs, const EvalOptions& o,
                    uint64_t seed) {
  const auto start = Clock::now();
  SeedMetrics m;
  const RankingMetrics r = EvaluateRanking(*run.scorer, data.train.graph, data.test, o.ranking);
  const std::string k = std::to_string(o.ranking.k);
  Put(&m, "recall@" + k, r.recall);
  Put(&m, "ndcg@" + k, r.ndcg);
  Put(&m, "recall@" + k + "_warm", r.recall_warm);
  Put(&m, "ndcg@" + k + "_warm", r.ndcg_warm);
  Put(&m, "auc_warm", r.auc_warm);
  if (run.scores_cold) {
    Put(&m, "recall@" + k + "_cold", r.recall_cold);
    Put(&m, "ndcg@" + k + "_cold", r.ndcg_cold);
    Put(&m, "auc_cold", r.auc_cold);
    Put(&m, "auc_cold_among_cold", r.auc_cold_among_cold);
  }
  if (run.other_scorer) {
    const RankingMetrics x = EvaluateRanking(*run.other_scorer, data.train.graph, data.test, o.ranking);
    const std::string by = "_by_" + run.other_score_name;
    Put(&m, "recall@" + k + by, x.recall);
    Put(&m, "ndcg@" + k + by, x.ndcg);
    Put(&m, "auc_warm" + by, x.auc_warm);
    if (run.scores_cold) Put(&m, "auc_cold_among_cold" + by, x.auc_cold_among_cold);
  }
  if (r.non_finite_scores > 0) m["non_finite_scores"] = static_cast<double>(r.non_finite_scores);
  if (run.has_space) {
    if (!pairs.val.empty() && !pairs.test.empty()) {
      Put(&m, "relation_accuracy", RelationAccuracy(run.space, pairs.val, pairs.test).test_accuracy);
    }
    AnalogyOptions a = o.analogy;
    a.seed = seed;
    const AnalogyResult an = AnalogyPrecision(run.space, data, a);
    if (an.queries > 0) {
      const std::string name = "analogy_p@" + std::to_string(a.k);
      Put(&m, name, an.precision);
      Put(&m, name + "_target_only", an.precision_target_only);
    }
    const CosineSpread spread = RandomPairCosines(run.space, o.cosine_pairs, seed);
    if (!spread.samples.empty()) {
      Put(&m, "cosine_kurtosis", spread.excess_kurtosis);
      Put(&m, "cosine_mean", spread.mean);
      Put(&m, "cosine_std", spread.stddev);
    }
  }
  m["train_seconds"] = run.train_seconds;
  m["eval_seconds"] = SecondsSince(start);
  return m;
}

}  // namespace

std::string EvalOptionsJson(const EvalOptions& o) {
  json j = {{"seeds", o.seeds}, {"first_seed", o.first_seed}, {"methods", o.methods}, {"device", o.device},
            {"threads", o.threads}, {"k", o.ranking.k},
            {"vbpr", {{"latent_dim", o.vbpr.latent_dim}, {"visual_dim", o.vbpr.visual_dim}, {"epochs", o.vbpr.epochs},
                      {"batch_size", o.vbpr.batch_size}, {"learning_rate", o.vbpr.learning_rate}, {"l2", o.vbpr.l2},
                      {"validate_every", o.vbpr.validate_every}}},
            {"analogy", {{"queries", o.analogy.queries}, {"k", o.analogy.k}}},
            {"cosine_pairs", o.cosine_pairs}, {"popularity_prior_grid", o.popularity_prior_grid},
            {"train", TrainOptionsJson(o.train)},
            {"neighbours", {{"top_k", o.neighbours.top_k}, {"max_user_degree", o.neighbours.max_user_degree},
                            {"rp3b_alphas", o.neighbours.rp3b_alphas}, {"rp3b_betas", o.neighbours.rp3b_betas},
                            {"itemknn_shrinks", o.neighbours.itemknn_shrinks}, {"ease_lambdas", o.neighbours.ease_lambdas},
                            {"ease_max_products", o.neighbours.ease_max_products}}},
            {"hybrid", {{"neighbour_weights", o.hybrid.neighbour_weights}, {"ease_weights", o.hybrid.ease_weights},
                        {"vasg_weights", o.hybrid.vasg_weights}, {"popularity_weights", o.hybrid.popularity_weights},
                        {"freshness_weights", o.hybrid.freshness_weights},
                        {"visual_weights", o.hybrid.visual_weights}, {"cold_visual_weights", o.hybrid.cold_visual_weights},
                        {"cold_order", o.hybrid.cold_order},
                        {"cold_order_visual_weights", o.hybrid.cold_order_visual_weights},
                        {"cold_order_freshness_weights", o.hybrid.cold_order_freshness_weights},
                        {"cold_order_min_pairs", o.hybrid.cold_order_min_pairs},
                        {"cold_query", {o.hybrid.cold_query_idf, o.hybrid.cold_query_list_weight, o.hybrid.cold_query_list_top}},
                        {"similar_list_weights", o.hybrid.similar_list_weights},
                        {"choice_candidates", o.hybrid.choice_candidates}}},
            {"retrain", {{"holdout_fraction", o.retrain.holdout_fraction}, {"holdout_max_users", o.retrain.holdout_max_users},
                         {"holdout_pick", o.retrain.holdout_pick},
                         {"refit_vasg", o.retrain.refit_vasg}, {"refit_from_holdout", o.retrain.refit_from_holdout},
                         {"refit_walks", o.retrain.refit_walks}}}};
  return j.dump();
}

Result<EvalReport> RunEvaluation(const EvalData& data, const EvalOptions& options) {
  VASGD_RETURN_IF_ERROR(ValidateEvalData(data));
  const std::vector<std::string> methods = options.methods.empty() ? MethodNames() : options.methods;
  VASGD_RETURN_IF_ERROR(CheckMethodNames(methods));
  const auto start = Clock::now();
  EvalReport report;
  report.dataset = data.name;
  report.seeds = options.seeds;
  report.k = options.ranking.k;
  report.options_json = EvalOptionsJson(options);
  report.data_json = DataJson(data).dump();
  for (const std::string& m : methods) report.methods.push_back({m, {}, "{}"});

  for (int32_t s = 0; s < options.seeds; ++s) {
    const uint64_t seed = options.first_seed + static_cast<uint64_t>(s);
    SeedPairs pairs{BuildRelationPairs(data, data.val, seed * 2 + 1), BuildRelationPairs(data, data.test, seed * 2 + 2)};
    std::map<std::string, Embeddings> seed_spaces;
    for (MethodResult& result : report.methods) {
      Result<MethodRun> run = RunMethod(result.method, data, options, seed, &seed_spaces);
      if (!run.ok()) return Status(run.status().code(), result.method + ": " + run.status().message());
      result.per_seed.push_back(Measure(*run, data, pairs, options, seed));
      if (s == 0) result.config_json = run->config_json;
      if (run->has_space) seed_spaces[result.method] = std::move(run->space);
      const SeedMetrics& m = result.per_seed.back();
      const std::string k = std::to_string(options.ranking.k);
      Log(LogLevel::kInfo, "eval.method_done",
          {{"method", result.method}, {"seed", seed}, {"recall@" + k, m.count("recall@" + k) ? m.at("recall@" + k) : -1.0},
           {"auc_warm", m.count("auc_warm") ? m.at("auc_warm") : -1.0}, {"train_seconds", m.at("train_seconds")},
           {"eval_seconds", m.at("eval_seconds")}});
    }
    if (s == 0) report.first_seed_spaces = std::move(seed_spaces);
  }
  report.wall_seconds = SecondsSince(start);
  return report;
}

}  // namespace vasgd

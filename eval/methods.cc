#include "eval/methods.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/elapsed.h"
#include "eval/baselines.h"
#include "eval/item_methods.h"
#include "model/model_version.h"
#include "model/trainer.h"
#include "model/visual_profile.h"

namespace vasgd {

namespace {


Result<MethodRun> RunRand(const EvalData& data, const EvalOptions&, uint64_t seed) {
  MethodRun run;
  run.scorer = MakeRandomScorer(data.train.graph.num_products, seed);
  return run;
}

Result<MethodRun> RunPop(const EvalData& data, const EvalOptions&, uint64_t) {
  MethodRun run;
  run.scorer = MakePopularityScorer(data.train.graph);
  return run;
}

Result<MethodRun> RunWboi(const EvalData& data, bool standardize) {
  if (data.train.features.dim == 0) return Status::InvalidArgument("WBOI needs product features (image_feat.npy)");
  const auto start = Clock::now();
  MethodRun run;
  run.space = WboiEmbeddings(data.train, standardize);
  run.has_space = true;
  run.scorer = MakeEmbeddingScorer(run.space, ScoreKind::kCosine);
  run.train_seconds = SecondsSince(start);
  run.config_json = standardize ? R"({"score":"cosine","features":"standardized per dimension"})"
                                : R"({"score":"cosine","features":"raw"})";
  return run;
}

Result<MethodRun> RunVbpr(const EvalData& data, const EvalOptions& options, uint64_t seed) {
  VbprOptions o = options.vbpr;
  o.seed = seed;
  o.device = options.device;
  o.threads = options.threads;
  const auto start = Clock::now();
  Result<VbprResult> trained = TrainVbpr(data, o);
  if (!trained.ok()) return trained.status();
  MethodRun run;
  run.train_seconds = SecondsSince(start);
  run.scorer = MakeEmbeddingScorer(trained->space, ScoreKind::kDot);
  nlohmann::json c = {{"latent_dim", o.latent_dim}, {"visual_dim", o.visual_dim}, {"epochs", o.epochs},
                      {"batch_size", o.batch_size}, {"learning_rate", o.learning_rate}, {"l2", o.l2},
                      {"validate_every", o.validate_every}, {"best_epoch", trained->best_epoch},
                      {"best_val_recall@20", trained->best_val_recall}, {"final_loss", trained->final_loss}};
  run.config_json = c.dump();
  return run;
}

// The visual profiles of model/visual_profile.h for every training user, and the standardised
// features of the cold products the model embedded, as the scorer wants them.
ColdProfiles ColdProfilesFor(const TrainingData& train, const ModelVersion& m, const std::vector<uint8_t>& warm) {
  ColdProfiles c;
  const FeatureMatrix& f = train.features;
  if (f.dim == 0 || m.encoder.empty() || m.encoder.input_dim() != f.dim) return c;
  c.weight = m.cold_profile_weight;
  c.dim = f.dim;
  std::vector<float> z(f.dim);
  for (int32_t p = 0; p < static_cast<int32_t>(f.present.size()); ++p) {
    if (warm[p] || !f.present[p] || m.product_kind[p] != static_cast<uint8_t>(ProductKind::kCold)) continue;
    UnitStandardizedFeatures(f.row(p), m.encoder.input_mean, m.encoder.input_scale, f.dim, z.data());
    c.products.push_back(p);
    c.product_z.insert(c.product_z.end(), z.begin(), z.end());
  }
  const InteractionGraph& g = train.graph;
  const int32_t users = static_cast<int32_t>(m.user_ids.size());
  c.users.assign(static_cast<size_t>(users) * f.dim, 0.f);
  VisualProfile profile(&m.encoder.input_mean, &m.encoder.input_scale, f.dim);
  for (int32_t u = 0; u < std::min(users, g.num_users); ++u) {
    profile.Clear();
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e)
      if (f.present[g.product_index[e]]) profile.Add(f.row(g.product_index[e]));
    if (profile.Finish()) std::copy(profile.data(), profile.data() + f.dim, c.users.begin() + static_cast<int64_t>(u) * f.dim);
  }
  return c;
}

Result<MethodRun> RunVasgFamily(const std::string& method, const EvalData& data, const EvalOptions& options,
                                uint64_t seed) {
  const TrainOptions t = TrainOptionsFor(method, options, seed);
  const auto start = Clock::now();
  Result<ModelVersion> trained = Train(data.train, t, /*previous=*/nullptr);
  if (!trained.ok()) return trained.status();
  MethodRun run;
  run.train_seconds = SecondsSince(start);
  ModelVersion& m = trained.value();
  Embeddings& e = run.space;
  e.dim = m.dim;
  e.num_users = static_cast<int32_t>(m.user_ids.size());
  e.num_products = static_cast<int32_t>(m.product_ids.size());
  e.users = std::move(m.user_vectors);
  e.products = std::move(m.product_vectors);
  e.has_product.resize(e.num_products);
  const std::vector<uint8_t> warm = WarmProducts(data.train.graph);
  const FeatureMatrix& f = data.train.features;
  for (int32_t p = 0; p < e.num_products; ++p) {
    e.has_product[p] = m.product_kind[p] != static_cast<uint8_t>(ProductKind::kNone);
    // A cold product with features the method left without a vector: it cannot do cold start.
    if (!warm[p] && f.dim > 0 && f.present[p] && !e.has_product[p]) run.scores_cold = false;
  }
  run.has_space = true;
  if (m.cold_profile_weight > 0) e.cold_profiles = ColdProfilesFor(data.train, m, warm);
  // "auto" leaves the choice to the trainer, which records it in the model version.
  const std::string score = t.score == "auto" ? m.score : t.score;
  ScoreKind kind;
  if (!ParseScoreKind(score.c_str(), &kind)) return Status::Internal(method + ": model version has score '" + score + "'");
  run.scorer = MakeEmbeddingScorer(e, kind);
  const ScoreKind other = kind == ScoreKind::kDot ? ScoreKind::kCosine : ScoreKind::kDot;
  run.other_scorer = MakeEmbeddingScorer(e, other);
  run.other_score_name = ScoreKindName(other);
  nlohmann::json c = nlohmann::json::parse(m.manifest_extra_json, nullptr, /*allow_exceptions=*/false);
  if (c.is_discarded()) c = nlohmann::json::object();
  c["score_used"] = score;
  run.config_json = c.dump();
  return run;
}

// VASG's space ranked by cosine + β·log(1 + degree), β maximising validation Recall@K.
Result<MethodRun> RunPopularityPrior(const EvalData& data, const EvalOptions& options, uint64_t seed,
                                     const std::map<std::string, Embeddings>* same_seed) {
  MethodRun run;
  const auto start = Clock::now();
  auto it = same_seed ? same_seed->find("VASG") : decltype(same_seed->end()){};
  if (same_seed && it != same_seed->end()) {
    run.space = it->second;
  } else {
    Result<MethodRun> base = RunVasgFamily("VASG", data, options, seed);
    if (!base.ok()) return base.status();
    run.space = std::move(base->space);
    run.scores_cold = base->scores_cold;
  }
  const std::vector<uint8_t> warm = WarmProducts(data.train.graph);
  for (int32_t p = 0; p < run.space.num_products; ++p) {
    if (!warm[p] && data.train.features.dim > 0 && data.train.features.present[p] && !run.space.HasProduct(p)) {
      run.scores_cold = false;
    }
  }
  run.has_space = false;  // VASG's space: its product metrics are on VASG's row
  const std::vector<float> degree = ProductDegrees(data.train.graph);
  auto prior = [&](double beta) {
    std::vector<float> bias(degree.size());
    for (size_t p = 0; p < degree.size(); ++p) bias[p] = static_cast<float>(beta * std::log1p(degree[p]));
    return bias;
  };
  double best_beta = 0, best_recall = -1;
  nlohmann::json tried = nlohmann::json::object();
  for (double beta : options.popularity_prior_grid) {
    if (data.val.empty()) break;
    const double recall =
        EvaluateRanking(*MakeEmbeddingScorer(run.space, ScoreKind::kCosine, prior(beta)), data.train.graph, data.val,
                        options.ranking).recall;
    tried[std::to_string(beta)] = recall;
    if (recall > best_recall) {
      best_recall = recall;
      best_beta = beta;
    }
  }
  run.scorer = MakeEmbeddingScorer(run.space, ScoreKind::kCosine, prior(best_beta));
  run.train_seconds = SecondsSince(start);  // choosing β; VASG's own training is reported on its row
  run.config_json = nlohmann::json({{"base", "VASG"}, {"score", "cosine + beta*log(1+degree)"}, {"beta", best_beta},
                                    {"val_recall_by_beta", tried}}).dump();
  return run;
}

}  // namespace

const std::vector<std::string>& MethodNames() {
  static const std::vector<std::string> names = {"RAND",     "POP",        "WBOI", "WBOI-z",   "VBPR",
                                                 "SkipGram", "VASG-paper", "VASG", "VASG+pop", "RP3b",
                                                 "ItemKNN",  "EASE",       "Hybrid"};
  return names;
}

Status CheckMethodNames(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    bool known = false;
    for (const std::string& m : MethodNames()) known |= n == m;
    if (!known) {
      std::string all;
      for (const std::string& m : MethodNames()) all += (all.empty() ? "" : ", ") + m;
      return Status::InvalidArgument("unknown method '" + n + "' (methods: " + all + ")");
    }
  }
  return Status::Ok();
}

TrainOptions TrainOptionsFor(const std::string& method, const EvalOptions& options, uint64_t seed) {
  TrainOptions t = options.train;
  t.seed = seed;
  t.device = options.device;
  t.threads = options.threads;
  t.warm_start = false;
  if (method == "SkipGram") {
    t.use_decoder = false;
  } else if (method == "VASG-paper") {
    // The paper: no negatives, window 7, D = 100, Adam 1e-3, cosine ranking, decoder on.
    t.negatives = 0;
    t.window = 7;
    t.dim = 100;
    t.learning_rate = 1e-3;
    t.optimizer = "adam";
    t.score = "cosine";
    t.use_decoder = true;
    t.contexts = "all";
  }
  return t;
}

Result<MethodRun> RunMethod(const std::string& method, const EvalData& data, const EvalOptions& options,
                            uint64_t seed, const std::map<std::string, Embeddings>* same_seed) {
  if (method == "RAND") return RunRand(data, options, seed);
  if (method == "POP") return RunPop(data, options, seed);
  if (method == "WBOI") return RunWboi(data, /*standardize=*/false);
  if (method == "WBOI-z") return RunWboi(data, /*standardize=*/true);
  if (method == "VBPR") return RunVbpr(data, options, seed);
  if (method == "SkipGram" || method == "VASG-paper" || method == "VASG") {
    return RunVasgFamily(method, data, options, seed);
  }
  if (method == "VASG+pop") return RunPopularityPrior(data, options, seed, same_seed);
  if (IsItemMethod(method)) return RunItemMethod(method, data, options, seed);
  return Status::InvalidArgument("unknown method '" + method + "'");
}

}  // namespace vasgd

#include "eval/item_methods.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>

#include "common/elapsed.h"
#include "index/distance.h"
#include "model/ease.h"
#include "model/neighbours.h"
#include "rank/fit.h"
#include "rank/hybrid.h"
#include "rank/weight_choice.h"

namespace vasgd {
namespace {

using json = nlohmann::json;

// Σ over the user's training purchases of their list rows.
class ListsScorer : public Scorer {
 public:
  ListsScorer(NeighbourLists lists, const InteractionGraph& graph) : lists_(std::move(lists)), graph_(graph) {}
  int32_t num_products() const override { return lists_.num_products; }
  void Score(const int32_t* users, int32_t n, float* out) const override {
    const int64_t np = lists_.num_products;
    std::memset(out, 0, sizeof(float) * np * n);
    for (int32_t k = 0; k < n; ++k) {
      const int32_t u = users[k];
      if (u < 0 || u >= graph_.num_users) continue;
      float* row = out + k * np;
      for (int64_t e = graph_.user_offsets[u]; e < graph_.user_offsets[u + 1]; ++e) {
        const int32_t i = graph_.product_index[e];
        for (int64_t x = lists_.offsets[i]; x < lists_.offsets[i + 1]; ++x) row[lists_.neighbours[x]] += lists_.weights[x];
      }
    }
  }

 private:
  NeighbourLists lists_;
  const InteractionGraph& graph_;
};

// The served formula (rank/hybrid.h) for every product, as serving computes it for a catalogue
// scored exhaustively: V from the unit product rows, products without a vector never returned.
class HybridEvalScorer : public Scorer {
 public:
  HybridEvalScorer(std::shared_ptr<const ModelVersion> model, const InteractionGraph& graph)
      : graph_(graph), unit_(model->product_vectors) {
    Result<std::unique_ptr<HybridTables>> tables = HybridTables::FromModel(model);
    tables_ = std::move(tables.value());  // FitVersion wrote the weights just now
    const ModelVersion& m = tables_->model();
    for (size_t p = 0; p < m.product_ids.size(); ++p) NormalizeInPlace(unit_.data() + p * m.dim, m.dim);
  }
  int32_t num_products() const override { return static_cast<int32_t>(tables_->model().product_ids.size()); }

  void Score(const int32_t* users, int32_t n, float* out) const override {
    std::unique_ptr<Worker> w = Take();
    const ModelVersion& m = tables_->model();
    const int64_t np = num_products();
    for (int32_t k = 0; k < n; ++k) {
      const int32_t u = users[k];
      float* row = out + k * np;
      const bool known = u >= 0 && u < static_cast<int32_t>(m.user_ids.size());
      const int32_t* bought = known && u < graph_.num_users ? graph_.product_index.data() + graph_.user_offsets[u] : nullptr;
      const int64_t num_bought = bought ? graph_.user_offsets[u + 1] - graph_.user_offsets[u] : 0;
      std::fill(w->v.begin(), w->v.end(), 0.f);
      if (known) {
        w->query.assign(m.user(u), m.user(u) + m.dim);
        NormalizeInPlace(w->query.data(), m.dim);
        DotRows(w->query.data(), unit_.data(), np, m.dim, w->v.data());
      }
      w->scorer.Prepare({bought, num_bought, known ? w->query.data() : nullptr});
      w->scorer.ScoreAll(w->v.data(), np, row);
      for (int64_t p = 0; p < np; ++p)
        if (m.product_kind[p] == static_cast<uint8_t>(ProductKind::kNone)) row[p] = -std::numeric_limits<float>::infinity();
      w->scorer.ReorderCold(nullptr, w->v.data(), np, row);
    }
    Give(std::move(w));
  }

  const HybridTables& tables() const { return *tables_; }

 private:
  struct Worker {
    explicit Worker(const HybridTables* t, int64_t n) : scorer(t), v(n) {}
    HybridScorer scorer;
    std::vector<float> v, query;
  };
  std::unique_ptr<Worker> Take() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return std::make_unique<Worker>(tables_.get(), num_products());
    std::unique_ptr<Worker> w = std::move(free_.back());
    free_.pop_back();
    return w;
  }
  void Give(std::unique_ptr<Worker> w) const {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(w));
  }

  const InteractionGraph& graph_;
  std::unique_ptr<HybridTables> tables_;
  std::vector<float> unit_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Worker>> free_;
};

HoldoutPairs ValidationPairs(const EvalData& data) {
  HoldoutPairs pairs;
  pairs.train = &data.train.graph;
  for (const UserProduct& v : data.val) {
    pairs.users.push_back(v.user);
    pairs.products.push_back(v.product);
  }
  return pairs;
}

// Builds the lists for every setting, keeps the one whose lists rank the validation pairs best.
Result<MethodRun> RunLists(const std::string& method, const EvalData& data, const EvalOptions& o) {
  if (data.val.empty()) return Status::InvalidArgument(method + " chooses its settings on val.tsv, which is empty");
  const auto start = Clock::now();
  const NeighbourOptions& nb = o.neighbours;
  NeighbourBuildOptions bo;
  bo.top_k = nb.top_k;
  bo.max_user_degree = nb.max_user_degree;
  bo.threads = o.threads;
  const HoldoutPairs pairs = ValidationPairs(data);
  const CoPurchaseGraph walk = CoPurchaseGraph::Build(data.train.graph, nb.max_user_degree, 42);
  json tried = json::array();
  NeighbourLists best;
  HoldoutScore best_score;
  auto consider = [&](NeighbourLists lists) {
    const HoldoutScore s = ListsScore(lists, pairs, o.ranking.k);
    tried.push_back({{"params", json::parse(lists.params_json)}, {"val_recall", s.recall}, {"val_ndcg", s.ndcg}});
    if (best.empty() || best_score < s) {
      best_score = s;
      best = std::move(lists);
    }
  };
  if (method == "RP3b") {
    for (double a : nb.rp3b_alphas)
      for (double b : nb.rp3b_betas) consider(BuildRp3bLists(walk, a, b, bo));
  } else if (method == "ItemKNN") {
    for (double s : nb.itemknn_shrinks.empty() ? std::vector<double>{0.0} : nb.itemknn_shrinks)
      consider(BuildItemKnnLists(walk, s, bo));
  } else {
    for (double l : nb.ease_lambdas.empty() ? std::vector<double>{50.0} : nb.ease_lambdas) {
      EaseOptions eo;
      eo.lambda = l;
      eo.top_k = nb.top_k;
      eo.max_products = nb.ease_max_products;
      eo.threads = o.threads;
      eo.device = o.device;
      Result<NeighbourLists> lists = BuildEaseLists(data.train.graph, eo);
      if (!lists.ok()) return Status::InvalidArgument("EASE: " + lists.status().message());
      consider(std::move(lists.value()));
    }
  }
  MethodRun run;
  run.config_json = json{{"chosen", json::parse(best.params_json)}, {"top_k", nb.top_k},
                         {"max_user_degree", nb.max_user_degree}, {"tried_on_val", tried}}
                        .dump();
  run.scorer = std::make_unique<ListsScorer>(std::move(best), data.train.graph);
  run.scores_cold = false;  // no purchases, no list: cold products never score
  run.train_seconds = SecondsSince(start);
  return run;
}

Result<MethodRun> RunHybrid(const EvalData& data, const EvalOptions& o, uint64_t seed) {
  Config config;
  config.train = TrainOptionsFor("VASG", o, seed);
  config.neighbours = o.neighbours;
  config.hybrid = o.hybrid;
  config.retrain = o.retrain;
  const auto start = Clock::now();
  Result<FittedVersion> fitted = FitVersion(data.train, config, /*previous=*/nullptr);
  if (!fitted.ok()) return fitted.status();
  MethodRun run;
  run.train_seconds = SecondsSince(start);
  auto model = std::make_shared<ModelVersion>(std::move(fitted->model));
  json extra = json::parse(model->manifest_extra_json, nullptr, false);
  run.config_json = extra.is_object() && extra.contains("hybrid") ? extra["hybrid"].dump() : "{}";
  // Shared space for the product metrics: the VASG vectors the hybrid serves.
  run.space = EmbeddingsOf(*model);
  run.has_space = true;
  run.scorer = std::make_unique<HybridEvalScorer>(model, data.train.graph);
  return run;
}

}  // namespace

bool IsItemMethod(const std::string& m) { return m == "RP3b" || m == "ItemKNN" || m == "EASE" || m == "Hybrid"; }

Result<MethodRun> RunItemMethod(const std::string& method, const EvalData& data, const EvalOptions& options,
                                uint64_t seed) {
  if (method == "Hybrid") return RunHybrid(data, options, seed);
  return RunLists(method, data, options);
}

}  // namespace vasgd

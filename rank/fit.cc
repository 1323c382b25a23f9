#include "rank/fit.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/elapsed.h"
#include "common/log.h"
#include "index/distance.h"
#include "model/ease.h"
#include "model/neighbours.h"
#include "model/parallel.h"
#include "model/visual_profile.h"
#include "rank/cold_order.h"
#include "rank/competitors.h"
#include "rank/hybrid.h"
#include "rank/similar.h"
#include "rank/weight_choice.h"

namespace vasgd {
namespace {

using json = nlohmann::json;

json ScoreJson(const HoldoutScore& s) { return {{"recall@20", s.recall}, {"ndcg@20", s.ndcg}}; }

std::vector<float> Floats(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// A family's lists at one setting, rebuilt on another graph for the refit.
struct ListsRecipe {
  std::string family;  // rp3b | itemknn | ease
  double a = 0, b = 0;  // α, β | shrink | λ
};

// `rows`: the walk families build only these products' lists (model/neighbours.h); empty = all.
// EASE, dense and capped at neighbours.ease_max_products, always builds every row.
Result<NeighbourLists> BuildLists(const ListsRecipe& r, const InteractionGraph& graph, const CoPurchaseGraph* walk,
                                  const Config& config, const std::string& device,
                                  const std::vector<int32_t>& rows = {}) {
  NeighbourBuildOptions o;
  o.rows = rows;
  o.top_k = config.neighbours.top_k;
  o.max_user_degree = config.neighbours.max_user_degree;
  o.threads = config.train.threads;
  o.seed = config.train.seed;
  if (r.family == "rp3b") return BuildRp3bLists(*walk, r.a, r.b, o);
  if (r.family == "itemknn") return BuildItemKnnLists(*walk, r.a, o);
  EaseOptions e;
  e.lambda = r.a;
  e.top_k = config.neighbours.top_k;
  e.max_products = config.neighbours.ease_max_products;
  e.threads = config.train.threads;
  e.device = device;
  return BuildEaseLists(graph, e);
}

struct ChosenLists {
  ListsRecipe recipe;
  NeighbourLists lists;
  HoldoutScore score;
  bool found = false;
};

// Tries every recipe on the holdout graph and keeps the best by its lists alone. Only the rows
// the holdout reads are built (RowsReadByTheHoldout): the chosen lists serve the choices on the
// holdout, and the refit builds the whole lists again.
Status ChooseLists(const std::vector<ListsRecipe>& recipes, const HoldoutSplit& split, const HoldoutPairs& pairs,
                   const CoPurchaseGraph& walk, const Config& config, const std::string& device, ChosenLists* best,
                   json* tried) {
  const std::vector<int32_t> rows = pairs.users.empty() ? std::vector<int32_t>() : RowsReadByTheHoldout(pairs);
  for (const ListsRecipe& r : recipes) {
    Result<NeighbourLists> lists = BuildLists(r, split.train, &walk, config, device, rows);
    if (!lists.ok()) return lists.status();
    const HoldoutScore s = ListsScore(*lists, pairs, 20);
    tried->push_back({{"family", r.family}, {"params", json::parse(lists->params_json)}, {"holdout", ScoreJson(s)}});
    if (!best->found || best->score < s) {
      *best = {r, std::move(lists.value()), s, true};
    }
  }
  return Status::Ok();
}

HybridWeights DefaultWeightsWithoutHoldout() {
  HybridWeights w;  // nothing to choose on: lists first, VASG and popularity to break their ties
  w.vasg = 0.1f;
  w.popularity = 0.05f;
  return w;
}

// True when the refit walks only from the held-out users and products (retrain.refit_walks).
bool RefitWalksHeldOutOnly(const TrainingData& data, const Config& config, const HoldoutPairs& pairs) {
  if (!config.retrain.refit_from_holdout || pairs.users.empty()) return false;  // another start: every node must move
  if (config.retrain.refit_walks == "held_out") return true;
  return config.retrain.refit_walks == "auto" && CorpusIsCapped(data.graph, config.train);
}

// Walks start at the held-out users and at the products they bought, as nodes of `data`.
TrainScope HeldOutScope(const InteractionGraph& graph, const HoldoutPairs& pairs) {
  TrainScope scope;
  scope.keep_encoder = true;
  for (int32_t u : pairs.users) scope.walk_starts.push_back(u);
  for (int32_t p : pairs.products) scope.walk_starts.push_back(graph.num_users + p);
  std::sort(scope.walk_starts.begin(), scope.walk_starts.end());
  scope.walk_starts.erase(std::unique(scope.walk_starts.begin(), scope.walk_starts.end()), scope.walk_starts.end());
  return scope;
}

// Trains VASG again on the whole graph (the held-out purchases included) and puts its vectors and
// encoder in place of the holdout's; the lists, the features and the chosen weights stay.
// `held_out_walks`: RefitWalksHeldOutOnly's answer.
Status RefitVasg(const TrainingData& data, const Config& config, const HoldoutPairs& pairs, bool held_out_walks,
                 const ModelVersion* previous, const ProgressCallback& progress, ModelVersion* model) {
  // From the holdout model's vectors, the refit only has to fold the held-out purchases in: a
  // warm start's share of the epochs instead of a second full training. Where the corpus is
  // capped, even that share took 875 s (and its stage 2 715 s) at 1M products, while what changed
  // is a few thousand purchases: walks around them alone fold them in, and the encoder stays.
  TrainOptions options = config.train;
  const ModelVersion* start = previous;
  TrainScope scope;
  if (config.retrain.refit_from_holdout) {
    start = model;
    options.warm_start = true;  // whatever the previous version's: this start is the same snapshot's
    if (held_out_walks) scope = HeldOutScope(data.graph, pairs);
  }
  Result<ModelVersion> full = Train(data, options, start, progress, scope);
  if (!full.ok()) return full.status();
  json extra = json::parse(model->manifest_extra_json, nullptr, false);
  json refit = json::parse(full->manifest_extra_json, nullptr, false);
  model->user_vectors = std::move(full->user_vectors);
  model->product_vectors = std::move(full->product_vectors);
  model->product_kind = std::move(full->product_kind);
  model->popularity = std::move(full->popularity);
  model->encoder = std::move(full->encoder);
  model->decoder = std::move(full->decoder);
  model->score = full->score;
  if (extra.is_object() && refit.is_object()) {
    // The served vectors' own training record; the holdout model's stays beside it.
    extra["holdout_training"] = {{"losses", extra.value("losses", json())}, {"data", extra.value("data", json())},
                                 {"training", extra.value("training", json())}};
    for (const char* key : {"losses", "data", "training"})
      if (refit.contains(key)) extra[key] = refit[key];
    model->manifest_extra_json = extra.dump();
  }
  return Status::Ok();
}

void MergeManifest(ModelVersion* m, const char* key, json value) {
  json extra = json::parse(m->manifest_extra_json, nullptr, false);
  if (!extra.is_object()) extra = json::object();
  extra[key] = std::move(value);
  m->manifest_extra_json = extra.dump();
}


// The mean over the held-out pairs of AUC(k, u, t, bought): the AUC of the pair (u, t) among
// `competitors`, computed on `threads` workers, each with a State of its own; `bought` holds
// u's purchases in the holdout's graph, sorted. A negative AUC leaves the pair out (nothing to
// rank it against); -1 when every pair was left out.
template <typename State, typename PairAuc>
double MeanHoldoutAuc(const HoldoutPairs& pairs, int threads, const PairAuc& auc) {
  const InteractionGraph& g = *pairs.train;
  WorkerPool pool(threads);
  struct Worker {
    State state;
    std::vector<int32_t> bought;
    double sum = 0;
    int64_t counted = 0;
  };
  std::vector<Worker> workers(pool.size());
  pool.Run(static_cast<int64_t>(pairs.users.size()), 16, [&](int id, int64_t i) {
    Worker& k = workers[id];
    const int32_t u = pairs.users[i];
    k.bought.assign(g.product_index.data() + g.user_offsets[u], g.product_index.data() + g.user_offsets[u + 1]);
    std::sort(k.bought.begin(), k.bought.end());
    const double a = auc(k.state, u, pairs.products[i], k.bought);
    if (a < 0) return;
    k.sum += a;
    ++k.counted;
  });
  double sum = 0;
  int64_t counted = 0;
  for (const Worker& k : workers) sum += k.sum, counted += k.counted;
  return counted > 0 ? sum / static_cast<double>(counted) : -1;
}

// The competitors a user could be shown for held-out product t (neither t nor bought, which is
// sorted) into `labels`, their values of `all_v` into `v`, each in competitors' order.
void ShownCompetitors(const std::vector<int32_t>& competitors, const std::vector<float>& all_v, int32_t t,
                      const std::vector<int32_t>& bought, std::vector<int32_t>* labels, std::vector<float>* v) {
  labels->clear();
  v->clear();
  for (size_t c = 0; c < competitors.size(); ++c) {
    const int32_t p = competitors[c];
    if (p == t || std::binary_search(bought.begin(), bought.end(), p)) continue;
    labels->push_back(p);
    v->push_back(all_v[c]);
  }
}

struct PairScratch {
  std::vector<float> query, row, all_v, v, scores;
  std::vector<int32_t> labels;
  std::unique_ptr<HybridScorer> scorer;  // MeasureServedHoldout's
};

}  // namespace

double MeasureVasgHoldout(const ModelVersion& m, const HoldoutPairs& pairs, int threads, int64_t max_competitors) {
  std::vector<int32_t> every(m.product_ids.size());
  for (size_t p = 0; p < every.size(); ++p) every[p] = static_cast<int32_t>(p);
  const std::vector<int32_t> competitors = EvenSample(every, max_competitors);
  const bool cosine = m.score != "dot";
  const std::vector<float> rows = cosine ? UnitRows(m, competitors) : RawRows(m, competitors);
  const int64_t n = static_cast<int64_t>(competitors.size());
  return MeanHoldoutAuc<PairScratch>(pairs, threads, [&](PairScratch& k, int32_t u, int32_t t,
                                                           const std::vector<int32_t>& bought) {
    k.query.assign(m.user(u), m.user(u) + m.dim);
    if (cosine) NormalizeInPlace(k.query.data(), m.dim);
    k.all_v.resize(n);
    DotRows(k.query.data(), rows.data(), n, m.dim, k.all_v.data());
    ShownCompetitors(competitors, k.all_v, t, bought, &k.labels, &k.v);
    if (k.v.empty()) return -1.0;
    k.v.push_back(cosine ? CosineWithProduct(m, k.query.data(), t, &k.row) : Dot(k.query.data(), m.product(t), m.dim));
    return AucOfLast(k.v.data(), static_cast<int64_t>(k.v.size()));
  });
}

double MeasureServedHoldout(std::shared_ptr<const ModelVersion> model, const HybridWeights& w,
                            const HoldoutPairs& pairs, int threads, int64_t max_competitors) {
  const ModelVersion& m = *model;
  const InteractionGraph& g = *pairs.train;
  const std::vector<uint8_t> without = WithoutVector(m);
  std::vector<int32_t> shown;
  for (size_t p = 0; p < without.size(); ++p)
    if (!without[p]) shown.push_back(static_cast<int32_t>(p));
  const std::vector<int32_t> competitors = EvenSample(shown, max_competitors);
  const std::vector<float> unit = UnitRows(m, competitors);
  const int64_t n = static_cast<int64_t>(competitors.size());
  HybridTables tables(model, w);
  return MeanHoldoutAuc<PairScratch>(pairs, threads, [&](PairScratch& k, int32_t u, int32_t t,
                                                           const std::vector<int32_t>& bought) {
    if (m.product_kind[t] == static_cast<uint8_t>(ProductKind::kNone)) return -1.0;
    if (!k.scorer) k.scorer = std::make_unique<HybridScorer>(&tables);
    k.query.assign(m.user(u), m.user(u) + m.dim);
    NormalizeInPlace(k.query.data(), m.dim);
    // The purchases in the graph's order, as serving hands them over.
    k.scorer->Prepare({g.product_index.data() + g.user_offsets[u], g.user_offsets[u + 1] - g.user_offsets[u],
                       k.query.data()});
    k.all_v.resize(n);
    DotRows(k.query.data(), unit.data(), n, m.dim, k.all_v.data());
    ShownCompetitors(competitors, k.all_v, t, bought, &k.labels, &k.v);
    if (k.labels.empty()) return -1.0;
    k.labels.push_back(t);
    k.v.push_back(CosineWithProduct(m, k.query.data(), t, &k.row));
    const int64_t scored = static_cast<int64_t>(k.labels.size());
    k.scores.resize(scored);
    k.scorer->ScoreSome(k.labels.data(), k.v.data(), scored, k.scores.data());
    k.scorer->ReorderCold(k.labels.data(), k.v.data(), scored, k.scores.data());
    return AucOfLast(k.scores.data(), scored);
  });
}

namespace {

void SetColdQuery(const HybridOptions& h, HybridWeights* w) {
  w->cold_query_idf = static_cast<float>(h.cold_query_idf);
  w->cold_query_lists = static_cast<float>(h.cold_query_list_weight);
  w->cold_query_top = h.cold_query_list_top;
}

// Sets the cold order of `weights` (rank/cold_order.h) and returns the manifest's record of it.
json ChooseColdOrderFor(std::shared_ptr<const ModelVersion> model, const HoldoutPairs& pairs, const Config& config,
                        HybridWeights* weights) {
  ColdOrderOptions o;
  o.visual = Floats(config.hybrid.cold_order_visual_weights);
  o.freshness = Floats(config.hybrid.cold_order_freshness_weights);
  o.min_pairs = config.hybrid.cold_order_min_pairs;
  o.threads = config.train.threads;
  const ColdOrderChoice c = ChooseColdOrder(std::move(model), *weights, pairs, o);
  *weights = c.weights;
  return {{"on", c.weights.cold_order},
          {"pairs", c.pairs},
          {"cold_products", c.cold_products},
          {"formula_auc", c.formula_auc},
          {"chosen_auc", c.chosen_auc},
          {"settings_tried", c.settings_tried},
          {"grid_auc", c.grid_auc},
          {"seconds", c.seconds}};
}

}  // namespace

Result<FittedVersion> FitVersion(const TrainingData& data, const Config& config, const ModelVersion* previous,
                                 const ProgressCallback& progress, const std::function<void(const char*)>& stage) {
  auto note = [&](const char* s) {
    if (stage) stage(s);
  };
  FittedVersion out;
  Result<HoldoutPick> pick = ParseHoldoutPick(config.retrain.holdout_pick);
  if (!pick.ok()) return pick.status();
  out.split = SplitHoldout(data, config.retrain.holdout_fraction, config.train.seed, config.retrain.holdout_max_users,
                           *pick);
  TrainingData train;
  train.graph = std::move(out.split.train);
  train.features = data.features;
  train.user_ids = data.user_ids;
  train.product_ids = data.product_ids;

  note("train");
  Result<ModelVersion> trained = Train(train, config.train, previous, progress);
  out.split.train = std::move(train.graph);
  if (!trained.ok()) return trained.status();
  auto model = std::make_shared<ModelVersion>(std::move(trained.value()));
  SetVisualRows(data.features, model.get());
  HoldoutPairs pairs{&out.split.train, out.split.test_user, out.split.test_product};
  if (!out.split.test_user.empty()) out.holdout_auc = MeasureVasgHoldout(*model, pairs, config.train.threads);

  json hybrid = {{"ranking", config.hybrid.ranking}, {"cold_share", config.hybrid.cold_share}};
  if (config.hybrid.ranking == "vasg") {
    HybridWeights w;
    w.neighbours = 0;
    w.vasg = 1;
    hybrid["weights"] = json::parse(w.ToJson());
    MergeManifest(model.get(), "hybrid", hybrid);
    out.model = std::move(*model);
    return out;
  }

  const auto t0 = Clock::now();
  note("neighbours");
  Result<std::string> device = ResolveDevice(config.train.device);
  if (!device.ok()) return device.status();
  const NeighbourOptions& nb = config.neighbours;
  const CoPurchaseGraph walk = CoPurchaseGraph::Build(out.split.train, nb.max_user_degree, config.train.seed);
  std::vector<ListsRecipe> walk_recipes, ease_recipes;
  for (double a : nb.rp3b_alphas)
    for (double b : nb.rp3b_betas) walk_recipes.push_back({"rp3b", a, b});
  for (double s : nb.itemknn_shrinks) walk_recipes.push_back({"itemknn", s, 0});
  const bool ease_fits = data.graph.num_products <= nb.ease_max_products;
  if (ease_fits)
    for (double l : nb.ease_lambdas) ease_recipes.push_back({"ease", l, 0});
  if (pairs.users.empty()) {  // too few users to hold any out: the first setting of each family
    walk_recipes.resize(1);
    if (!ease_recipes.empty()) ease_recipes.resize(1);
  }
  ChosenLists walk_choice, ease_choice;
  json tried = json::array();
  VASGD_RETURN_IF_ERROR(ChooseLists(walk_recipes, out.split, pairs, walk, config, *device, &walk_choice, &tried));
  VASGD_RETURN_IF_ERROR(ChooseLists(ease_recipes, out.split, pairs, walk, config, *device, &ease_choice, &tried));
  model->neighbour_lists = std::move(walk_choice.lists);
  model->ease_lists = std::move(ease_choice.lists);
  hybrid["lists_tried"] = tried;
  hybrid["ease"] = ease_fits ? json("built") : json("catalogue above neighbours.ease_max_products");
  hybrid["hub_users_capped"] = walk.capped_users;
  const double lists_seconds = SecondsSince(t0);

  note("weights");
  HybridWeights weights = DefaultWeightsWithoutHoldout();
  if (!pairs.users.empty()) {
    ChoiceOptions co;
    co.candidates = config.hybrid.choice_candidates;
    co.threads = config.train.threads;
    co.grids = {Floats(config.hybrid.neighbour_weights), Floats(config.hybrid.ease_weights), Floats(config.hybrid.vasg_weights),
                Floats(config.hybrid.popularity_weights), Floats(config.hybrid.visual_weights),
                Floats(config.hybrid.cold_visual_weights), Floats(config.hybrid.freshness_weights)};
    HybridTables tables(model, weights);
    Result<WeightChoice> choice = ChooseWeights(tables, pairs, co);
    if (!choice.ok()) return choice.status();
    weights = choice->weights;
    SetColdQuery(config.hybrid, &weights);
    if (config.hybrid.cold_order) hybrid["cold_order"] = ChooseColdOrderFor(model, pairs, config, &weights);
    // The gate (retrain.min_holdout_auc) measures what will be served: with the newest purchase
    // held out, VASG alone can sit near chance on products that are new to it while the chosen
    // blend ranks them well. VASG's own figure stays in the manifest beside it.
    hybrid["vasg_holdout_auc"] = out.holdout_auc;
    const auto measured = Clock::now();
    out.holdout_auc = MeasureServedHoldout(model, weights, pairs, config.train.threads);
    hybrid["served_holdout_auc"] = out.holdout_auc;
    hybrid["served_holdout_seconds"] = SecondsSince(measured);
    hybrid["holdout"] = {{"pairs", choice->pairs}, {"pick", config.retrain.holdout_pick},
                         {"chosen", ScoreJson(choice->best)},
                         {"lists_only", ScoreJson(choice->lists_only)},
                         {"vasg_only", ScoreJson(choice->vasg_only)},
                         {"popularity_only", ScoreJson(choice->popularity_only)},
                         {"settings_tried", choice->settings_tried},
                         {"seconds", choice->seconds}};
  } else {
    hybrid["holdout"] = {{"pairs", 0}, {"note", "no user could be held out: default weights"}};
  }
  hybrid["weights"] = json::parse(weights.ToJson());
  if (!pairs.users.empty() && !model->neighbour_lists.empty()) {
    const SimilarChoice similar =
        ChooseSimilarWeight(*model, pairs, Floats(config.hybrid.similar_list_weights), config.train.threads);
    json tried_similar = json::array();
    for (const auto& [w, s] : similar.tried) tried_similar.push_back({{"list_weight", w}, {"holdout", ScoreJson(s)}});
    hybrid["similar"] = {{"list_weight", similar.list_weight}, {"pairs", similar.pairs}, {"tried", tried_similar}};
  }

  note("refit");
  const auto t1 = Clock::now();
  const CoPurchaseGraph full = CoPurchaseGraph::Build(data.graph, nb.max_user_degree, config.train.seed);
  for (auto [choice, lists] : {std::pair<ChosenLists*, NeighbourLists*>{&walk_choice, &model->neighbour_lists},
                               {&ease_choice, &model->ease_lists}}) {
    if (!choice->found) continue;
    Result<NeighbourLists> refit = BuildLists(choice->recipe, data.graph, &full, config, *device);
    if (!refit.ok()) return refit.status();
    *lists = std::move(refit.value());
  }
  const bool held_out_walks = RefitWalksHeldOutOnly(data, config, pairs);
  if (config.retrain.refit_vasg) {
    note("refit_vasg");
    VASGD_RETURN_IF_ERROR(RefitVasg(data, config, pairs, held_out_walks, previous, progress, model.get()));
  }
  hybrid["walk_family"] = model->neighbour_lists.empty() ? json(nullptr) : json(model->neighbour_lists.family);
  hybrid["refit"] = !config.retrain.refit_vasg ? "lists on the whole graph; VASG as trained without the holdout"
                    : held_out_walks
                        ? "lists on the whole graph; VASG walked from the held-out users and products, encoder kept"
                        : "lists and VASG on the whole graph";
  hybrid["seconds"] = {{"lists", lists_seconds}, {"refit", SecondsSince(t1)}, {"total", SecondsSince(t0)}};
  MergeManifest(model.get(), "hybrid", hybrid);
  Log(LogLevel::kInfo, "fit.hybrid", {{"weights", weights.ToJson()}, {"walk", model->neighbour_lists.params_json},
                                      {"ease", model->ease_lists.params_json}, {"seconds", SecondsSince(t0)}});
  out.model = std::move(*model);
  return out;
}

}  // namespace vasgd

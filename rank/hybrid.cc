#include "rank/hybrid.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>

#include "index/distance.h"
#include "rank/similar.h"

namespace vasgd {
namespace {

using json = nlohmann::json;

// Adds every list row of `purchased` into sum (touched collects new non-zeros) and returns
// 1 / the largest sum (0 when nothing was reached).
float Accumulate(const NeighbourLists& lists, const UserQuery& q, std::vector<float>* sum,
                 std::vector<int32_t>* touched) {
  if (lists.empty()) return 0.f;
  if (sum->size() < static_cast<size_t>(lists.num_products)) sum->assign(lists.num_products, 0.f);
  float best = 0;
  for (int64_t k = 0; k < q.num_purchased; ++k) {
    const int32_t i = q.purchased[k];
    if (i < 0 || i >= lists.num_products) continue;  // a product added after training: no list
    for (int64_t e = lists.offsets[i]; e < lists.offsets[i + 1]; ++e) {
      const int32_t j = lists.neighbours[e];
      float& s = (*sum)[j];
      if (s == 0.f) touched->push_back(j);
      s += lists.weights[e];
      best = std::max(best, s);
    }
  }
  return best > 0 ? 1.f / best : 0.f;
}

}  // namespace

std::string HybridWeights::ToJson() const {
  return json{{"neighbours", neighbours},
              {"ease", ease},
              {"vasg", vasg},
              {"popularity", popularity},
              {"freshness", freshness},
              {"visual", visual},
              {"cold_visual", cold_visual},
              {"cold_order", cold_order},
              {"cold_order_visual", cold_order_visual},
              {"cold_order_freshness", cold_order_freshness},
              {"cold_query_idf", cold_query_idf},
              {"cold_query_lists", cold_query_lists},
              {"cold_query_top", cold_query_top}}
      .dump();
}

Result<HybridWeights> HybridWeights::FromJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("hybrid weights: not a JSON object");
  HybridWeights w;
  for (auto [key, field] : {std::pair<const char*, float*>{"neighbours", &w.neighbours}, {"ease", &w.ease},
                            {"vasg", &w.vasg}, {"popularity", &w.popularity}, {"freshness", &w.freshness},
                            {"visual", &w.visual}, {"cold_visual", &w.cold_visual},
                            {"cold_order_visual", &w.cold_order_visual},
                            {"cold_order_freshness", &w.cold_order_freshness},
                            {"cold_query_idf", &w.cold_query_idf}, {"cold_query_lists", &w.cold_query_lists}}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_number() || !std::isfinite(j[key].get<double>()))
      return Status::InvalidArgument(std::string("hybrid weights: ") + key + " is not a finite number");
    *field = j[key].get<float>();
  }
  if (j.contains("cold_order")) {
    if (!j["cold_order"].is_boolean()) return Status::InvalidArgument("hybrid weights: cold_order is not true or false");
    w.cold_order = j["cold_order"].get<bool>();
  }
  if (j.contains("cold_query_top")) {
    const json& m = j["cold_query_top"];
    if (!m.is_number_integer() || m.get<int64_t>() < 0 || m.get<int64_t>() > 100000)
      return Status::InvalidArgument("hybrid weights: cold_query_top is not an integer in [0, 100000]");
    w.cold_query_top = m.get<int32_t>();
  }
  return w;
}

const char* ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kBoughtWith: return "bought-with";
    case Reason::kTaste: return "taste";
    case Reason::kPopular: return "popular";
    case Reason::kVisualMatch: return "visual-match";
    case Reason::kNewVisualMatch: return "new-visual-match";
    case Reason::kNewArrival: return "new-arrival";
  }
  return "taste";
}

HybridTables::HybridTables(std::shared_ptr<const ModelVersion> model, const HybridWeights& weights)
    : model_(std::move(model)), weights_(weights), visual_dim_(model_->visual_dim) {
  const ModelVersion& m = *model_;
  const size_t n = m.product_ids.size();
  float most = 0;
  for (float p : m.popularity) most = std::max(most, p);
  const float denominator = std::log1p(most);
  prior_.resize(n);
  fresh_.resize(n);
  cold_.resize(n);
  for (size_t p = 0; p < n; ++p) {
    prior_[p] = denominator > 0 ? std::log1p(std::max(0.f, m.popularity[p])) / denominator : 0.f;
    fresh_[p] = n > 1 ? static_cast<float>(static_cast<double>(p) / static_cast<double>(n - 1)) : 1.f;
    cold_[p] = m.product_kind[p] == static_cast<uint8_t>(ProductKind::kCold);
    if (cold_[p]) model_cold_.push_back(static_cast<int32_t>(p));
  }
  visual_ = m.visual;
  similar_list_weight_ = SimilarListWeight(m);
  OrderByPrior();
}

void HybridTables::set_weights(const HybridWeights& w) {
  weights_ = w;
  OrderByPrior();
}

void HybridTables::OrderByPrior() {
  const int32_t n = static_cast<int32_t>(model_->product_ids.size());
  std::vector<float>& prior = prior_score_;
  prior.resize(n);
  for (int32_t p = 0; p < n; ++p) prior[p] = weights_.popularity * prior_[p] + weights_.freshness * fresh_[p];
  by_prior_.resize(n);
  for (int32_t p = 0; p < n; ++p) by_prior_[p] = p;
  std::stable_sort(by_prior_.begin(), by_prior_.end(), [&](int32_t a, int32_t b) { return prior[a] > prior[b]; });
}

Result<std::unique_ptr<HybridTables>> HybridTables::FromModel(std::shared_ptr<const ModelVersion> model) {
  HybridWeights weights;
  weights.neighbours = 0;
  weights.vasg = 1;  // a version written before the hybrid: VASG alone
  json extra = json::parse(model->manifest_extra_json, nullptr, false);
  if (extra.is_object() && extra.contains("hybrid")) {
    const json& h = extra["hybrid"];
    if (!h.is_object() || !h.contains("weights")) return Status::Corruption("model: manifest's hybrid has no weights");
    Result<HybridWeights> parsed = HybridWeights::FromJson(h["weights"].dump());
    if (!parsed.ok()) return Status::Corruption("model: " + parsed.status().message());
    weights = *parsed;
  }
  return std::make_unique<HybridTables>(std::move(model), weights);
}

void HybridTables::NewestCold(int want, bool model_cold, std::vector<int32_t>* out) const {
  const int64_t first_live = static_cast<int64_t>(by_prior_.size()), labels = num_labels();
  int taken = 0;
  for (int64_t p = labels - 1; p >= first_live && taken < want; --p, ++taken) out->push_back(static_cast<int32_t>(p));
  if (!model_cold) return;
  for (auto p = model_cold_.rbegin(); p != model_cold_.rend() && taken < want; ++p, ++taken) out->push_back(*p);
}

int64_t HybridTables::num_labels() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return static_cast<int64_t>(prior_.size());
}

void HybridTables::StandardizeFeatures(const float* features, float* out) const {
  const ModelVersion& m = *model_;
  for (int32_t d = 0; d < visual_dim_; ++d) out[d] = (features[d] - m.visual_mean[d]) * m.visual_scale[d];
  if (NormalizeInPlace(out, visual_dim_) < 1e-6f) std::fill(out, out + visual_dim_, 0.f);
}

void HybridTables::AddProduct(int32_t label, const float* features) {
  std::vector<float> z(visual_dim_, 0.f);
  if (features != nullptr && visual_dim_ > 0) StandardizeFeatures(features, z.data());
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (label < static_cast<int32_t>(model_->product_ids.size())) return;  // trained products keep their rows
  if (label >= static_cast<int32_t>(prior_.size())) {
    prior_.resize(label + 1, 0.f);
    fresh_.resize(label + 1, 1.f);  // newer than every trained product
    cold_.resize(label + 1, 1);
    visual_.resize(static_cast<size_t>(label + 1) * visual_dim_, 0.f);
  }
  cold_[label] = 1;
  std::copy(z.begin(), z.end(), visual_.begin() + static_cast<int64_t>(label) * visual_dim_);
}

bool HybridTables::IsCold(int32_t label) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return label >= 0 && label < static_cast<int32_t>(cold_.size()) && cold_[label];
}

void HybridScorer::Bind(const HybridTables* tables) {
  if (tables == tables_) return;
  std::fill(n_sum_.begin(), n_sum_.end(), 0.f);
  std::fill(e_sum_.begin(), e_sum_.end(), 0.f);
  touched_.clear();
  tables_ = tables;
}

void HybridScorer::Prepare(const UserQuery& q) {
  for (int32_t j : touched_) {
    if (j < static_cast<int32_t>(n_sum_.size())) n_sum_[j] = 0.f;
    if (j < static_cast<int32_t>(e_sum_.size())) e_sum_[j] = 0.f;
  }
  touched_.clear();
  const ModelVersion& m = tables_->model();
  const HybridWeights& w = tables_->weights();
  const bool n = w.neighbours != 0 || w.cold_order, e = w.ease != 0;
  n_scale_ = n ? Accumulate(m.neighbour_lists, q, &n_sum_, &touched_) : 0.f;
  e_scale_ = e ? Accumulate(m.ease_lists, q, &e_sum_, &touched_) : 0.f;
  // List weights are positive (CheckNeighbourLists), so each family names a label once; only a
  // label both families reach can be there twice.
  if (n && e) {
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  }

  has_profile_ = has_cold_query_ = false;
  if (tables_->visual_dim_ == 0) return;
  std::shared_lock<std::shared_mutex> lock(tables_->mu_);
  if (w.visual != 0 || w.cold_visual != 0) has_profile_ = BuildProfile(q);
  if (w.cold_order) has_cold_query_ = BuildColdQuery(q);
}

// The caller holds tables_->mu_ (shared).
void HybridScorer::PrefetchVisualLocked(const int32_t* labels, int64_t n) const {
  const int32_t vd = tables_->visual_dim_;
  const int64_t known = static_cast<int64_t>(tables_->prior_.size());
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] >= 0 && labels[i] < known)
      Prefetch(tables_->visual_.data() + static_cast<int64_t>(labels[i]) * vd, vd * sizeof(float));
}

bool HybridScorer::BuildProfile(const UserQuery& q) {
  const int32_t vd = tables_->visual_dim_;
  profile_.assign(vd, 0.f);
  const int64_t labels = static_cast<int64_t>(tables_->prior_.size());
  PrefetchVisualLocked(q.purchased, q.num_purchased);
  for (int64_t k = 0; k < q.num_purchased; ++k) {
    const int32_t i = q.purchased[k];
    if (i < 0 || i >= labels) continue;
    const float* z = tables_->visual_.data() + static_cast<int64_t>(i) * vd;
    for (int32_t d = 0; d < vd; ++d) profile_[d] += z[d];
  }
  return NormalizeInPlace(profile_.data(), vd) > 1e-6f;
}

bool HybridScorer::BuildColdQuery(const UserQuery& q) {
  const int32_t vd = tables_->visual_dim_;
  const HybridWeights& w = tables_->weights();
  const std::vector<float>& popularity = tables_->model().popularity;
  const int64_t labels = static_cast<int64_t>(tables_->prior_.size());
  cold_query_.assign(vd, 0.f);
  PrefetchVisualLocked(q.purchased, q.num_purchased);
  for (int64_t k = 0; k < q.num_purchased; ++k) {
    const int32_t i = q.purchased[k];
    if (i < 0 || i >= labels) continue;
    // Rarely bought purchases say more about the user's own look than best-sellers do.
    const float bought = i < static_cast<int32_t>(popularity.size()) ? popularity[i] : 0.f;
    const float weight = std::pow(std::max(1.f, bought), -w.cold_query_idf);
    const float* z = tables_->visual_.data() + static_cast<int64_t>(i) * vd;
    for (int32_t d = 0; d < vd; ++d) cold_query_[d] += weight * z[d];
  }
  NormalizeInPlace(cold_query_.data(), vd);
  top_.clear();
  for (int32_t j : touched_) {
    const float n = Neighbour(j);
    if (n > 0 && j < labels) top_.push_back({n, j});
  }
  const size_t m = std::min(top_.size(), static_cast<size_t>(std::max(0, w.cold_query_top)));
  std::nth_element(top_.begin(), top_.begin() + m, top_.end(), std::greater<std::pair<float, int32_t>>());
  for (size_t t = 0; t < m; ++t)
    Prefetch(tables_->visual_.data() + static_cast<int64_t>(top_[t].second) * vd, vd * sizeof(float));
  list_profile_.assign(vd, 0.f);
  for (size_t t = 0; t < m; ++t) {
    const float* z = tables_->visual_.data() + static_cast<int64_t>(top_[t].second) * vd;
    for (int32_t d = 0; d < vd; ++d) list_profile_[d] += top_[t].first * z[d];
  }
  if (NormalizeInPlace(list_profile_.data(), vd) > 1e-6f)
    for (int32_t d = 0; d < vd; ++d) cold_query_[d] += w.cold_query_lists * list_profile_[d];
  return NormalizeInPlace(cold_query_.data(), vd) > 1e-6f;
}

// The caller holds tables_->mu_ (shared).
float HybridScorer::VisualLocked(int32_t label) const {
  const int32_t vd = tables_->visual_dim_;
  if (!has_profile_ || label < 0 || label >= static_cast<int32_t>(tables_->prior_.size())) return 0.f;
  return Dot(profile_.data(), tables_->visual_.data() + static_cast<int64_t>(label) * vd, vd);
}

// The caller holds tables_->mu_ (shared).
float HybridScorer::ColdQueryLocked(int32_t label) const {
  const int32_t vd = tables_->visual_dim_;
  if (!has_cold_query_ || label < 0 || label >= static_cast<int32_t>(tables_->prior_.size())) return 0.f;
  return Dot(cold_query_.data(), tables_->visual_.data() + static_cast<int64_t>(label) * vd, vd);
}

// The caller holds tables_->mu_ (shared).
float HybridScorer::ColdOrderLocked(int32_t label, float vasg) const {
  const HybridWeights& w = tables_->weights();
  const bool known = label >= 0 && label < static_cast<int32_t>(tables_->prior_.size());
  return vasg + w.cold_order_visual * ColdQueryLocked(label) +
         w.cold_order_freshness * (known ? tables_->fresh_[label] : 1.f);
}

float HybridScorer::ColdOrder(int32_t label, float vasg) const {
  std::shared_lock<std::shared_mutex> lock(tables_->mu_);
  return ColdOrderLocked(label, vasg);
}

void HybridScorer::ReorderCold(const int32_t* labels, const float* vasg, int64_t n, float* scores) {
  if (!tables_->weights().cold_order) return;
  cold_entries_.clear();
  cold_slots_.clear();
  {
    std::shared_lock<std::shared_mutex> lock(tables_->mu_);
    const int64_t known = static_cast<int64_t>(tables_->cold_.size());
    for (int64_t i = 0; i < n; ++i) {
      const int32_t label = labels != nullptr ? labels[i] : static_cast<int32_t>(i);
      if (!std::isfinite(scores[i]) || (label < known && !tables_->cold_[label])) continue;
      cold_entries_.push_back({0.f, label, i});
      cold_slots_.push_back(scores[i]);
    }
    // Their feature rows first (each a miss), then the order.
    cold_labels_.clear();
    for (const ColdEntry& e : cold_entries_) cold_labels_.push_back(e.label);
    PrefetchVisualLocked(cold_labels_.data(), static_cast<int64_t>(cold_labels_.size()));
    for (ColdEntry& e : cold_entries_) e.order = ColdOrderLocked(e.label, vasg[e.at]);
  }
  std::sort(cold_slots_.begin(), cold_slots_.end(), std::greater<float>());
  std::sort(cold_entries_.begin(), cold_entries_.end(), [](const ColdEntry& a, const ColdEntry& b) {
    return a.order > b.order || (a.order == b.order && a.label < b.label);
  });
  for (size_t k = 0; k < cold_entries_.size(); ++k) scores[cold_entries_[k].at] = cold_slots_[k];
}

HybridScorer::Parts HybridScorer::Terms(int32_t label, float vasg) const {
  const HybridWeights& w = tables_->weights();
  std::shared_lock<std::shared_mutex> lock(tables_->mu_);
  const bool known = label >= 0 && label < static_cast<int32_t>(tables_->prior_.size());
  Parts p;
  p.cold = known ? tables_->cold_[label] != 0 : true;
  p.term[0] = w.neighbours * Neighbour(label) * n_scale_ + w.ease * Ease(label) * e_scale_;
  p.term[1] = w.vasg * vasg;
  p.fresh = w.freshness * (known ? tables_->fresh_[label] : 1.f);
  p.term[2] = w.popularity * (known ? tables_->prior_[label] : 0.f) + p.fresh;
  p.term[3] = (w.visual + w.cold_visual * (p.cold ? 1.f : 0.f)) * VisualLocked(label);
  return p;
}

void HybridScorer::VisualRange(int64_t begin, int64_t end, float* out) const {
  std::fill(out, out + (end - begin), 0.f);
  if (!has_profile_) return;
  std::shared_lock<std::shared_mutex> lock(tables_->mu_);
  const int64_t rows = std::min<int64_t>(end, static_cast<int64_t>(tables_->prior_.size())) - begin;
  if (rows > 0) DotRows(profile_.data(), tables_->visual_.data() + begin * tables_->visual_dim_, rows, tables_->visual_dim_, out);
}

HybridScorer::Components HybridScorer::Unweighted(int32_t label, float vasg) const {
  std::shared_lock<std::shared_mutex> lock(tables_->mu_);
  const bool known = label >= 0 && label < static_cast<int32_t>(tables_->prior_.size());
  Components c;
  c.lists = Neighbour(label) * n_scale_;
  c.ease = Ease(label) * e_scale_;
  c.vasg = vasg;
  c.popularity = known ? tables_->prior_[label] : 0.f;
  c.freshness = known ? tables_->fresh_[label] : 1.f;
  c.visual = VisualLocked(label);
  c.cold_query = ColdQueryLocked(label);
  c.cold = known ? tables_->cold_[label] != 0 : true;
  return c;
}

float HybridScorer::Score(int32_t label, float vasg) const {
  const Parts p = Terms(label, vasg);
  // The same order of additions as ScoreAll, so both give a product the same float.
  return p.term[1] + p.term[2] + p.term[3] + p.term[0];
}

void HybridScorer::ScoreAll(const float* vasg, int64_t n, float* out, float* means) const {
  VisualRange(0, n, out);
  const HybridWeights& w = tables_->weights();
  std::shared_lock<std::shared_mutex> lock(tables_->mu_);
  const int64_t known = std::min<int64_t>(n, static_cast<int64_t>(tables_->prior_.size()));
  double sums[4] = {0, 0, 0, 0};
  int64_t finite = 0;
  for (int64_t p = 0; p < n; ++p) {
    const float prior = p < known ? w.popularity * tables_->prior_[p] + w.freshness * tables_->fresh_[p]
                                  : w.freshness;
    const float cold = p < known ? tables_->cold_[p] : 1.f;
    const float visual = (w.visual + w.cold_visual * cold) * out[p];
    out[p] = w.vasg * vasg[p] + prior + visual;
    if (means != nullptr && std::isfinite(vasg[p])) {
      sums[1] += w.vasg * vasg[p];
      sums[2] += prior;
      sums[3] += visual;
      ++finite;
    }
  }
  for (int32_t j : touched_) {
    if (j >= n) continue;
    const float lists = w.neighbours * Neighbour(j) * n_scale_ + w.ease * Ease(j) * e_scale_;
    out[j] += lists;
    if (means != nullptr && std::isfinite(vasg[j])) sums[0] += lists;
  }
  if (means != nullptr)
    for (int t = 0; t < 4; ++t) means[t] = finite > 0 ? static_cast<float>(sums[t] / static_cast<double>(finite)) : 0.f;
}

void HybridScorer::ScoreSome(const int32_t* labels, const float* vasg, int64_t n, float* out, float* means) const {
  const HybridWeights& w = tables_->weights();
  std::shared_lock<std::shared_mutex> lock(tables_->mu_);
  const int32_t known = static_cast<int32_t>(tables_->prior_.size());
  double sums[4] = {0, 0, 0, 0};
  if (has_profile_) PrefetchVisualLocked(labels, std::min<int64_t>(n, kPrefetchAhead));
  for (int64_t i = 0; i < n; ++i) {
    if (has_profile_ && i + kPrefetchAhead < n) PrefetchVisualLocked(labels + i + kPrefetchAhead, 1);
    const int32_t label = labels[i];
    const bool in = label >= 0 && label < known;
    const float cold = in ? tables_->cold_[label] : 1.f;
    const float term[4] = {w.neighbours * Neighbour(label) * n_scale_ + w.ease * Ease(label) * e_scale_,
                           w.vasg * vasg[i],
                           in ? w.popularity * tables_->prior_[label] + w.freshness * tables_->fresh_[label] : w.freshness,
                           (w.visual + w.cold_visual * cold) * VisualLocked(label)};
    out[i] = term[1] + term[2] + term[3] + term[0];  // ScoreAll's order of additions
    for (int t = 0; t < 4; ++t) sums[t] += term[t];
  }
  if (means != nullptr)
    for (int t = 0; t < 4; ++t) means[t] = n > 0 ? static_cast<float>(sums[t] / static_cast<double>(n)) : 0.f;
}

Reason HybridScorer::Explain(int32_t label, float vasg, const float* means) const {
  const Parts p = Terms(label, vasg);
  float lift[4];
  for (int t = 0; t < 4; ++t) lift[t] = p.term[t] - (means != nullptr ? means[t] : 0.f);
  const int best = static_cast<int>(std::max_element(lift, lift + 4) - lift);
  // A new product: "new-visual-match" whenever its look lifts it at all, else the user's taste.
  if (p.cold) return lift[3] > 0 ? Reason::kNewVisualMatch : Reason::kTaste;
  static constexpr Reason kByTerm[4] = {Reason::kBoughtWith, Reason::kTaste, Reason::kPopular, Reason::kVisualMatch};
  // The priors' term: "new-arrival" when freshness is the larger part of it.
  if (best == 2 && p.fresh > p.term[2] - p.fresh) return Reason::kNewArrival;
  return kByTerm[best];
}

}  // namespace vasgd

#include "rank/weight_choice.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>

#include "common/elapsed.h"
#include "index/distance.h"
#include "model/parallel.h"
#include "rank/competitors.h"

namespace vasgd {
namespace {


// One held-out pair's candidates, terms stored column by column; the target is at index 0.
struct PairTerms {
  std::vector<int32_t> label;
  std::vector<float> lists, ease, vasg, popularity, freshness, visual;
  std::vector<uint8_t> cold;
};

struct Gain {
  double hit = 0, ndcg = 0;
};

// Rank of the target (index 0) among the pair's candidates under `w`; ties go to the lower label,
// as in serving.
Gain Evaluate(const PairTerms& t, const HybridWeights& w, int k) {
  auto score = [&](size_t i) {
    return w.vasg * t.vasg[i] + w.popularity * t.popularity[i] + w.freshness * t.freshness[i] +
           (w.visual + w.cold_visual * t.cold[i]) * t.visual[i] +
           (w.neighbours * t.lists[i] + w.ease * t.ease[i]);
  };
  const float target = score(0);
  int64_t ahead = 0;
  for (size_t i = 1; i < t.label.size() && ahead < k; ++i) {
    const float s = score(i);
    if (s > target || (s == target && t.label[i] < t.label[0])) ++ahead;
  }
  if (ahead >= k) return {};
  return {1.0, 1.0 / std::log2(static_cast<double>(ahead) + 2.0)};
}

// The `c` best of `values` (by value, then lower label) among labels not in `skip`, into *out,
// best first. One pass: once 4c are gathered the best c are kept and only values above the c-th
// are taken after it (a later label loses a tie), so a million products cost a scan, not a sort.
void TopByValue(const std::vector<float>& values, int c, const std::vector<uint8_t>& skip, std::vector<int32_t>* out,
                std::vector<std::pair<float, int32_t>>* scratch) {
  if (c <= 0) return;
  scratch->clear();
  const size_t keep = static_cast<size_t>(c), trim_at = 4 * keep + 64;
  bool trimmed = false;
  float floor = 0;  // the c-th best value so far, once trimmed
  for (int32_t p = 0; p < static_cast<int32_t>(values.size()); ++p) {
    if (skip[p] || (trimmed && !(values[p] > floor))) continue;
    scratch->push_back({-values[p], p});
    if (scratch->size() < trim_at) continue;
    std::nth_element(scratch->begin(), scratch->begin() + (keep - 1), scratch->end());
    scratch->resize(keep);
    floor = -(*scratch)[keep - 1].first;
    trimmed = true;
  }
  const size_t take = std::min(scratch->size(), keep);
  std::partial_sort(scratch->begin(), scratch->begin() + take, scratch->end());
  for (size_t i = 0; i < take; ++i) out->push_back((*scratch)[i].second);
}

// Pairs are built kBlock at a time: their V and visual terms over every product come from one
// pass over the product rows in chunks of kChunk rows that stay in cache. At 1M products the unit
// rows alone are 400 MB; read once per pair, memory bandwidth made the choice 321 s.
constexpr int kBlock = 16;
constexpr int64_t kChunk = 1024;  // a multiple of 4: every float is the one a whole-row DotRows gives

class PairBuilder {
 public:
  PairBuilder(const HybridTables& tables, const HoldoutPairs& holdout, const std::vector<float>& unit_products,
              const std::vector<int32_t>& popular, const std::vector<uint8_t>& unshown, const ChoiceOptions& o)
      : tables_(tables), holdout_(holdout), unit_(unit_products), popular_(popular), unshown_(unshown), o_(o) {
    const int64_t n = static_cast<int64_t>(tables.model().product_ids.size());
    const int32_t dim = tables.model().dim;
    for (int b = 0; b < kBlock; ++b) {
      scorers_.push_back(std::make_unique<HybridScorer>(&tables));
      v_[b].resize(n);
      visual_[b].resize(n);
    }
    queries_.resize(static_cast<size_t>(kBlock) * dim);
  }

  // Builds pairs [first, first + count) (count <= kBlock) into out[first, first + count).
  void BuildBlock(size_t first, int count, PairTerms* out) {
    const ModelVersion& m = tables_.model();
    for (int b = 0; b < count; ++b) {
      const int32_t u = holdout_.users[first + b];
      float* q = queries_.data() + static_cast<size_t>(b) * m.dim;
      std::copy(m.user(u), m.user(u) + m.dim, q);
      NormalizeInPlace(q, m.dim);
      scorers_[b]->Prepare({Bought(u), NumBought(u), q});
    }
    const int64_t n = static_cast<int64_t>(unit_.size()) / std::max(1, m.dim);
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
      const int64_t c1 = std::min(n, c0 + kChunk);
      for (int b = 0; b < count; ++b) {
        DotRows(queries_.data() + static_cast<size_t>(b) * m.dim, unit_.data() + c0 * m.dim, c1 - c0, m.dim,
                v_[b].data() + c0);
        scorers_[b]->VisualRange(c0, c1, visual_[b].data() + c0);
      }
    }
    for (int b = 0; b < count; ++b) Finish(first + b, b, &out[first + b]);
  }

 private:
  const int32_t* Bought(int32_t u) const {
    const InteractionGraph& g = *holdout_.train;
    return g.product_index.data() + g.user_offsets[u];
  }
  int64_t NumBought(int32_t u) const {
    const InteractionGraph& g = *holdout_.train;
    return g.user_offsets[u + 1] - g.user_offsets[u];
  }

  // The candidates of pair `pair` (slot b of the block) and their terms.
  void Finish(size_t pair, int b, PairTerms* out) {
    const int32_t u = holdout_.users[pair], target = holdout_.products[pair];
    const HybridScorer& scorer = *scorers_[b];
    const std::vector<float>& v = v_[b];
    const int64_t n = static_cast<int64_t>(v.size());
    // Products serving could never return (no vector) and the user's own purchases are out.
    skip_ = unshown_;
    const int32_t* bought = Bought(u);
    for (int64_t e = 0; e < NumBought(u); ++e) skip_[bought[e]] = 1;
    labels_.clear();
    for (int32_t p : scorer.Reached())
      if (!skip_[p]) labels_.push_back(p);
    TopByValue(v, o_.candidates, skip_, &labels_, &scratch_);
    if (scorer.has_profile()) TopByValue(visual_[b], o_.candidates, skip_, &labels_, &scratch_);
    int taken = 0;
    for (int32_t p : popular_) {
      if (taken >= o_.candidates) break;
      if (!skip_[p]) labels_.push_back(p), ++taken;
    }
    taken = 0;  // the newest (freshness's own candidates)
    for (int64_t p = n - 1; p >= 0 && taken < o_.candidates; --p)
      if (!skip_[p]) labels_.push_back(static_cast<int32_t>(p)), ++taken;
    std::sort(labels_.begin(), labels_.end());
    labels_.erase(std::unique(labels_.begin(), labels_.end()), labels_.end());
    labels_.erase(std::remove(labels_.begin(), labels_.end(), target), labels_.end());
    labels_.insert(labels_.begin(), target);
    *out = PairTerms();
    for (int32_t p : labels_) {
      const HybridScorer::Components c = scorer.Unweighted(p, v[p]);
      out->label.push_back(p);
      out->lists.push_back(c.lists);
      out->ease.push_back(c.ease);
      out->vasg.push_back(c.vasg);
      out->popularity.push_back(c.popularity);
      out->freshness.push_back(c.freshness);
      out->visual.push_back(c.visual);
      out->cold.push_back(c.cold ? 1 : 0);
    }
  }

  const HybridTables& tables_;
  const HoldoutPairs& holdout_;
  const std::vector<float>& unit_;
  const std::vector<int32_t>& popular_;
  const std::vector<uint8_t>& unshown_;
  const ChoiceOptions& o_;
  std::vector<std::unique_ptr<HybridScorer>> scorers_;
  std::vector<float> queries_;
  std::vector<float> v_[kBlock], visual_[kBlock];
  std::vector<uint8_t> skip_;
  std::vector<int32_t> labels_;
  std::vector<std::pair<float, int32_t>> scratch_;
};

// Summed in pair order, not per worker: NDCG's float sum must not depend on which worker took
// which pairs, or exact ties between settings would be decided differently from run to run.
HoldoutScore Measure(const std::vector<PairTerms>& pairs, const HybridWeights& w, int k, WorkerPool& pool,
                     std::vector<Gain>* gains) {
  gains->resize(pairs.size());
  pool.Run(static_cast<int64_t>(pairs.size()), 64, [&](int, int64_t i) { (*gains)[i] = Evaluate(pairs[i], w, k); });
  HoldoutScore s;
  for (const Gain& g : *gains) {
    s.recall += g.hit;
    s.ndcg += g.ndcg;
  }
  const double n = static_cast<double>(std::max<size_t>(1, pairs.size()));
  s.recall /= n;
  s.ndcg /= n;
  return s;
}

}  // namespace

Result<WeightChoice> ChooseWeights(const HybridTables& tables, const HoldoutPairs& holdout, const ChoiceOptions& o) {
  if (holdout.users.empty() || holdout.users.size() != holdout.products.size() || holdout.train == nullptr)
    return Status::InvalidArgument("weight choice: no held-out pairs");
  const auto t0 = Clock::now();
  const ModelVersion& m = tables.model();
  const int64_t n = static_cast<int64_t>(m.product_ids.size());
  // Every term accumulated: the blend happens per setting below.
  HybridWeights all;
  all.ease = all.vasg = all.popularity = all.freshness = all.visual = all.cold_visual = 1;
  HybridTables terms(tables.shared_model(), all);

  std::vector<float> unit(m.product_vectors);
  for (int64_t p = 0; p < n; ++p) NormalizeInPlace(unit.data() + p * m.dim, m.dim);
  std::vector<int32_t> popular(n);
  std::iota(popular.begin(), popular.end(), 0);
  std::stable_sort(popular.begin(), popular.end(), [&](int32_t a, int32_t b) { return m.popularity[a] > m.popularity[b]; });

  const std::vector<uint8_t> unshown = WithoutVector(m);

  WorkerPool pool(o.threads);
  std::vector<PairTerms> pairs(holdout.users.size());
  std::vector<std::unique_ptr<PairBuilder>> builders(pool.size());
  const int64_t blocks = (static_cast<int64_t>(pairs.size()) + kBlock - 1) / kBlock;
  pool.Run(blocks, 1, [&](int worker, int64_t block) {
    if (!builders[worker]) builders[worker] = std::make_unique<PairBuilder>(terms, holdout, unit, popular, unshown, o);
    const size_t first = static_cast<size_t>(block) * kBlock;
    builders[worker]->BuildBlock(first, static_cast<int>(std::min<size_t>(kBlock, pairs.size() - first)), pairs.data());
  });

  WeightChoice choice;
  choice.pairs = static_cast<int64_t>(pairs.size());
  std::vector<Gain> gains;
  auto measure = [&](const HybridWeights& w) {
    ++choice.settings_tried;
    return Measure(pairs, w, o.k, pool, &gains);
  };
  HybridWeights only;
  only.neighbours = 1;
  choice.lists_only = measure(only);
  only.neighbours = 0;
  only.vasg = 1;
  choice.vasg_only = measure(only);
  only.vasg = 0;
  only.popularity = 1;
  choice.popularity_only = measure(only);

  const bool has_lists = !m.neighbour_lists.empty(), has_ease = !m.ease_lists.empty();
  const bool has_visual = m.visual_dim > 0;
  struct Axis {
    float* weight;
    const std::vector<float>* grid;
    bool used;
  };
  HybridWeights w;
  const Axis axes[] = {{&w.neighbours, &o.grids.neighbours, has_lists}, {&w.ease, &o.grids.ease, has_ease},
                       {&w.vasg, &o.grids.vasg, true},                  {&w.popularity, &o.grids.popularity, true},
                       {&w.freshness, &o.grids.freshness, true},
                       {&w.visual, &o.grids.visual, has_visual},        {&w.cold_visual, &o.grids.cold_visual, has_visual}};
  for (const Axis& a : axes) *a.weight = a.used && !a.grid->empty() ? a.grid->front() : 0.f;
  HoldoutScore best = measure(w);
  for (int round = 0; round < o.rounds; ++round) {
    bool improved = false;
    for (const Axis& a : axes) {
      if (!a.used) continue;
      const float start = *a.weight;
      float chosen = start;
      for (float value : *a.grid) {
        if (value == start) continue;
        *a.weight = value;
        const HoldoutScore s = measure(w);
        if (best < s) {
          best = s;
          chosen = value;
          improved = true;
        }
      }
      *a.weight = chosen;
    }
    if (!improved) break;
  }
  choice.weights = w;
  choice.best = best;
  choice.seconds = SecondsSince(t0);
  return choice;
}

std::vector<int32_t> RowsReadByTheHoldout(const HoldoutPairs& holdout) {
  const InteractionGraph& g = *holdout.train;
  std::vector<uint8_t> read(g.num_products, 0);
  for (int32_t u : holdout.users)
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) read[g.product_index[e]] = 1;
  std::vector<int32_t> rows;
  for (int32_t p = 0; p < g.num_products; ++p)
    if (read[p]) rows.push_back(p);
  return rows;
}

HoldoutScore ListsScore(const NeighbourLists& lists, const HoldoutPairs& holdout, int k) {
  HoldoutScore s;
  if (lists.empty() || holdout.users.empty()) return s;
  const InteractionGraph& g = *holdout.train;
  std::vector<float> sum(lists.num_products, 0.f);
  std::vector<int32_t> touched;
  std::vector<uint8_t> bought(lists.num_products, 0);
  for (size_t i = 0; i < holdout.users.size(); ++i) {
    const int32_t u = holdout.users[i], target = holdout.products[i];
    touched.clear();
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) bought[g.product_index[e]] = 1;
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) {
      const int32_t p = g.product_index[e];
      for (int64_t x = lists.offsets[p]; x < lists.offsets[p + 1]; ++x) {
        const int32_t j = lists.neighbours[x];
        if (sum[j] == 0.f) touched.push_back(j);
        sum[j] += lists.weights[x];
      }
    }
    const float t = sum[target];
    if (t > 0) {
      int64_t ahead = 0;
      for (int32_t j : touched)
        if (!bought[j] && j != target && (sum[j] > t || (sum[j] == t && j < target))) ++ahead;
      if (ahead < k) {
        s.recall += 1;
        s.ndcg += 1.0 / std::log2(static_cast<double>(ahead) + 2.0);
      }
    }
    for (int32_t j : touched) sum[j] = 0.f;
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) bought[g.product_index[e]] = 0;
  }
  s.recall /= static_cast<double>(holdout.users.size());
  s.ndcg /= static_cast<double>(holdout.users.size());
  return s;
}

}  // namespace vasgd

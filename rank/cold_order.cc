#include "rank/cold_order.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/elapsed.h"
#include "index/distance.h"
#include "model/parallel.h"
#include "rank/competitors.h"

namespace vasgd {
namespace {

// One held-out pair's terms over its competitors (the sample, then the pair's product last).
struct ColdTerms {
  std::vector<float> v, q, fresh, formula, c;
};

}  // namespace

ColdOrderChoice ChooseColdOrder(std::shared_ptr<const ModelVersion> model, const HybridWeights& weights,
                                const HoldoutPairs& holdout, const ColdOrderOptions& o) {
  const auto t0 = Clock::now();
  const ModelVersion& m = *model;
  ColdOrderChoice out;
  out.weights = weights;
  out.weights.cold_order = false;
  auto is_cold = [&](int32_t p) { return m.product_kind[p] == static_cast<uint8_t>(ProductKind::kCold); };
  std::vector<int32_t> cold;
  for (size_t p = 0; p < m.product_ids.size(); ++p)
    if (is_cold(static_cast<int32_t>(p))) cold.push_back(static_cast<int32_t>(p));
  std::vector<int64_t> pairs;  // entries of `holdout` whose product is cold
  for (size_t i = 0; i < holdout.users.size(); ++i)
    if (is_cold(holdout.products[i])) pairs.push_back(static_cast<int64_t>(i));
  out.cold_products = static_cast<int64_t>(cold.size());
  out.pairs = static_cast<int64_t>(pairs.size());
  auto done = [&] {
    out.seconds = SecondsSince(t0);
    return out;
  };
  if (pairs.empty() || cold.size() < 2) return done();
  const std::vector<int32_t> sample = EvenSample(cold, kMaxCompetitors);
  const std::vector<float> unit = UnitRows(m, sample);  // once: every pair scores the same competitors

  HybridWeights probe = weights;
  probe.cold_order = true;  // so that Prepare builds the cold query
  HybridTables tables(model, probe);
  const InteractionGraph& g = *holdout.train;
  const size_t settings = o.visual.size() * o.freshness.size();
  WorkerPool pool(o.threads);
  struct Worker {
    std::unique_ptr<HybridScorer> scorer;
    std::vector<float> query, row, v;
    ColdTerms x;
    std::vector<double> auc;  // per setting (ρ-major), summed over pairs
    double formula_auc = 0;
  };
  std::vector<Worker> workers(pool.size());
  pool.Run(static_cast<int64_t>(pairs.size()), 4, [&](int id, int64_t at) {
    Worker& w = workers[id];
    if (!w.scorer) {
      w.scorer = std::make_unique<HybridScorer>(&tables);
      w.auc.assign(settings, 0.0);
    }
    const int32_t u = holdout.users[pairs[at]], t = holdout.products[pairs[at]];
    w.query.assign(m.user(u), m.user(u) + m.dim);
    NormalizeInPlace(w.query.data(), m.dim);
    w.scorer->Prepare({g.product_index.data() + g.user_offsets[u], g.user_offsets[u + 1] - g.user_offsets[u],
                       w.query.data()});
    ColdTerms& x = w.x;
    x.v.clear(), x.q.clear(), x.fresh.clear(), x.formula.clear();
    auto add = [&](int32_t p, float v) {
      const HybridScorer::Components c = w.scorer->Unweighted(p, v);
      x.v.push_back(v), x.q.push_back(c.cold_query), x.fresh.push_back(c.freshness);
      x.formula.push_back(w.scorer->Score(p, v));
    };
    w.v.resize(sample.size());
    DotRows(w.query.data(), unit.data(), static_cast<int64_t>(sample.size()), m.dim, w.v.data());
    for (size_t i = 0; i < sample.size(); ++i)
      if (sample[i] != t) add(sample[i], w.v[i]);
    add(t, CosineWithProduct(m, w.query.data(), t, &w.row));  // t, last (it may be outside the sample)
    const int64_t scored = static_cast<int64_t>(x.v.size());
    w.formula_auc += AucOfLast(x.formula.data(), scored);
    for (size_t r = 0; r < o.visual.size(); ++r) {
      for (size_t f = 0; f < o.freshness.size(); ++f) {
        x.c.resize(x.v.size());
        for (size_t i = 0; i < x.v.size(); ++i) x.c[i] = x.v[i] + o.visual[r] * x.q[i] + o.freshness[f] * x.fresh[i];
        w.auc[r * o.freshness.size() + f] += AucOfLast(x.c.data(), scored);
      }
    }
  });
  std::vector<double> auc(settings, 0.0);
  double formula = 0;
  for (const Worker& w : workers) {
    formula += w.formula_auc;
    for (size_t i = 0; i < w.auc.size(); ++i) auc[i] += w.auc[i];
  }
  const double n = static_cast<double>(pairs.size());
  out.formula_auc = formula / n;
  if (out.pairs < o.min_pairs) return done();
  out.grid_auc.resize(settings);
  for (size_t i = 0; i < settings; ++i) out.grid_auc[i] = auc[i] / n;
  for (size_t r = 0; r < o.visual.size(); ++r) {
    for (size_t f = 0; f < o.freshness.size(); ++f) {
      const double a = auc[r * o.freshness.size() + f] / n;
      ++out.settings_tried;
      if (a > out.chosen_auc) {
        out.chosen_auc = a;
        out.weights.cold_order_visual = o.visual[r];
        out.weights.cold_order_freshness = o.freshness[f];
      }
    }
  }
  out.weights.cold_order = out.chosen_auc > out.formula_auc;
  if (!out.weights.cold_order) out.weights.cold_order_visual = out.weights.cold_order_freshness = 0;
  return done();
}

}  // namespace vasgd

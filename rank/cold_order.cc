#include "rank/cold_order.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

#include "index/distance.h"
#include "model/parallel.h"

namespace vasgd {
namespace {

// Share of the entries of `c` other than `target` below c[target], ties counting half.
double AucAmong(const std::vector<float>& c, size_t target) {
  double below = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i == target) continue;
    below += c[i] < c[target] ? 1.0 : (c[i] == c[target] ? 0.5 : 0.0);
  }
  return below / static_cast<double>(c.size() - 1);
}

// One held-out pair's terms over every cold product: what the grid blends.
struct ColdTerms {
  std::vector<float> v, q, fresh, formula;
  size_t target = 0;
};

}  // namespace

ColdOrderChoice ChooseColdOrder(std::shared_ptr<const ModelVersion> model, const HybridWeights& weights,
                                const HoldoutPairs& holdout, const ColdOrderOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
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
  if (pairs.empty() || cold.size() < 2) return out;

  HybridWeights probe = weights;
  probe.cold_order = true;  // so that Prepare builds the cold query
  HybridTables tables(model, probe);
  std::vector<float> unit(cold.size() * static_cast<size_t>(m.dim));
  for (size_t i = 0; i < cold.size(); ++i) {
    std::copy(m.product(cold[i]), m.product(cold[i]) + m.dim, unit.begin() + i * m.dim);
    NormalizeInPlace(unit.data() + i * m.dim, m.dim);
  }
  const InteractionGraph& g = *holdout.train;
  std::vector<ColdTerms> terms(pairs.size());
  WorkerPool pool(o.threads);
  std::vector<std::unique_ptr<HybridScorer>> scorers(pool.size());
  std::vector<std::vector<float>> queries(pool.size());
  pool.Run(static_cast<int64_t>(pairs.size()), 4, [&](int id, int64_t at) {
    if (!scorers[id]) scorers[id] = std::make_unique<HybridScorer>(&tables);
    HybridScorer& scorer = *scorers[id];
    std::vector<float>& query = queries[id];
    const int32_t u = holdout.users[pairs[at]], t = holdout.products[pairs[at]];
    query.assign(m.user(u), m.user(u) + m.dim);
    NormalizeInPlace(query.data(), m.dim);
    scorer.Prepare({g.product_index.data() + g.user_offsets[u], g.user_offsets[u + 1] - g.user_offsets[u], query.data()});
    ColdTerms& x = terms[at];
    x.v.resize(cold.size());
    DotRows(query.data(), unit.data(), static_cast<int64_t>(cold.size()), m.dim, x.v.data());
    x.q.resize(cold.size());
    x.fresh.resize(cold.size());
    x.formula.resize(cold.size());
    for (size_t i = 0; i < cold.size(); ++i) {
      const HybridScorer::Components c = scorer.Unweighted(cold[i], x.v[i]);
      x.q[i] = c.cold_query;
      x.fresh[i] = c.freshness;
      x.formula[i] = scorer.Score(cold[i], x.v[i]);
      if (cold[i] == t) x.target = i;
    }
  });

  auto mean_auc = [&](const std::function<void(const ColdTerms&, std::vector<float>*)>& order) {
    std::vector<double> per_pair(terms.size());
    pool.Run(static_cast<int64_t>(terms.size()), 8, [&](int id, int64_t at) {
      thread_local std::vector<float> c;
      order(terms[at], &c);
      per_pair[at] = AucAmong(c, terms[at].target);
      (void)id;
    });
    double sum = 0;
    for (double a : per_pair) sum += a;
    return sum / static_cast<double>(terms.size());
  };
  out.formula_auc = mean_auc([](const ColdTerms& x, std::vector<float>* c) { *c = x.formula; });
  if (out.pairs < o.min_pairs) {
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  }
  for (float rho : o.visual) {
    for (float phi : o.freshness) {
      const double auc = mean_auc([&](const ColdTerms& x, std::vector<float>* c) {
        c->resize(x.v.size());
        for (size_t i = 0; i < x.v.size(); ++i) (*c)[i] = x.v[i] + rho * x.q[i] + phi * x.fresh[i];
      });
      ++out.settings_tried;
      if (auc > out.chosen_auc) {
        out.chosen_auc = auc;
        out.weights.cold_order_visual = rho;
        out.weights.cold_order_freshness = phi;
      }
    }
  }
  out.weights.cold_order = out.chosen_auc > out.formula_auc;
  if (!out.weights.cold_order) out.weights.cold_order_visual = out.weights.cold_order_freshness = 0;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace vasgd

#include "rank/similar.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "index/distance.h"
#include "model/holdout.h"
#include "model/parallel.h"
#include "rank/competitors.h"

namespace vasgd {
namespace {

struct Gain {
  double hit = 0, ndcg = 0;
};

constexpr size_t kMaxSimilarPairs = 2000;

}  // namespace

float SimilarListWeight(const ModelVersion& model) {
  nlohmann::json extra = nlohmann::json::parse(model.manifest_extra_json, nullptr, false);
  if (!extra.is_object() || !extra.contains("hybrid")) return 0.f;
  const nlohmann::json& h = extra["hybrid"];
  if (!h.is_object() || !h.contains("similar") || !h["similar"].is_object()) return 0.f;
  const nlohmann::json& w = h["similar"]["list_weight"];
  return w.is_number() && std::isfinite(w.get<double>()) && w.get<double>() >= 0 ? w.get<float>() : 0.f;
}

void NormalisedListRow(const NeighbourLists& lists, int32_t a, std::vector<std::pair<int32_t, float>>* out) {
  out->clear();
  if (lists.empty() || a < 0 || a >= lists.num_products) return;
  float best = 0;
  for (int64_t e = lists.offsets[a]; e < lists.offsets[a + 1]; ++e) best = std::max(best, lists.weights[e]);
  if (!(best > 0)) return;
  for (int64_t e = lists.offsets[a]; e < lists.offsets[a + 1]; ++e) out->push_back({lists.neighbours[e], lists.weights[e] / best});
}

SimilarChoice ChooseSimilarWeight(const ModelVersion& m, const HoldoutPairs& holdout, const std::vector<float>& grid,
                                  int threads) {
  SimilarChoice choice;
  if (grid.empty() || holdout.train == nullptr) return choice;
  const InteractionGraph& g = *holdout.train;
  const int64_t n = static_cast<int64_t>(m.product_ids.size());
  std::vector<float> unit(m.product_vectors);
  for (int64_t p = 0; p < n; ++p) NormalizeInPlace(unit.data() + p * m.dim, m.dim);
  // The anchors: per pair the user's remaining purchase with the largest hash, if any.
  std::vector<std::pair<int32_t, size_t>> anchors;  // (anchor product, pair)
  for (size_t i = 0; i < holdout.users.size(); ++i) {
    const int32_t u = holdout.users[i];
    uint64_t best = 0;
    int32_t anchor = -1;
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) {
      const int32_t p = g.product_index[e];
      if (m.product_kind[p] == static_cast<uint8_t>(ProductKind::kNone)) continue;
      const uint64_t h = StableHash(static_cast<uint64_t>(i), m.product_ids[p]);
      if (anchor < 0 || h > best) best = h, anchor = p;
    }
    if (anchor >= 0 && m.product_kind[holdout.products[i]] != static_cast<uint8_t>(ProductKind::kNone))
      anchors.push_back({anchor, i});
  }
  // Each anchor costs a pass over the catalogue: a few thousand pairs tell the weights apart.
  if (anchors.size() > kMaxSimilarPairs) anchors.resize(kMaxSimilarPairs);
  choice.pairs = static_cast<int64_t>(anchors.size());
  if (anchors.empty()) return choice;
  // Per anchor and grid value, summed in anchor order below: a float sum that does not depend on
  // which worker took which anchor, so ties between weights are decided alike on every run.
  std::vector<Gain> gains(anchors.size() * grid.size());
  const std::vector<uint8_t> unshown = WithoutVector(m);
  WorkerPool pool(threads);
  struct Scratch {
    std::vector<float> cos, list;
    std::vector<uint8_t> skip;
    std::vector<std::pair<int32_t, float>> row;
  };
  std::vector<Scratch> scratch(pool.size());
  pool.Run(static_cast<int64_t>(anchors.size()), 8, [&](int w, int64_t k) {
    Scratch& s = scratch[w];
    const auto [a, i] = anchors[k];
    const int32_t u = holdout.users[i], t = holdout.products[i];
    s.cos.resize(n);
    s.list.assign(n, 0.f);
    DotRows(unit.data() + static_cast<int64_t>(a) * m.dim, unit.data(), n, m.dim, s.cos.data());
    NormalisedListRow(m.neighbour_lists, a, &s.row);
    for (const auto& [j, l] : s.row) s.list[j] = l;
    // The user's own purchases (the anchor among them) and products without a vector are never shown.
    s.skip = unshown;
    std::vector<uint8_t>& skip = s.skip;
    for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e) skip[g.product_index[e]] = 1;
    for (size_t gi = 0; gi < grid.size(); ++gi) {
      const float wl = grid[gi];
      const float target = s.cos[t] + wl * s.list[t];
      int64_t ahead = 0;
      for (int64_t p = 0; p < n && ahead < 20; ++p) {
        if (skip[p] || p == t) continue;
        const float v = s.cos[p] + wl * s.list[p];
        if (v > target || (v == target && p < t)) ++ahead;
      }
      if (ahead < 20) gains[k * grid.size() + gi] = {1.0, 1.0 / std::log2(static_cast<double>(ahead) + 2.0)};
    }
  });
  HoldoutScore best;
  for (size_t gi = 0; gi < grid.size(); ++gi) {
    HoldoutScore s;
    for (size_t k = 0; k < anchors.size(); ++k) {
      s.recall += gains[k * grid.size() + gi].hit;
      s.ndcg += gains[k * grid.size() + gi].ndcg;
    }
    s.recall /= static_cast<double>(anchors.size());
    s.ndcg /= static_cast<double>(anchors.size());
    choice.tried.push_back({grid[gi], s});
    if (gi == 0 || best < s) {
      best = s;
      choice.list_weight = grid[gi];
    }
  }
  return choice;
}

}  // namespace vasgd

// Products similar to a product: VASG cosine, the neighbour lists, or their blend, as chosen on
// the retraining's holdout (ChooseSimilarWeight) and recorded in the manifest ("hybrid"."similar");
// serving ranks by it in rank/hybrid_ranker.h (RankSimilar).
//
//   score(a, j) = cos(x_a, x_j) + w_l · L(a, j),   L(a, j) = w(a, j) / max_j' w(a, j')
// where w(a, ·) is product a's walk-family list row (0 outside it; a cold product has none, so it
// is ranked by the cosine of its encoder embedding alone). w_l = 0 is VASG alone; a large w_l puts
// the list's products first in the list's order, then the rest by cosine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/dataset.h"
#include "model/model_version.h"
#include "rank/weight_choice.h"

namespace vasgd {

// list_weight w_l of the manifest ("hybrid"."similar"."list_weight"); 0 when absent.
float SimilarListWeight(const ModelVersion& model);

struct SimilarChoice {
  float list_weight = 0;
  std::vector<std::pair<float, HoldoutScore>> tried;  // w_l -> co-purchase Recall@20 / NDCG@20
  int64_t pairs = 0;
};

// For each held-out (u, t) whose user has another purchase a (the one with the largest hash of the
// ids, fixed across runs): how high t ranks among the products similar to a, all products with a
// vector scored, u's other purchases excluded (at most 2,000 pairs). Chooses the w_l of `grid`
// with the best Recall@20 (then NDCG@20; the first of equals).
SimilarChoice ChooseSimilarWeight(const ModelVersion& model, const HoldoutPairs& holdout,
                                  const std::vector<float>& grid, int threads);

// L(a, ·) for product a: out receives (product, w(a, j) / max) for its list row (empty without one).
void NormalisedListRow(const NeighbourLists& lists, int32_t a, std::vector<std::pair<int32_t, float>>* out);

}  // namespace vasgd

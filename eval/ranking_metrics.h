// User -> product ranking metrics: full-ranking Recall@K / NDCG@K with the user's training items
// masked (the protocol of ../shared/data/tiktok/README.md), overall and restricted to warm or cold
// test pairs, and the paper's AUC (eq. 4) for warm pairs, cold pairs, and cold pairs among cold
// candidates only.
//
// Definitions (a test pair is (u, t) with t a held-out purchase of u):
//   candidates(u)      every product that is neither a training item nor a test item of u
//                      (validation items are not removed, as in the ranking protocol)
//   AUC(u, t)          (#{c in candidates(u) : s(c) < s(t)} + ½ #{c : s(c) == s(t)}) / |candidates(u)|
//   AUC among cold     the same with candidates = cold products (no training edge) other than u's
//                      test items; reported for cold test pairs only
//   auc_warm / auc_cold   mean of AUC(u, t) over warm / cold test pairs
//   top-K(u)           the K highest-scoring products after masking u's training items; ties are
//                      broken by the lower product id so results do not depend on threads or order
//   Recall@K(u)        |top-K(u) ∩ T_u| / |T_u|, with T_u the test items of u
//   NDCG@K(u)          Σ_{hits at rank r (0-based)} 1/log2(r+2), divided by the ideal DCG of
//                      min(|T_u|, K) hits
//   recall/ndcg        means over users with at least one test item
//   *_warm / *_cold    the same with T_u restricted to warm / cold test items, averaged over the
//                      users that have at least one such item (the ranking itself is unchanged)
// A NaN score counts as the lowest possible score and is counted in non_finite_scores.
#pragma once

#include <cstdint>
#include <vector>

#include "eval/eval_data.h"
#include "eval/scorer.h"
#include "model/dataset.h"

namespace vasgd {

struct RankingOptions {
  int32_t k = 20;              // cut-off K of Recall@K and NDCG@K, products
  int32_t threads = 0;         // worker threads; 0 = all cores
  int32_t block_users = 64;    // users scored per Scorer::Score call
};

struct RankingMetrics {
  // NaN where undefined (e.g. no cold test pair).
  double recall = 0, ndcg = 0;
  double recall_warm = 0, ndcg_warm = 0;
  double recall_cold = 0, ndcg_cold = 0;
  double auc_warm = 0, auc_cold = 0, auc_cold_among_cold = 0;
  int64_t users = 0;          // users with at least one test item
  int64_t users_warm = 0;     // ... with at least one warm test item
  int64_t users_cold = 0;     // ... with at least one cold test item
  int64_t pairs_warm = 0;
  int64_t pairs_cold = 0;
  int64_t non_finite_scores = 0;  // NaN scores seen (treated as lowest)
};

// Scores every user with a test item against every product and computes the metrics above.
// `train` gives the masks and the warm/cold split; test pairs must be in range (ValidateEvalData).
// Duplicate test pairs count once. Deterministic for any thread count.
RankingMetrics EvaluateRanking(const Scorer& scorer, const InteractionGraph& train,
                               const std::vector<UserProduct>& test, const RankingOptions& options);

// Indices of the k highest of scores[0..n) among those with mask[i] == 0 (mask may be null),
// best first, ties to the lower index; NaN ranks lowest. Writes min(k, #unmasked) indices to out
// and returns how many.
int32_t TopK(const float* scores, const uint8_t* mask, int32_t n, int32_t k, int32_t* out);

}  // namespace vasgd

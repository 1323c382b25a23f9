// Serving side of the hybrid (rank/hybrid.h): a user's page of recommendations from the product
// index (V, eligibility, ids) and the hybrid tables (lists, popularity, visual features).
//
// Catalogues the index searches exactly (fewer live products than index.exact_below) are scored
// exhaustively, every eligible product by the full formula: the same scores the evaluation ranks
// by (tests/daemon check it on a served model). Larger ones are scored on candidates: the
// products the user's lists reach, best first by lists term plus prior and as far as they can
// reach the page, the `candidates` nearest by V from the HNSW graph (for a model
// user: those found when the version loaded, rank/user_candidates.h, and of the products indexed
// since, while they are few, those V puts among its best; the rest are walked by their bound,
// since V is known from their scan), with w_f > 0
// the `candidates` newest products added since the model (with the cold order on: the
// `candidates` newest cold products, the model's own among them), and the products of the
// user-independent prior w_p·pop + w_f·fresh (HybridTables::ByPrior) walked in order until no
// product further down can reach the page: what a product the lists and the graph did not bring
// can add to its prior is bounded (rank/hybrid_ranker.cc). bench/serve_bench measures the cost
// and the agreement with the exhaustive answer.
//
// The cold order (rank/hybrid.h), when the model's weights turn it on, re-orders the cold products
// among everything scored before the page is cut: exhaustively, the evaluation's order exactly.
//
// cold_share: when the top offset+k hold fewer than cold_share cold products, the best-scoring
// cold products not in it replace the lowest non-cold entries (reason new-visual-match), so a
// shop can promote new products without retraining.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "index/product_index.h"
#include "rank/hybrid.h"
#include "rank/similar.h"
#include "rank/user_candidates.h"

namespace vasgd {

struct RankedProduct {
  int32_t label = -1;
  std::string id;
  float score = 0;
  Reason reason = Reason::kTaste;
};

struct HybridRequest {
  const int32_t* purchased = nullptr;  // the user's purchases as index labels
  int64_t num_purchased = 0;
  const float* user_vector = nullptr;  // the model's row, a fold-in, or null
  int k = 20;
  int offset = 0;
  int cold_share = 0;
  int candidates = 50;                 // per source in candidate mode (hybrid.serve_candidates)
  // The model user's nearest by V found at load (null: none): in candidate mode they replace the
  // graph search when they were found `want` at a time and the query has no category.
  const UserCandidates* nearest = nullptr;
  int64_t user_row = -1;               // the user's row in them
};

struct HybridStats {
  bool exhaustive = false;
  int64_t scored = 0;  // products scored by the formula
  bool walked = false;  // the HNSW graph was searched for V's candidates (not found at load)
};

// Products similar to `product` under rank/similar.h's formula with list weight `list_weight`:
// the index's cosine answer when the weight is 0 or the product has no list row (a cold product),
// else every eligible product (below index.exact_below) or its HNSW nearest and its list row.
// NotFound for an unknown product or one without a vector.
Result<std::vector<ScoredProduct>> RankSimilar(const ProductIndex& index, const NeighbourLists& lists,
                                               std::string_view product, float list_weight, const SearchFilter& filter,
                                               int k, int offset);

// Ranks for one request; `scorer` is the calling thread's own (it is prepared here). InvalidArgument
// for k < 1 or offset < 0.
Result<std::vector<RankedProduct>> RankHybrid(const ProductIndex& index, const HybridTables& tables,
                                              HybridScorer* scorer, const SearchFilter& filter,
                                              const HybridRequest& request, HybridStats* stats = nullptr);

}  // namespace vasgd

// Chooses the hybrid's weights (rank/hybrid.h) on held-out purchases: the shop's own validation.
//
// Every held-out pair (u, t) is scored the way serving scores u: u's remaining purchases are the
// query, t must rank among u's top k. The measure is Recall@k (ties broken by NDCG@k), averaged
// over pairs. To keep many weight settings cheap, each pair's terms are computed once on a
// candidate set: every product the lists reach, the `candidates` best by V, by the visual profile
// and by popularity, and t itself; products outside it are taken to rank below t's competitors
// (they score low on every term). Then coordinate ascent: each weight in turn takes the best value
// of its grid with the others fixed, for `rounds` rounds, starting from each grid's first value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/dataset.h"
#include "model/neighbour_lists.h"
#include "rank/hybrid.h"

namespace vasgd {

// Held-out purchases against the graph they were taken out of (its rows are the queries).
struct HoldoutPairs {
  const InteractionGraph* train = nullptr;
  std::vector<int32_t> users;     // user rows
  std::vector<int32_t> products;  // product rows, one per user entry
};

// The values each weight may take (config: [hybrid]); the first value of each is where the
// ascent starts. N is normalised to at most 1 per user, so weights near 1 put a term level with
// the lists. An empty grid keeps its weight at 0.
struct WeightGrids {
  std::vector<float> neighbours, ease, vasg, popularity, visual, cold_visual;
  std::vector<float> freshness;  // empty: w_f stays 0
};

struct ChoiceOptions {
  int k = 20;
  int candidates = 300;  // per term, see the file comment
  int rounds = 3;
  int threads = 0;       // 0 = all cores
  WeightGrids grids;
};

struct HoldoutScore {
  double recall = 0, ndcg = 0;
  bool operator<(const HoldoutScore& o) const { return recall < o.recall || (recall == o.recall && ndcg < o.ndcg); }
};

struct WeightChoice {
  HybridWeights weights;
  HoldoutScore best;                 // the chosen weights
  HoldoutScore lists_only, vasg_only, popularity_only;  // single terms, for the manifest
  int64_t pairs = 0;
  int64_t settings_tried = 0;
  double seconds = 0;
};

// `tables` holds the model trained without the held-out pairs (its lists too); its weights are
// ignored. InvalidArgument when there are no pairs.
Result<WeightChoice> ChooseWeights(const HybridTables& tables, const HoldoutPairs& holdout, const ChoiceOptions& options);

// Recall@k / NDCG@k of ranking by the lists alone (sum over the user's purchases), for choosing a
// list family's settings before the weights: a pair whose product the lists do not reach misses.
HoldoutScore ListsScore(const NeighbourLists& lists, const HoldoutPairs& holdout, int k);

// The products whose lists a choice on `holdout` reads, ascending: what the held-out users bought
// (their lists' sum is their neighbour score here and in the hybrid, its top products their cold
// query, one of them the anchor of rank/similar.h's choice). Lists built for these rows only
// score the holdout exactly as the whole lists do.
std::vector<int32_t> RowsReadByTheHoldout(const HoldoutPairs& holdout);

}  // namespace vasgd

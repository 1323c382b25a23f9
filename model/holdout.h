// Held-out purchases for validating a retraining (plain C++, no LibTorch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/dataset.h"

namespace vasgd {

// The validation holdout a retraining carves from its own snapshot: one purchase held out from
// some users. It serves two purposes: the hybrid's weights and list settings are chosen on it
// (rank/fit.h), and the ranking the new version will serve must reach retrain.min_holdout_auc on it.
//   - A user takes part when they bought at least 2 distinct products and a hash of (seed, user
//     id) falls in the first `fraction` of the hash range (at least min(20, eligible) users when
//     fraction > 0, at most `max_users`: those with the smallest hashes). The purchase held out:
//       kLast: the user's latest purchase (the edge with the largest sequence, InteractionGraph):
//         what the model will be asked next is the user's next purchase, so the holdout is the
//         nearest thing in the snapshot. Ties (a graph without order) go to the newest product.
//       kNewest: the purchase of the product that arrived last (the highest dense id: the store
//         hands ids out in arrival order), whenever it was bought. It rewards freshness on any
//         shop, also where arrival order says nothing about what is bought next.
//       kRandom: the one whose hash of (seed, user, product id) is largest.
//     A user's held-out pair changes only when they buy again (kLast), buy a newer product
//     (kNewest) or buy a product hashing higher (kRandom), so a warm-started model has mostly
//     not trained on the pairs it is validated on; under kLast a repeated purchase of a product
//     trained on before is the exception.
//   - holdout_auc = the paper's AUC over those pairs (each held-out product against every
//     product the user could be shown), scored by what will be served (rank/fit.h).
struct HoldoutSplit {
  InteractionGraph train;            // the graph without the held-out edges
  std::vector<int32_t> test_user;    // one entry per held-out pair
  std::vector<int32_t> test_product;
};
enum class HoldoutPick { kLast, kNewest, kRandom };
// "last" | "newest" | "random"; InvalidArgument otherwise.
Result<HoldoutPick> ParseHoldoutPick(const std::string& name);
HoldoutSplit SplitHoldout(const TrainingData& data, double fraction, uint64_t seed, int64_t max_users = INT64_MAX,
                          HoldoutPick pick = HoldoutPick::kLast);


// FNV-1a of the id, mixed with the seed (splitmix64): the same on every run and platform.
uint64_t StableHash(uint64_t seed, const std::string& id);

}  // namespace vasgd

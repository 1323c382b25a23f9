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
//       kNewest: the purchase of the product that arrived last (the highest dense id: the store
//         hands ids out in arrival order). The store keeps summed weights, not purchase times, so
//         "the user's last purchase" is not known; a purchase of a newer product is the closest
//         it has, and what comes next leans to newer products (TikTok: the val/test items' mean
//         id is 4,448 against 2,495 in train; popularity alone finds 16.6% of randomly held-out
//         train purchases in its top 20 but 6.0% of the test pairs, 11.6% of the newest ones).
//       kRandom: the one whose hash of (seed, user, product id) is largest.
//     Either way the same pairs stay held out across retrainings while the graph grows (a user's
//     newest product changes only when they buy a newer one), so a warm-started model has not
//     trained on the pairs it is validated on (except for users whose held-out pair changed).
//   - holdout_auc = the paper's AUC over those pairs (each held-out product against every
//     product the user could be shown), scored by what will be served (rank/fit.h).
struct HoldoutSplit {
  InteractionGraph train;            // the graph without the held-out edges
  std::vector<int32_t> test_user;    // one entry per held-out pair
  std::vector<int32_t> test_product;
};
enum class HoldoutPick { kNewest, kRandom };
// "newest" | "random"; InvalidArgument otherwise.
Result<HoldoutPick> ParseHoldoutPick(const std::string& name);
HoldoutSplit SplitHoldout(const TrainingData& data, double fraction, uint64_t seed, int64_t max_users = INT64_MAX,
                          HoldoutPick pick = HoldoutPick::kNewest);


// FNV-1a of the id, mixed with the seed (splitmix64): the same on every run and platform.
uint64_t StableHash(uint64_t seed, const std::string& id);

}  // namespace vasgd

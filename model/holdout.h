// Held-out purchases for validating a retraining (plain C++, no LibTorch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/dataset.h"

namespace vasgd {

// The validation holdout a retraining carves from its own snapshot: one purchase held out from
// some users. It serves two purposes: the hybrid's weights and list settings are chosen on it
// (rank/fit.h), and the new VASG model must reach retrain.min_holdout_auc on it.
//   - A user takes part when they bought at least 2 distinct products and a hash of (seed, user
//     id) falls in the first `fraction` of the hash range (at least min(20, eligible) users when
//     fraction > 0, at most `max_users`: those with the smallest hashes). The purchase held out is the one whose
//     hash of (seed, user, product id) is largest. (The store keeps summed weights, not purchase
//     order, so "the last purchase" is not known.) Hashing ids, not positions, keeps the same
//     pairs held out across retrainings while the graph grows, so a warm-started model has not
//     trained on the pairs it is validated on (except for users who just became eligible).
//   - holdout_auc = the paper's AUC (eval/ranking_metrics.h) over those pairs, warm and cold
//     pairs together, scored with the model's own score.
struct HoldoutSplit {
  InteractionGraph train;            // the graph without the held-out edges
  std::vector<int32_t> test_user;    // one entry per held-out pair
  std::vector<int32_t> test_product;
};
HoldoutSplit SplitHoldout(const TrainingData& data, double fraction, uint64_t seed, int64_t max_users = INT64_MAX);


// FNV-1a of the id, mixed with the seed (splitmix64): the same on every run and platform.
uint64_t StableHash(uint64_t seed, const std::string& id);

}  // namespace vasgd

#include "model/holdout.h"

#include <algorithm>

namespace vasgd {

uint64_t StableHash(uint64_t seed, const std::string& id) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
  uint64_t z = h ^ (seed + 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}


Result<HoldoutPick> ParseHoldoutPick(const std::string& name) {
  if (name == "last") return HoldoutPick::kLast;
  if (name == "newest") return HoldoutPick::kNewest;
  if (name == "random") return HoldoutPick::kRandom;
  return Status::InvalidArgument("retrain.holdout_pick must be last, newest or random, not '" + name + "'");
}

HoldoutSplit SplitHoldout(const TrainingData& data, double fraction, uint64_t seed, int64_t max_users, HoldoutPick pick) {
  const InteractionGraph& graph = data.graph;
  HoldoutSplit split;
  // Users by their hash (stable across retrainings), smallest first; eligible ones only.
  std::vector<std::pair<uint64_t, int32_t>> eligible;
  for (int32_t u = 0; u < graph.num_users; ++u) {
    if (graph.user_offsets[u + 1] - graph.user_offsets[u] >= 2) eligible.emplace_back(StableHash(seed, data.user_ids[u]), u);
  }
  std::sort(eligible.begin(), eligible.end());
  size_t want = 0;
  if (fraction > 0) {
    // Those whose hash falls below the fraction, and at least min(20, eligible) users.
    const double cut = fraction * 18446744073709551616.0;  // 2^64
    while (want < eligible.size() && static_cast<double>(eligible[want].first) < cut) ++want;
    want = std::max(want, std::min<size_t>(20, eligible.size()));
    want = std::min<size_t>(want, static_cast<size_t>(std::max<int64_t>(0, max_users)));
  }
  std::vector<int64_t> drop(graph.num_users, -1);  // edge index held out per chosen user
  for (size_t i = 0; i < want; ++i) {
    const int32_t u = eligible[i].second;
    // The edge with the largest key; keys are pairs so that kLast's ties go to the newest product.
    std::pair<uint64_t, uint64_t> best{0, 0};
    for (int64_t e = graph.user_offsets[u]; e < graph.user_offsets[u + 1]; ++e) {
      const uint64_t newest = static_cast<uint64_t>(graph.product_index[e]);
      std::pair<uint64_t, uint64_t> key{newest, 0};
      if (pick == HoldoutPick::kLast) key = {static_cast<uint64_t>(graph.sequence_of(e)), newest};
      if (pick == HoldoutPick::kRandom)
        key = {StableHash(seed ^ StableHash(0, data.user_ids[u]), data.product_ids[graph.product_index[e]]), 0};
      if (drop[u] < 0 || key > best) {
        best = key;
        drop[u] = e;
      }
    }
  }
  split.train.num_users = graph.num_users;
  split.train.num_products = graph.num_products;
  split.train.user_offsets.assign(1, 0);
  split.train.user_offsets.reserve(graph.num_users + 1);
  split.train.product_index.reserve(graph.product_index.size());
  split.train.weight.reserve(graph.weight.size());
  if (!graph.sequence.empty()) split.train.sequence.reserve(graph.sequence.size());
  for (int32_t u = 0; u < graph.num_users; ++u) {
    for (int64_t e = graph.user_offsets[u]; e < graph.user_offsets[u + 1]; ++e) {
      if (e == drop[u]) {
        split.test_user.push_back(u);
        split.test_product.push_back(graph.product_index[e]);
        continue;
      }
      split.train.product_index.push_back(graph.product_index[e]);
      split.train.weight.push_back(graph.weight[e]);
      if (!graph.sequence.empty()) split.train.sequence.push_back(graph.sequence[e]);
    }
    split.train.user_offsets.push_back(static_cast<int64_t>(split.train.product_index.size()));
  }
  return split;
}

}  // namespace vasgd

// The products nearest by V (the cosine with the user's vector) for each user of a model, found
// once when a version is loaded, so that a user query in candidate mode (rank/hybrid_ranker.h)
// scores them instead of walking the HNSW graph: the walk was about half of the daemon's CPU per
// query at 100,000 products (docs/BENCHMARKS.md).
//
// They stay right for the version's life: a model user's vector does not change between
// retrainings. Products embedded after the load reach a page through the ranker's other sources
// (the newest cold products, the prior's walk), and products made unavailable drop out when
// scored. Users without a model row (fold-in) and category-filtered queries walk the graph.
#pragma once

#include <cstdint>
#include <vector>

#include "index/product_index.h"

namespace vasgd {

class UserCandidates {
 public:
  UserCandidates() = default;

  // Searches the index for each of `users` rows of `user_rows` (users × index.dim() floats): its
  // `per_user` nearest eligible products by cosine, no category. Uses `threads` threads (≥ 1).
  // Rows the index cannot search (a non-finite vector) get none.
  static UserCandidates Find(const ProductIndex& index, const float* user_rows, int64_t users, int per_user,
                             int threads);

  // How many labels each user has at most; 0 when nothing was computed.
  int per_user() const { return per_user_; }
  int64_t users() const { return static_cast<int64_t>(floor_.size()); }
  size_t bytes() const { return labels_.size() * sizeof(int32_t) + floor_.size() * sizeof(float); }

  // User `row`'s labels, best first (*count of them, at most per_user()), and *floor: the cosine
  // of the last one when there are per_user() of them, else -1 (every eligible product is among
  // them). Null for a row out of range.
  const int32_t* Of(int64_t row, int* count, float* floor) const;

 private:
  int per_user_ = 0;
  std::vector<int32_t> labels_;  // users × per_user_, -1 past a user's last
  std::vector<float> floor_;     // per user
};

}  // namespace vasgd

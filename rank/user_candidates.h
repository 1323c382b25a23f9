// The products nearest by V (the cosine with the user's vector) for each user of a model, found
// once when a version is loaded, so that a user query in candidate mode (rank/hybrid_ranker.h)
// scores them instead of walking the HNSW graph: the walk was about half of the daemon's CPU per
// query at 100,000 products (docs/BENCHMARKS.md).
//
// A model user's vector does not change between retrainings, so they only age as products are
// indexed: the ranker scans the products indexed since they were found (labels from
// indexed_before(), at most kScanLimit; a scan of that many costs about one graph walk), and the
// daemon extends them (Extend) in the background once kRefreshAfter products were indexed since.
// Products made unavailable drop out when scored. Users without a model row (fold-in),
// category-filtered queries and a ranker facing more than kScanLimit new products walk the graph.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "index/product_index.h"

namespace vasgd {

class UserCandidates {
 public:
  // A scan costs about 30 ns per product at D = 100 (bench/serve_bench: 2,000 products indexed
  // since added 65 µs to a 70 µs query), so 4,096 of them cost about one graph walk.
  static constexpr int64_t kScanLimit = 4096;
  static constexpr int64_t kRefreshAfter = 1024;

  UserCandidates() = default;

  // Searches the index for each of `users` rows of `user_rows` (users × index.dim() floats): its
  // `per_user` nearest eligible products by cosine, no category. Uses `threads` threads (≥ 1).
  // Rows the index cannot search (a non-finite vector) get none. `pace` (may be null; only with
  // one thread) as Extend's.
  static UserCandidates Find(const ProductIndex& index, const float* user_rows, int64_t users, int per_user,
                             int threads, const std::function<void()>* pace = nullptr);

  // The same users' nearest over every product the index holds now: each user's list merged
  // with the products indexed since this one was found (its labels, its V recomputed, those made
  // unavailable dropped), the best per_user() kept. Exact where this one was, and cheaper than
  // Find: a scan of the new products per user instead of a graph walk, and a user whose list no
  // new product reaches (V below its floor) and whose products are all still eligible keeps it
  // without its V being recomputed.
  // `stop` (may be null) is read between users: once true, Extend returns early with an empty
  // result (per_user() 0), for a daemon shutting down. `pace` (may be null) is called after every
  // kPaceUsers users, outside any lock: the daemon sleeps there to bound the extension's share of
  // the CPU.
  UserCandidates Extend(const ProductIndex& index, const float* user_rows, const std::atomic<bool>* stop = nullptr,
                        const std::function<void()>* pace = nullptr) const;
  static constexpr int64_t kPaceUsers = 256;

  // How many labels each user has at most; 0 when nothing was computed.
  int per_user() const { return per_user_; }
  int64_t users() const { return static_cast<int64_t>(floor_.size()); }
  size_t bytes() const { return labels_.size() * sizeof(int32_t) + floor_.size() * sizeof(float); }
  // Labels at or above this one were indexed after the search (the index's num_products() then).
  int64_t indexed_before() const { return indexed_before_; }

  // User `row`'s labels, best first (*count of them, at most per_user()), and *floor: the cosine
  // of the last one when there are per_user() of them, else -1 (every eligible product is among
  // them). Null for a row out of range.
  const int32_t* Of(int64_t row, int* count, float* floor) const;

 private:
  int per_user_ = 0;
  int64_t indexed_before_ = 0;
  std::vector<int32_t> labels_;  // users × per_user_, -1 past a user's last
  std::vector<float> floor_;     // per user
};

}  // namespace vasgd

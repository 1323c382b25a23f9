#include "rank/user_candidates.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace vasgd {

UserCandidates UserCandidates::Find(const ProductIndex& index, const float* user_rows, int64_t users, int per_user,
                                    int threads, const std::function<void()>* pace) {
  const ProductIndex::BackgroundReads reads(index);
  UserCandidates out;
  if (per_user < 1 || users < 1) return out;
  out.per_user_ = per_user;
  out.indexed_before_ = index.num_products();
  out.labels_.assign(static_cast<size_t>(users) * per_user, -1);
  out.floor_.assign(static_cast<size_t>(users), -1.f);
  const int32_t dim = index.dim();
  const SearchFilter any;
  SearchOptions labels_only;
  labels_only.with_ids = false;
  // Rows are dealt out in turn so that the threads finish together.
  auto work = [&](int first, int step) {
    for (int64_t u = first; u < users; u += step) {
      if (pace != nullptr && step == 1 && u > 0 && u % kPaceUsers == 0) (*pace)();
      Result<std::vector<ScoredProduct>> near =
          index.Search(user_rows + u * dim, Metric::kCosine, any, per_user, 0, nullptr, nullptr, &labels_only);
      if (!near.ok()) continue;
      int32_t* labels = out.labels_.data() + u * per_user;
      for (size_t i = 0; i < near->size(); ++i) labels[i] = (*near)[i].label;
      if (static_cast<int>(near->size()) == per_user) out.floor_[u] = near->back().score;
    }
  };
  const int n = std::max(1, threads);
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(work, t, n);
  work(0, n);
  for (std::thread& t : pool) t.join();
  return out;
}

UserCandidates UserCandidates::Extend(const ProductIndex& index, const float* user_rows,
                                      const std::atomic<bool>* stop, const std::function<void()>* pace) const {
  const ProductIndex::BackgroundReads reads(index);
  UserCandidates out;
  out.per_user_ = per_user_;
  out.indexed_before_ = index.num_products();
  out.labels_.assign(labels_.size(), -1);
  out.floor_ = floor_;
  const SearchFilter any;
  const int64_t since = std::max<int64_t>(0, out.indexed_before_ - indexed_before_);
  std::vector<float> v(static_cast<size_t>(std::max<int64_t>(per_user_, since)));
  std::vector<int32_t> still;  // the old list's labels still eligible
  std::vector<float> still_v;
  std::vector<std::pair<float, int32_t>> pool;
  for (int64_t u = 0; u < users(); ++u) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return UserCandidates();
    if (pace != nullptr && u > 0 && u % kPaceUsers == 0) (*pace)();
    const float* query = user_rows + u * index.dim();
    int count = 0;
    float floor = -1;
    const int32_t* old = Of(u, &count, &floor);
    int32_t* labels = out.labels_.data() + u * per_user_;
    // Most users keep their list: no new product reaches its floor, and every product in it is
    // still eligible. Only the new products' V is computed for them (contiguous rows), not the
    // list's (scattered rows), and nothing is sorted.
    const int64_t n = index.CosineRange(query, any, indexed_before_, since, v.data());
    const bool full = count == per_user_;
    bool reached = !full;
    for (int64_t i = 0; i < n && !reached; ++i) reached = v[i] >= floor;
    still.clear();
    index.TakeEligible(old, count, any, count, &still);
    if (!reached && static_cast<int>(still.size()) == count) {
      std::copy(old, old + count, labels);
      continue;
    }
    pool.clear();
    for (int64_t i = 0; i < n; ++i)
      if (std::isfinite(v[i]) && (v[i] >= floor || !full || static_cast<int>(still.size()) < count))
        pool.push_back({v[i], static_cast<int32_t>(indexed_before_ + i)});
    const size_t from_new = pool.size();
    pool.resize(from_new + still.size());
    still_v.resize(still.size());
    index.CosineOf(query, any, still.data(), static_cast<int64_t>(still.size()), still_v.data());
    for (size_t i = 0; i < still.size(); ++i) pool[from_new + i] = {still_v[i], still[i]};
    // Best first, ties by lower label (as the index ranks them).
    auto better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    const size_t keep = std::min<size_t>(per_user_, pool.size());
    std::partial_sort(pool.begin(), pool.begin() + keep, pool.end(), better);
    for (size_t i = 0; i < keep; ++i) labels[i] = pool[i].second;
    // What is left out: products below the old list (V <= its floor) and the new ones cut here.
    if (keep < pool.size()) out.floor_[u] = std::max(floor, pool[keep].first);
  }
  return out;
}

const int32_t* UserCandidates::Of(int64_t row, int* count, float* floor) const {
  if (row < 0 || row >= users()) return nullptr;
  const int32_t* labels = labels_.data() + row * per_user_;
  *count = static_cast<int>(std::find(labels, labels + per_user_, -1) - labels);
  *floor = floor_[row];
  return labels;
}

}  // namespace vasgd

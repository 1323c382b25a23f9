#include "rank/user_candidates.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace vasgd {

void AppendIndexedSince(const ProductIndex& index, const float* query, int64_t from, std::vector<float>* v,
                        std::vector<std::pair<float, int32_t>>* out) {
  const int64_t since = std::max<int64_t>(0, index.num_products() - from);
  v->resize(static_cast<size_t>(since));
  const SearchFilter any;  // eligibility alone, as the graph walk asks
  const int64_t n = index.CosineRange(query, any, from, since, v->data());
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite((*v)[i])) out->push_back({(*v)[i], static_cast<int32_t>(from + i)});
}

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
  std::vector<float> v(static_cast<size_t>(per_user_));
  std::vector<std::pair<float, int32_t>> pool;
  for (int64_t u = 0; u < users(); ++u) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return UserCandidates();
    if (pace != nullptr && u > 0 && u % kPaceUsers == 0) (*pace)();
    const float* query = user_rows + u * index.dim();
    int count = 0;
    float floor = -1;
    const int32_t* old = Of(u, &count, &floor);
    pool.clear();
    v.resize(static_cast<size_t>(per_user_));
    index.CosineOf(query, any, old, count, v.data());
    for (int i = 0; i < count; ++i)
      if (std::isfinite(v[i])) pool.push_back({v[i], old[i]});
    AppendIndexedSince(index, query, indexed_before_, &v, &pool);
    // Best first, ties by lower label (as the index ranks them).
    auto better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    const size_t keep = std::min<size_t>(per_user_, pool.size());
    std::partial_sort(pool.begin(), pool.begin() + keep, pool.end(), better);
    int32_t* labels = out.labels_.data() + u * per_user_;
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

#include "store/read_cache.h"

namespace vasgd {
namespace {

// What an entry costs, roughly: the node and bucket of the map plus what it holds.
constexpr size_t kEntryOverhead = 64;
size_t UserBytes(std::string_view name) { return kEntryOverhead + name.size(); }
size_t PurchasesBytes(size_t n) { return kEntryOverhead + n * sizeof(ProductWeight); }

}  // namespace

ReadCache::ReadCache(size_t max_bytes) : max_shard_bytes_(max_bytes / kShards) {}

bool ReadCache::FindUser(std::string_view name, int32_t* dense) const {
  Shard& s = ShardOf(name);
  thread_local std::string key;  // C++17 maps cannot be searched by string_view
  key.assign(name.data(), name.size());
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.users.find(key);
  if (it == s.users.end()) return false;
  *dense = it->second;
  return true;
}

void ReadCache::PutUser(std::string_view name, int32_t dense) {
  Shard& s = ShardOf(name);
  const size_t more = UserBytes(name);
  if (more > max_shard_bytes_) return;
  std::lock_guard<std::mutex> lock(s.mu);
  MakeRoom(s, more);
  if (s.users.emplace(std::string(name), dense).second) Account(s, static_cast<int64_t>(more));
}

bool ReadCache::Purchases(int32_t user, std::vector<ProductWeight>* out) const {
  Shard& s = ShardOf(user);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.purchases.find(user);
  if (it == s.purchases.end()) return false;
  out->assign(it->second.begin(), it->second.end());
  return true;
}

uint64_t ReadCache::Generation(int32_t user) const {
  Shard& s = ShardOf(user);
  std::lock_guard<std::mutex> lock(s.mu);
  return s.generation;
}

void ReadCache::PutPurchases(int32_t user, uint64_t generation, const std::vector<ProductWeight>& purchases) {
  Shard& s = ShardOf(user);
  const size_t more = PurchasesBytes(purchases.size());
  if (more > max_shard_bytes_) return;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.generation != generation || s.purchases.count(user)) return;  // forgotten since the read began
  MakeRoom(s, more);
  s.purchases.emplace(user, purchases);
  Account(s, static_cast<int64_t>(more));
}

void ReadCache::Forget(int32_t user) {
  Shard& s = ShardOf(user);
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.generation;
  auto it = s.purchases.find(user);
  if (it == s.purchases.end()) return;
  Account(s, -static_cast<int64_t>(PurchasesBytes(it->second.size())));
  s.purchases.erase(it);
}

void ReadCache::MakeRoom(Shard& s, size_t more) {
  while (s.bytes + more > max_shard_bytes_ && !(s.users.empty() && s.purchases.empty())) {
    // An arbitrary entry, a name and a user's purchases in turn.
    const bool drop_user = s.purchases.empty() || (!s.users.empty() && (s.evictions++ & 1));
    if (drop_user) {
      auto it = s.users.begin();
      Account(s, -static_cast<int64_t>(UserBytes(it->first)));
      s.users.erase(it);
    } else {
      auto it = s.purchases.begin();
      Account(s, -static_cast<int64_t>(PurchasesBytes(it->second.size())));
      s.purchases.erase(it);
    }
  }
}

void ReadCache::Account(Shard& s, int64_t delta) {
  s.bytes = static_cast<size_t>(static_cast<int64_t>(s.bytes) + delta);
  if (delta >= 0) {
    bytes_.fetch_add(static_cast<size_t>(delta), std::memory_order_relaxed);
  } else {
    bytes_.fetch_sub(static_cast<size_t>(-delta), std::memory_order_relaxed);
  }
}

}  // namespace vasgd

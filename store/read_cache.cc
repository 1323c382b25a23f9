#include "store/read_cache.h"

#include <iterator>
#include <utility>

namespace vasgd {
namespace {

// What an entry costs, roughly: its list node, its map's node and bucket, plus what it holds. A
// name longer than the string's inline buffer (15 chars in libstdc++) is a heap block of its own:
// its chars, the terminator and malloc's header, rounded up (~24 B beyond the length). Measured
// with mallinfo2 over 200,000 of each: 173 B for a name of 12 chars, 221 B at 36 chars, 253 B for
// 10 purchases.
constexpr size_t kEntryOverhead = 172;

}  // namespace

size_t ReadCache::NameBytes(std::string_view name) {
  return kEntryOverhead + (name.size() > 15 ? name.size() + 24 : 0);
}
size_t ReadCache::PurchasesBytes(size_t n) { return kEntryOverhead + n * sizeof(ProductWeight); }

ReadCache::ReadCache(size_t max_bytes) : max_shard_bytes_(max_bytes / kShards) {}

bool ReadCache::FindUser(std::string_view name, int32_t* dense) const {
  Shard& s = ShardOf(name);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.users.find(name);
  if (it == s.users.end()) return false;
  s.recency.splice(s.recency.begin(), s.recency, it->second);
  *dense = it->second->id;
  return true;
}

void ReadCache::PutUser(std::string_view name, int32_t dense) {
  Shard& s = ShardOf(name);
  const size_t more = NameBytes(name);
  if (more > max_shard_bytes_) return;
  std::string copy(name);  // allocated before the lock is taken
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.users.count(name)) return;
  MakeRoom(s, more);
  auto at = Insert(s, Entry{true, std::move(copy), dense, {}, more});
  s.users.emplace(at->name, at);
}

bool ReadCache::Purchases(int32_t user, std::vector<ProductWeight>* out) const {
  Shard& s = ShardOf(user);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.purchases.find(user);
  if (it == s.purchases.end()) return false;
  s.recency.splice(s.recency.begin(), s.recency, it->second);
  out->assign(it->second->bought.begin(), it->second->bought.end());
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
  s.purchases.emplace(user, Insert(s, Entry{false, {}, user, purchases, more}));
}

void ReadCache::Forget(int32_t user) {
  Shard& s = ShardOf(user);
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.generation;
  auto it = s.purchases.find(user);
  if (it == s.purchases.end()) return;
  Erase(s, it->second);
}

void ReadCache::MakeRoom(Shard& s, size_t more) {
  while (s.bytes + more > max_shard_bytes_ && !s.recency.empty()) Erase(s, std::prev(s.recency.end()));
}

ReadCache::Recency::iterator ReadCache::Insert(Shard& s, Entry e) {
  Account(s, static_cast<int64_t>(e.bytes));
  s.recency.push_front(std::move(e));
  return s.recency.begin();
}

void ReadCache::Erase(Shard& s, Recency::iterator it) {
  if (it->is_user) {
    s.users.erase(it->name);
  } else {
    s.purchases.erase(it->id);
  }
  Account(s, -static_cast<int64_t>(it->bytes));
  s.recency.erase(it);
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

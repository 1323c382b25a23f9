// What the query path reads from the store again and again, kept in memory beside RocksDB:
// a user's dense id by name and a user's purchases. Each user recommendation read both through
// RocksDB (a point lookup and an iterator over the memtables and every table file): about a
// tenth of the daemon's CPU per query at 100,000 products once the memtable held minutes of
// ingest (docs/BENCHMARKS.md).
//
// A dense id never changes once given, so names stay until evicted. Purchases change: the store
// forgets a user's (Forget) after each write batch that touched them, before Apply returns, so a
// query that follows a purchase sees it. A read of RocksDB that began before such a write cannot
// put its older copy back: each shard counts what it forgot (Generation), and Put keeps a copy
// only if nothing was forgotten since the read began. Bounded in bytes (store.read_cache_mb); a
// full shard drops its least recently used entries (names and purchases in one order), so the
// users who ask often stay when a large shop's users do not all fit. (It used to drop the first
// entry of a hash map, which tends to be the newest: a full cache kept its old entries and
// thrashed the rest.) Thread-safe; 64 shards, one mutex each.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/graph_store.h"  // ProductWeight

namespace vasgd {

class ReadCache {
 public:
  // max_bytes 0: nothing is kept.
  explicit ReadCache(size_t max_bytes);

  bool FindUser(std::string_view name, int32_t* dense) const;
  void PutUser(std::string_view name, int32_t dense);

  bool Purchases(int32_t user, std::vector<ProductWeight>* out) const;
  // Read before the store is read: Put keeps the copy only if the user's shard forgot nothing since.
  uint64_t Generation(int32_t user) const;
  void PutPurchases(int32_t user, uint64_t generation, const std::vector<ProductWeight>& purchases);
  void Forget(int32_t user);

  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // What an entry counts against max_bytes: a user's name, or n purchases.
  static size_t NameBytes(std::string_view name);
  static size_t PurchasesBytes(size_t n);

 private:
  static constexpr size_t kShards = 64;
  // A shard's entries, most recently used first; the maps point into it.
  struct Entry {
    bool is_user;               // a name (users) or a user's purchases (purchases)
    std::string name;           // is_user
    int32_t id;                 // the name's dense id, or the purchases' user
    std::vector<ProductWeight> bought;
    size_t bytes;
  };
  using Recency = std::list<Entry>;
  struct Shard {
    mutable std::mutex mu;
    Recency recency;
    // Keyed by views of the entries' own names: list nodes never move, and a name held once.
    std::unordered_map<std::string_view, Recency::iterator> users;
    std::unordered_map<int32_t, Recency::iterator> purchases;
    uint64_t generation = 0;
    size_t bytes = 0;
  };
  Shard& ShardOf(int32_t user) const { return shards_[static_cast<uint32_t>(user) % kShards]; }
  Shard& ShardOf(std::string_view name) const { return shards_[std::hash<std::string_view>()(name) % kShards]; }
  // Drops the least recently used entries until `more` bytes fit in the shard (its mutex held).
  void MakeRoom(Shard& s, size_t more);
  // Puts `e` first in the shard's order and accounts for it (its mutex held, room made).
  Recency::iterator Insert(Shard& s, Entry e);
  void Erase(Shard& s, Recency::iterator it);
  void Account(Shard& s, int64_t delta);

  const size_t max_shard_bytes_;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<size_t> bytes_{0};
};

}  // namespace vasgd

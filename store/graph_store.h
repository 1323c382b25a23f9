// GraphStore: the user–product purchase graph, durably in RocksDB at data_dir/graph.
//
// Holds string id <-> dense id maps for users and products (dense ids in arrival order, never
// reused), the purchase adjacency in both directions with summed weights, product features
// (one fixed dimension), categories, availability and meta, the consumed Kafka offsets, and
// counters. A batch of updates and the offsets it advances are written in ONE RocksDB write
// batch, so each Kafka message takes effect exactly once, also across kill -9.
//
// Threading: one writer at a time (Apply serialises callers with a mutex); every read method
// may be called from any thread at any time, concurrently with Apply. Reads see committed data.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/options.h"
#include "common/status.h"
#include "model/dataset.h"
#include "store/graph_update.h"

namespace rocksdb {
class Cache;
class DB;
}

namespace vasgd {

class ReadCache;

struct GraphCounters {
  int64_t users = 0;
  int64_t products = 0;                // all products: with or without purchases or features
  int64_t products_with_features = 0;
  int64_t warm_products = 0;           // products with at least one purchase
  int64_t unavailable_products = 0;    // products hidden by available:false
  int64_t edges = 0;                   // distinct (user, product) pairs
  int64_t events_applied = 0;          // updates applied (accepted), all sources
  int32_t feature_dim = 0;             // 0 until fixed by the config or the first features
};

// RocksDB's memory, bytes (the daemon's metrics): blocks in the LRU cache, memtables, and the
// table readers, which hold the index and filter blocks outside the cache.
struct StoreMemory {
  uint64_t block_cache = 0;
  uint64_t memtables = 0;
  uint64_t table_readers = 0;
  uint64_t read_cache = 0;  // store/read_cache.h
};

struct ProductWeight {
  int32_t id;     // dense product (or user) id
  float weight;   // summed purchase weight
};

class GraphStore {
 public:
  // Opens data_dir/graph, creating it if missing, and rebuilds the in-memory caches the writer
  // uses (id maps, edge weights, product flags, offsets). With options.feature_dim > 0 the
  // dimension is fixed from the start; a store whose dimension is already fixed to another value
  // is InvalidArgument. IoError when RocksDB cannot open (e.g. another process holds it).
  static Result<std::unique_ptr<GraphStore>> Open(const StoreOptions& options);

  // Opens an existing store for reading only, without taking RocksDB's lock, so it works while
  // a daemon writes the same directory (it sees the data as of the open). Apply fails with
  // FailedPrecondition. NotFound when there is no store at data_dir/graph.
  static Result<std::unique_ptr<GraphStore>> OpenReadOnly(const StoreOptions& options);

  ~GraphStore();
  GraphStore(const GraphStore&) = delete;
  GraphStore& operator=(const GraphStore&) = delete;

  // Applies updates[0..n) in order, fills outcomes[0..n), and writes the graph changes, the new
  // counters and, for updates with source >= 0, the next offset of sources[source] in one
  // RocksDB write batch (fsynced when options.sync_writes). An update whose offset is below the
  // stored next offset of its partition is a kDuplicate and changes nothing. A product whose
  // features have another dimension than the fixed one is kRejected (kFeatureDimMismatch) while
  // the rest of the batch goes on. On a non-OK Status (e.g. disk full) nothing of the batch is
  // stored, no offset advances and the in-memory state is as before: the caller retries later.
  // (The store then reopens RocksDB, which cannot resume after a failed WAL write; until that
  // succeeds, Apply returns Unavailable and reads use a read-only handle where possible.)
  Status Apply(const GraphUpdate* updates, size_t n, const std::vector<SourcePartition>& sources,
               UpdateOutcome* outcomes);
  Status Apply(const std::vector<GraphUpdate>& updates, const std::vector<SourcePartition>& sources,
               std::vector<UpdateOutcome>* outcomes);

  const StoreOptions& options() const { return options_; }

  // Counters as of the last committed batch. Lock-free.
  GraphCounters counters() const;
  // What RocksDB holds in memory now; zeros while the store is closed.
  StoreMemory MemoryUsage() const;
  int32_t feature_dim() const { return feature_dim_.load(std::memory_order_acquire); }

  // Dense id of a string id; false when unknown (or on a read error, which is logged). Users'
  // ids are kept in memory once read (store.read_cache_mb).
  bool FindUser(std::string_view id, int32_t* dense) const;
  bool FindProduct(std::string_view id, int32_t* dense) const;
  // String id of a dense id; false when out of range.
  bool UserName(int32_t dense, std::string* id) const;
  bool ProductName(int32_t dense, std::string* id) const;

  // The products a user bought (ascending dense id) with summed weights; empty for an unknown user.
  // Kept in memory once read, until a write batch changes them (store.read_cache_mb).
  Status UserPurchases(int32_t user, std::vector<ProductWeight>* out) const;
  // The users who bought a product (ascending dense id) with summed weights.
  Status ProductBuyers(int32_t product, std::vector<ProductWeight>* out) const;

  // True unless the product was hidden by available:false (unknown products count as available).
  bool ProductAvailable(int32_t product) const;
  // The product's feature vector; NotFound when it has none.
  Status ProductFeatures(int32_t product, std::vector<float>* out) const;
  // The product's categories (empty when none were given).
  Status ProductCategories(int32_t product, std::vector<std::string>* out) const;
  // The product's meta object as JSON text; NotFound when none was given.
  Status ProductMeta(int32_t product, std::string* json) const;
  // Every hidden product, ascending.
  Status UnavailableProducts(std::vector<int32_t>* out) const;

  // The next offset to consume for a topic partition (one past the last applied message),
  // or -1 when nothing of it was ever applied.
  int64_t NextOffset(const std::string& topic, int32_t partition) const;

  // Calls fn(user, product, weight) for every edge in (user, product) order, from a consistent
  // snapshot; stops early when fn returns false.
  Status ForEachEdge(const std::function<bool(int32_t, int32_t, float)>& fn) const;

  // A consistent copy for training, read from a RocksDB snapshot so ingestion goes on meanwhile:
  // CSR users × products (all products, cold ones without edges), the feature matrix with its
  // `present` mask (dim = the fixed dimension, 0 when none) and both id vectors.
  Result<TrainingData> ExportSnapshot() const;

  // Writes a consistent copy of the store to dir/graph with RocksDB's Checkpoint (hard links
  // where possible), so GraphStore::Open with data_dir = dir opens it. `dir` must not exist
  // (AlreadyExists). Safe while Apply runs. Needs a store opened with Open (not read-only).
  Status Checkpoint(const std::string& dir) const;

 private:
  struct WriterState;
  GraphStore(const StoreOptions& options, bool read_only);
  Status OpenDb(bool read_only);  // db_mu_ held exclusively (or not yet shared)
  Status Reopen();                // after a failed write; write_mu_ held
  Status LoadCaches();
  Status LoadCountersReadOnly();
  void PublishCounters();

  const StoreOptions options_;
  const bool read_only_;
  mutable std::shared_mutex db_mu_;       // exclusive only to swap db_ (reopen); reads share it
  std::unique_ptr<rocksdb::DB> db_;       // null while a reopen has failed
  std::shared_ptr<rocksdb::Cache> block_cache_;  // db_'s, for MemoryUsage
  std::mutex write_mu_;                   // one writer at a time
  std::unique_ptr<WriterState> writer_;   // caches; touched only under write_mu_
  std::unique_ptr<ReadCache> read_cache_;  // for readers; Apply forgets what it changes
  bool needs_reopen_ = false;             // under write_mu_: the last write failed
  std::atomic<int32_t> feature_dim_{0};
  // Published after each commit for lock-free readers.
  std::atomic<int64_t> users_{0}, products_{0}, with_features_{0}, warm_{0}, unavailable_{0},
      edges_{0}, applied_{0};
};

}  // namespace vasgd

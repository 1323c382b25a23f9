#include "store/graph_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <shared_mutex>
#include <unordered_map>

#include "common/log.h"
#include "store/db_options.h"
#include "store/edge_map.h"
#include "store/id_map.h"
#include "store/read_cache.h"
#include "store/sorted_batch.h"
#include "store/store_keys.h"

namespace vasgd {
namespace {

constexpr char kFormatVersion[] = "1";
constexpr uint8_t kHasFeatures = 1;
constexpr uint8_t kHidden = 2;

Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kSpaceLimit) return Status::ResourceExhausted(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  return Status::IoError(msg);
}

std::string GraphPath(const StoreOptions& options) { return options.data_dir + "/graph"; }

// A key that sorts after every key starting with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\xff');
}

// Iterates the keys starting with `prefix`, calling fn(key, value) until it returns false.
template <typename Fn>
Status ScanPrefix(rocksdb::DB* db, const rocksdb::ReadOptions& base, const std::string& prefix, Fn fn) {
  rocksdb::ReadOptions ro = base;
  std::string end = PrefixEnd(prefix);
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    if (!fn(it->key(), it->value())) break;
  }
  return FromRocks(it->status(), "scan");
}

// Releases a RocksDB snapshot when it goes out of scope.
class SnapshotGuard {
 public:
  explicit SnapshotGuard(rocksdb::DB* db) : db_(db), snap_(db->GetSnapshot()) {}
  ~SnapshotGuard() { db_->ReleaseSnapshot(snap_); }
  const rocksdb::Snapshot* get() const { return snap_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

std::string& ScratchKey() {
  thread_local std::string key;
  return key;
}

}  // namespace

// Everything the single writer keeps in memory so the hot path never reads RocksDB, plus the
// undo log that restores it when a write batch fails.
struct GraphStore::WriterState {
  IdMap users;
  IdMap products;
  EdgeMap edges;
  std::vector<int32_t> product_degree;            // buyers per product
  std::vector<uint8_t> product_flags;             // kHasFeatures | kHidden
  std::unordered_map<std::string, int64_t> offsets;  // OffsetKey -> next offset
  int64_t counters[keys::kNumSlots] = {};
  int32_t feature_dim = 0;

  // Per batch.
  SortedBatch batch;            // gathered in update order
  rocksdb::WriteBatch write;    // the same, in key order, as written
  std::string key, value;
  std::vector<int64_t*> source_next;  // sources[i] -> its entry in `offsets`
  std::vector<uint8_t> source_touched;

  // Undo log of the current batch, replayed backwards when the write fails.
  struct EdgeUndo {
    uint64_t key;
    float old_weight;  // NaN: the edge did not exist
  };
  struct OffsetUndo {
    int64_t* slot;
    int64_t old_next;
  };
  struct FlagUndo {
    int32_t product;
    uint8_t old_flags;
  };
  std::vector<EdgeUndo> edge_undo;
  std::vector<OffsetUndo> offset_undo;
  std::vector<FlagUndo> flag_undo;
  int32_t saved_users = 0, saved_products = 0, saved_dim = 0;
  int64_t saved_counters[keys::kNumSlots] = {};
  std::vector<std::string> new_offset_keys;  // offsets entries created in this batch
};

GraphStore::GraphStore(const StoreOptions& options, bool read_only)
    : options_(options),
      read_only_(read_only),
      read_cache_(std::make_unique<ReadCache>(static_cast<size_t>(std::max<int64_t>(0, options.read_cache_mb)) << 20)) {}

GraphStore::~GraphStore() = default;

Result<std::unique_ptr<GraphStore>> GraphStore::Open(const StoreOptions& options) {
  std::unique_ptr<GraphStore> store(new GraphStore(options, /*read_only=*/false));
  VASGD_RETURN_IF_ERROR(store->OpenDb(false));
  VASGD_RETURN_IF_ERROR(store->LoadCaches());
  return store;
}

Result<std::unique_ptr<GraphStore>> GraphStore::OpenReadOnly(const StoreOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(GraphPath(options) + "/CURRENT", ec)) {
    return Status::NotFound("no graph store at " + GraphPath(options));
  }
  std::unique_ptr<GraphStore> store(new GraphStore(options, /*read_only=*/true));
  VASGD_RETURN_IF_ERROR(store->OpenDb(true));
  VASGD_RETURN_IF_ERROR(store->LoadCountersReadOnly());
  return store;
}

Status GraphStore::OpenDb(bool read_only) {
  block_cache_ = rocksdb::NewLRUCache(static_cast<size_t>(options_.block_cache_mb) << 20);
  rocksdb::Options db_options = GraphDbOptions(options_, block_cache_);
  db_options.create_if_missing = !read_only;

  std::string path = GraphPath(options_);
  rocksdb::DB* db = nullptr;
  rocksdb::Status s;
  if (read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, path, &db);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir, ec);
    if (ec) return Status::IoError("cannot create " + options_.data_dir + ": " + ec.message());
    s = rocksdb::DB::Open(db_options, path, &db);
  }
  VASGD_RETURN_IF_ERROR(FromRocks(s, ("open " + path).c_str()));
  db_.reset(db);

  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), std::string(1, keys::kMeta) + "format", &format);
  if (s.IsNotFound()) {
    if (read_only) return Status::Ok();
    return FromRocks(db_->Put(rocksdb::WriteOptions(), std::string(1, keys::kMeta) + "format",
                              kFormatVersion),
                     "write format");
  }
  VASGD_RETURN_IF_ERROR(FromRocks(s, "read format"));
  if (format != kFormatVersion) {
    return Status::Corruption(path + " has store format " + format + ", expected " + kFormatVersion);
  }
  return Status::Ok();
}

Status GraphStore::LoadCountersReadOnly() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), std::string(1, keys::kCounters), &value);
  if (s.ok() && value.size() == sizeof(int64_t) * keys::kNumSlots) {
    const char* p = value.data();
    users_ = keys::GetFixed<int64_t>(p + 8 * keys::kUsers);
    products_ = keys::GetFixed<int64_t>(p + 8 * keys::kProducts);
    with_features_ = keys::GetFixed<int64_t>(p + 8 * keys::kWithFeatures);
    warm_ = keys::GetFixed<int64_t>(p + 8 * keys::kWarm);
    unavailable_ = keys::GetFixed<int64_t>(p + 8 * keys::kUnavailable);
    edges_ = keys::GetFixed<int64_t>(p + 8 * keys::kEdges);
    applied_ = keys::GetFixed<int64_t>(p + 8 * keys::kApplied);
  } else if (!s.ok() && !s.IsNotFound()) {
    return FromRocks(s, "read counters");
  }
  s = db_->Get(rocksdb::ReadOptions(), std::string(1, keys::kMeta) + "feature_dim", &value);
  if (s.ok() && value.size() == 4) feature_dim_ = keys::GetFixed<int32_t>(value.data());
  return Status::Ok();
}

Status GraphStore::LoadCaches() {
  writer_ = std::make_unique<WriterState>();
  WriterState& w = *writer_;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  Status st;

  // Names are keyed by dense id, so scanning them gives the ids in order.
  auto load_ids = [&](char name_prefix, IdMap* ids) -> Status {
    Status bad;
    VASGD_RETURN_IF_ERROR(ScanPrefix(db_.get(), ro, std::string(1, name_prefix),
                                     [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
      if (k.size() != 5 || keys::GetBe32(k.data() + 1) != ids->size()) {
        bad = Status::Corruption("dense ids are not contiguous");
        return false;
      }
      ids->Append(std::string_view(v.data(), v.size()));
      return true;
    }));
    return bad;
  };
  VASGD_RETURN_IF_ERROR(load_ids(keys::kUserName, &w.users));
  VASGD_RETURN_IF_ERROR(load_ids(keys::kProductName, &w.products));
  const size_t num_products = w.products.size();
  w.product_degree.assign(num_products, 0);
  w.product_flags.assign(num_products, 0);

  Status bad;
  VASGD_RETURN_IF_ERROR(ScanPrefix(db_.get(), ro, std::string(1, keys::kEdge),
                                   [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    float weight;
    int64_t sequence;
    if (k.size() != 9 || !keys::GetEdgeValue(v.data(), v.size(), &weight, &sequence)) {
      bad = Status::Corruption("bad edge record");
      return false;
    }
    int32_t u = static_cast<int32_t>(keys::GetBe32(k.data() + 1));
    int32_t p = static_cast<int32_t>(keys::GetBe32(k.data() + 5));
    if (static_cast<size_t>(p) >= num_products) {
      bad = Status::Corruption("edge to an unknown product");
      return false;
    }
    w.edges.Insert(EdgeMap::Key(u, p), weight);
    ++w.product_degree[p];
    return true;
  }));
  VASGD_RETURN_IF_ERROR(bad);

  auto mark = [&](char prefix, uint8_t flag, bool when_zero_byte) -> Status {
    return ScanPrefix(db_.get(), ro, std::string(1, prefix),
                      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
      if (k.size() != 5) return true;
      uint32_t p = keys::GetBe32(k.data() + 1);
      if (p >= num_products) return true;
      if (!when_zero_byte || (v.size() == 1 && v[0] == 0)) w.product_flags[p] |= flag;
      return true;
    });
  };
  VASGD_RETURN_IF_ERROR(mark(keys::kFeatures, kHasFeatures, false));
  VASGD_RETURN_IF_ERROR(mark(keys::kAvailable, kHidden, true));

  VASGD_RETURN_IF_ERROR(ScanPrefix(db_.get(), ro, std::string(1, keys::kOffset),
                                   [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    if (v.size() == 8) w.offsets[k.ToString()] = keys::GetFixed<int64_t>(v.data());
    return true;
  }));

  std::string value;
  rocksdb::Status s = db_->Get(ro, std::string(1, keys::kMeta) + "feature_dim", &value);
  if (s.ok() && value.size() == 4) w.feature_dim = keys::GetFixed<int32_t>(value.data());
  if (options_.feature_dim > 0) {
    if (w.feature_dim != 0 && w.feature_dim != options_.feature_dim) {
      return Status::InvalidArgument("store.feature_dim = " + std::to_string(options_.feature_dim) +
                                     " but the store's features have dimension " +
                                     std::to_string(w.feature_dim));
    }
    if (w.feature_dim == 0) {
      w.feature_dim = options_.feature_dim;
      std::string v;
      keys::PutFixed<int32_t>(&v, w.feature_dim);
      VASGD_RETURN_IF_ERROR(FromRocks(
          db_->Put(rocksdb::WriteOptions(), std::string(1, keys::kMeta) + "feature_dim", v),
          "write feature_dim"));
    }
  }

  // Structural counters are recomputed from the data; only the event count is taken as stored.
  int64_t* c = w.counters;
  c[keys::kUsers] = static_cast<int64_t>(w.users.size());
  c[keys::kProducts] = static_cast<int64_t>(num_products);
  c[keys::kEdges] = static_cast<int64_t>(w.edges.size());
  for (size_t p = 0; p < num_products; ++p) {
    if (w.product_degree[p] > 0) ++c[keys::kWarm];
    if (w.product_flags[p] & kHasFeatures) ++c[keys::kWithFeatures];
    if (w.product_flags[p] & kHidden) ++c[keys::kUnavailable];
  }
  s = db_->Get(ro, std::string(1, keys::kCounters), &value);
  if (s.ok() && value.size() == sizeof(int64_t) * keys::kNumSlots) {
    for (int i = 0; i < keys::kNumSlots; ++i) {
      int64_t stored = keys::GetFixed<int64_t>(value.data() + 8 * i);
      if (i == keys::kApplied) {
        c[i] = stored;
      } else if (stored != c[i]) {
        Log(LogLevel::kWarn, "store.counter_mismatch",
            {{"slot", i}, {"stored", stored}, {"recomputed", c[i]}});
      }
    }
  }
  PublishCounters();
  Log(LogLevel::kInfo, "store.open",
      {{"path", GraphPath(options_)}, {"users", c[keys::kUsers]}, {"products", c[keys::kProducts]},
       {"edges", c[keys::kEdges]}, {"feature_dim", w.feature_dim}});
  return Status::Ok();
}

void GraphStore::PublishCounters() {
  const int64_t* c = writer_->counters;
  users_.store(c[keys::kUsers], std::memory_order_relaxed);
  products_.store(c[keys::kProducts], std::memory_order_relaxed);
  with_features_.store(c[keys::kWithFeatures], std::memory_order_relaxed);
  warm_.store(c[keys::kWarm], std::memory_order_relaxed);
  unavailable_.store(c[keys::kUnavailable], std::memory_order_relaxed);
  edges_.store(c[keys::kEdges], std::memory_order_relaxed);
  applied_.store(c[keys::kApplied], std::memory_order_relaxed);
  feature_dim_.store(writer_->feature_dim, std::memory_order_release);
}

StoreMemory GraphStore::MemoryUsage() const {
  StoreMemory m;
  std::shared_lock<std::shared_mutex> db_lock(db_mu_);
  if (!db_) return m;
  if (block_cache_) m.block_cache = block_cache_->GetUsage();
  (void)db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &m.memtables);
  (void)db_->GetIntProperty("rocksdb.estimate-table-readers-mem", &m.table_readers);
  m.read_cache = read_cache_->bytes();
  return m;
}

GraphCounters GraphStore::counters() const {
  GraphCounters c;
  c.users = users_.load(std::memory_order_relaxed);
  c.products = products_.load(std::memory_order_relaxed);
  c.products_with_features = with_features_.load(std::memory_order_relaxed);
  c.warm_products = warm_.load(std::memory_order_relaxed);
  c.unavailable_products = unavailable_.load(std::memory_order_relaxed);
  c.edges = edges_.load(std::memory_order_relaxed);
  c.events_applied = applied_.load(std::memory_order_relaxed);
  c.feature_dim = feature_dim_.load(std::memory_order_acquire);
  return c;
}

namespace {

// Interns `id` in an id map, writing both records of a new id into the batch.
int32_t Intern(std::string_view id, char id_prefix, char name_prefix, IdMap* ids, SortedBatch* batch,
               std::string* key, std::string* value, bool* created) {
  const int32_t dense = ids->Intern(id, created);
  if (!*created) return dense;
  keys::StringKey(id_prefix, id, key);
  value->clear();
  keys::PutFixed<int32_t>(value, dense);
  batch->Put(*key, *value);
  keys::IdKey(name_prefix, dense, key);
  batch->Put(*key, rocksdb::Slice(id.data(), id.size()));
  return dense;
}

}  // namespace

Status GraphStore::Apply(const std::vector<GraphUpdate>& updates,
                         const std::vector<SourcePartition>& sources,
                         std::vector<UpdateOutcome>* outcomes) {
  outcomes->resize(updates.size());
  return Apply(updates.data(), updates.size(), sources, outcomes->data());
}

Status GraphStore::Apply(const GraphUpdate* updates, size_t n,
                         const std::vector<SourcePartition>& sources, UpdateOutcome* outcomes) {
  if (read_only_) return Status::FailedPrecondition("the store is open read-only");
  std::lock_guard<std::mutex> lock(write_mu_);
  if (needs_reopen_) VASGD_RETURN_IF_ERROR(Reopen());
  WriterState& w = *writer_;  // after Reopen, which may rebuild it

  // Start the batch and its undo log.
  w.batch.Clear();
  w.edge_undo.clear();
  w.offset_undo.clear();
  w.flag_undo.clear();
  w.new_offset_keys.clear();
  w.saved_users = static_cast<int32_t>(w.users.size());
  w.saved_products = static_cast<int32_t>(w.products.size());
  w.saved_dim = w.feature_dim;
  std::copy(std::begin(w.counters), std::end(w.counters), std::begin(w.saved_counters));
  int64_t* c = w.counters;

  for (size_t i = 0; i < n; ++i) {  // checked before anything changes: nothing to undo
    if (updates[i].source >= static_cast<int64_t>(sources.size())) {
      return Status::InvalidArgument("update source index out of range");
    }
  }
  w.source_next.assign(sources.size(), nullptr);
  w.source_touched.assign(sources.size(), 0);
  for (size_t s = 0; s < sources.size(); ++s) {
    keys::OffsetKey(sources[s].topic, sources[s].partition, &w.key);
    auto [it, inserted] = w.offsets.try_emplace(w.key, -1);
    if (inserted) w.new_offset_keys.push_back(w.key);
    w.source_next[s] = &it->second;
  }

  auto set_flags = [&](int32_t p, uint8_t flags) {
    w.flag_undo.push_back({p, w.product_flags[p]});
    w.product_flags[p] = flags;
  };
  auto intern_product = [&](std::string_view id, bool* created) {
    int32_t p = Intern(id, keys::kProductId, keys::kProductName, &w.products, &w.batch, &w.key, &w.value, created);
    if (*created) {
      w.product_degree.push_back(0);
      w.product_flags.push_back(0);
      ++c[keys::kProducts];
    }
    return p;
  };

  for (size_t i = 0; i < n; ++i) {
    const GraphUpdate& u = updates[i];
    UpdateOutcome& out = outcomes[i];
    out = UpdateOutcome();
    if (u.source >= 0) {
      int64_t* next = w.source_next[u.source];
      if (u.offset < *next) {
        out.result = UpdateResult::kDuplicate;
        continue;
      }
      w.offset_undo.push_back({next, *next});
      *next = u.offset + 1;
      w.source_touched[u.source] = 1;
    }

    switch (u.type) {
      case UpdateType::kNone:
        out.result = UpdateResult::kSkipped;
        continue;

      case UpdateType::kPurchase: {
        out.user = Intern(u.user, keys::kUserId, keys::kUserName, &w.users, &w.batch, &w.key, &w.value,
                          &out.new_user);
        if (out.new_user) ++c[keys::kUsers];
        out.product = intern_product(u.product, &out.new_product);
        const uint64_t edge = EdgeMap::Key(out.user, out.product);
        float weight;
        if (float* existing = w.edges.Find(edge)) {
          w.edge_undo.push_back({edge, *existing});
          *existing += u.weight;
          weight = *existing;
        } else {
          w.edges.Insert(edge, u.weight);
          w.edge_undo.push_back({edge, std::numeric_limits<float>::quiet_NaN()});
          weight = u.weight;
          out.new_edge = true;
          ++c[keys::kEdges];
          if (w.product_degree[out.product]++ == 0) ++c[keys::kWarm];
        }
        keys::PutEdgeValue(&w.value, weight, c[keys::kApplied] + 1);
        keys::PairKey(keys::kEdge, out.user, out.product, &w.key);
        w.batch.Put(w.key, w.value);
        keys::PairKey(keys::kReverseEdge, out.product, out.user, &w.key);
        w.batch.Put(w.key, w.value);
        break;
      }

      case UpdateType::kProduct: {
        if (u.has_features) {
          const int32_t dim = static_cast<int32_t>(u.features.size());
          if (w.feature_dim != 0 && dim != w.feature_dim) {
            out.result = UpdateResult::kRejected;
            out.reason = RejectReason::kFeatureDimMismatch;
            continue;
          }
          if (w.feature_dim == 0) {  // the first features fix the dimension for good
            w.feature_dim = dim;
            w.value.clear();
            keys::PutFixed<int32_t>(&w.value, dim);
            w.batch.Put(std::string(1, keys::kMeta) + "feature_dim", w.value);
          }
        }
        const int32_t p = intern_product(u.product, &out.new_product);
        out.product = p;
        if (u.has_features) {
          keys::IdKey(keys::kFeatures, p, &w.key);
          w.batch.Put(w.key, rocksdb::Slice(reinterpret_cast<const char*>(u.features.data()),
                                            u.features.size() * sizeof(float)));
          if (!(w.product_flags[p] & kHasFeatures)) {
            set_flags(p, w.product_flags[p] | kHasFeatures);
            ++c[keys::kWithFeatures];
          }
        }
        if (u.has_categories) {
          keys::IdKey(keys::kCategories, p, &w.key);
          w.value.clear();
          for (const std::string& cat : u.categories) {
            keys::PutVarint32(&w.value, static_cast<uint32_t>(cat.size()));
            w.value += cat;
          }
          w.batch.Put(w.key, w.value);
        }
        if (u.has_meta) {
          keys::IdKey(keys::kProductMeta, p, &w.key);
          w.batch.Put(w.key, u.meta_json);
        }
        if (u.available >= 0) {
          const bool hide = u.available == 0;
          const bool hidden = w.product_flags[p] & kHidden;
          if (hide != hidden) {
            set_flags(p, static_cast<uint8_t>(w.product_flags[p] ^ kHidden));
            c[keys::kUnavailable] += hide ? 1 : -1;
            keys::IdKey(keys::kAvailable, p, &w.key);
            if (hide) {
              w.batch.Put(w.key, rocksdb::Slice("\0", 1));
            } else {
              w.batch.Delete(w.key);
            }
          }
        }
        break;
      }
    }
    ++c[keys::kApplied];
  }

  // Nothing to store (an empty batch, or only replays): no write, no fsync.
  if (w.batch.size() == 0 &&
      std::find(w.source_touched.begin(), w.source_touched.end(), 1) == w.source_touched.end()) {
    return Status::Ok();
  }
  for (size_t s = 0; s < sources.size(); ++s) {
    if (!w.source_touched[s]) continue;
    keys::OffsetKey(sources[s].topic, sources[s].partition, &w.key);
    w.value.clear();
    keys::PutFixed<int64_t>(&w.value, *w.source_next[s]);
    w.batch.Put(w.key, w.value);
  }
  w.value.clear();
  for (int i = 0; i < keys::kNumSlots; ++i) keys::PutFixed<int64_t>(&w.value, c[i]);
  w.batch.Put(rocksdb::Slice(&keys::kCounters, 1), w.value);

  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  w.batch.EmitTo(&w.write);
  rocksdb::Status s;
  {
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    s = db_->Write(wo, &w.write);
  }
  if (s.ok()) {
    // Before returning: a query that follows the batch reads its purchases from RocksDB again.
    for (size_t i = 0; i < n; ++i)
      if (updates[i].type == UpdateType::kPurchase && outcomes[i].result == UpdateResult::kApplied)
        read_cache_->Forget(outcomes[i].user);
    PublishCounters();
    return Status::Ok();
  }

  // Roll the caches back to the state before this batch, newest change first.
  for (auto it = w.edge_undo.rbegin(); it != w.edge_undo.rend(); ++it) {
    if (std::isnan(it->old_weight)) {
      w.edges.Erase(it->key);
      --w.product_degree[static_cast<int32_t>(it->key & 0xffffffffu)];
    } else {
      *w.edges.Find(it->key) = it->old_weight;
    }
  }
  for (auto it = w.flag_undo.rbegin(); it != w.flag_undo.rend(); ++it) {
    w.product_flags[it->product] = it->old_flags;
  }
  for (auto it = w.offset_undo.rbegin(); it != w.offset_undo.rend(); ++it) *it->slot = it->old_next;
  for (const std::string& k : w.new_offset_keys) w.offsets.erase(k);
  w.users.Truncate(w.saved_users);
  w.products.Truncate(w.saved_products);
  w.product_degree.resize(w.saved_products);
  w.product_flags.resize(w.saved_products);
  w.feature_dim = w.saved_dim;
  std::copy(std::begin(w.saved_counters), std::end(w.saved_counters), std::begin(w.counters));
  Status st = FromRocks(s, "write batch");
  Log(LogLevel::kError, "store.write_failed", {{"error", st.ToString()}, {"updates", static_cast<int64_t>(n)}});
  // RocksDB cannot resume after a failed WAL write: reopen now (or at the next Apply).
  needs_reopen_ = true;
  Status reopened = Reopen();
  if (!reopened.ok()) Log(LogLevel::kError, "store.reopen_failed", {{"error", reopened.ToString()}});
  return st;
}

Status GraphStore::Reopen() {
  std::unique_lock<std::shared_mutex> db_lock(db_mu_);
  db_.reset();
  Status s = OpenDb(/*read_only=*/false);
  if (s.ok()) {
    // The WAL may hold the failed batch after all (written, then the sync failed): the database
    // is the truth, so the caches are rebuilt from it rather than trusted.
    s = LoadCaches();
  }
  if (!s.ok()) {
    db_.reset();
    if (!OpenDb(/*read_only=*/true).ok()) db_.reset();  // keep serving reads if we can
    return Status::Unavailable("store not writable: " + s.ToString());
  }
  needs_reopen_ = false;
  Log(LogLevel::kInfo, "store.reopened", {});
  return Status::Ok();
}

// ---- reads -------------------------------------------------------------------------------

// Readers hold db_mu_ shared, so a reopen after a failed write never pulls the handle away
// mid-read; while no database is open, reads find nothing / report Unavailable.
#define READ_LOCK_OR(fallback)                          \
  std::shared_lock<std::shared_mutex> db_lock_(db_mu_); \
  if (!db_) return fallback

namespace {

bool GetInt32(rocksdb::DB* db, const std::string& key, int32_t* out) {
  if (!db) return false;
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), db->DefaultColumnFamily(), key, &value);
  if (!s.ok()) {
    if (!s.IsNotFound()) Log(LogLevel::kError, "store.read_failed", {{"error", s.ToString()}});
    return false;
  }
  if (value.size() != 4) return false;
  *out = keys::GetFixed<int32_t>(value.data());
  return true;
}

bool GetString(rocksdb::DB* db, const std::string& key, std::string* out) {
  if (!db) return false;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, out);
  if (!s.ok() && !s.IsNotFound()) Log(LogLevel::kError, "store.read_failed", {{"error", s.ToString()}});
  return s.ok();
}

}  // namespace

bool GraphStore::FindUser(std::string_view id, int32_t* dense) const {
  if (read_cache_->FindUser(id, dense)) return true;  // a dense id never changes once given
  READ_LOCK_OR(false);
  std::string& key = ScratchKey();
  keys::StringKey(keys::kUserId, id, &key);
  if (!GetInt32(db_.get(), key, dense)) return false;
  read_cache_->PutUser(id, *dense);
  return true;
}

bool GraphStore::FindProduct(std::string_view id, int32_t* dense) const {
  READ_LOCK_OR(false);
  std::string& key = ScratchKey();
  keys::StringKey(keys::kProductId, id, &key);
  return GetInt32(db_.get(), key, dense);
}

bool GraphStore::UserName(int32_t dense, std::string* id) const {
  READ_LOCK_OR(false);
  std::string& key = ScratchKey();
  keys::IdKey(keys::kUserName, dense, &key);
  return GetString(db_.get(), key, id);
}

bool GraphStore::ProductName(int32_t dense, std::string* id) const {
  READ_LOCK_OR(false);
  std::string& key = ScratchKey();
  keys::IdKey(keys::kProductName, dense, &key);
  return GetString(db_.get(), key, id);
}

namespace {

Status ListNeighbours(rocksdb::DB* db, char prefix, int32_t id, std::vector<ProductWeight>* out) {
  out->clear();
  std::string key;
  keys::IdKey(prefix, id, &key);
  return ScanPrefix(db, rocksdb::ReadOptions(), key, [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    float weight;
    int64_t sequence;
    if (k.size() == 9 && keys::GetEdgeValue(v.data(), v.size(), &weight, &sequence)) {
      out->push_back({static_cast<int32_t>(keys::GetBe32(k.data() + 5)), weight});
    }
    return true;
  });
}

}  // namespace

Status GraphStore::UserPurchases(int32_t user, std::vector<ProductWeight>* out) const {
  if (read_cache_->Purchases(user, out)) return Status::Ok();
  const uint64_t generation = read_cache_->Generation(user);  // before the read: see read_cache.h
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  VASGD_RETURN_IF_ERROR(ListNeighbours(db_.get(), keys::kEdge, user, out));
  read_cache_->PutPurchases(user, generation, *out);
  return Status::Ok();
}

Status GraphStore::ProductBuyers(int32_t product, std::vector<ProductWeight>* out) const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  return ListNeighbours(db_.get(), keys::kReverseEdge, product, out);
}

bool GraphStore::ProductAvailable(int32_t product) const {
  READ_LOCK_OR(true);
  std::string& key = ScratchKey();
  keys::IdKey(keys::kAvailable, product, &key);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), key, &value);
  return !(s.ok() && value.size() == 1 && value[0] == 0);
}

Status GraphStore::ProductFeatures(int32_t product, std::vector<float>* out) const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  std::string& key = ScratchKey();
  keys::IdKey(keys::kFeatures, product, &key);
  rocksdb::PinnableSlice value;
  VASGD_RETURN_IF_ERROR(FromRocks(db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), key, &value),
                                  "product features"));
  if (value.size() % sizeof(float) != 0) {
    return Status::Corruption("product features: a record of " + std::to_string(value.size()) +
                              " bytes is not a whole number of float32s");
  }
  out->resize(value.size() / sizeof(float));
  // An empty vector's data() may be null, and memcpy from or to null is undefined even for 0 bytes.
  if (!out->empty()) std::memcpy(out->data(), value.data(), value.size());
  return Status::Ok();
}

Status GraphStore::ProductCategories(int32_t product, std::vector<std::string>* out) const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  out->clear();
  std::string& key = ScratchKey();
  keys::IdKey(keys::kCategories, product, &key);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), key, &value);
  if (s.IsNotFound()) return Status::Ok();
  VASGD_RETURN_IF_ERROR(FromRocks(s, "product categories"));
  const char* p = value.data();
  const char* end = p + value.size();
  while (p < end) {
    uint32_t len;
    if (!keys::GetVarint32(&p, end, &len) || len > static_cast<size_t>(end - p)) {
      return Status::Corruption("bad categories record");
    }
    out->emplace_back(p, len);
    p += len;
  }
  return Status::Ok();
}

Status GraphStore::ProductMeta(int32_t product, std::string* json) const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  std::string& key = ScratchKey();
  keys::IdKey(keys::kProductMeta, product, &key);
  return FromRocks(db_->Get(rocksdb::ReadOptions(), key, json), "product meta");
}

Status GraphStore::UnavailableProducts(std::vector<int32_t>* out) const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  out->clear();
  return ScanPrefix(db_.get(), rocksdb::ReadOptions(), std::string(1, keys::kAvailable),
                    [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    if (k.size() == 5 && v.size() == 1 && v[0] == 0) {
      out->push_back(static_cast<int32_t>(keys::GetBe32(k.data() + 1)));
    }
    return true;
  });
}

int64_t GraphStore::NextOffset(const std::string& topic, int32_t partition) const {
  READ_LOCK_OR(-1);
  std::string key;
  keys::OffsetKey(topic, partition, &key);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), key, &value);
  if (!s.ok() || value.size() != 8) return -1;
  return keys::GetFixed<int64_t>(value.data());
}

Status GraphStore::ForEachEdge(const std::function<bool(int32_t, int32_t, float)>& fn) const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  SnapshotGuard snap(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  ro.fill_cache = false;
  return ScanPrefix(db_.get(), ro, std::string(1, keys::kEdge), [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    float weight;
    int64_t sequence;
    if (k.size() != 9 || !keys::GetEdgeValue(v.data(), v.size(), &weight, &sequence)) return true;
    return fn(static_cast<int32_t>(keys::GetBe32(k.data() + 1)), static_cast<int32_t>(keys::GetBe32(k.data() + 5)),
              weight);
  });
}

Result<TrainingData> GraphStore::ExportSnapshot() const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  SnapshotGuard snap(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  ro.fill_cache = false;
  TrainingData data;
  Status bad;

  auto load_names = [&](char prefix, std::vector<std::string>* names) -> Status {
    VASGD_RETURN_IF_ERROR(ScanPrefix(db_.get(), ro, std::string(1, prefix),
                                     [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
      if (k.size() != 5 || keys::GetBe32(k.data() + 1) != names->size()) {
        bad = Status::Corruption("dense ids are not contiguous");
        return false;
      }
      names->emplace_back(v.data(), v.size());
      return true;
    }));
    return bad;
  };
  VASGD_RETURN_IF_ERROR(load_names(keys::kUserName, &data.user_ids));
  VASGD_RETURN_IF_ERROR(load_names(keys::kProductName, &data.product_ids));

  InteractionGraph& g = data.graph;
  g.num_users = static_cast<int32_t>(data.user_ids.size());
  g.num_products = static_cast<int32_t>(data.product_ids.size());
  g.user_offsets.assign(g.num_users + 1, 0);
  VASGD_RETURN_IF_ERROR(ScanPrefix(db_.get(), ro, std::string(1, keys::kEdge),
                                   [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    float weight;
    int64_t sequence;
    if (k.size() != 9 || !keys::GetEdgeValue(v.data(), v.size(), &weight, &sequence)) {
      bad = Status::Corruption("bad edge record");
      return false;
    }
    int32_t u = static_cast<int32_t>(keys::GetBe32(k.data() + 1));
    int32_t p = static_cast<int32_t>(keys::GetBe32(k.data() + 5));
    if (u < 0 || u >= g.num_users || p < 0 || p >= g.num_products) {
      bad = Status::Corruption("edge outside the id maps");
      return false;
    }
    ++g.user_offsets[u + 1];  // counts first; keys arrive sorted by (user, product)
    g.product_index.push_back(p);
    g.weight.push_back(weight);
    g.sequence.push_back(sequence);
    return true;
  }));
  VASGD_RETURN_IF_ERROR(bad);
  for (int32_t u = 0; u < g.num_users; ++u) g.user_offsets[u + 1] += g.user_offsets[u];

  std::string dim_value;
  FeatureMatrix& f = data.features;
  if (db_->Get(ro, std::string(1, keys::kMeta) + "feature_dim", &dim_value).ok() && dim_value.size() == 4) {
    f.dim = keys::GetFixed<int32_t>(dim_value.data());
  }
  f.present.assign(g.num_products, 0);
  f.values.assign(static_cast<size_t>(g.num_products) * f.dim, 0.0f);
  if (f.dim > 0) {
    VASGD_RETURN_IF_ERROR(ScanPrefix(db_.get(), ro, std::string(1, keys::kFeatures),
                                     [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
      uint32_t p = k.size() == 5 ? keys::GetBe32(k.data() + 1) : ~0u;
      if (p >= static_cast<uint32_t>(g.num_products) ||
          v.size() != static_cast<size_t>(f.dim) * sizeof(float)) {
        bad = Status::Corruption("feature record does not match the id map or dimension");
        return false;
      }
      std::memcpy(f.values.data() + static_cast<size_t>(p) * f.dim, v.data(), v.size());
      f.present[p] = 1;
      return true;
    }));
    VASGD_RETURN_IF_ERROR(bad);
  }
  return data;
}

Status GraphStore::Checkpoint(const std::string& dir) const {
  READ_LOCK_OR(Status::Unavailable("the store is not open"));
  rocksdb::Checkpoint* raw = nullptr;
  VASGD_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // The checkpoint is a store directory of its own: dir/graph, openable with data_dir = dir.
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return Status::AlreadyExists(dir + " already exists");
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  return FromRocks(checkpoint->CreateCheckpoint(dir + "/graph"), "checkpoint");
}

}  // namespace vasgd

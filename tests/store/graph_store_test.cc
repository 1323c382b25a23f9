// GraphStore against a real RocksDB in a temporary directory.
#include "store/graph_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <rocksdb/db.h>

#include "store/edge_map.h"
#include "store/store_keys.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

using testing_support::TempDir;

GraphUpdate Purchase(const std::string& user, const std::string& product, float weight = 1.0f) {
  GraphUpdate u;
  u.type = UpdateType::kPurchase;
  u.user = user;
  u.product = product;
  u.weight = weight;
  return u;
}

GraphUpdate Product(const std::string& product) {
  GraphUpdate u;
  u.type = UpdateType::kProduct;
  u.product = product;
  return u;
}

GraphUpdate WithFeatures(GraphUpdate u, std::vector<float> f) {
  u.has_features = true;
  u.features = std::move(f);
  return u;
}

GraphUpdate At(GraphUpdate u, int32_t source, int64_t offset) {
  u.source = source;
  u.offset = offset;
  return u;
}

class GraphStoreTest : public ::testing::Test {
 protected:
  StoreOptions Options() {
    StoreOptions o;
    o.data_dir = dir_.path();
    o.sync_writes = false;  // durability is the crash test's subject; keep unit tests quick
    o.block_cache_mb = 8;
    o.write_buffer_mb = 4;
    return o;
  }
  std::unique_ptr<GraphStore> OpenStore() {
    auto r = GraphStore::Open(Options());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::vector<UpdateOutcome> ApplyOk(GraphStore* store, const std::vector<GraphUpdate>& updates,
                                     const std::vector<SourcePartition>& sources = {}) {
    std::vector<UpdateOutcome> out;
    Status s = store->Apply(updates, sources, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  // user string -> product string -> weight, read back through the public API.
  std::map<std::string, std::map<std::string, float>> Graph(GraphStore* store) {
    std::map<std::string, std::map<std::string, float>> g;
    Status s = store->ForEachEdge([&](int32_t u, int32_t p, float w) {
      std::string un, pn;
      EXPECT_TRUE(store->UserName(u, &un));
      EXPECT_TRUE(store->ProductName(p, &pn));
      g[un][pn] = w;
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return g;
  }

  TempDir dir_;
};

TEST_F(GraphStoreTest, RepeatedPurchaseAddsWeightNotASecondEdge) {
  auto store = OpenStore();
  auto out = ApplyOk(store.get(), {Purchase("u1", "p1", 1.0f), Purchase("u1", "p1", 2.5f),
                                   Purchase("u2", "p1"), Purchase("u1", "p2")});
  EXPECT_TRUE(out[0].new_user && out[0].new_product && out[0].new_edge);
  EXPECT_FALSE(out[1].new_user || out[1].new_product || out[1].new_edge);
  EXPECT_TRUE(out[2].new_user && !out[2].new_product && out[2].new_edge);
  EXPECT_EQ(out[0].user, 0);
  EXPECT_EQ(out[2].user, 1);
  EXPECT_EQ(out[3].product, 1);

  GraphCounters c = store->counters();
  EXPECT_EQ(c.users, 2);
  EXPECT_EQ(c.products, 2);
  EXPECT_EQ(c.edges, 3);
  EXPECT_EQ(c.warm_products, 2);
  EXPECT_EQ(c.events_applied, 4);

  std::vector<ProductWeight> bought;
  ASSERT_TRUE(store->UserPurchases(0, &bought).ok());
  ASSERT_EQ(bought.size(), 2u);
  EXPECT_EQ(bought[0].id, 0);
  EXPECT_FLOAT_EQ(bought[0].weight, 3.5f);
  EXPECT_EQ(bought[1].id, 1);
  std::vector<ProductWeight> buyers;
  ASSERT_TRUE(store->ProductBuyers(0, &buyers).ok());
  ASSERT_EQ(buyers.size(), 2u);
  EXPECT_FLOAT_EQ(buyers[0].weight, 3.5f);
  EXPECT_FLOAT_EQ(buyers[1].weight, 1.0f);

  int32_t id = -1;
  EXPECT_TRUE(store->FindUser("u2", &id));
  EXPECT_EQ(id, 1);
  EXPECT_FALSE(store->FindUser("nobody", &id));
  EXPECT_TRUE(store->FindProduct("p2", &id));
  EXPECT_EQ(id, 1);
  std::string name;
  EXPECT_TRUE(store->ProductName(1, &name));
  EXPECT_EQ(name, "p2");
  EXPECT_FALSE(store->UserName(7, &name));
}

// The daemon's vasgd_store_memory_bytes: writes land in the memtables, reads of flushed tables
// in the block cache (bounded by block_cache_mb).
TEST_F(GraphStoreTest, MemoryUsageShowsMemtablesAndTheBlockCache) {
  auto store = OpenStore();
  const StoreMemory empty = store->MemoryUsage();
  std::vector<GraphUpdate> updates;
  for (int i = 0; i < 20000; ++i) updates.push_back(Purchase("u" + std::to_string(i % 997), "p" + std::to_string(i % 89)));
  ApplyOk(store.get(), updates);
  const StoreMemory written = store->MemoryUsage();
  EXPECT_GT(written.memtables, empty.memtables);
  store.reset();
  store = OpenStore();  // the reopen reads the tables back (id maps, edge weights)
  const StoreMemory reopened = store->MemoryUsage();
  EXPECT_GT(reopened.block_cache + reopened.table_readers, 0u);
  EXPECT_LE(reopened.block_cache, uint64_t{8} << 20);
}

TEST_F(GraphStoreTest, ProductAttributesAndPurchaseBeforeProduct) {
  auto store = OpenStore();
  ApplyOk(store.get(), {Purchase("u1", "p9")});
  std::vector<float> f;
  EXPECT_EQ(store->ProductFeatures(0, &f).code(), Code::kNotFound);
  EXPECT_EQ(store->counters().products_with_features, 0);

  GraphUpdate p9 = WithFeatures(Product("p9"), {0.5f, -1.0f, 2.0f});
  p9.has_categories = true;
  p9.categories = {"shoes", "red"};
  p9.has_meta = true;
  p9.meta_json = R"({"title":"boot"})";
  auto out = ApplyOk(store.get(), {p9});
  EXPECT_EQ(out[0].result, UpdateResult::kApplied);
  EXPECT_FALSE(out[0].new_product);
  EXPECT_EQ(out[0].product, 0);

  ASSERT_TRUE(store->ProductFeatures(0, &f).ok());
  EXPECT_EQ(f, (std::vector<float>{0.5f, -1.0f, 2.0f}));
  std::vector<std::string> cats;
  ASSERT_TRUE(store->ProductCategories(0, &cats).ok());
  EXPECT_EQ(cats, (std::vector<std::string>{"shoes", "red"}));
  std::string meta;
  ASSERT_TRUE(store->ProductMeta(0, &meta).ok());
  EXPECT_EQ(meta, R"({"title":"boot"})");
  GraphCounters c = store->counters();
  EXPECT_EQ(c.products, 1);
  EXPECT_EQ(c.products_with_features, 1);
  EXPECT_EQ(c.feature_dim, 3);

  // Hide, hide again (no double count), a cold product hidden, then restore.
  GraphUpdate hide = Product("p9");
  hide.available = 0;
  GraphUpdate cold = Product("p10");
  cold.available = 0;
  ApplyOk(store.get(), {hide, hide, cold});
  EXPECT_FALSE(store->ProductAvailable(0));
  EXPECT_FALSE(store->ProductAvailable(1));
  EXPECT_EQ(store->counters().unavailable_products, 2);
  std::vector<int32_t> hidden;
  ASSERT_TRUE(store->UnavailableProducts(&hidden).ok());
  EXPECT_EQ(hidden, (std::vector<int32_t>{0, 1}));
  GraphUpdate show = Product("p9");
  show.available = 1;
  ApplyOk(store.get(), {show});
  EXPECT_TRUE(store->ProductAvailable(0));
  EXPECT_EQ(store->counters().unavailable_products, 1);
  EXPECT_EQ(store->counters().products, 2);
  EXPECT_EQ(store->counters().warm_products, 1);
  // Features are still there after attribute-only updates.
  ASSERT_TRUE(store->ProductFeatures(0, &f).ok());
  EXPECT_EQ(f.size(), 3u);
}

TEST_F(GraphStoreTest, FirstFeaturesFixTheDimension) {
  auto store = OpenStore();
  auto out = ApplyOk(store.get(), {WithFeatures(Product("a"), {1, 2}), WithFeatures(Product("b"), {1, 2, 3}),
                                   WithFeatures(Product("c"), {3, 4})});
  EXPECT_EQ(out[0].result, UpdateResult::kApplied);
  EXPECT_EQ(out[1].result, UpdateResult::kRejected);
  EXPECT_EQ(out[1].reason, RejectReason::kFeatureDimMismatch);
  EXPECT_EQ(out[2].result, UpdateResult::kApplied);
  GraphCounters c = store->counters();
  EXPECT_EQ(c.products, 2);  // the rejected product was not registered
  EXPECT_EQ(c.products_with_features, 2);
  EXPECT_EQ(c.events_applied, 2);
  int32_t id;
  EXPECT_FALSE(store->FindProduct("b", &id));

  store.reset();
  store = OpenStore();  // the dimension survives a restart
  out = ApplyOk(store.get(), {WithFeatures(Product("d"), {1, 2, 3})});
  EXPECT_EQ(out[0].reason, RejectReason::kFeatureDimMismatch);
  EXPECT_EQ(store->feature_dim(), 2);

  store.reset();
  StoreOptions o = Options();
  o.feature_dim = 3;
  auto conflicting = GraphStore::Open(o);
  EXPECT_EQ(conflicting.status().code(), Code::kInvalidArgument);
}

TEST_F(GraphStoreTest, ConfiguredDimensionRejectsTheFirstMismatch) {
  StoreOptions o = Options();
  o.feature_dim = 4;
  auto r = GraphStore::Open(o);
  ASSERT_TRUE(r.ok());
  auto out = ApplyOk(r->get(), {WithFeatures(Product("a"), {1, 2}), WithFeatures(Product("b"), {1, 2, 3, 4})});
  EXPECT_EQ(out[0].reason, RejectReason::kFeatureDimMismatch);
  EXPECT_EQ(out[1].result, UpdateResult::kApplied);
}

TEST_F(GraphStoreTest, OffsetsMakeReplaysIdempotent) {
  auto store = OpenStore();
  std::vector<SourcePartition> src = {{"events", 0}, {"events", 1}};
  EXPECT_EQ(store->NextOffset("events", 0), -1);
  GraphUpdate rejected;  // a bad message: no change, but its offset is consumed
  rejected.type = UpdateType::kNone;
  ApplyOk(store.get(), {At(Purchase("u1", "p1"), 0, 0), At(Purchase("u1", "p1"), 0, 1),
                        At(rejected, 0, 2), At(Purchase("u2", "p1"), 1, 5)}, src);
  EXPECT_EQ(store->NextOffset("events", 0), 3);
  EXPECT_EQ(store->NextOffset("events", 1), 6);
  EXPECT_EQ(store->NextOffset("other", 0), -1);

  // The same messages again (a consumer restarted from an older position): all duplicates.
  auto out = ApplyOk(store.get(), {At(Purchase("u1", "p1"), 0, 1), At(rejected, 0, 2),
                                   At(Purchase("u2", "p1"), 1, 5), At(Purchase("u3", "p1"), 1, 6)}, src);
  EXPECT_EQ(out[0].result, UpdateResult::kDuplicate);
  EXPECT_EQ(out[1].result, UpdateResult::kDuplicate);
  EXPECT_EQ(out[2].result, UpdateResult::kDuplicate);
  EXPECT_EQ(out[3].result, UpdateResult::kApplied);
  auto g = Graph(store.get());
  EXPECT_FLOAT_EQ(g["u1"]["p1"], 2.0f);
  EXPECT_FLOAT_EQ(g["u2"]["p1"], 1.0f);
  EXPECT_EQ(store->counters().events_applied, 4);

  store.reset();
  store = OpenStore();
  EXPECT_EQ(store->NextOffset("events", 1), 7);
  out = ApplyOk(store.get(), {At(Purchase("u3", "p1"), 1, 6)}, src);
  EXPECT_EQ(out[0].result, UpdateResult::kDuplicate);
  EXPECT_EQ(store->counters().events_applied, 4);
}

TEST_F(GraphStoreTest, ReopenRebuildsCachesAndCounters) {
  std::map<std::string, std::map<std::string, float>> expected;
  {
    auto store = OpenStore();
    std::mt19937 rng(7);
    std::vector<GraphUpdate> batch;
    for (int b = 0; b < 20; ++b) {
      batch.clear();
      for (int i = 0; i < 200; ++i) {
        std::string u = "u" + std::to_string(rng() % 50), p = "p" + std::to_string(rng() % 80);
        float w = static_cast<float>(1 + rng() % 3);
        expected[u][p] += w;
        batch.push_back(Purchase(u, p, w));
      }
      ApplyOk(store.get(), batch);
    }
  }
  auto store = OpenStore();
  EXPECT_EQ(Graph(store.get()), expected);
  size_t edges = 0;
  for (auto& [u, row] : expected) edges += row.size();
  GraphCounters c = store->counters();
  EXPECT_EQ(c.edges, static_cast<int64_t>(edges));
  EXPECT_EQ(c.users, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(c.events_applied, 4000);
  // The rebuilt edge cache must keep summing, not create second edges.
  auto out = ApplyOk(store.get(), {Purchase(expected.begin()->first, expected.begin()->second.begin()->first)});
  EXPECT_FALSE(out[0].new_edge);
  EXPECT_EQ(store->counters().edges, static_cast<int64_t>(edges));
}

TEST_F(GraphStoreTest, FailedWriteChangesNothingAndCanBeRetried) {
  auto store = OpenStore();
  std::vector<SourcePartition> src = {{"t", 0}};
  ApplyOk(store.get(), {At(Purchase("u1", "p1"), 0, 0)}, src);
  GraphCounters before = store->counters();

  // A real I/O failure: the process may not grow any file, so RocksDB's WAL append fails.
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit tiny = {1, old_limit.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tiny), 0);
  std::vector<GraphUpdate> batch = {At(Purchase("u1", "p1", 2.0f), 0, 1), At(Purchase("u2", "p2"), 0, 2),
                                    At(WithFeatures(Product("p3"), {1, 2}), 0, 3)};
  std::vector<UpdateOutcome> out;
  Status s = store->Apply(batch, src, &out);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());

  GraphCounters after = store->counters();
  EXPECT_EQ(after.users, before.users);
  EXPECT_EQ(after.edges, before.edges);
  EXPECT_EQ(after.products, before.products);
  EXPECT_EQ(after.feature_dim, 0);
  EXPECT_EQ(store->NextOffset("t", 0), 1);
  int32_t id;
  EXPECT_FALSE(store->FindUser("u2", &id));
  EXPECT_TRUE(store->FindUser("u1", &id));  // reads go on while the store cannot write

  // The retry applies the batch exactly once, with the same dense ids a first try would give.
  s = store->Apply(batch, src, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out[1].user, 1);
  EXPECT_EQ(out[2].product, 2);
  auto g = Graph(store.get());
  EXPECT_FLOAT_EQ(g["u1"]["p1"], 3.0f);
  EXPECT_FLOAT_EQ(g["u2"]["p2"], 1.0f);
  EXPECT_EQ(store->counters().edges, 2);
  EXPECT_EQ(store->counters().feature_dim, 2);
  EXPECT_EQ(store->NextOffset("t", 0), 4);
}

TEST_F(GraphStoreTest, ExportSnapshotCarriesWhenEachEdgeWasLastBought) {
  auto store = OpenStore();
  ApplyOk(store.get(), {Purchase("u0", "p0"), Purchase("u0", "p1"), Purchase("u1", "p1")});
  ApplyOk(store.get(), {Purchase("u0", "p0")});  // bought again: p0 is now u0's latest purchase
  auto d = store->ExportSnapshot();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const InteractionGraph& g = d->graph;
  ASSERT_EQ(g.product_index, (std::vector<int32_t>{0, 1, 1}));
  ASSERT_EQ(g.sequence.size(), 3u);
  EXPECT_GT(g.sequence[0], g.sequence[1]) << "u0's repeat purchase of p0 came after p1";
  EXPECT_GT(g.sequence[2], g.sequence[1]);
  EXPECT_LT(g.sequence[2], g.sequence[0]);
  EXPECT_EQ(g.weight, (std::vector<float>{2.0f, 1.0f, 1.0f}));
  // The order survives a restart (the caches are rebuilt from the same records).
  store.reset();
  store = OpenStore();
  ApplyOk(store.get(), {Purchase("u1", "p0")});
  auto again = store->ExportSnapshot();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->graph.product_index, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(again->graph.sequence[0], g.sequence[0]);
  EXPECT_GT(again->graph.sequence[2], g.sequence[0]) << "u1 -> p0 was bought after the restart";
}

TEST_F(GraphStoreTest, ReadsEdgesWrittenBeforeTheSequenceExisted) {
  auto store = OpenStore();
  ApplyOk(store.get(), {Purchase("u0", "p0", 2.0f), Purchase("u0", "p1")});
  store.reset();
  {  // Rewrite u0 -> p0 as an older store held it: the weight alone.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path() + "/graph", &raw).ok());
    std::string key, value;
    keys::PairKey(keys::kEdge, 0, 0, &key);
    keys::PutFixed<float>(&value, 2.0f);
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), key, value).ok());
    delete raw;
  }
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto old = store->ExportSnapshot();
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->graph.weight, (std::vector<float>{2.0f, 1.0f}));
  EXPECT_EQ(old->graph.sequence[0], 0) << "an edge without a sequence reads as the earliest";
  EXPECT_GT(old->graph.sequence[1], 0);
  ApplyOk(store.get(), {Purchase("u0", "p0", 0.5f)});  // the cached weight is the old record's
  auto d = store->ExportSnapshot();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->graph.weight, (std::vector<float>{2.5f, 1.0f}));
  EXPECT_GT(d->graph.sequence[0], d->graph.sequence[1]) << "the new purchase rewrote the record with its sequence";
  std::vector<ProductWeight> bought;
  ASSERT_TRUE(store->UserPurchases(0, &bought).ok());
  EXPECT_EQ(bought.size(), 2u);
}

TEST_F(GraphStoreTest, ExportSnapshotIsConsistentWhileIngesting) {
  auto store = OpenStore();
  ApplyOk(store.get(), {WithFeatures(Product("cold"), {1, 2}), Purchase("u0", "p0", 2.0f),
                        Purchase("u0", "cold"), WithFeatures(Product("p0"), {3, 4})});
  auto first = store->ExportSnapshot();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const TrainingData& d = *first;
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"u0"}));
  EXPECT_EQ(d.product_ids, (std::vector<std::string>{"cold", "p0"}));
  EXPECT_EQ(d.graph.user_offsets, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(d.graph.product_index, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(d.graph.weight, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(d.features.dim, 2);
  EXPECT_EQ(d.features.values, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(d.features.present, (std::vector<uint8_t>{1, 1}));

  // Each batch adds one user with exactly three edges: a snapshot must never see a partial one.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int b = 1; b <= 300; ++b) {
      std::string u = "w" + std::to_string(b);
      std::vector<GraphUpdate> batch = {Purchase(u, "p0"), Purchase(u, "x" + std::to_string(b)),
                                        Purchase(u, "cold")};
      std::vector<UpdateOutcome> out;
      ASSERT_TRUE(store->Apply(batch, {}, &out).ok());
    }
    done = true;
  });
  int snapshots = 0;
  while (!done || snapshots == 0) {
    auto snap = store->ExportSnapshot();
    ASSERT_TRUE(snap.ok());
    const InteractionGraph& g = snap->graph;
    ASSERT_EQ(g.num_users, static_cast<int32_t>(snap->user_ids.size()));
    for (int32_t u = 1; u < g.num_users; ++u) {
      ASSERT_EQ(g.user_offsets[u + 1] - g.user_offsets[u], 3) << "user " << snap->user_ids[u];
    }
    ASSERT_EQ(snap->features.present.size(), static_cast<size_t>(g.num_products));
    ++snapshots;
  }
  writer.join();
  EXPECT_GT(snapshots, 0);
}

TEST_F(GraphStoreTest, CheckpointOpensAsAStore) {
  auto store = OpenStore();
  ApplyOk(store.get(), {Purchase("u1", "p1", 2.0f), WithFeatures(Product("p2"), {1, 2, 3})});
  std::string cp = dir_.path() + "/cp";
  ASSERT_TRUE(store->Checkpoint(cp).ok());
  EXPECT_EQ(store->Checkpoint(cp).code(), Code::kAlreadyExists);
  ApplyOk(store.get(), {Purchase("u9", "p9")});  // after the checkpoint: not in it

  StoreOptions o = Options();
  o.data_dir = cp;
  auto copy = GraphStore::Open(o);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  GraphCounters c = (*copy)->counters();
  EXPECT_EQ(c.users, 1);
  EXPECT_EQ(c.products, 2);
  EXPECT_EQ(c.edges, 1);
  EXPECT_EQ(c.products_with_features, 1);
  EXPECT_EQ(Graph(copy->get())["u1"]["p1"], 2.0f);
}

TEST_F(GraphStoreTest, ReadOnlyOpenWorksBesideTheWriter) {
  EXPECT_EQ(GraphStore::OpenReadOnly(Options()).status().code(), Code::kNotFound);
  auto store = OpenStore();
  ApplyOk(store.get(), {Purchase("u1", "p1"), Purchase("u2", "p1")});
  auto reader = GraphStore::OpenReadOnly(Options());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->counters().users, 2);
  EXPECT_EQ((*reader)->counters().edges, 2);
  std::vector<GraphUpdate> one = {Purchase("u3", "p1")};
  std::vector<UpdateOutcome> out;
  EXPECT_EQ((*reader)->Apply(one, {}, &out).code(), Code::kFailedPrecondition);
  // A second writer is refused while the first holds the store.
  EXPECT_FALSE(GraphStore::Open(Options()).ok());
}

TEST(EdgeMapTest, MatchesAReferenceMapUnderInsertEraseAndGrowth) {
  EdgeMap map;
  std::map<uint64_t, float> ref;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    uint64_t key = EdgeMap::Key(static_cast<int32_t>(rng() % 3000), static_cast<int32_t>(rng() % 50));
    if (rng() % 4 == 0) {
      map.Erase(key);
      ref.erase(key);
    } else if (float* w = map.Find(key)) {
      *w += 1.0f;
      ref[key] += 1.0f;
    } else {
      ASSERT_EQ(ref.count(key), 0u);
      map.Insert(key, 1.0f);
      ref[key] = 1.0f;
    }
  }
  ASSERT_EQ(map.size(), ref.size());
  for (auto& [k, v] : ref) {
    float* w = map.Find(k);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(*w, v);
  }
}

}  // namespace
}  // namespace vasgd

// The store's read cache (store/read_cache.h): on its own, and through GraphStore, where a
// purchase must show in the next read of the user's purchases however often they were read.
#include "store/read_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/graph_store.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

std::vector<ProductWeight> Bought(std::initializer_list<int32_t> ids) {
  std::vector<ProductWeight> out;
  for (int32_t id : ids) out.push_back({id, 1.f});
  return out;
}

std::vector<int32_t> Ids(const std::vector<ProductWeight>& purchases) {
  std::vector<int32_t> out;
  for (const ProductWeight& p : purchases) out.push_back(p.id);
  return out;
}

TEST(ReadCache, KeepsWhatWasPutUntilForgotten) {
  ReadCache cache(1 << 20);
  std::vector<ProductWeight> got;
  int32_t dense = -1;
  EXPECT_FALSE(cache.Purchases(7, &got));
  EXPECT_FALSE(cache.FindUser("u7", &dense));
  cache.PutUser("u7", 7);
  cache.PutPurchases(7, cache.Generation(7), Bought({1, 2}));
  ASSERT_TRUE(cache.FindUser("u7", &dense));
  EXPECT_EQ(dense, 7);
  ASSERT_TRUE(cache.Purchases(7, &got));
  EXPECT_EQ(Ids(got), (std::vector<int32_t>{1, 2}));
  EXPECT_GT(cache.bytes(), 0u);
  cache.Forget(7);
  EXPECT_FALSE(cache.Purchases(7, &got));
  EXPECT_TRUE(cache.FindUser("u7", &dense)) << "a dense id never changes: names stay";
}

// A read that began before a write must not put its older copy back after the write forgot it.
TEST(ReadCache, ACopyReadBeforeAForgetIsNotKept) {
  ReadCache cache(1 << 20);
  const uint64_t before = cache.Generation(3);
  cache.Forget(3);  // the write lands while the read is under way
  cache.PutPurchases(3, before, Bought({1}));
  std::vector<ProductWeight> got;
  EXPECT_FALSE(cache.Purchases(3, &got));
  cache.PutPurchases(3, cache.Generation(3), Bought({1, 5}));
  ASSERT_TRUE(cache.Purchases(3, &got));
  EXPECT_EQ(Ids(got), (std::vector<int32_t>{1, 5}));
}

TEST(ReadCache, StaysWithinItsBytesAndKeepsNothingAtZero) {
  ReadCache cache(64 * 1024);  // 1 KiB a shard
  for (int32_t u = 0; u < 10000; ++u) {
    cache.PutPurchases(u, cache.Generation(u), Bought({1, 2, 3, 4}));
    cache.PutUser("user-" + std::to_string(u), u);
  }
  EXPECT_LE(cache.bytes(), 64u * 1024);
  EXPECT_GT(cache.bytes(), 32u * 1024) << "full shards drop a few entries, not all";
  ReadCache none(0);
  none.PutPurchases(1, none.Generation(1), Bought({1}));
  none.PutUser("u1", 1);
  std::vector<ProductWeight> got;
  int32_t dense = -1;
  EXPECT_FALSE(none.Purchases(1, &got));
  EXPECT_FALSE(none.FindUser("u1", &dense));
  EXPECT_EQ(none.bytes(), 0u);
}

// Names are found through views of the entries' own copies: long names (a heap block each) put
// and dropped in turn must still be found by a caller's separate string, with their own ids.
TEST(ReadCache, NamesOutliveTheCallersStringsAndEvictions) {
  ReadCache cache(64 * 20 * ReadCache::NameBytes(std::string(40, 'x')));
  auto name = [](int i) { return "customer-" + std::to_string(i) + "-" + std::string(30, 'a' + i % 26); };
  for (int i = 0; i < 5000; ++i) cache.PutUser(name(i), i);  // each shard keeps ~20 of ~78
  int found = 0;
  for (int i = 0; i < 5000; ++i) {
    int32_t dense = -1;
    if (!cache.FindUser(name(i), &dense)) continue;
    ++found;
    EXPECT_EQ(dense, i) << name(i);
  }
  EXPECT_GT(found, 64 * 10);
  EXPECT_LE(found, 64 * 21);
  EXPECT_LE(cache.bytes(), 64 * 20 * ReadCache::NameBytes(name(0)));
}

// A full shard drops what was used longest ago: users 0, 64, 128 and 192 share shard 0 (user %
// 64), which holds three one-purchase entries; reading user 0 makes 64 the oldest.
TEST(ReadCache, AFullShardDropsTheLeastRecentlyUsed) {
  const size_t one = ReadCache::PurchasesBytes(1);
  ReadCache cache(64 * 3 * one);
  for (int32_t u : {0, 64, 128}) cache.PutPurchases(u, cache.Generation(u), Bought({u}));
  std::vector<ProductWeight> got;
  for (int32_t u : {0, 64, 128}) ASSERT_TRUE(cache.Purchases(u, &got)) << "user " << u << " fits";
  ASSERT_TRUE(cache.Purchases(0, &got));  // 0 is now the most recent, 64 the oldest
  cache.PutPurchases(192, cache.Generation(192), Bought({192}));
  EXPECT_FALSE(cache.Purchases(64, &got));
  for (int32_t u : {0, 128, 192}) {
    ASSERT_TRUE(cache.Purchases(u, &got)) << "user " << u;
    EXPECT_EQ(Ids(got), (std::vector<int32_t>{u}));
  }
  EXPECT_EQ(cache.bytes(), 3 * one);
}

// Through the store: each read fills the cache, each batch that adds a purchase makes the next
// read see it, and a batch that fails (here: an unknown source) changes nothing.
TEST(ReadCache, TheStoresReadsSeeEveryPurchaseAtOnce) {
  testing_support::TempDir dir;
  StoreOptions o;
  o.data_dir = dir.path();
  o.sync_writes = false;
  auto opened = GraphStore::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  GraphStore& store = **opened;
  auto purchase = [](const std::string& user, const std::string& product) {
    GraphUpdate u;
    u.type = UpdateType::kPurchase;
    u.user = user;
    u.product = product;
    u.weight = 1.f;
    return u;
  };
  std::vector<UpdateOutcome> out;
  ASSERT_TRUE(store.Apply({purchase("u0", "p0"), purchase("u1", "p1")}, {}, &out).ok());
  int32_t u0 = -1;
  ASSERT_TRUE(store.FindUser("u0", &u0));
  std::vector<ProductWeight> bought;
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(store.UserPurchases(u0, &bought).ok());
    ASSERT_EQ(bought.size(), static_cast<size_t>(i)) << "after " << i - 1 << " more purchases";
    ASSERT_TRUE(store.UserPurchases(u0, &bought).ok());  // now from the cache
    ASSERT_EQ(bought.size(), static_cast<size_t>(i));
    ASSERT_TRUE(store.Apply({purchase("u0", "q" + std::to_string(i))}, {}, &out).ok());
  }
  EXPECT_GT(store.MemoryUsage().read_cache, 0u);
  int32_t dense = -1;
  EXPECT_TRUE(store.FindUser("u1", &dense));
  EXPECT_TRUE(store.FindUser("u1", &dense));
  EXPECT_EQ(dense, 1);
  EXPECT_FALSE(store.FindUser("u2", &dense));
  ASSERT_TRUE(store.Apply({purchase("u2", "p0")}, {}, &out).ok());
  EXPECT_TRUE(store.FindUser("u2", &dense)) << "an unknown user is not remembered as unknown";
}

}  // namespace
}  // namespace vasgd

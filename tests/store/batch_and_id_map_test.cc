// The writer's in-memory helpers: SortedBatch (key order, last write wins) and IdMap.
#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <map>
#include <random>

#include "store/id_map.h"
#include "store/sorted_batch.h"

namespace vasgd {
namespace {

// Collects a WriteBatch's operations in order.
class Collector : public rocksdb::WriteBatch::Handler {
 public:
  void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    ops.push_back("put " + key.ToString() + "=" + value.ToString());
  }
  void Delete(const rocksdb::Slice& key) override { ops.push_back("del " + key.ToString()); }
  std::vector<std::string> ops;
};

TEST(SortedBatchTest, EmitsKeysInOrderAndKeepsTheLastWriteOfEachKey) {
  SortedBatch batch;
  batch.Put("b", "1");
  batch.Put("a", "1");
  batch.Put("abcdefghij", "long");  // longer than the 8-byte prefix
  batch.Put("abcdefghi", "shorter");
  batch.Put("b", "2");
  batch.Delete("c");
  batch.Put("c", "3");
  batch.Put("d", "4");
  batch.Delete("d");
  rocksdb::WriteBatch out;
  batch.EmitTo(&out);
  Collector c;
  ASSERT_TRUE(out.Iterate(&c).ok());
  EXPECT_EQ(c.ops, (std::vector<std::string>{"put a=1", "put abcdefghi=shorter", "put abcdefghij=long",
                                             "put b=2", "put c=3", "del d"}));
  batch.Clear();
  batch.EmitTo(&out);
  EXPECT_EQ(out.Count(), 0u);
}

TEST(SortedBatchTest, MatchesAnOrderedMapOnRandomBinaryKeys) {
  std::mt19937 rng(5);
  SortedBatch batch;
  std::map<std::string, std::string> ref;
  for (int i = 0; i < 5000; ++i) {
    std::string key(1 + rng() % 12, '\0');
    for (char& ch : key) ch = static_cast<char>(rng() % 4);  // few symbols: many shared prefixes
    std::string value = std::to_string(i);
    batch.Put(key, value);
    ref[key] = value;
  }
  rocksdb::WriteBatch out;
  batch.EmitTo(&out);
  Collector c;
  ASSERT_TRUE(out.Iterate(&c).ok());
  std::vector<std::string> expected;
  for (auto& [k, v] : ref) expected.push_back("put " + k + "=" + v);
  EXPECT_EQ(c.ops, expected);
}

TEST(IdMapTest, InternsInArrivalOrderAndTruncatesNewestFirst) {
  IdMap ids;
  bool created = false;
  EXPECT_EQ(ids.Intern("u7", &created), 0);
  EXPECT_TRUE(created);
  EXPECT_EQ(ids.Intern("u3", &created), 1);
  EXPECT_EQ(ids.Intern("u7", &created), 0);
  EXPECT_FALSE(created);
  EXPECT_EQ(ids.Find("u3"), 1);
  EXPECT_EQ(ids.Find("nope"), -1);
  EXPECT_EQ(ids.Name(1), "u3");

  // Many ids (rehashing), then a rollback of the newest ones.
  for (int i = 0; i < 50000; ++i) ids.Intern("x" + std::to_string(i), &created);
  EXPECT_EQ(ids.size(), 50002u);
  ids.Truncate(20002);
  EXPECT_EQ(ids.size(), 20002u);
  for (int i = 0; i < 50000; ++i) {
    ASSERT_EQ(ids.Find("x" + std::to_string(i)), i < 20000 ? i + 2 : -1) << i;
  }
  EXPECT_EQ(ids.Intern("x30000", &created), 20002);  // ids are reassigned after a rollback
  EXPECT_TRUE(created);
  EXPECT_EQ(ids.Find("u7"), 0);
}

}  // namespace
}  // namespace vasgd

// SortedBatch: the puts and deletes of one store write, handed to RocksDB in key order.
//
// Why: inserting into RocksDB's skiplist memtable in key order lets each insert start from the
// previous one's position instead of searching from the top; purchases touch keys all over the
// key space, and sorting a batch first made the memtable inserts several times cheaper
// (docs/BENCHMARKS.md). Repeated writes of a key in one batch collapse into the last one.
#pragma once

#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace vasgd {

class SortedBatch {
 public:
  void Clear() {
    data_.clear();
    entries_.clear();
  }
  size_t size() const { return entries_.size(); }

  void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) { Add(key, value, false); }
  void Delete(const rocksdb::Slice& key) { Add(key, rocksdb::Slice(), true); }

  // Replaces *out's contents with the entries in key order, the last write of each key only.
  void EmitTo(rocksdb::WriteBatch* out) {
    out->Clear();
    const char* base = data_.data();
    std::sort(entries_.begin(), entries_.end(), [base](const Entry& a, const Entry& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      int c = Compare(base, a, b);
      if (c != 0) return c < 0;
      return a.index < b.index;
    });
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      if (i + 1 < entries_.size() && entries_[i + 1].prefix == e.prefix && Compare(base, e, entries_[i + 1]) == 0) {
        continue;  // a later write of the same key wins
      }
      rocksdb::Slice key(base + e.key_off, e.key_len);
      if (e.is_delete) {
        out->Delete(key);
      } else {
        out->Put(key, rocksdb::Slice(base + e.key_off + e.key_len, e.value_len));
      }
    }
  }

 private:
  struct Entry {
    uint64_t prefix;    // the key's first 8 bytes, big-endian: most comparisons end here
    uint32_t key_off;   // key bytes, then value bytes, in data_
    uint32_t key_len;
    uint32_t value_len;
    uint32_t index;     // insertion order, to keep the last write of a key
    bool is_delete;
  };

  static int Compare(const char* base, const Entry& a, const Entry& b) {
    const size_t n = std::min(a.key_len, b.key_len);
    int c = std::memcmp(base + a.key_off, base + b.key_off, n);
    if (c != 0) return c;
    return a.key_len < b.key_len ? -1 : (a.key_len > b.key_len ? 1 : 0);
  }

  void Add(const rocksdb::Slice& key, const rocksdb::Slice& value, bool is_delete) {
    Entry e;
    e.prefix = 0;
    for (size_t i = 0; i < 8; ++i) {
      e.prefix = (e.prefix << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0);
    }
    e.key_off = static_cast<uint32_t>(data_.size());
    e.key_len = static_cast<uint32_t>(key.size());
    e.value_len = static_cast<uint32_t>(value.size());
    e.index = static_cast<uint32_t>(entries_.size());
    e.is_delete = is_delete;
    data_.append(key.data(), key.size());
    data_.append(value.data(), value.size());
    entries_.push_back(e);
  }

  std::string data_;
  std::vector<Entry> entries_;
};

}  // namespace vasgd

// EdgeMap: (user, product) -> summed weight in one flat open-addressing table, so the ingestion
// hot path finds an edge without touching RocksDB or allocating per edge. Writer-only cache of
// the store; not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace vasgd {

class EdgeMap {
 public:
  EdgeMap() { Rehash(1024); }

  static uint64_t Key(int32_t user, int32_t product) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(user)) << 32) | static_cast<uint32_t>(product);
  }

  size_t size() const { return size_; }

  // The weight slot of `key`, or null when absent.
  float* Find(uint64_t key) {
    for (size_t i = Slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

  // Inserts `key` with `weight`; the key must be absent.
  void Insert(uint64_t key, float weight) {
    if ((size_ + 1) * 10 > keys_.size() * 7) Rehash(keys_.size() * 2);
    size_t i = Slot(key);
    while (keys_[i] != kEmpty) i = (i + 1) & mask_;
    keys_[i] = key;
    values_[i] = weight;
    ++size_;
  }

  // Removes `key` if present (backward-shift deletion keeps probe chains intact).
  void Erase(uint64_t key) {
    size_t i = Slot(key);
    while (keys_[i] != key) {
      if (keys_[i] == kEmpty) return;
      i = (i + 1) & mask_;
    }
    for (size_t j = (i + 1) & mask_; keys_[j] != kEmpty; j = (j + 1) & mask_) {
      size_t home = Slot(keys_[j]);
      // Move j into the hole at i when its home slot does not lie cyclically in (i, j].
      bool stays = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays) {
        keys_[i] = keys_[j];
        values_[i] = values_[j];
        i = j;
      }
    }
    keys_[i] = kEmpty;
    --size_;
  }

  void Reserve(size_t n) {
    size_t cap = keys_.size();
    while (n * 10 > cap * 7) cap *= 2;
    if (cap != keys_.size()) Rehash(cap);
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // user id -1 never occurs

  size_t Slot(uint64_t key) const {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return static_cast<size_t>(key) & mask_;
  }

  void Rehash(size_t capacity) {
    std::vector<uint64_t> old_keys(capacity, kEmpty);
    std::vector<float> old_values(capacity);
    old_keys.swap(keys_);
    old_values.swap(values_);
    mask_ = capacity - 1;
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) Insert(old_keys[i], old_values[i]);
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<float> values_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace vasgd

// The RocksDB key layout of the graph store (internal to store/). One key space, a one-byte
// prefix per record kind; integers big-endian so keys sort by dense id.
//
//   'M' name                          -> store meta ("format", "feature_dim")
//   'C'                               -> counters, little-endian int64 each (CounterSlot)
//   'O' topic '\0' be32(partition)    -> next offset to consume, int64
//   'u' user-id  / 'U' be32(user)      -> dense user id (int32) / the string id
//   'p' product-id / 'P' be32(product) -> dense product id / the string id
//   'e' be32(user) be32(product)      -> EdgeValue: summed weight, when last bought; user -> product
//   'r' be32(product) be32(user)      -> the same value, product -> user adjacency
//   'f' be32(product)                 -> features, float32 × dim, little-endian
//   'g' be32(product)                 -> categories: (varint32 length, bytes)*
//   'a' be32(product)                 -> 0 when hidden (absent = available)
//   'm' be32(product)                 -> meta, JSON object text
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace vasgd {
namespace keys {

constexpr char kMeta = 'M';
constexpr char kCounters = 'C';
constexpr char kOffset = 'O';
constexpr char kUserId = 'u';
constexpr char kUserName = 'U';
constexpr char kProductId = 'p';
constexpr char kProductName = 'P';
constexpr char kEdge = 'e';
constexpr char kReverseEdge = 'r';
constexpr char kFeatures = 'f';
constexpr char kCategories = 'g';
constexpr char kAvailable = 'a';
constexpr char kProductMeta = 'm';

// Order of the int64 values in the counters record.
enum CounterSlot { kUsers, kProducts, kWithFeatures, kWarm, kUnavailable, kEdges, kApplied, kNumSlots };

inline void PutBe32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out->append(b, 4);
}

inline uint32_t GetBe32(const char* p) {
  const unsigned char* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

// Fixed-width little-endian values (x86 and ARM hosts are little-endian; memcpy keeps it simple).
template <typename T>
inline void PutFixed(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

template <typename T>
inline T GetFixed(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// An edge's value: the summed weight (float32), then the sequence of its latest purchase (int64:
// the store's count of applied updates including this one, so 1 or more). Stores written before the sequence
// existed hold the weight alone; such edges read as sequence 0.
inline void PutEdgeValue(std::string* out, float weight, int64_t sequence) {
  out->clear();
  PutFixed<float>(out, weight);
  PutFixed<int64_t>(out, sequence);
}

// False when `size` bytes are no edge value.
inline bool GetEdgeValue(const char* p, size_t size, float* weight, int64_t* sequence) {
  if (size != sizeof(float) && size != sizeof(float) + sizeof(int64_t)) return false;
  *weight = GetFixed<float>(p);
  *sequence = size == sizeof(float) ? 0 : GetFixed<int64_t>(p + sizeof(float));
  return true;
}

// Builders reuse *key's capacity.
inline void StringKey(char prefix, std::string_view id, std::string* key) {
  key->clear();
  key->push_back(prefix);
  key->append(id.data(), id.size());
}

inline void IdKey(char prefix, int32_t id, std::string* key) {
  key->clear();
  key->push_back(prefix);
  PutBe32(key, static_cast<uint32_t>(id));
}

inline void PairKey(char prefix, int32_t a, int32_t b, std::string* key) {
  key->clear();
  key->push_back(prefix);
  PutBe32(key, static_cast<uint32_t>(a));
  PutBe32(key, static_cast<uint32_t>(b));
}

inline void OffsetKey(std::string_view topic, int32_t partition, std::string* key) {
  key->clear();
  key->push_back(kOffset);
  key->append(topic.data(), topic.size());
  key->push_back('\0');
  PutBe32(key, static_cast<uint32_t>(partition));
}

inline void PutVarint32(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint32 from [*p, end); false when truncated.
inline bool GetVarint32(const char** p, const char* end, uint32_t* v) {
  uint32_t result = 0;
  for (int shift = 0; shift <= 28 && *p < end; shift += 7) {
    uint32_t byte = static_cast<unsigned char>(**p);
    ++*p;
    result |= (byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace keys
}  // namespace vasgd

// IdMap: string id <-> dense id, ids handed out in arrival order. One flat open-addressing table
// of (hash, id) slots over a vector of names, so a lookup costs about two cache misses and no
// allocation (std::unordered_map cost a node walk per lookup on the ingest hot path).
// Writer-only cache of the store; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vasgd {

class IdMap {
 public:
  IdMap() { Rehash(1024); }

  size_t size() const { return names_.size(); }
  const std::string& Name(int32_t id) const { return names_[static_cast<size_t>(id)]; }

  // Dense id of `id`, or -1 when absent.
  int32_t Find(std::string_view id) const {
    const uint32_t h = Hash(id);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && names_[static_cast<size_t>(s.id)] == id) return s.id;
    }
  }

  // Dense id of `id`; absent ids get the next one (*created = true).
  int32_t Intern(std::string_view id, bool* created) {
    const uint32_t h = Hash(id);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) break;
      if (s.hash == h && names_[static_cast<size_t>(s.id)] == id) {
        *created = false;
        return s.id;
      }
    }
    *created = true;
    const int32_t dense = static_cast<int32_t>(names_.size());
    names_.emplace_back(id);
    slots_[i] = {h, dense};
    if (names_.size() * 10 > slots_.size() * 7) Rehash(slots_.size() * 2);
    return dense;
  }

  // Adds `id` with dense id size() (loading from disk, ids in order).
  void Append(std::string_view id) {
    bool created;
    Intern(id, &created);
  }

  // Forgets the ids >= keep (undoing a failed batch), newest first.
  void Truncate(size_t keep) {
    while (names_.size() > keep) {
      EraseSlot(static_cast<int32_t>(names_.size() - 1));
      names_.pop_back();
    }
  }

 private:
  struct Slot {
    uint32_t hash;
    int32_t id;  // -1 = empty
  };

  static uint32_t Hash(std::string_view s) { return static_cast<uint32_t>(std::hash<std::string_view>()(s)); }

  void EraseSlot(int32_t dense) {
    size_t i = Hash(names_[static_cast<size_t>(dense)]) & mask_;
    while (slots_[i].id != dense) i = (i + 1) & mask_;
    // Backward-shift deletion keeps every probe chain unbroken.
    for (size_t j = (i + 1) & mask_; slots_[j].id >= 0; j = (j + 1) & mask_) {
      const size_t home = slots_[j].hash & mask_;
      const bool stays = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = {0, -1};
  }

  void Rehash(size_t capacity) {
    slots_.assign(capacity, Slot{0, -1});
    mask_ = capacity - 1;
    for (size_t d = 0; d < names_.size(); ++d) {
      const uint32_t h = Hash(names_[d]);
      size_t i = h & mask_;
      while (slots_[i].id >= 0) i = (i + 1) & mask_;
      slots_[i] = {h, static_cast<int32_t>(d)};
    }
  }

  std::vector<Slot> slots_;
  std::vector<std::string> names_;
  size_t mask_ = 0;
};

}  // namespace vasgd

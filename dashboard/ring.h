// A fixed-capacity ring: Push appends, and once it is full each Push drops the oldest value.
// Memory is allocated once, at construction. Not thread-safe: its owner locks.
#pragma once

#include <cstddef>
#include <vector>

namespace vasgd {

template <typename T>
class Ring {
 public:
  // `capacity` >= 1 (0 is taken as 1).
  explicit Ring(size_t capacity) : slots_(capacity == 0 ? 1 : capacity) {}

  void Push(const T& value) {
    slots_[(start_ + size_) % slots_.size()] = value;
    if (size_ < slots_.size()) {
      ++size_;
    } else {
      start_ = (start_ + 1) % slots_.size();
    }
  }

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  bool empty() const { return size_ == 0; }
  // The i-th oldest value kept, i in [0, size()).
  const T& at(size_t i) const { return slots_[(start_ + i) % slots_.size()]; }
  const T& back() const { return at(size_ - 1); }
  void Clear() {
    start_ = 0;
    size_ = 0;
  }

 private:
  std::vector<T> slots_;
  size_t start_ = 0;  // index of the oldest value
  size_t size_ = 0;
};

}  // namespace vasgd

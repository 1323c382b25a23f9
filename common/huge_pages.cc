#include "common/huge_pages.h"

#include <sys/mman.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace vasgd {
namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

uintptr_t RoundUp(uintptr_t x) { return (x + kHugePage - 1) / kHugePage * kHugePage; }

}  // namespace

void HugePagesUnmap::operator()(void* p) const {
  if (p != nullptr) munmap(p, length);
}

HugePagesBuffer AllocateHugePages(size_t bytes) {
  const size_t length = RoundUp(bytes == 0 ? 1 : bytes);
  // mmap aligns to 4 KB only: map one huge page more and trim both ends to the 2-MB boundary.
  void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = RoundUp(begin);
  if (aligned > begin) munmap(raw, aligned - begin);
  const uintptr_t tail = begin + kHugePage - aligned;  // what is left past aligned + length
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + length), tail);
  void* p = reinterpret_cast<void*>(aligned);
  madvise(p, length, MADV_HUGEPAGE);  // fails only where THP is not built in: 4-KB pages then
  return HugePagesBuffer(p, HugePagesUnmap{length});
}

size_t HugePagesBacking(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t at = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2) {  // a mapping's first line
      inside = lo <= at && at < hi;
      continue;
    }
    size_t kib = 0;
    if (inside && std::sscanf(line.c_str(), "AnonHugePages: %zu kB", &kib) == 1) return kib << 10;
  }
  return 0;
}

}  // namespace vasgd

// Huge pages for large arrays read and written at random rows: the skip-gram embedding table,
// where every pair touches 1 + negatives rows scattered over all of it. With 4-KB pages nearly
// every such row access also misses the TLB, and under a hypervisor each miss is a two-level page
// walk; 2-MB pages map the same table with 1/512 as many entries (at 1 M products: stage 1 −11 %,
// docs/BENCHMARKS.md "Huge pages for the embedding table"). Best effort: where transparent huge
// pages are "never", or no free 2-MB frames are found, the memory stays in 4-KB pages.
#pragma once

#include <cstddef>
#include <memory>

namespace vasgd {

// Unmaps a buffer of AllocateHugePages.
struct HugePagesUnmap {
  size_t length = 0;
  void operator()(void* p) const;
};
using HugePagesBuffer = std::unique_ptr<void, HugePagesUnmap>;

// At least `bytes` of zeroed memory starting on a 2-MB boundary, its length a multiple of 2 MB,
// advised as huge-page memory (madvise MADV_HUGEPAGE: under THP's "madvise" mode the only way to
// get them), so that its pages are huge from their first touch. Null when it cannot be mapped.
HugePagesBuffer AllocateHugePages(size_t bytes);

// Bytes of the mapping that holds `p` that the kernel backs with huge pages now (its
// AnonHugePages in /proc/self/smaps; 0 when unknown), for logs and tests.
size_t HugePagesBacking(const void* p);

}  // namespace vasgd

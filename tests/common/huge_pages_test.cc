#include "common/huge_pages.h"

#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

namespace vasgd {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

TEST(HugePages, BufferIsAlignedZeroedAndWritableToItsRoundedEnd) {
  const size_t bytes = 3 * kHugePage + 123;  // rounds up to 4 huge pages
  HugePagesBuffer buffer = AllocateHugePages(bytes);
  ASSERT_NE(buffer, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.get()) % kHugePage, 0u);
  EXPECT_EQ(buffer.get_deleter().length, 4 * kHugePage);
  auto* b = static_cast<unsigned char*>(buffer.get());
  for (size_t i = 0; i < 4 * kHugePage; i += 4096) ASSERT_EQ(b[i], 0) << "at byte " << i;
  std::memset(b, 0x5a, 4 * kHugePage);  // the whole rounded length is mapped
  EXPECT_EQ(b[4 * kHugePage - 1], 0x5a);
  // Whether the kernel found free 2-MB frames varies; it never backs more than the mapping.
  EXPECT_LE(HugePagesBacking(b), 4 * kHugePage);
}

TEST(HugePages, BackingOfMemoryOutsideAnyMappingIsZero) {
  EXPECT_EQ(HugePagesBacking(reinterpret_cast<const void*>(uintptr_t{16})), 0u);
}

}  // namespace
}  // namespace vasgd

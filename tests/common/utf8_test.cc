// UTF-8 validity and the JSON escaping that relies on it (found by fuzz/fuzz_router: an id of
// invalid UTF-8 was echoed raw, making the answer invalid JSON).
#include "common/utf8.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace vasgd {
namespace {

TEST(Utf8Test, WellFormedSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9t\xc3\xa9"));             // été
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));                  // €
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));              // an emoji, 4 bytes
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));     // NUL is a character
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac..."), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf4\x8f\xbf\xbf"), 4u);     // U+10FFFF, the last code point
}

TEST(Utf8Test, IllFormedSequences) {
  for (const char* bad : {"\xff", "\xfe\xff", "\x80", "caf\xe9", "\xc3", "\xc3\x28", "\xc0\xaf", "\xc1\xbf",
                          "\xe0\x80\xaf", "\xed\xa0\x80", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                          "\xe2\x82", "ok\xf0\x9f\x98"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << ::testing::PrintToString(std::string(bad));
  }
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80"), 0u);  // a UTF-16 surrogate
}

TEST(Utf8Test, JsonEscapingAlwaysGivesValidJson) {
  std::string out = "\"";
  AppendJsonEscaped(&out, std::string_view("a\xff\xc3\xa9\xed\xa0\x80z\"\x01", 10));
  out += "\"";
  ASSERT_TRUE(nlohmann::json::accept(out)) << out;
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), "a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\"\x01");
}

}  // namespace
}  // namespace vasgd

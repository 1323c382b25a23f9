// Fuzz harness: request-target parsing (http/url.h): path segments, query parameters, percent
// escapes, comma lists. Invariants: a parsed target re-encoded (every byte escaped) parses back
// to the same segments and parameters; a decoded list holds exactly the decoded non-empty items.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "http/url.h"

namespace {

std::string EscapeAll(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vasgd::Result<vasgd::Target> t = vasgd::ParseTarget(text);
  if (!t.ok()) return 0;
  FUZZ_CHECK(!t->segments.empty(), "a path has at least one segment");

  std::string again;
  for (const std::string& segment : t->segments) again += "/" + EscapeAll(segment);
  char sep = '?';
  for (const auto& [name, raw] : t->query) {
    vasgd::Result<std::string> value = vasgd::DecodeValue(raw);
    again += sep + EscapeAll(name) + "=" + (value.ok() ? EscapeAll(*value) : std::string());
    sep = '&';

    vasgd::Result<std::vector<std::string>> list = vasgd::DecodeList(raw);
    // A valid escape never holds a comma, so splitting first cannot change the verdict.
    FUZZ_CHECK(list.ok() == value.ok(), "list and value decoding agree on escapes");
    if (list.ok()) {
      size_t n = 0, start = 0;
      while (start <= raw.size()) {
        size_t comma = raw.find(',', start);
        if (comma == std::string::npos) comma = raw.size();
        if (comma > start) {
          FUZZ_CHECK(n < list->size(), "no item lost");
          vasgd::Result<std::string> item = vasgd::DecodeValue(std::string_view(raw).substr(start, comma - start));
          FUZZ_CHECK(item.ok() && *item == (*list)[n], "item decoded alone equals item in list");
          ++n;
        }
        start = comma + 1;
      }
      FUZZ_CHECK(n == list->size(), "no item added");
    }
  }
  vasgd::Result<vasgd::Target> back = vasgd::ParseTarget(again);
  FUZZ_CHECK(back.ok(), "re-encoded target parses");
  FUZZ_CHECK(back->segments == t->segments, "segments round-trip");
  FUZZ_CHECK(back->query.size() == t->query.size(), "parameters round-trip");
  for (size_t i = 0; i < t->query.size(); ++i) {
    FUZZ_CHECK(back->query[i].first == t->query[i].first, "parameter names round-trip");
  }
  return 0;
}

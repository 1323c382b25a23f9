// Request targets: the path split into percent-decoded segments and the query string into
// parameters. Decoding happens per segment, so "%2F" inside an id stays part of the id.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vasgd {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings).
// False for a '%' not followed by two hex digits; *out is then unspecified.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

struct Target {
  std::vector<std::string> segments;  // "/v1/users/u%201" -> {"v1", "users", "u 1"}
  // Parameters in order: decoded name, raw (still encoded) value, so that a list value can be
  // split on its literal commas before decoding (DecodeList).
  std::vector<std::pair<std::string, std::string>> query;
};

// InvalidArgument when the target does not start with '/' or holds a malformed escape.
Result<Target> ParseTarget(std::string_view target);

// A raw query value, decoded.
Result<std::string> DecodeValue(std::string_view raw);
// A raw comma-separated value, each item decoded; empty items are skipped.
Result<std::vector<std::string>> DecodeList(std::string_view raw);

}  // namespace vasgd

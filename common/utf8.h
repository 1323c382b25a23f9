// UTF-8 validity (RFC 3629): ids that reach JSON answers and logs must be text, and JSON output
// must stay valid whatever bytes a client or a file supplied.
#pragma once

#include <cstddef>
#include <string_view>

namespace vasgd {

// Length (1-4) of the well-formed UTF-8 sequence that starts s[0]; 0 when s is empty or s starts
// with a byte that does not begin one (overlong forms, surrogates and code points above U+10FFFF
// are not well formed).
size_t Utf8SequenceLength(std::string_view s);

// Whether all of `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

}  // namespace vasgd

// Standard base64 (RFC 4648 §4, '+' and '/'), as `features_b64` carries float32 vectors.
#pragma once

#include <string>
#include <string_view>

namespace vasgd {

// Decodes `in` into *out (replacing its contents). Padding '=' is optional, but where present it
// must be correct; any other character (whitespace included) or a dangling single character
// makes it return false, with *out unspecified.
bool Base64Decode(std::string_view in, std::string* out);

// Encodes with '=' padding (tests and tools produce features_b64 with it).
std::string Base64Encode(std::string_view in);

}  // namespace vasgd

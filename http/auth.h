// Bearer tokens. Three kinds of endpoint: open (/healthz, /readyz, /metrics), client
// (recommendations, similar, analogy, events: need the read token when one is configured; the
// admin token also works) and admin (/v1/admin/*: need the admin token; with no admin token
// configured they are disabled). Tokens are compared in constant time and never logged or echoed.
#pragma once

#include <string_view>

#include "common/options.h"

namespace vasgd {

enum class Access { kOpen, kClient, kAdmin };

enum class AuthResult {
  kAllowed,
  kMissing,   // no bearer token where one is needed: 401
  kWrong,     // a token that is not the right one: 401
  kDisabled,  // admin endpoint without a configured admin token: 403
};

// Whether `given` equals `secret`, in time that depends on the length of `given` alone (not on
// where the first difference is, nor on the secret's length).
bool TokenEquals(std::string_view given, std::string_view secret);

// The token of an "Authorization: Bearer <token>" header (scheme case-insensitive); empty when
// the header is absent or uses another scheme.
std::string_view BearerToken(std::string_view authorization);

AuthResult Authorize(Access access, std::string_view authorization, const HttpOptions& options);

}  // namespace vasgd

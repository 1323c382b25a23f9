#include "http/auth.h"

#include <cctype>

namespace vasgd {

bool TokenEquals(std::string_view given, std::string_view secret) {
  if (secret.empty()) return false;
  // Every byte of `given` is compared with a byte of the secret (cycled), so the loop runs
  // given.size() times whatever the secret; the lengths enter the verdict, not the timing.
  volatile unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    diff = diff | (static_cast<unsigned char>(given[i]) ^ static_cast<unsigned char>(secret[i % secret.size()]));
  }
  return diff == 0;
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  return token;
}

AuthResult Authorize(Access access, std::string_view authorization, const HttpOptions& options) {
  if (access == Access::kOpen) return AuthResult::kAllowed;
  if (access == Access::kAdmin && options.admin_token.empty()) return AuthResult::kDisabled;
  if (access == Access::kClient && options.read_token.empty()) return AuthResult::kAllowed;
  std::string_view token = BearerToken(authorization);
  if (token.empty()) return AuthResult::kMissing;
  // Both comparisons always run, so the time does not tell which token was nearly right.
  const bool admin = TokenEquals(token, options.admin_token);
  const bool read = access == Access::kClient && TokenEquals(token, options.read_token);
  return admin || read ? AuthResult::kAllowed : AuthResult::kWrong;
}

}  // namespace vasgd

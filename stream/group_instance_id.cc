#include "stream/group_instance_id.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <system_error>

namespace vasgd {
namespace {

// Kafka's legal characters for group and instance ids.
std::string Sanitized(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    const bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                       c == '_' || c == '-';
    if (!legal) c = '_';
  }
  return out;
}

// FNV-1a, 32 bits: stable across builds and platforms (std::hash is not).
uint32_t Fnv1a(const std::string& text) {
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "unknown-host";
  return name;
}

}  // namespace

std::string DerivedGroupInstanceId(const std::string& host, const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(std::filesystem::absolute(data_dir, ec), ec);
  std::string dir = ec ? data_dir : canonical.lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();  // "/a/b/" is "/a/b"
  const std::string last = std::filesystem::path(dir).filename().string();
  char hash[9];
  std::snprintf(hash, sizeof(hash), "%08x", Fnv1a(host + '\0' + dir));
  // The hash keeps ids distinct when long names are cut: it goes last and always survives.
  std::string readable = Sanitized("vasgd-" + host + "-" + last);
  constexpr size_t kMaxLength = 249;
  if (readable.size() > kMaxLength - 9) readable.resize(kMaxLength - 9);
  return readable + "-" + hash;
}

std::string ResolveGroupInstanceId(const std::string& configured, const std::string& data_dir) {
  if (configured != kAutoGroupInstanceId) return configured;
  return DerivedGroupInstanceId(HostName(), data_dir);
}

}  // namespace vasgd

#include "http/url.h"

namespace vasgd {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

Result<Target> ParseTarget(std::string_view target) {
  if (target.empty() || target[0] != '/') {
    return Status::InvalidArgument("request target must be a path starting with '/'");
  }
  Target out;
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);

  size_t start = 1;  // after the leading '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string segment;
    if (!PercentDecode(path.substr(start, end - start), false, &segment)) {
      return Status::InvalidArgument("malformed percent-escape in the path");
    }
    out.segments.push_back(std::move(segment));
    start = end + 1;
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string name;
    if (!PercentDecode(pair.substr(0, eq), true, &name)) {
      return Status::InvalidArgument("malformed percent-escape in a query parameter name");
    }
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    out.query.emplace_back(std::move(name), std::string(raw));
  }
  return out;
}

Result<std::string> DecodeValue(std::string_view raw) {
  std::string out;
  if (!PercentDecode(raw, true, &out)) return Status::InvalidArgument("malformed percent-escape in a query value");
  return out;
}

Result<std::vector<std::string>> DecodeList(std::string_view raw) {
  std::vector<std::string> items;
  while (true) {
    size_t comma = raw.find(',');
    std::string_view item = raw.substr(0, comma);
    if (!item.empty()) {
      Result<std::string> decoded = DecodeValue(item);
      if (!decoded.ok()) return decoded.status();
      items.push_back(std::move(decoded.value()));
    }
    if (comma == std::string_view::npos) break;
    raw = raw.substr(comma + 1);
  }
  return items;
}

}  // namespace vasgd

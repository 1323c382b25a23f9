#include "model/neighbour_lists.h"

#include <cmath>
#include <cstring>

namespace vasgd {
namespace {

constexpr char kMagic[8] = {'V', 'A', 'S', 'G', 'N', 'B', 'R', '1'};

template <typename T>
void Append(std::string* s, const T* data, size_t n) {
  s->append(reinterpret_cast<const char*>(data), n * sizeof(T));
}

template <typename T>
bool Take(const std::string& s, size_t* pos, size_t n, std::vector<T>* out) {
  if (n > (s.size() - *pos) / sizeof(T)) return false;
  out->resize(n);
  if (n > 0) std::memcpy(out->data(), s.data() + *pos, n * sizeof(T));
  *pos += n * sizeof(T);
  return true;
}

}  // namespace

Status CheckNeighbourLists(const NeighbourLists& l) {
  if (l.empty()) return Status::Ok();
  if (l.num_products < 0 || l.offsets.size() != static_cast<size_t>(l.num_products) + 1 || l.offsets.front() != 0)
    return Status::InvalidArgument("neighbour lists: offsets do not match the product count");
  if (l.neighbours.size() != static_cast<size_t>(l.offsets.back()) || l.weights.size() != l.neighbours.size())
    return Status::InvalidArgument("neighbour lists: arrays disagree in size");
  for (int32_t p = 0; p < l.num_products; ++p)
    if (l.offsets[p + 1] < l.offsets[p]) return Status::InvalidArgument("neighbour lists: offsets decrease");
  for (size_t i = 0; i < l.neighbours.size(); ++i) {
    if (l.neighbours[i] < 0 || l.neighbours[i] >= l.num_products)
      return Status::InvalidArgument("neighbour lists: a neighbour id is out of range");
    if (!(std::isfinite(l.weights[i]) && l.weights[i] > 0))
      return Status::InvalidArgument("neighbour lists: a weight is not finite and positive");
  }
  return Status::Ok();
}

std::string EncodeNeighbourLists(const NeighbourLists& l) {
  std::string s(kMagic, sizeof kMagic);
  const uint32_t family_bytes = static_cast<uint32_t>(l.family.size());
  const uint32_t params_bytes = static_cast<uint32_t>(l.params_json.size());
  const int64_t counts[2] = {l.num_products, l.size()};
  Append(&s, &family_bytes, 1);
  s += l.family;
  Append(&s, &params_bytes, 1);
  s += l.params_json;
  Append(&s, counts, 2);
  Append(&s, l.offsets.data(), l.offsets.size());
  Append(&s, l.neighbours.data(), l.neighbours.size());
  Append(&s, l.weights.data(), l.weights.size());
  return s;
}

Result<NeighbourLists> DecodeNeighbourLists(const std::string& s) {
  const Status bad = Status::Corruption("model: a neighbour list file is malformed");
  if (s.size() < sizeof kMagic || std::memcmp(s.data(), kMagic, sizeof kMagic) != 0) return bad;
  size_t pos = sizeof kMagic;
  NeighbourLists l;
  std::vector<uint32_t> len;
  std::vector<char> text;
  if (!Take(s, &pos, 1, &len) || !Take(s, &pos, len[0], &text)) return bad;
  l.family.assign(text.begin(), text.end());
  if (!Take(s, &pos, 1, &len) || !Take(s, &pos, len[0], &text)) return bad;
  l.params_json.assign(text.begin(), text.end());
  std::vector<int64_t> counts;
  if (!Take(s, &pos, 2, &counts) || counts[0] < 0 || counts[1] < 0 || counts[0] > INT32_MAX) return bad;
  l.num_products = static_cast<int32_t>(counts[0]);
  if (!Take(s, &pos, static_cast<size_t>(counts[0]) + 1, &l.offsets) ||
      !Take(s, &pos, static_cast<size_t>(counts[1]), &l.neighbours) ||
      !Take(s, &pos, static_cast<size_t>(counts[1]), &l.weights) || pos != s.size())
    return bad;
  if (l.family.empty()) return bad;
  if (Status st = CheckNeighbourLists(l); !st.ok()) return Status::Corruption("model: " + st.message());
  return l;
}

}  // namespace vasgd

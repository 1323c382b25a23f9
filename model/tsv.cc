#include "model/tsv.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <unordered_map>

#include "model/npy.h"

namespace vasgd {
namespace {

constexpr size_t kMaxKeptErrors = 10;

std::string_view NextField(std::string_view line, size_t* pos, bool* found) {
  if (*pos > line.size()) {
    *found = false;
    return {};
  }
  *found = true;
  size_t tab = line.find('\t', *pos);
  if (tab == std::string_view::npos) tab = line.size();
  std::string_view field = line.substr(*pos, tab - *pos);
  *pos = tab + 1;
  return field;
}

// Dense ids for string ids, in order of first appearance.
class IdMap {
 public:
  int32_t Intern(std::string_view id, std::vector<std::string>* names) {
    auto it = index_.find(std::string(id));
    if (it != index_.end()) return it->second;
    const int32_t dense = static_cast<int32_t>(names->size());
    names->emplace_back(id);
    index_.emplace(names->back(), dense);
    return dense;
  }

 private:
  std::unordered_map<std::string, int32_t> index_;
};

}  // namespace

Status ParseInteractionLine(std::string_view line, Interaction* out, int max_id_bytes) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  size_t pos = 0;
  bool has_user, has_item, has_weight, has_more;
  out->user = NextField(line, &pos, &has_user);
  out->item = NextField(line, &pos, &has_item);
  std::string_view weight = NextField(line, &pos, &has_weight);
  NextField(line, &pos, &has_more);
  if (!has_item || out->user.empty() || out->item.empty())
    return Status::InvalidArgument("missing_field: expected user<TAB>item[<TAB>weight]");
  if (has_more) return Status::InvalidArgument("too_many_fields: expected at most 3 columns");
  if (out->user.size() > static_cast<size_t>(max_id_bytes) ||
      out->item.size() > static_cast<size_t>(max_id_bytes))
    return Status::InvalidArgument("id_too_long: ids are limited to " + std::to_string(max_id_bytes) +
                                   " bytes");
  out->weight = 1.0f;
  if (has_weight) {
    std::string text(weight);
    char* end = nullptr;
    errno = 0;
    const double w = std::strtod(text.c_str(), &end);
    // Judged as the float it is stored as: 1e-80 is a positive double but 0 as a float (found by
    // fuzz/fuzz_tsv).
    const float f = static_cast<float>(w);
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(w) ||
        w > 3.0e38 || !(f > 0.0f))
      return Status::InvalidArgument("bad_weight: '" + text.substr(0, 32) +
                                     "' is not a finite number > 0");
    out->weight = f;
  }
  return Status::Ok();
}

Status ForEachInteraction(const std::string& path,
                          const std::function<Status(const Interaction&)>& on_row,
                          TsvReadStats* stats, int max_id_bytes) {
  TsvReadStats local;
  TsvReadStats& s = stats ? *stats : local;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::IoError("tsv: cannot open " + path);
  char* buf = nullptr;
  size_t cap = 0;
  ssize_t n;
  int64_t line_no = 0;
  Status result;
  Interaction row;
  while ((n = getline(&buf, &cap, f)) >= 0) {
    ++line_no;
    if (line_no == 1) continue;  // header
    std::string_view line(buf, static_cast<size_t>(n));
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    if (line.empty()) continue;
    ++s.lines;
    Status st = ParseInteractionLine(line, &row, max_id_bytes);
    if (!st.ok()) {
      ++s.rejected;
      if (s.first_errors.size() < kMaxKeptErrors)
        s.first_errors.push_back("line " + std::to_string(line_no) + ": " + st.message());
      continue;
    }
    ++s.accepted;
    result = on_row(row);
    if (!result.ok()) break;
  }
  const bool read_error = std::ferror(f) != 0;
  std::free(buf);
  std::fclose(f);
  if (!result.ok()) return result;
  if (read_error) return Status::IoError("tsv: read error in " + path);
  return Status::Ok();
}

InteractionGraph BuildInteractionGraph(int32_t num_users, int32_t num_products,
                                       const std::vector<int32_t>& users,
                                       const std::vector<int32_t>& products,
                                       const std::vector<float>& weights) {
  std::vector<int64_t> order(users.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return users[a] != users[b] ? users[a] < users[b] : products[a] < products[b];
  });
  InteractionGraph g;
  g.num_users = num_users;
  g.num_products = num_products;
  g.user_offsets.assign(static_cast<size_t>(num_users) + 1, 0);
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t e = order[k];
    if (k > 0 && users[order[k - 1]] == users[e] && products[order[k - 1]] == products[e]) {
      g.weight.back() += weights[e];
      g.sequence.back() = std::max(g.sequence.back(), e);
      continue;
    }
    g.product_index.push_back(products[e]);
    g.weight.push_back(weights[e]);
    g.sequence.push_back(e);
    ++g.user_offsets[users[e] + 1];
  }
  for (int32_t u = 0; u < num_users; ++u) g.user_offsets[u + 1] += g.user_offsets[u];
  return g;
}

Result<TrainingData> LoadTrainingData(const std::string& interactions_tsv,
                                      const std::string& features_npy, TsvReadStats* stats,
                                      int max_id_bytes) {
  TrainingData data;
  IdMap user_map, product_map;
  if (!features_npy.empty()) {
    Result<FeatureMatrix> f = ReadFeatureMatrix(features_npy);
    if (!f.ok()) return f.status();
    data.features = std::move(f.value());
    const int64_t rows = static_cast<int64_t>(data.features.present.size());
    for (int64_t i = 0; i < rows; ++i) product_map.Intern(std::to_string(i), &data.product_ids);
  }
  std::vector<int32_t> users, products;
  std::vector<float> weights;
  Status st = ForEachInteraction(
      interactions_tsv,
      [&](const Interaction& row) {
        users.push_back(user_map.Intern(row.user, &data.user_ids));
        products.push_back(product_map.Intern(row.item, &data.product_ids));
        weights.push_back(row.weight);
        return Status::Ok();
      },
      stats, max_id_bytes);
  if (!st.ok()) return st;
  if (data.user_ids.size() > INT32_MAX || data.product_ids.size() > INT32_MAX)
    return Status::ResourceExhausted("tsv: more than 2^31 users or products");
  const auto num_products = static_cast<int32_t>(data.product_ids.size());
  if (data.features.dim > 0) {  // products only seen in the TSV: rows without features
    data.features.values.resize(static_cast<size_t>(num_products) * data.features.dim, 0.0f);
    data.features.present.resize(num_products, 0);
  }
  data.graph = BuildInteractionGraph(static_cast<int32_t>(data.user_ids.size()), num_products, users,
                                     products, weights);
  return data;
}

}  // namespace vasgd

#include "eval/eval_data.h"

#include <sys/stat.h>

#include <unordered_map>

#include "common/log.h"
#include "model/synthetic.h"
#include "model/tsv.h"

namespace vasgd {

std::vector<uint8_t> WarmProducts(const InteractionGraph& graph) {
  std::vector<uint8_t> warm(graph.num_products, 0);
  for (int32_t p : graph.product_index) warm[p] = 1;
  return warm;
}

std::vector<float> ProductDegrees(const InteractionGraph& graph) {
  std::vector<float> degree(graph.num_products, 0.f);
  for (int32_t p : graph.product_index) degree[p] += 1.f;
  return degree;
}

namespace {

Status CheckPairs(const std::vector<UserProduct>& pairs, const InteractionGraph& g, const char* split) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    const UserProduct& x = pairs[i];
    if (x.user < 0 || x.user >= g.num_users || x.product < 0 || x.product >= g.num_products) {
      return Status::InvalidArgument(std::string(split) + " pair " + std::to_string(i) + " (user " +
                                     std::to_string(x.user) + ", product " + std::to_string(x.product) +
                                     ") is outside the graph's " + std::to_string(g.num_users) + " users × " +
                                     std::to_string(g.num_products) + " products");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateEvalData(const EvalData& data) {
  const InteractionGraph& g = data.train.graph;
  if (g.num_users < 0 || g.num_products < 0 || g.user_offsets.size() != static_cast<size_t>(g.num_users) + 1 ||
      g.product_index.size() != static_cast<size_t>(g.num_edges()) || g.weight.size() != g.product_index.size()) {
    return Status::InvalidArgument("training graph: CSR arrays disagree with num_users/num_edges");
  }
  for (int32_t p : g.product_index) {
    if (p < 0 || p >= g.num_products) {
      return Status::InvalidArgument("training graph: product index " + std::to_string(p) + " out of range");
    }
  }
  const FeatureMatrix& f = data.train.features;
  if (f.dim > 0 && (f.values.size() != static_cast<size_t>(g.num_products) * f.dim ||
                    f.present.size() != static_cast<size_t>(g.num_products))) {
    return Status::InvalidArgument("features: " + std::to_string(f.values.size() / f.dim) +
                                   " rows for " + std::to_string(g.num_products) + " products");
  }
  VASGD_RETURN_IF_ERROR(CheckPairs(data.val, g, "val"));
  return CheckPairs(data.test, g, "test");
}

namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string BaseName(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const size_t slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

// Dense ids of the training data, extended by ids first seen in a held-out split.
class IdSpace {
 public:
  explicit IdSpace(TrainingData* data) : data_(data) {
    for (size_t i = 0; i < data->user_ids.size(); ++i) users_.emplace(data->user_ids[i], static_cast<int32_t>(i));
    for (size_t i = 0; i < data->product_ids.size(); ++i) products_.emplace(data->product_ids[i], static_cast<int32_t>(i));
  }
  int32_t User(std::string_view id) { return Intern(id, &users_, &data_->user_ids); }
  int32_t Product(std::string_view id) { return Intern(id, &products_, &data_->product_ids); }

 private:
  static int32_t Intern(std::string_view id, std::unordered_map<std::string, int32_t>* map,
                        std::vector<std::string>* ids) {
    auto [it, inserted] = map->emplace(std::string(id), static_cast<int32_t>(ids->size()));
    if (inserted) ids->push_back(it->first);
    return it->second;
  }
  TrainingData* data_;
  std::unordered_map<std::string, int32_t> users_, products_;
};

// Checks a pass's statistics: bad lines are logged and counted; a split of only bad lines fails.
Status CheckStats(const std::string& path, const TsvReadStats& stats, int64_t* rejected) {
  if (stats.rejected > 0) {
    Log(LogLevel::kWarn, "eval.bad_lines",
        {{"file", path}, {"rejected", stats.rejected}, {"first", stats.first_errors.empty() ? "" : stats.first_errors[0]}});
  }
  if (rejected) *rejected += stats.rejected;
  if (stats.accepted == 0) {
    return Status::InvalidArgument(path + ": no valid interaction line" +
                                   (stats.first_errors.empty() ? "" : " (" + stats.first_errors[0] + ")"));
  }
  return Status::Ok();
}

}  // namespace

Result<EvalData> LoadEvalData(const std::string& dir, int64_t* rejected_lines) {
  if (rejected_lines) *rejected_lines = 0;
  const std::string train_path = dir + "/train.tsv", features_path = dir + "/image_feat.npy";
  for (const std::string& f : {train_path, dir + "/test.tsv"}) {
    if (!FileExists(f)) return Status::NotFound(f + ": no such file (an eval directory needs train.tsv and test.tsv)");
  }
  EvalData data;
  data.name = BaseName(dir);
  TsvReadStats stats;
  Result<TrainingData> train = LoadTrainingData(train_path, FileExists(features_path) ? features_path : "", &stats);
  if (!train.ok()) return train.status();
  VASGD_RETURN_IF_ERROR(CheckStats(train_path, stats, rejected_lines));
  data.train = std::move(train.value());

  IdSpace ids(&data.train);
  const std::pair<const char*, std::vector<UserProduct>*> splits[] = {{"/val.tsv", &data.val}, {"/test.tsv", &data.test}};
  for (const auto& [file, pairs] : splits) {
    const std::string path = dir + file;
    if (!FileExists(path)) continue;  // val.tsv is optional
    TsvReadStats split_stats;
    VASGD_RETURN_IF_ERROR(ForEachInteraction(
        path,
        [&, pairs = pairs](const Interaction& row) {
          pairs->push_back({ids.User(row.user), ids.Product(row.item)});
          return Status::Ok();
        },
        &split_stats));
    VASGD_RETURN_IF_ERROR(CheckStats(path, split_stats, rejected_lines));
  }
  // Users and products first seen in val/test: no training edges, no features.
  InteractionGraph& g = data.train.graph;
  g.num_users = static_cast<int32_t>(data.train.user_ids.size());
  g.num_products = static_cast<int32_t>(data.train.product_ids.size());
  g.user_offsets.resize(g.num_users + 1, g.num_edges());
  FeatureMatrix& f = data.train.features;
  if (f.dim > 0) {
    f.values.resize(static_cast<size_t>(g.num_products) * f.dim, 0.f);
    f.present.resize(g.num_products, 0);
  }
  VASGD_RETURN_IF_ERROR(ValidateEvalData(data));
  return data;
}

EvalData EvalDataFromShop(const SyntheticShop& shop, const std::string& name) {
  EvalData data;
  data.name = name;
  data.train = shop.train;
  for (const auto& [user, product] : shop.test) (user % 2 ? data.val : data.test).push_back({user, product});
  return data;
}

}  // namespace vasgd

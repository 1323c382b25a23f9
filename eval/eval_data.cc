#include "eval/eval_data.h"

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

}  // namespace vasgd

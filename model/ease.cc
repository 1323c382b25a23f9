#include "model/ease.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

namespace vasgd {

Result<NeighbourLists> BuildEaseLists(const InteractionGraph& graph, const EaseOptions& o) {
  const int64_t n = graph.num_products;
  if (n > o.max_products) {
    return Status::FailedPrecondition("ease: " + std::to_string(n) + " products exceed neighbours.ease_max_products = " +
                                      std::to_string(o.max_products) + " (EASE needs ~" +
                                      std::to_string(8 * n / 1000 * n / 1000) + " MB and n³ time)");
  }
  if (!(o.lambda > 0)) return Status::InvalidArgument("ease: lambda must be > 0");
  const int previous_threads = torch::get_num_threads();
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
  torch::NoGradGuard no_grad;

  // Gram matrix RᵀR of the binary purchase matrix, accumulated user by user on the host.
  torch::Tensor gram = torch::zeros({n, n}, torch::kFloat32);
  float* G = gram.data_ptr<float>();
  for (int32_t u = 0; u < graph.num_users; ++u) {
    const int64_t b = graph.user_offsets[u], e = graph.user_offsets[u + 1];
    for (int64_t x = b; x < e; ++x)
      for (int64_t y = b; y < e; ++y) G[graph.product_index[x] * n + graph.product_index[y]] += 1.0f;
  }
  gram = gram.to(device);
  gram.diagonal().add_(static_cast<float>(o.lambda));
  torch::Tensor inverse = torch::cholesky_inverse(torch::linalg::cholesky(gram));
  gram = torch::Tensor();
  torch::Tensor weights = inverse / (-inverse.diagonal()).unsqueeze(0);  // B_ij = −P_ij / P_jj
  inverse = torch::Tensor();
  weights.diagonal().zero_();
  const int64_t k = std::min<int64_t>(std::max(0, o.top_k), std::max<int64_t>(0, n - 1));
  auto [values, indices] = weights.topk(k, /*dim=*/1);
  values = values.to(torch::kCPU).contiguous();
  indices = indices.to(torch::kInt32).to(torch::kCPU).contiguous();
  torch::set_num_threads(previous_threads);

  NeighbourLists out;
  out.family = "ease";
  char params[64];
  std::snprintf(params, sizeof params, "{\"lambda\":%g}", o.lambda);
  out.params_json = params;
  out.num_products = static_cast<int32_t>(n);
  out.offsets.assign(n + 1, 0);
  const float* v = values.data_ptr<float>();
  const int32_t* id = indices.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < k && v[i * k + r] > 0; ++r) {  // topk is sorted: stop at the first non-positive
      out.neighbours.push_back(id[i * k + r]);
      out.weights.push_back(v[i * k + r]);
    }
    out.offsets[i + 1] = static_cast<int64_t>(out.neighbours.size());
  }
  return out;
}

}  // namespace vasgd

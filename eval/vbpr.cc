#include "eval/vbpr.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "common/log.h"
#include "eval/ranking_metrics.h"

namespace vasgd {

namespace {

using torch::Tensor;

struct Params {
  Tensor gamma_user, gamma_item, theta_user, projection, beta_item, beta_visual;
  std::vector<Tensor> All() const { return {gamma_user, gamma_item, theta_user, projection, beta_item, beta_visual}; }
};

Tensor LongTensor(const std::vector<int64_t>& v, torch::Device device) {
  return torch::from_blob(const_cast<int64_t*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kLong).to(device);
}

// The model as plain arrays: user = [γ_u, θ_u, 1], product = [γ_i, E f_i, β_i + β'·f_i].
Embeddings Export(const Params& p, const Tensor& features, const std::vector<uint8_t>& warm) {
  torch::NoGradGuard no_grad;
  const Tensor warm_mask = torch::from_blob(const_cast<uint8_t*>(warm.data()), {static_cast<int64_t>(warm.size()), 1}, torch::kUInt8)
                               .to(p.gamma_item.device()).to(torch::kFloat);
  const Tensor users = torch::cat({p.gamma_user, p.theta_user, torch::ones({p.gamma_user.size(0), 1}, p.gamma_user.options())}, 1);
  const Tensor bias = p.beta_item.unsqueeze(1) * warm_mask + torch::matmul(features, p.beta_visual).unsqueeze(1);
  const Tensor products = torch::cat({p.gamma_item * warm_mask, torch::matmul(features, p.projection), bias}, 1);
  const Tensor u = users.to(torch::kCPU).contiguous(), q = products.to(torch::kCPU).contiguous();
  Embeddings e;
  e.dim = static_cast<int32_t>(u.size(1));
  e.num_users = static_cast<int32_t>(u.size(0));
  e.num_products = static_cast<int32_t>(q.size(0));
  e.users.assign(u.data_ptr<float>(), u.data_ptr<float>() + u.numel());
  e.products.assign(q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
  return e;
}

}  // namespace

Result<VbprResult> TrainVbpr(const EvalData& data, const VbprOptions& o) {
  const InteractionGraph& g = data.train.graph;
  const FeatureMatrix& f = data.train.features;
  if (f.dim <= 0) return Status::InvalidArgument("VBPR needs product features (image_feat.npy)");
  if (g.num_edges() == 0) return Status::InvalidArgument("VBPR needs training edges");
  torch::Device device(torch::kCPU);
  if (o.device == "cuda") {
    if (!torch::cuda::is_available()) return Status::Unavailable("VBPR: --device cuda but no CUDA device is available");
    device = torch::Device(torch::kCUDA);
  } else if (o.device != "cpu") {
    return Status::InvalidArgument("VBPR: unknown device '" + o.device + "' (cpu | cuda)");
  }
  if (o.threads > 0) torch::set_num_threads(o.threads);
  torch::manual_seed(o.seed);
  const int64_t nu = g.num_users, np = g.num_products, fd = f.dim;

  // Features scaled to a mean row norm of 1, so E's step size does not depend on their units.
  Tensor features = torch::from_blob(const_cast<float*>(f.values.data()), {np, fd}, torch::kFloat).clone();
  const double mean_norm = features.norm(2, 1).mean().item<double>();
  if (mean_norm > 0) features /= mean_norm;
  features = features.to(device);

  auto init = [&](std::vector<int64_t> shape, double std) {
    return (torch::randn(shape) * std).to(device).set_requires_grad(true);
  };
  Params p{init({nu, o.latent_dim}, 0.01), init({np, o.latent_dim}, 0.01), init({nu, o.visual_dim}, 0.01),
           init({fd, o.visual_dim}, 0.01), torch::zeros({np}, torch::TensorOptions().device(device)).set_requires_grad(true),
           torch::zeros({fd}, torch::TensorOptions().device(device)).set_requires_grad(true)};
  torch::optim::Adam optimizer(p.All(), torch::optim::AdamOptions(o.learning_rate));

  // Edges, and each user's sorted items for rejecting sampled negatives the user bought.
  std::vector<int64_t> edge_user, edge_item;
  std::vector<int32_t> sorted_items(g.product_index);
  for (int32_t u = 0; u < g.num_users; ++u) {
    std::sort(sorted_items.begin() + g.user_offsets[u], sorted_items.begin() + g.user_offsets[u + 1]);
    for (int64_t k = g.user_offsets[u]; k < g.user_offsets[u + 1]; ++k) {
      edge_user.push_back(u);
      edge_item.push_back(g.product_index[k]);
    }
  }
  auto bought = [&](int64_t u, int32_t item) {
    return std::binary_search(sorted_items.begin() + g.user_offsets[u], sorted_items.begin() + g.user_offsets[u + 1], item);
  };
  const std::vector<uint8_t> warm = WarmProducts(g);
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> any_product(0, static_cast<int32_t>(np - 1));
  std::vector<size_t> order(edge_user.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;

  VbprResult result;
  result.best_val_recall = -1;
  RankingOptions val_options;
  std::vector<int64_t> bu, bi, bj;
  for (int32_t epoch = 1; epoch <= o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    int64_t batches = 0;
    for (size_t start = 0; start < order.size(); start += o.batch_size) {
      const size_t end = std::min(order.size(), start + o.batch_size);
      bu.clear(), bi.clear(), bj.clear();
      for (size_t k = start; k < end; ++k) {
        const int64_t u = edge_user[order[k]];
        int32_t j = any_product(rng);
        for (int tries = 0; tries < 10 && bought(u, j); ++tries) j = any_product(rng);
        bu.push_back(u);
        bi.push_back(edge_item[order[k]]);
        bj.push_back(j);
      }
      const Tensor u = LongTensor(bu, device), i = LongTensor(bi, device), j = LongTensor(bj, device);
      const Tensor gu = p.gamma_user.index_select(0, u), tu = p.theta_user.index_select(0, u);
      auto score = [&](const Tensor& items, Tensor* gamma) {
        *gamma = p.gamma_item.index_select(0, items);
        const Tensor fi = features.index_select(0, items);
        return p.beta_item.index_select(0, items) + (gu * *gamma).sum(1) +
               (tu * torch::matmul(fi, p.projection)).sum(1) + torch::matmul(fi, p.beta_visual);
      };
      Tensor gi, gj;
      const Tensor x = score(i, &gi) - score(j, &gj);
      const double batch = static_cast<double>(bu.size());
      const Tensor reg = (gu.pow(2).sum() + tu.pow(2).sum() + gi.pow(2).sum() + gj.pow(2).sum() +
                          p.beta_item.index_select(0, i).pow(2).sum() + p.beta_item.index_select(0, j).pow(2).sum() +
                          p.projection.pow(2).sum() + p.beta_visual.pow(2).sum()) / batch;
      const Tensor loss = -torch::log_sigmoid(x).mean() + o.l2 * reg;
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    result.final_loss = loss_sum / std::max<int64_t>(1, batches);
    const bool last = epoch == o.epochs;
    if (o.validate_every > 0 && !data.val.empty() && (epoch % o.validate_every == 0 || last)) {
      Embeddings space = Export(p, features, warm);
      const double recall = EvaluateRanking(*MakeEmbeddingScorer(space, ScoreKind::kDot), g, data.val, val_options).recall;
      Log(LogLevel::kDebug, "eval.vbpr.epoch", {{"epoch", epoch}, {"loss", result.final_loss}, {"val_recall", recall}});
      if (recall > result.best_val_recall) {
        result.best_val_recall = recall;
        result.best_epoch = epoch;
        result.space = std::move(space);
      }
    } else if (last && (o.validate_every <= 0 || data.val.empty())) {
      result.space = Export(p, features, warm);
      result.best_epoch = epoch;
    }
  }
  return result;
}

}  // namespace vasgd

#include "model/torch_util.h"

#include "model/sgns_torch.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace vasgd::internal {

torch::nn::Sequential MakeMlp(const std::vector<int>& widths, double dropout) {
  torch::nn::Sequential net;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    net->push_back(torch::nn::Linear(widths[i], widths[i + 1]));
    if (i + 2 < widths.size()) {
      net->push_back(torch::nn::ReLU());
      if (dropout > 0) net->push_back(torch::nn::Dropout(dropout));
    }
  }
  return net;
}

namespace {
std::vector<torch::nn::Linear> Linears(const torch::nn::Sequential& net) {
  std::vector<torch::nn::Linear> out;
  for (const auto& m : net->children())
    if (auto l = std::dynamic_pointer_cast<torch::nn::LinearImpl>(m)) out.emplace_back(l);
  return out;
}

std::vector<float> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
}  // namespace

Mlp ExportMlp(const torch::nn::Sequential& net, std::vector<float> input_mean, std::vector<float> input_scale) {
  Mlp mlp;
  mlp.input_mean = std::move(input_mean);
  mlp.input_scale = std::move(input_scale);
  for (const torch::nn::Linear& l : Linears(net)) {
    DenseLayer d;
    d.in = static_cast<int32_t>(l->weight.size(1));
    d.out = static_cast<int32_t>(l->weight.size(0));
    d.weight = ToVector(l->weight);  // [out, in] row-major, as DenseLayer
    d.bias = ToVector(l->bias);
    mlp.layers.push_back(std::move(d));
  }
  return mlp;
}

bool ImportMlp(const Mlp& mlp, torch::nn::Sequential& net) {
  std::vector<torch::nn::Linear> linears = Linears(net);
  if (linears.size() != mlp.layers.size()) return false;
  for (size_t i = 0; i < linears.size(); ++i)
    if (linears[i]->weight.size(0) != mlp.layers[i].out || linears[i]->weight.size(1) != mlp.layers[i].in)
      return false;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < linears.size(); ++i) {
    const DenseLayer& d = mlp.layers[i];
    auto opts = torch::TensorOptions().dtype(torch::kFloat32);
    linears[i]->weight.copy_(torch::from_blob(const_cast<float*>(d.weight.data()), {d.out, d.in}, opts));
    linears[i]->bias.copy_(torch::from_blob(const_cast<float*>(d.bias.data()), {d.out}, opts));
  }
  return true;
}

SgnsBatchGrad SgnsBatch(const torch::Tensor& table, const torch::Tensor& centre, const torch::Tensor& context,
                        const torch::Tensor& negs, const torch::Tensor& neg_mask, const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xc = table.index_select(0, centre);                       // [B, D]
  const torch::Tensor xv = table.index_select(0, context);                      // [B, D]
  const torch::Tensor xn = table.index_select(0, negs.reshape({-1})).view({negs.size(0), negs.size(1), -1});
  const torch::Tensor pos = (xc * xv).sum(1);                                   // [B]
  const torch::Tensor neg = torch::bmm(xn, xc.unsqueeze(2)).squeeze(2);         // [B, K]
  // −log σ(pos) − Σ mask · log σ(−neg); d/dpos = σ(pos) − 1, d/dneg = σ(neg).
  SgnsBatchGrad g;
  const torch::Tensor per_pair = torch::softplus(-pos) + (neg_mask * torch::softplus(neg)).sum(1);
  g.raw_loss = per_pair.sum();
  g.loss = (weight * per_pair).sum();
  const torch::Tensor gpos = weight * (torch::sigmoid(pos) - 1);                // [B]
  const torch::Tensor gneg = weight.unsqueeze(1) * neg_mask * torch::sigmoid(neg);  // [B, K]
  g.grad_centre = gpos.unsqueeze(1) * xv + torch::bmm(gneg.unsqueeze(1), xn).squeeze(1);
  g.grad_context = gpos.unsqueeze(1) * xc;
  g.grad_negs = gneg.unsqueeze(2) * xc.unsqueeze(1);
  return g;
}

torch::Tensor SgnsBatchStep(torch::Tensor& table, const torch::Tensor& centre, const torch::Tensor& context,
                            const torch::Tensor& negs, const torch::Tensor& neg_mask, const torch::Tensor& weight,
                            double lr, int64_t max_row_contributions) {
  SgnsBatchGrad g = SgnsBatch(table, centre, context, negs, neg_mask, weight);
  torch::NoGradGuard no_grad;
  const torch::Tensor flat_negs = negs.reshape({-1});
  // A popular node takes part in thousands of pairs of a large batch; summing all their
  // gradients at one stale point overshoots (TikTok diverged to NaN at 65,536 centres per batch,
  // while per-pair SGD feeds each step back into the next). So a row's summed step is scaled
  // down to at most `max_row_contributions` pairs' worth; rarer rows get plain SGD
  // (model/trainer.cc has the measurements behind the cap).
  const torch::Tensor counts =
      torch::bincount(torch::cat({centre, context, flat_negs}), /*weights=*/{}, table.size(0)).to(torch::kFloat32);
  const torch::Tensor scale = torch::clamp_max(static_cast<double>(max_row_contributions) / counts.clamp_min(1), 1.0);
  table.index_add_(0, centre, g.grad_centre * scale.index_select(0, centre).unsqueeze(1), -lr);
  table.index_add_(0, context, g.grad_context * scale.index_select(0, context).unsqueeze(1), -lr);
  table.index_add_(0, flat_negs, g.grad_negs.reshape({-1, table.size(1)}) * scale.index_select(0, flat_negs).unsqueeze(1),
                   -lr);
  return g.raw_loss;
}

// The C++ autocast switch changed name in LibTorch 2.4 (per device type); both are covered.
CudaAutocast::CudaAutocast(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
  previous_ = at::autocast::is_enabled();
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(true);
#endif
  at::autocast::increment_nesting();
}

CudaAutocast::~CudaAutocast() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, previous_);
#else
  at::autocast::set_enabled(previous_);
#endif
}

}  // namespace vasgd::internal

namespace vasgd {

double TorchSgnsGradient(const float* table, int32_t rows, int dim, const std::vector<int32_t>& centres,
                         const std::vector<int32_t>& contexts, const std::vector<int32_t>& negs, int k,
                         const std::vector<float>& weights, float* grad) {
  const int64_t n = static_cast<int64_t>(centres.size());
  auto ids = [](const std::vector<int32_t>& v) {
    return torch::from_blob(const_cast<int32_t*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kInt32)
        .to(torch::kInt64);
  };
  torch::Tensor t = torch::from_blob(const_cast<float*>(table), {rows, dim}, torch::kFloat32);
  torch::Tensor w = torch::from_blob(const_cast<float*>(weights.data()), {n}, torch::kFloat32);
  torch::Tensor neg = ids(negs).view({n, k});
  internal::SgnsBatchGrad g =
      internal::SgnsBatch(t, ids(centres), ids(contexts), neg, torch::ones({n, k}, torch::kFloat32), w);
  torch::Tensor out = torch::zeros({rows, dim}, torch::kFloat32);
  out.index_add_(0, ids(centres), g.grad_centre);
  out.index_add_(0, ids(contexts), g.grad_context);
  out.index_add_(0, neg.reshape({-1}), g.grad_negs.reshape({-1, dim}));
  const float* o = out.data_ptr<float>();
  for (int64_t i = 0; i < static_cast<int64_t>(rows) * dim; ++i) grad[i] += o[i];
  return g.loss.item<double>();
}

}  // namespace vasgd

// INTERNAL to model/*.cc: LibTorch helpers shared by the trainer and the batched skip-gram.
// Includes LibTorch; never include this from a public header or from outside model/.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/model_version.h"

namespace vasgd::internal {

// Linear layers of widths[0] -> widths[1] -> ... -> widths.back(), ReLU and Dropout(p) between
// them (none after the last), as the paper's decoder and encoder.
torch::nn::Sequential MakeMlp(const std::vector<int>& widths, double dropout);

// The Linear layers of `net` as a plain Mlp (weights copied to the CPU), with the given input
// normalisation; and back (for warm starts). ImportMlp returns false when shapes differ.
Mlp ExportMlp(const torch::nn::Sequential& net, std::vector<float> input_mean, std::vector<float> input_scale);
bool ImportMlp(const Mlp& mlp, torch::nn::Sequential& net);

// Skip-gram with negatives on a batch of pairs, batched (the CUDA path; on CPU only for tests).
// table: N × D; centre, context: [B] int64; negs: [B, K] int64; neg_mask: [B, K] float (1 = use);
// weight: [B] float. Returns the weighted and the unweighted loss summed over the batch, and the
// weighted gradient rows per centre, context and negative ([B, D], [B, D], [B, K, D]).
struct SgnsBatchGrad {
  torch::Tensor loss, raw_loss;
  torch::Tensor grad_centre, grad_context, grad_negs;
};
SgnsBatchGrad SgnsBatch(const torch::Tensor& table, const torch::Tensor& centre, const torch::Tensor& context,
                        const torch::Tensor& negs, const torch::Tensor& neg_mask, const torch::Tensor& weight);

// SGD step of the batch on `table` in place: table[row] -= lr * gradient, summed over the row's
// pairs, scaled down for rows in more than max_row_contributions pairs of the batch (see .cc).
// Returns the unweighted loss sum (a 0-d tensor on the table's device), as the Hogwild kernel counts.
torch::Tensor SgnsBatchStep(torch::Tensor& table, const torch::Tensor& centre, const torch::Tensor& context,
                            const torch::Tensor& negs, const torch::Tensor& neg_mask, const torch::Tensor& weight,
                            double lr, int64_t max_row_contributions);

// bf16 autocast on CUDA for the scope of the guard (no-op when disabled).
class CudaAutocast {
 public:
  explicit CudaAutocast(bool enabled);
  ~CudaAutocast();

 private:
  bool enabled_;
  bool previous_ = false;
};

}  // namespace vasgd::internal

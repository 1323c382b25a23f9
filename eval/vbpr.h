// VBPR (He & McAuley 2016): BPR matrix factorisation with a visual term, trained in LibTorch.
//   x(u, i) = β_i + γ_u·γ_i + θ_u·(E f_i) + β'·f_i
// γ: latent factors, θ_u: the user's visual taste, E: projection of the image features f_i.
// Cold products (no training edge) keep γ_i = 0 and β_i = 0 and are scored by their visual
// part alone, which is how VBPR ranks new items.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "eval/eval_data.h"
#include "eval/scorer.h"

namespace vasgd {

struct VbprOptions {
  int32_t latent_dim = 20;       // γ factors
  int32_t visual_dim = 100;      // θ factors (rows of E)
  int32_t epochs = 60;           // passes over the training edges
  int32_t batch_size = 1024;     // (u, i, j) triples per Adam step
  double learning_rate = 5e-3;   // Adam step size
  double l2 = 1e-2;              // weight decay on the factors and biases touched by a batch
                                 // (1e-2 beat 1e-3 and 1e-1 on TikTok validation Recall@20)
  int32_t validate_every = 5;    // epochs between validation checks (Recall@20 on data.val);
                                 // the best checkpoint is kept; 0 = no validation, last epoch
  std::string device = "cpu";    // cpu | cuda
  int32_t threads = 0;           // LibTorch CPU threads; 0 = leave LibTorch's setting
  uint64_t seed = 1;
};

struct VbprResult {
  // Scores as a dot product: user = [γ_u, θ_u, 1], product = [γ_i, E f_i, β_i + β'·f_i].
  Embeddings space;
  int32_t best_epoch = 0;
  double best_val_recall = 0;
  double final_loss = 0;
};

// Trains on data.train (needs features). InvalidArgument without features; Unavailable when
// cuda is asked for and absent.
Result<VbprResult> TrainVbpr(const EvalData& data, const VbprOptions& options);

}  // namespace vasgd

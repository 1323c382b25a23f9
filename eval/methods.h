// The methods `vasgd eval` compares, each trained from scratch per seed on EvalData.train:
//   RAND        random scores
//   POP         item popularity (training edges)
//   WBOI        users as the weighted mean of their products' image features, cosine
//   WBOI-z      the same on features standardised per dimension (baselines.h)
//   VBPR        BPR matrix factorisation + visual factors (eval/vbpr.h), LibTorch
//   SkipGram    the VASG trainer without the decoder (the paper's ablation), eval options' train
//               settings otherwise; cannot embed cold products
//   VASG-paper  the VASG trainer in the paper's settings: no negatives, window 7, D 100,
//               Adam 1e-3, cosine score
//   VASG        the VASG trainer with the evaluation's train settings (the project's defaults
//               unless overridden), scored as those settings say
//   RP3b, ItemKNN, EASE, Hybrid   eval/item_methods.h
//   VASG+pop    VASG's vectors (the same run when VASG ran for this seed) ranked by
//               cos(X_u, X_p) + β·log(1 + training purchases of p), β chosen on the validation
//               pairs from popularity_prior_grid: a popularity prior on top of the embedding
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"
#include "eval/eval_data.h"
#include "eval/ranking_metrics.h"
#include "eval/product_metrics.h"
#include "eval/scorer.h"
#include "eval/vbpr.h"

namespace vasgd {

struct EvalOptions {
  int32_t seeds = 5;                 // runs per method; seed s = first_seed + s
  uint64_t first_seed = 1;
  std::vector<std::string> methods;  // empty = every method (MethodNames())
  std::string device = "cpu";        // cpu | cuda, for VBPR and the VASG trainer
  int32_t threads = 0;               // CPU threads for scoring and training; 0 = all cores
  RankingOptions ranking;
  VbprOptions vbpr;
  AnalogyOptions analogy;
  int64_t cosine_pairs = 100000;     // random product pairs for the cosine spread
  TrainOptions train;                // VASG; SkipGram derives from it (decoder off)
  NeighbourOptions neighbours;       // RP3b, ItemKNN, EASE grids; Hybrid as the daemon
  HybridOptions hybrid;              // Hybrid as the daemon
  RetrainOptions retrain;            // Hybrid's holdout (holdout_fraction, holdout_max_users)
  std::vector<double> popularity_prior_grid = {0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5};  // β for VASG+pop
};

// What one method produced for one seed.
struct MethodRun {
  std::unique_ptr<Scorer> scorer;
  bool has_space = false;        // users and products in one space: product metrics apply
  Embeddings space;
  bool scores_cold = true;       // false: cold products cannot be scored (cold metrics omitted)
  // The same vectors ranked by the other score (cosine for a dot model and vice versa), so the
  // report compares the two scores without training twice; null when not applicable.
  std::unique_ptr<Scorer> other_scorer;
  std::string other_score_name;  // "cosine" | "dot"
  double train_seconds = 0;
  std::string config_json = "{}";  // the settings the method ran with
};

// Every method name, in the order of the report.
const std::vector<std::string>& MethodNames();

// InvalidArgument for names that are not methods.
Status CheckMethodNames(const std::vector<std::string>& names);

// The TrainOptions each VASG-family method trains with, from the evaluation's.
TrainOptions TrainOptionsFor(const std::string& method, const EvalOptions& options, uint64_t seed);

// Trains (where the method learns) and returns its scorer. `same_seed` (may be null) holds the
// spaces other methods already learned with this seed; VASG+pop reuses VASG's from there.
// Errors: the method needs features the data lacks, the device is unavailable, the trainer failed.
Result<MethodRun> RunMethod(const std::string& method, const EvalData& data, const EvalOptions& options,
                            uint64_t seed, const std::map<std::string, Embeddings>* same_seed = nullptr);

}  // namespace vasgd

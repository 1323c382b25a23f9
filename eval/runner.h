// Runs the evaluation: every requested method, every seed, every metric it can produce.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "eval/eval_data.h"
#include "eval/methods.h"

namespace vasgd {

// Metric name -> value for one seed. Names: recall@K, ndcg@K, recall@K_warm, ndcg@K_warm,
// recall@K_cold, ndcg@K_cold, auc_warm, auc_cold, auc_cold_among_cold, relation_accuracy,
// analogy_p@k, analogy_p@k_target_only, cosine_kurtosis, cosine_mean, cosine_std,
// train_seconds, eval_seconds. A metric the method cannot produce is absent. Methods whose
// vectors can also be ranked by the other score add recall@K, ndcg@K, auc_warm and
// auc_cold_among_cold under that score with the suffix "_by_cosine" or "_by_dot".
using SeedMetrics = std::map<std::string, double>;

struct MethodResult {
  std::string method;
  std::vector<SeedMetrics> per_seed;
  std::string config_json = "{}";  // from the first seed
};

struct EvalReport {
  std::string dataset;
  int32_t seeds = 0;
  int32_t k = 20;
  std::vector<MethodResult> methods;
  std::string options_json = "{}";  // the evaluation's options, train settings included
  std::string data_json = "{}";     // counts: users, products, warm/cold, pairs
  double wall_seconds = 0;
  // The first seed's shared spaces (methods with has_space), for plots.
  std::map<std::string, Embeddings> first_seed_spaces;
};

// Trains and scores each method for each seed. Stops at the first method that fails (a method
// that cannot run on this data, e.g. WBOI without features, is an InvalidArgument naming it).
Result<EvalReport> RunEvaluation(const EvalData& data, const EvalOptions& options);

// The options as JSON (for the report and for reproducing a run).
std::string EvalOptionsJson(const EvalOptions& options);

}  // namespace vasgd

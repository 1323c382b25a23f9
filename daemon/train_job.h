// One retraining, from a snapshot of the graph to a complete model version on disk: hold out a
// purchase of some users, train (warm start from the previous version), check the result,
// measure the holdout AUC, write the version, build and save its HNSW index.
//
// `vasgd train` runs it, either on its own (the store opened directly, the version published
// as current) or as the daemon's training child (`--snapshot`, `--out`), which reports its
// progress as JSON lines on a pipe so a crash, OOM or NaN there cannot take the daemon down:
//   {"type":"stage","stage":"snapshot"|"train"|"validate"|"write"|"index"}
//   {"type":"progress","stage":"stage1","epoch":1,"epochs":5,"loss":0.69,"loss_skipgram":..,
//    "loss_reconstruction":..,"loss_encoder":..,"eta_seconds":12.5,"elapsed_seconds":3.1}
//   {"type":"done","version":"..","holdout_auc":0.83,"holdout_pairs":40,"seconds":31.2}
//   {"type":"error","message":".."}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"
#include "model/dataset.h"
#include "model/holdout.h"
#include "model/model_version.h"

namespace vasgd {

struct TrainJobSpec {
  std::string out_dir;                    // where the version is written (must not exist)
  std::string version;                    // the version's name
  const ModelVersion* previous = nullptr; // warm start; may be null
  int progress_fd = -1;                   // JSON lines go here; < 0 = none
};

struct TrainJobResult {
  std::string version;
  double holdout_auc = -1;   // < 0 when no user could be held out
  int64_t holdout_pairs = 0;
  double seconds = 0;
};

// Runs the whole job on `data`. Errors: the trainer's, FailedPrecondition for a model that
// fails its sanity checks (non-finite or zero vectors, wrong counts) or whose holdout AUC is
// below retrain.min_holdout_auc (nothing is written then), IoError for the files.
Result<TrainJobResult> RunTrainJob(const Config& config, const TrainingData& data, const TrainJobSpec& spec);

// Writes one JSON line to `fd` (ignored when fd < 0). Used by the job and the command.
void WriteProgressLine(int fd, const std::string& json_line);

}  // namespace vasgd

#include "daemon/train_job.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "common/elapsed.h"
#include "common/log.h"
#include "index/product_index.h"
#include "model/trainer.h"
#include "rank/fit.h"

namespace vasgd {
namespace {

using json = nlohmann::json;

void Stage(int fd, const char* stage) {
  WriteProgressLine(fd, json{{"type", "stage"}, {"stage", stage}}.dump());
  Log(LogLevel::kInfo, "train_job.stage", {{"stage", stage}});
}

// NaN in JSON is not a number: send null.
json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

bool AllFinite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

bool ZeroRow(const float* row, int32_t dim) {
  for (int32_t i = 0; i < dim; ++i)
    if (row[i] != 0.0f) return false;
  return true;
}

// What must hold before a model is even measured.
Status CheckTrained(const ModelVersion& m, const TrainingData& data) {
  if (m.user_ids.size() != data.user_ids.size() || m.product_ids.size() != data.product_ids.size()) {
    return Status::FailedPrecondition("sanity: the model's user/product counts differ from the snapshot's");
  }
  if (!AllFinite(m.user_vectors) || !AllFinite(m.product_vectors)) {
    return Status::FailedPrecondition("sanity: the trained embeddings hold non-finite values (NaN or infinity)");
  }
  int64_t warm = 0;
  for (size_t u = 0; u < m.user_ids.size(); ++u) {
    if (ZeroRow(m.user(static_cast<int32_t>(u)), m.dim)) {
      return Status::FailedPrecondition("sanity: user " + m.user_ids[u] + " has a zero embedding");
    }
  }
  for (size_t p = 0; p < m.product_ids.size(); ++p) {
    if (m.product_kind[p] != static_cast<uint8_t>(ProductKind::kWarm)) continue;
    ++warm;
    if (ZeroRow(m.product(static_cast<int32_t>(p)), m.dim)) {
      return Status::FailedPrecondition("sanity: product " + m.product_ids[p] + " has a zero embedding");
    }
  }
  if (warm == 0) return Status::FailedPrecondition("sanity: no product was trained");
  return Status::Ok();
}

// Merges {"validation": ...} into the model's manifest extras.
void RecordValidation(ModelVersion* m, const json& validation) {
  json extra = json::parse(m->manifest_extra_json, nullptr, false);
  if (!extra.is_object()) extra = json::object();
  extra["validation"] = validation;
  m->manifest_extra_json = extra.dump();
}

}  // namespace

void WriteProgressLine(int fd, const std::string& json_line) {
  if (fd < 0) return;
  std::string line = json_line + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n <= 0) return;  // the daemon went away; training goes on (PDEATHSIG ends it)
    done += static_cast<size_t>(n);
  }
}

Result<TrainJobResult> RunTrainJob(const Config& config, const TrainingData& data, const TrainJobSpec& spec) {
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = spec.progress_fd;
  TrainJobResult result;
  result.version = spec.version;

  const ModelVersion* previous = config.train.warm_start ? spec.previous : nullptr;
  auto progress = [fd](const TrainProgress& p) {
    const double loss = p.stage == "stage2" ? p.loss_encoder : p.loss_skipgram;
    WriteProgressLine(fd, json{{"type", "progress"}, {"stage", p.stage}, {"epoch", p.epoch}, {"epochs", p.epochs},
                               {"loss", Number(loss)}, {"loss_skipgram", Number(p.loss_skipgram)},
                               {"loss_reconstruction", Number(p.loss_reconstruction)},
                               {"loss_encoder", Number(p.loss_encoder)}, {"eta_seconds", Number(p.eta_seconds)},
                               {"elapsed_seconds", Number(p.elapsed_seconds)},
                               {"pairs_per_second", Number(p.pairs_per_second)}}
                                  .dump());
    return true;
  };
  Result<FittedVersion> fitted = FitVersion(data, config, previous, progress, [fd](const char* s) { Stage(fd, s); });
  if (!fitted.ok()) return fitted.status();
  ModelVersion& model = fitted->model;
  HoldoutSplit& split = fitted->split;
  model.version = spec.version;

  Stage(fd, "validate");
  VASGD_RETURN_IF_ERROR(CheckTrained(model, data));
  result.holdout_pairs = static_cast<int64_t>(split.test_user.size());
  result.holdout_auc = fitted->holdout_auc;
  json validation = {{"holdout_pairs", result.holdout_pairs},
                     {"holdout_fraction", config.retrain.holdout_fraction},
                     {"min_holdout_auc", config.retrain.min_holdout_auc},
                     {"holdout_auc", result.holdout_auc >= 0 ? json(result.holdout_auc) : json(nullptr)},
                     {"sanity", "passed"}};
  Log(LogLevel::kInfo, "train_job.validated",
      {{"version", spec.version}, {"holdout_auc", result.holdout_auc}, {"holdout_pairs", result.holdout_pairs}});
  if (result.holdout_auc >= 0 && result.holdout_auc < config.retrain.min_holdout_auc) {
    return Status::FailedPrecondition("validation: holdout AUC " + std::to_string(result.holdout_auc) +
                                      " is below retrain.min_holdout_auc " +
                                      std::to_string(config.retrain.min_holdout_auc) + " over " +
                                      std::to_string(result.holdout_pairs) + " held-out purchases");
  }
  validation["passed"] = true;
  RecordValidation(&model, validation);

  Stage(fd, "write");
  VASGD_RETURN_IF_ERROR(WriteModelVersion(spec.out_dir, model));

  Stage(fd, "index");
  Result<std::unique_ptr<ProductIndex>> index = ProductIndex::Build(model, config.index, config.train.threads);
  if (!index.ok()) return index.status();
  VASGD_RETURN_IF_ERROR((*index)->Save(spec.out_dir));
  for (const std::string& file : ProductIndex::FileNames((*index)->user_metric())) {
    VASGD_RETURN_IF_ERROR(RecordFileChecksum(spec.out_dir, file));
  }
  result.seconds = SecondsSince(t0);
  return result;
}

}  // namespace vasgd

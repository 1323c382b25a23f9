// The Models panel's data: every kept model version with what its manifest says (trained_at,
// data counts, holdout figures, the hybrid's chosen weights, training settings and speed) and
// which one is current / previous. Versions never change once written, so their summaries are
// cached by name; a version pruned from disk drops out of the cache.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vasgd {

// The versions on disk as the model registry (daemon/model_registry.h) names them.
struct ModelVersionsOnDisk {
  std::string dir;                    // data_dir/models
  std::string current;                // "" = none
  std::string previous;               // "" = none
  std::vector<std::string> versions;  // oldest first
};

// The dashboard's view of one manifest.json: version, trained_at, score, dim, data, validation,
// hybrid (ranking, walk family, weights, holdout figures, cold share), training (seconds,
// pairs/s, device, epochs run, warm start), losses (last epoch of each stage) and the training
// config. Absent parts are absent, never invented.
nlohmann::json SummarizeManifest(const nlohmann::json& manifest);

class ModelList {
 public:
  // {"current":V|null,"previous":V|null,"versions":[summary + "current"/"previous" flags,
  // newest first]}; a version whose manifest cannot be read shows {"version","error"}.
  std::string Json(const ModelVersionsOnDisk& disk);

 private:
  std::mutex mu_;
  std::map<std::string, nlohmann::json> cache_;  // version -> summary (readable ones only)
};

}  // namespace vasgd

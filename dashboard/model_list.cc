#include "dashboard/model_list.h"

#include <fstream>
#include <set>

namespace vasgd {
namespace {

using json = nlohmann::json;

// Copies manifest[key] into out[key] when present.
void CopyIf(const json& manifest, const char* key, json* out) {
  auto it = manifest.find(key);
  if (it != manifest.end() && !it->is_null()) (*out)[key] = *it;
}

// The object `from` restricted to `keys` (those present); null when `from` is not an object.
json Pick(const json& from, std::initializer_list<const char*> keys) {
  if (!from.is_object()) return nullptr;
  json out = json::object();
  for (const char* key : keys) CopyIf(from, key, &out);
  return out;
}

// The last entry of each stage's loss list.
json LastLosses(const json& losses) {
  if (!losses.is_object()) return nullptr;
  json out = json::object();
  for (const auto& [stage, epochs] : losses.items()) {
    if (epochs.is_array() && !epochs.empty()) out[stage] = epochs.back();
  }
  return out;
}

}  // namespace

json SummarizeManifest(const json& m) {
  json out = json::object();
  for (const char* key : {"version", "trained_at", "score", "dim", "num_users", "num_products", "data", "validation"}) {
    CopyIf(m, key, &out);
  }
  if (auto it = m.find("hybrid"); it != m.end()) {
    out["hybrid"] = Pick(*it, {"ranking", "walk_family", "weights", "holdout", "cold_share", "ease", "refit"});
  }
  if (auto it = m.find("training"); it != m.end()) {
    out["training"] = Pick(*it, {"seconds", "pairs_per_second", "device", "epochs_run", "warm_started", "threads"});
  }
  if (auto it = m.find("losses"); it != m.end()) out["losses"] = LastLosses(*it);
  CopyIf(m, "config", &out);
  return out;
}

std::string ModelList::Json(const ModelVersionsOnDisk& disk) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::set<std::string> on_disk(disk.versions.begin(), disk.versions.end());
  for (auto it = cache_.begin(); it != cache_.end();) it = on_disk.count(it->first) ? std::next(it) : cache_.erase(it);

  json versions = json::array();
  for (auto it = disk.versions.rbegin(); it != disk.versions.rend(); ++it) {
    const std::string& version = *it;
    auto cached = cache_.find(version);
    json summary;
    if (cached != cache_.end()) {
      summary = cached->second;
    } else {
      std::ifstream in(disk.dir + "/" + version + "/manifest.json");
      json manifest = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!manifest.is_object()) {
        summary = {{"version", version}, {"error", "manifest.json is missing or not JSON"}};
      } else {
        summary = SummarizeManifest(manifest);
        summary["version"] = version;  // the directory's name is the version's name
        cache_[version] = summary;
      }
    }
    summary["current"] = version == disk.current;
    summary["previous"] = version == disk.previous;
    versions.push_back(std::move(summary));
  }
  auto name = [](const std::string& v) { return v.empty() ? json(nullptr) : json(v); };
  return json{{"current", name(disk.current)}, {"previous", name(disk.previous)}, {"versions", std::move(versions)}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace vasgd

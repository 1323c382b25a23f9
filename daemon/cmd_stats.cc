// vasgd stats: JSON counts of the graph store and the model versions on disk. Opens the store
// read-only, so it works beside a running daemon.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "daemon/commands.h"
#include "common/flags.h"
#include "store/graph_store.h"

namespace vasgd {
namespace {

// The served version: data_dir/models/current is a symlink to the version directory or a file
// holding its name. Empty when there is none.
std::string CurrentModelVersion(const std::string& models_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path current = fs::path(models_dir) / "current";
  if (fs::is_symlink(current, ec)) return fs::read_symlink(current, ec).filename().string();
  std::ifstream in(current);
  std::string name;
  if (in && std::getline(in, name)) {
    name.erase(name.find_last_not_of(" \t\r\n") + 1);
    return fs::path(name).filename().string();
  }
  return "";
}

std::vector<std::string> ModelVersions(const std::string& models_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> versions;
  std::error_code ec;
  for (fs::directory_iterator it(models_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory() && !it->is_symlink() && fs::exists(it->path() / "manifest.json")) {
      versions.push_back(it->path().filename().string());
    }
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

void AppendString(std::string* out, const std::string& s) {
  *out += "\"";
  AppendJsonEscaped(out, s);
  *out += "\"";
}

}  // namespace

int RunStats(const Args& args) {
  auto flags = Flags::Parse(args, {});
  Config config;
  Status s = flags.ok() ? LoadConfig(*flags, &config) : flags.status();
  if (!s.ok()) {
    std::fprintf(stderr, "vasgd stats: %s\nusage: vasgd stats --config F [--data-dir DIR]\n", s.message().c_str());
    return 2;
  }
  ConfigureLogging(config.log);
  auto store = GraphStore::OpenReadOnly(config.store);
  if (!store.ok()) {
    std::fprintf(stderr, "vasgd stats: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const GraphCounters c = (*store)->counters();
  const std::string models_dir = config.store.data_dir + "/models";
  const std::string current = CurrentModelVersion(models_dir);

  std::string json = "{\"users\":" + std::to_string(c.users) + ",\"products\":" + std::to_string(c.products) +
                     ",\"products_with_features\":" + std::to_string(c.products_with_features) +
                     ",\"products_with_purchases\":" + std::to_string(c.warm_products) +
                     ",\"unavailable_products\":" + std::to_string(c.unavailable_products) +
                     ",\"edges\":" + std::to_string(c.edges) + ",\"events_applied\":" + std::to_string(c.events_applied) +
                     ",\"feature_dim\":" + std::to_string(c.feature_dim) + ",\"model_version\":";
  if (current.empty()) {
    json += "null";
  } else {
    AppendString(&json, current);
  }
  json += ",\"model_versions\":[";
  std::vector<std::string> versions = ModelVersions(models_dir);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i) json += ",";
    AppendString(&json, versions[i]);
  }
  json += "],\"data_dir\":";
  AppendString(&json, config.store.data_dir);
  json += "}";
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace vasgd

// vasgd train in the full build: one retraining from the graph store (daemon/train_job.h).
//   vasgd train --config F [--device cpu|cuda]
//       trains from data_dir/graph (the store must not be held by a running daemon: use
//       POST /v1/admin/retrain there) and publishes the version as data_dir/models/current.
//   vasgd train --config F --snapshot DIR --out DIR --version NAME [--previous DIR] [--progress-fd N]
//       the daemon's training child: trains from a checkpoint of the store into a staging
//       directory and reports progress as JSON lines on fd N; the daemon publishes the version.
//   vasgd train --interactions train.tsv [--features f.npy] --out DIR ...
//       the model-only path (daemon/cmd_train.cc), unchanged.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "daemon/commands.h"
#include "common/flags.h"
#include "daemon/model_registry.h"
#include "daemon/train_job.h"
#include "model/model_version.h"
#include "store/graph_store.h"

namespace vasgd {
namespace {

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "vasgd train: %s\n"
               "usage: vasgd train --config F [--device cpu|cuda] [--data-dir DIR]\n"
               "       vasgd train --config F --snapshot DIR --out DIR --version NAME [--previous DIR]\n"
               "                   [--progress-fd N]\n"
               "       vasgd train --interactions train.tsv [--features f.npy] --out DIR [--device D]\n",
               problem.c_str());
  return 2;
}

// The error on stderr and, for the daemon, as the last progress line.
int Fail(int fd, const Status& status) {
  WriteProgressLine(fd, nlohmann::json{{"type", "error"}, {"message", status.ToString()}}.dump());
  std::fprintf(stderr, "vasgd train: %s\n", status.ToString().c_str());
  return 1;
}

std::unique_ptr<ModelVersion> ReadPrevious(const std::string& dir) {
  if (dir.empty()) return nullptr;
  Result<ModelVersion> previous = ReadModelVersion(dir);
  if (!previous.ok()) {
    Log(LogLevel::kWarn, "train.no_warm_start", {{"previous", dir}, {"reason", previous.status().ToString()}});
    return nullptr;
  }
  return std::make_unique<ModelVersion>(std::move(previous.value()));
}

std::string ResultJson(const TrainJobResult& r, const TrainingData& data) {
  nlohmann::json j = {{"version", r.version},
                      {"users", data.user_ids.size()},
                      {"products", data.product_ids.size()},
                      {"edges", data.graph.num_edges()},
                      {"holdout_pairs", r.holdout_pairs},
                      {"holdout_auc", r.holdout_auc >= 0 ? nlohmann::json(r.holdout_auc) : nlohmann::json(nullptr)},
                      {"seconds", r.seconds}};
  return j.dump();
}

}  // namespace

int RunTrainStore(const Args& args) {
  if (std::find(args.begin(), args.end(), "--interactions") != args.end() ||
      std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("--interactions=", 0) == 0; })) {
    return RunTrain(args);
  }
  auto flags = Flags::Parse(args, {"snapshot", "out", "version", "previous", "progress-fd", "device"});
  if (!flags.ok()) return Usage(flags.status().message());
  Config config;
  if (Status s = LoadConfig(*flags, &config); !s.ok()) return Usage(s.message());
  if (flags->Has("device")) config.train.device = flags->Get("device");
  auto fd_flag = flags->GetInt("progress-fd", -1);
  if (!fd_flag.ok()) return Usage(fd_flag.status().message());
  const int fd = static_cast<int>(*fd_flag);
  ConfigureLogging(config.log);

  const bool child = flags->Has("snapshot");
  if (child && (!flags->Has("out") || !flags->Has("version"))) return Usage("--snapshot needs --out and --version");
  StoreOptions store_options = config.store;
  if (child) store_options.data_dir = flags->Get("snapshot");

  WriteProgressLine(fd, R"({"type":"stage","stage":"snapshot"})");
  Result<TrainingData> data = Status::Internal("unset");
  {
    // The daemon's child reads its checkpoint without a lock; alone, we hold the store's lock.
    auto store = child ? GraphStore::OpenReadOnly(store_options) : GraphStore::Open(store_options);
    if (!store.ok()) {
      if (!child) {
        return Fail(fd, Status(store.status().code(), store.status().message() +
                                                          " (a running daemon holds the store: POST /v1/admin/retrain)"));
      }
      return Fail(fd, store.status());
    }
    data = (*store)->ExportSnapshot();
  }
  if (!data.ok()) return Fail(fd, data.status());

  TrainJobSpec spec;
  spec.progress_fd = fd;
  std::unique_ptr<ModelVersion> previous;
  std::unique_ptr<ModelRegistry> registry;
  if (child) {
    spec.out_dir = flags->Get("out");
    spec.version = flags->Get("version");
    previous = ReadPrevious(flags->Get("previous"));
  } else {
    registry = std::make_unique<ModelRegistry>(config.store.data_dir + "/models", config.retrain.keep_versions);
    if (Status s = registry->Init(); !s.ok()) return Fail(fd, s);
    spec.version = registry->NewVersionName();
    spec.out_dir = registry->StagingDir("train-" + spec.version);
    const std::string current = registry->Current();
    if (!current.empty()) previous = ReadPrevious(registry->VersionDir(current));
  }
  spec.previous = previous.get();

  Result<TrainJobResult> result = RunTrainJob(config, *data, spec);
  if (!result.ok()) return Fail(fd, result.status());
  if (registry) {
    if (Status s = registry->Publish(spec.out_dir, spec.version); !s.ok()) return Fail(fd, s);
  }
  nlohmann::json done = nlohmann::json::parse(ResultJson(*result, *data));
  done["type"] = "done";
  WriteProgressLine(fd, done.dump());
  if (!child) std::printf("%s\n", ResultJson(*result, *data).c_str());  // the child's stdout is the daemon's
  return 0;
}

}  // namespace vasgd

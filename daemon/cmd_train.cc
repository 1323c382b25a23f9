// `vasgd train`: one retraining that writes a model version.
//
//   vasgd train --interactions train.tsv [--features f.npy] --out DIR [--previous DIR]
//               [--device auto|cpu|cuda] [--threads N] [--config F]
//
// Trains from TSV interactions (+ .npy features) and writes the version to DIR (staged, then
// renamed into place). --previous warm-starts from an earlier version. Progress goes to the log
// (stderr); a JSON summary (version, seconds, pairs/s, losses) to stdout. Works in the model-only
// build. Training from the daemon's store (its snapshot export) is wired by the daemon.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "common/elapsed.h"
#include "common/log.h"
#include "daemon/commands.h"
#include "common/flags.h"
#include "model/model_version.h"
#include "model/trainer.h"
#include "model/tsv.h"

namespace vasgd {
namespace {

constexpr char kUsage[] =
    "usage: vasgd train --interactions train.tsv [--features f.npy] --out DIR [--previous DIR]\n"
    "                   [--device auto|cpu|cuda] [--threads N] [--config F]\n";

int Fail(const Status& st, int code) {
  std::fprintf(stderr, "vasgd train: %s\n", st.ToString().c_str());
  return code;
}

// Logs training progress every few seconds.
ProgressCallback LogProgress() {
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [last](const TrainProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.stage != "done" && now - *last < std::chrono::seconds(5)) return true;
    *last = now;
    Log(LogLevel::kInfo, "train.progress",
        {{"stage", p.stage}, {"device", p.device}, {"epoch", p.epoch}, {"epochs", p.epochs}, {"step", p.step},
         {"steps", p.steps}, {"loss_skipgram", p.loss_skipgram}, {"loss_reconstruction", p.loss_reconstruction},
         {"loss_encoder", p.loss_encoder}, {"w1", p.w1}, {"w2", p.w2}, {"pairs_per_second", p.pairs_per_second},
         {"elapsed_s", p.elapsed_seconds}, {"eta_s", p.eta_seconds}});
    return true;
  };
}

}  // namespace

int RunTrain(const Args& args) {
  Result<Flags> flags = Flags::Parse(args, {"interactions", "features", "out", "previous", "device", "threads"});
  if (!flags.ok()) {
    std::fprintf(stderr, "%s", kUsage);
    return Fail(flags.status(), 2);
  }
  Config config;
  if (Status st = LoadConfig(flags.value(), &config); !st.ok()) return Fail(st, 2);
  if (flags->Has("device")) config.train.device = flags->Get("device");
  Result<int64_t> threads = flags->GetInt("threads", config.train.threads);
  if (!threads.ok()) return Fail(threads.status(), 2);
  config.train.threads = static_cast<int>(threads.value());
  if (!flags->Has("interactions") || !flags->Has("out")) {
    std::fprintf(stderr, "%s", kUsage);
    return Fail(Status::InvalidArgument("--interactions and --out are required (training from the store "
                                        "is `vasgd serve`'s retraining)"),
                2);
  }
  ConfigureLogging(config.log);
  Result<std::string> device = ResolveDevice(config.train.device);
  if (!device.ok()) return Fail(device.status(), device.status().code() == Code::kInvalidArgument ? 2 : 1);

  TsvReadStats stats;
  Result<TrainingData> data = LoadTrainingData(flags->Get("interactions"), flags->Get("features"), &stats,
                                               config.store.max_id_bytes);
  if (!data.ok()) return Fail(data.status(), 1);
  for (const std::string& e : stats.first_errors) Log(LogLevel::kWarn, "train.bad_line", {{"detail", e}});
  Log(LogLevel::kInfo, "train.data",
      {{"users", static_cast<int64_t>(data->user_ids.size())},
       {"products", static_cast<int64_t>(data->product_ids.size())}, {"edges", data->graph.num_edges()},
       {"feature_dim", data->features.dim}, {"rejected_lines", stats.rejected}});

  std::optional<ModelVersion> previous;
  if (flags->Has("previous")) {
    Result<ModelVersion> p = ReadModelVersion(flags->Get("previous"));
    if (!p.ok()) return Fail(p.status(), 1);
    previous = std::move(p.value());
  }
  const auto t0 = Clock::now();
  Result<ModelVersion> model = Train(data.value(), config.train, previous ? &*previous : nullptr, LogProgress());
  if (!model.ok()) return Fail(model.status(), model.status().code() == Code::kInvalidArgument ? 2 : 1);
  const std::string out = flags->Get("out");
  if (Status st = WriteModelVersionAtomically(out, model.value()); !st.ok()) return Fail(st, 1);
  const double seconds = SecondsSince(t0);

  nlohmann::json extra = nlohmann::json::parse(model->manifest_extra_json);
  nlohmann::json summary = {{"version", model->version},     {"dir", out},
                            {"score", model->score},         {"seconds", seconds},
                            {"device", device.value()},      {"training", extra["training"]},
                            {"data", extra["data"]},         {"losses", extra["losses"]}};
  std::printf("%s\n", summary.dump(2).c_str());
  return 0;
}

}  // namespace vasgd

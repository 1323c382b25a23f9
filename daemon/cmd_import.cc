// vasgd import: bulk load .npy features, TSV interactions and JSON Lines events into the store.
// vasgd checkpoint: a consistent RocksDB checkpoint of the store.
#include <cstdio>
#include <string>

#include "common/log.h"
#include "common/metrics.h"
#include "daemon/commands.h"
#include "common/flags.h"
#include "store/graph_store.h"
#include "stream/bulk_import.h"
#include "stream/event_applier.h"

namespace vasgd {
namespace {

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "vasgd import: %s\n"
               "usage: vasgd import --config F [--features image_feat.npy] [--interactions train.tsv]\n"
               "                    [--events events.jsonl] [--batch N] [--data-dir DIR]\n"
               "Features are imported first (row i -> product \"i\"), then interactions, then events.\n",
               problem.c_str());
  return 2;
}

std::string CountersJson(const GraphCounters& c) {
  return "{\"users\":" + std::to_string(c.users) + ",\"products\":" + std::to_string(c.products) +
         ",\"products_with_features\":" + std::to_string(c.products_with_features) +
         ",\"products_with_purchases\":" + std::to_string(c.warm_products) +
         ",\"edges\":" + std::to_string(c.edges) + ",\"feature_dim\":" + std::to_string(c.feature_dim) + "}";
}

}  // namespace

int RunImport(const Args& args) {
  auto flags = Flags::Parse(args, {"features", "interactions", "events", "batch"});
  if (!flags.ok()) return Usage(flags.status().message());
  Config config;
  if (Status s = LoadConfig(*flags, &config); !s.ok()) return Usage(s.message());
  if (!flags->Has("features") && !flags->Has("interactions") && !flags->Has("events")) {
    return Usage("give at least one of --features, --interactions, --events");
  }
  auto batch = flags->GetInt("batch", 65536);
  if (!batch.ok() || *batch <= 0) return Usage("--batch must be a positive integer");
  ConfigureLogging(config.log);

  auto store = GraphStore::Open(config.store);
  if (!store.ok()) {
    std::fprintf(stderr, "vasgd import: %s\n", store.status().ToString().c_str());
    return 1;
  }
  MetricsRegistry metrics;
  EventApplier applier(store->get(), &metrics);
  ImportOptions options;
  options.batch_events = static_cast<size_t>(*batch);
  options.max_message_bytes = config.kafka.max_message_bytes;

  std::string json = "{";
  struct Step {
    const char* flag;
    Status (*run)(const std::string&, EventApplier*, const ImportOptions&, ImportReport*);
  };
  const Step steps[] = {{"features", ImportFeaturesNpy},
                        {"interactions", ImportInteractionsTsv},
                        {"events", ImportEventsJsonl}};
  for (const Step& step : steps) {
    if (!flags->Has(step.flag)) continue;
    const std::string path = flags->Get(step.flag);
    ImportReport report;
    Status s = step.run(path, &applier, options, &report);
    Log(LogLevel::kInfo, "import.done", {{"input", step.flag}, {"path", path}, {"rows", report.rows},
                                         {"accepted", report.accepted}, {"rejected", report.rejected},
                                         {"seconds", report.seconds}});
    if (!s.ok()) {
      std::fprintf(stderr, "vasgd import: --%s %s: %s\n", step.flag, path.c_str(), s.ToString().c_str());
      return 1;
    }
    json += std::string("\"") + step.flag + "\":" + report.ToJson() + ",";
  }
  json += "\"store\":" + CountersJson((*store)->counters()) + "}";
  std::printf("%s\n", json.c_str());
  return 0;
}

int RunCheckpoint(const Args& args) {
  auto flags = Flags::Parse(args, {"out"});
  if (!flags.ok()) {
    std::fprintf(stderr, "vasgd checkpoint: %s\nusage: vasgd checkpoint --config F --out DIR\n",
                 flags.status().message().c_str());
    return 2;
  }
  Config config;
  if (Status s = LoadConfig(*flags, &config); !s.ok()) {
    std::fprintf(stderr, "vasgd checkpoint: %s\n", s.message().c_str());
    return 2;
  }
  if (!flags->Has("out")) {
    std::fprintf(stderr, "vasgd checkpoint: --out DIR is required\nusage: vasgd checkpoint --config F --out DIR\n");
    return 2;
  }
  ConfigureLogging(config.log);
  auto store = GraphStore::Open(config.store);
  if (!store.ok()) {
    std::fprintf(stderr, "vasgd checkpoint: %s (a running daemon holds the store; checkpoint it through the daemon)\n",
                 store.status().ToString().c_str());
    return 1;
  }
  const std::string out = flags->Get("out");
  if (Status s = (*store)->Checkpoint(out); !s.ok()) {
    std::fprintf(stderr, "vasgd checkpoint: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("{\"checkpoint\":\"%s/graph\",\"store\":%s}\n", out.c_str(), CountersJson((*store)->counters()).c_str());
  return 0;
}

}  // namespace vasgd

// The long-running daemon (`vasgd serve`): owns the metrics, the graph store, the applier, the
// serving state, the model registry, the retrainer, the HTTP server and the optional Kafka
// consumer, and starts and stops them in a fixed order.
//
// Start: open the store -> applier + serving listener -> (demo: load the demo shop into an empty
// store) -> serve the last good model version at once (no retraining first) -> HTTP -> Kafka ->
// retraining schedule (which trains at once when there are purchases but no model).
// Roles (config [cluster], docs/SCALE.md): "all" is the above; "trainer" is the same and also
// publishes every version it serves into cluster.shared_models (so does "all" when that is set);
// a "replica" has no retraining schedule: it follows cluster.shared_models/current instead
// (daemon/shared_model_follower.h) and refuses retrain and rollback (daemon/role_api.h).
// Stop (SIGTERM/SIGINT in `vasgd serve`): stop accepting HTTP and finish in-flight requests ->
// stop the consumer after committing its batch -> stop following / publishing shared versions ->
// stop retraining (the child is terminated) -> close RocksDB.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"

namespace vasgd {

class ApiImpl;
class ConsumerStatusApi;
class DashboardService;
class EventApplier;
class GraphStore;
class HttpServer;
class KafkaIngester;
class ModelRegistry;
class Retrainer;
class RoleApi;
class ServingState;
class SharedModelFollower;
class SharedModelPublisher;

struct DaemonOptions {
  Config config;
  std::string vasgd_binary = "/proc/self/exe";  // run as `vasgd train` for each retraining
  bool demo = false;                            // load the demo shop into an empty store
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();  // Stop()
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts every part (see above). On an error, what was started is stopped again.
  Status Start();
  // Graceful shutdown (see above). Idempotent.
  void Stop();

  uint16_t port() const;  // the HTTP port (after Start)
  bool ready() const;     // a model is served
  // Why a part stopped for good while serving (the Kafka consumer fenced by another member with
  // its group.instance.id); "" while all is well. `vasgd serve` then stops and exits 1.
  std::string fatal_error() const;
  const Config& config() const { return options_.config; }
  MetricsRegistry* metrics() { return &metrics_; }
  GraphStore* store() { return store_.get(); }
  ServingState* serving() { return serving_.get(); }
  Retrainer* retrainer() { return retrainer_.get(); }
  EventApplier* applier() { return applier_.get(); }

 private:
  void Housekeeping();

  DaemonOptions options_;
  MetricsRegistry metrics_;
  std::unique_ptr<GraphStore> store_;
  std::unique_ptr<EventApplier> applier_;
  std::unique_ptr<ServingState> serving_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<Retrainer> retrainer_;
  std::unique_ptr<KafkaIngester> ingester_;
  std::unique_ptr<ApiImpl> api_;
  std::unique_ptr<ConsumerStatusApi> status_api_;  // api_ with the consumer's assignment
  std::unique_ptr<RoleApi> role_api_;              // status_api_ as the role shapes it (what HTTP serves)
  std::unique_ptr<SharedModelPublisher> publisher_;  // trainer (or all with shared_models); else null
  std::unique_ptr<SharedModelFollower> follower_;    // replica only; else null
  std::unique_ptr<DashboardService> dashboard_;   // null when dashboard.enabled is false
  std::unique_ptr<HttpServer> http_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread housekeeping_;
  Gauge* rss_;
  Gauge* users_;
  Gauge* products_;
  Gauge* edges_;
  Gauge* up_since_;
  Gauge* store_block_cache_;
  Gauge* store_memtables_;
  Gauge* store_table_readers_;
  Gauge* store_read_cache_;
  Gauge* model_age_;
};

}  // namespace vasgd

#include "daemon/daemon.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>

#include "common/elapsed.h"
#include "common/log.h"
#include "daemon/api_impl.h"
#include "daemon/consumer_status_api.h"
#include "daemon/demo.h"
#include "daemon/model_registry.h"
#include "daemon/retrainer.h"
#include "daemon/role_api.h"
#include "daemon/serving_state.h"
#include "daemon/shared_model_follower.h"
#include "daemon/shared_model_publisher.h"
#include "dashboard/dashboard_service.h"
#include "http/server.h"
#include "store/graph_store.h"
#include "stream/event_applier.h"
#include "stream/kafka_ingester.h"

namespace vasgd {
namespace {

// Resident set size from /proc/self/statm (pages), in bytes; 0 when unreadable.
double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// What the dashboard reads, from the parts that own it.
DashboardSources DashboardSourcesOf(const MetricsRegistry* metrics, const GraphStore* store, const EventApplier* applier,
                                    const ServingState* serving, const Retrainer* retrainer,
                                    const ModelRegistry* registry) {
  DashboardSources s;
  s.metrics = metrics;
  s.store = store;
  s.rejections = applier->rejections();
  s.training = [retrainer] { return retrainer->progress(); };
  s.served_model = [serving]() -> std::shared_ptr<const ModelVersion> {
    std::shared_ptr<const ServingBundle> bundle = serving->Current();
    return bundle ? bundle->model : nullptr;
  };
  s.versions = [registry] {
    return ModelVersionsOnDisk{registry->dir(), registry->Current(), registry->Previous(), registry->Versions()};
  };
  return s;
}

}  // namespace

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {
  rss_ = metrics_.GetGauge("vasgd_process_resident_memory_bytes", "Resident memory of the daemon, bytes");
  users_ = metrics_.GetGauge("vasgd_graph_users", "Users in the graph store");
  products_ = metrics_.GetGauge("vasgd_graph_products", "Products in the graph store");
  edges_ = metrics_.GetGauge("vasgd_graph_edges", "Distinct (user, product) purchase pairs in the graph store");
  up_since_ = metrics_.GetGauge("vasgd_start_time_seconds", "When the daemon started, seconds since the epoch");
  const char* store_memory = "vasgd_store_memory_bytes";
  const char* store_memory_help = "Store memory by part, bytes (RocksDB block cache, memtables, table readers; the read cache of users' ids and purchases)";
  store_block_cache_ = metrics_.GetGauge(store_memory, store_memory_help, "part=\"block_cache\"");
  store_memtables_ = metrics_.GetGauge(store_memory, store_memory_help, "part=\"memtables\"");
  store_table_readers_ = metrics_.GetGauge(store_memory, store_memory_help, "part=\"table_readers\"");
  store_read_cache_ = metrics_.GetGauge(store_memory, store_memory_help, "part=\"read_cache\"");
  model_age_ = metrics_.GetGauge("vasgd_model_age_seconds",
                                 "Seconds since the served model version was trained (-1 = none served)");
  model_age_->Set(-1);
}

Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  const Config& config = options_.config;
  up_since_->Set(static_cast<double>(std::time(nullptr)));
  Result<std::unique_ptr<GraphStore>> store = GraphStore::Open(config.store);
  if (!store.ok()) return store.status();
  store_ = std::move(store.value());
  applier_ = std::make_unique<EventApplier>(store_.get(), &metrics_);
  if (config.dashboard.enabled) applier_->KeepRecentRejections(static_cast<size_t>(config.dashboard.rejections_kept));
  serving_ = std::make_unique<ServingState>(store_.get(), config.index, config.hybrid, &metrics_);
  applier_->AddListener(serving_.get());
  registry_ = std::make_unique<ModelRegistry>(config.store.data_dir + "/models", config.retrain.keep_versions);
  Status s = registry_->Init();
  if (!s.ok()) return s;

  if (options_.demo) {
    const GraphCounters c = store_->counters();
    if (c.users == 0 && c.products == 0) {
      s = LoadDemoShop(applier_.get());
      if (!s.ok()) return s;
    } else {
      Log(LogLevel::kInfo, "demo.skipped", {{"reason", "the store already holds data"}});
    }
  }

  retrainer_ = std::make_unique<Retrainer>(config, options_.vasgd_binary, store_.get(), serving_.get(),
                                           registry_.get(), &metrics_);
  s = retrainer_->LoadInitial();
  if (!s.ok() && s.code() != Code::kNotFound) return s;
  if (!s.ok()) Log(LogLevel::kWarn, "model.none", {{"reason", s.message()}});

  if (!config.kafka.brokers.empty()) ingester_ = std::make_unique<KafkaIngester>(config.kafka, applier_.get(), &metrics_);
  api_ = std::make_unique<ApiImpl>(config, store_.get(), applier_.get(), serving_.get(), retrainer_.get(),
                                   ingester_.get(), &metrics_);
  status_api_ = std::make_unique<ConsumerStatusApi>(api_.get(), ingester_.get());
  role_api_ = std::make_unique<RoleApi>(status_api_.get(), config.cluster.role, serving_.get(), !config.kafka.brokers.empty());
  const bool replica = config.cluster.role == "replica";
  if (replica) {
    follower_ = std::make_unique<SharedModelFollower>(config.cluster, serving_.get(), registry_.get(), &metrics_);
  } else if (!config.cluster.shared_models.empty()) {
    publisher_ = std::make_unique<SharedModelPublisher>(config.cluster, registry_.get(), &metrics_);
    if (Status p = publisher_->Init(); !p.ok()) return p;
  }
  if (config.dashboard.enabled) {
    dashboard_ = std::make_unique<DashboardService>(
        config.dashboard, DashboardSourcesOf(&metrics_, store_.get(), applier_.get(), serving_.get(), retrainer_.get(),
                                             registry_.get()));
  }
  http_ = std::make_unique<HttpServer>(config.http, role_api_.get(), &metrics_, dashboard_.get());
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;  // from here on Stop() has something to stop
  }
  s = http_->Start();
  if (s.ok() && ingester_) s = ingester_->Start();
  // A replica never trains: its versions come from the shared directory.
  if (s.ok() && !replica) s = retrainer_->Start();
  if (s.ok() && follower_) follower_->Start();
  if (s.ok() && publisher_) publisher_->Start();
  if (s.ok() && dashboard_) dashboard_->Start();
  if (!s.ok()) {
    Stop();
    return s;
  }
  housekeeping_ = std::thread([this] { Housekeeping(); });
  Log(LogLevel::kInfo, "serve.started",
      {{"listen", config.http.listen}, {"port", static_cast<int64_t>(http_->port())}, {"role", config.cluster.role},
       {"kafka", config.kafka.brokers.empty() ? "off" : "on"}, {"model", ready() ? "loaded" : "none yet"},
       {"data_dir", config.store.data_dir}});
  return Status::Ok();
}

void Daemon::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !started_) {
      stopping_ = true;
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  const auto t0 = Clock::now();
  Log(LogLevel::kInfo, "serve.stopping");
  http_->Stop();                   // no new requests; in-flight ones finish
  if (dashboard_) dashboard_->Stop();  // its sampler reads the parts stopped below
  if (ingester_) ingester_->Stop();  // commits what it consumed, leaves the group
  if (follower_) follower_->Stop();    // a version being loaded is finished first
  if (publisher_) publisher_->Stop();  // a publish in progress is finished first
  retrainer_->Stop();              // a running training child is terminated
  if (housekeeping_.joinable()) housekeeping_.join();
  const int64_t applied = store_->counters().events_applied;
  http_.reset();
  dashboard_.reset();
  role_api_.reset();
  status_api_.reset();
  api_.reset();
  follower_.reset();
  publisher_.reset();
  ingester_.reset();
  retrainer_.reset();
  applier_.reset();
  serving_.reset();
  store_.reset();  // closes RocksDB
  Log(LogLevel::kInfo, "serve.stopped",
      {{"events_applied", applied},
       {"seconds", SecondsSince(t0)}});
}

uint16_t Daemon::port() const { return http_ ? http_->port() : 0; }

bool Daemon::ready() const { return serving_ && serving_->Current() != nullptr; }

std::string Daemon::fatal_error() const { return ingester_ ? ingester_->fatal_error() : ""; }

void Daemon::Housekeeping() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    rss_->Set(ResidentBytes());
    const GraphCounters c = store_->counters();
    users_->Set(static_cast<double>(c.users));
    products_->Set(static_cast<double>(c.products));
    edges_->Set(static_cast<double>(c.edges));
    const StoreMemory m = store_->MemoryUsage();
    store_block_cache_->Set(static_cast<double>(m.block_cache));
    store_memtables_->Set(static_cast<double>(m.memtables));
    store_table_readers_->Set(static_cast<double>(m.table_readers));
    store_read_cache_->Set(static_cast<double>(m.read_cache));
    std::shared_ptr<const ServingBundle> served = serving_->Current();
    model_age_->Set(served ? ModelAgeSeconds(served->model->trained_at) : -1);
    cv_.wait_for(lock, std::chrono::seconds(1));
  }
}

}  // namespace vasgd

// The operator dashboard's server side (http/dashboard_api.h): its static files, and the data its
// panels need beyond the existing endpoints, drawn from the daemon's parts through narrow
// sources (so this folder depends on none of daemon/):
//   - a sampler thread: every dashboard.history_interval_s one MetricsHistory sample (the charts'
//     last hour), and every second the running retraining's point on its TrainingCurve;
//   - the Models list (manifests, cached per version), the embedding map (computed once per
//     served version, cached), a user's purchases (read from the store at request time), the
//     last rejected events (the applier's RejectionLog).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/metrics.h"
#include "common/options.h"
#include "common/periodic_thread.h"
#include "dashboard/metrics_history.h"
#include "dashboard/model_list.h"
#include "dashboard/training_curve.h"
#include "http/api.h"
#include "http/dashboard_api.h"
#include "model/model_version.h"
#include "store/graph_store.h"
#include "stream/rejection_log.h"

namespace vasgd {

// Where the dashboard reads the daemon's state. Pointers are not owned and must outlive the
// service; the functions are called from its threads at any time until Stop().
struct DashboardSources {
  const MetricsRegistry* metrics = nullptr;
  const GraphStore* store = nullptr;
  const RejectionLog* rejections = nullptr;  // null: none kept
  std::function<TrainingProgress()> training;                        // the retrainer's progress
  std::function<std::shared_ptr<const ModelVersion>()> served_model;  // null while none is served
  std::function<ModelVersionsOnDisk()> versions;                     // the model registry's view
};

class DashboardService : public DashboardApi {
 public:
  DashboardService(const DashboardOptions& options, DashboardSources sources);
  ~DashboardService() override;  // Stop()

  // Starts the sampler thread (its first sample at once). Stop joins it; both idempotent.
  void Start();
  void Stop();

  const StaticFile* File(std::string_view name) const override;
  // {"current","previous","versions":[...]}: dashboard/model_list.h.
  Result<std::string> Models() override;
  // {"interval_s":5,"now":T,"history":MetricsHistory::Json(since),"training":TrainingCurve::Json(since)}
  Result<std::string> History(double since) override;
  // {"total":N,"kept":K,"events":[{"time","source","reason","message","excerpt"}, newest first]}
  Result<std::string> Rejections() override;
  // {"version","method":"pca","products":N,"points":[n],"x":[..],"y":[..],"product":[..],
  //  "category":[index into "categories", -1 = none or other],"cold":[0|1],"categories":[..]}
  Result<std::string> EmbeddingMap() override;
  // {"user","total":N,"purchases":[{"product","weight","categories":[..]}] (at most 100)}
  Result<std::string> UserPurchases(const std::string& user) override;

  // One sampler step at `now` (seconds since the epoch); the thread calls it every second. For tests.
  void SampleNow(double now);

 private:
  TrainingFigures Figures() const;
  std::string BuildMap(const ModelVersion& model) const;

  const DashboardOptions options_;
  const DashboardSources sources_;
  MetricsHistory history_;
  TrainingCurve curve_;
  ModelList models_;
  double last_history_sample_ = -1;  // sampler thread (or SampleNow) only

  std::mutex map_mu_;  // one map computation at a time; guards the cache
  std::string map_version_;
  std::string map_json_;

  PeriodicThread sampler_;  // last: stopped before the members its task uses go
};

}  // namespace vasgd

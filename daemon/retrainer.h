// Retraining and version switching beside serving.
//
// Triggers: the schedule (retrain.interval_s after the last job started), new events
// (retrain.after_events applied since then), POST /v1/admin/retrain, and at start a store with
// purchases but no servable model. One job at a time, on this object's thread:
//   1. open a journal session (serving_state.h), then checkpoint the store (RocksDB hard links;
//      the daemon keeps its lock and ingestion goes on) into models/.staging/<job>/snapshot;
//   2. run `vasgd train --snapshot .. --out .. --version .. --previous <served version>` as a
//      CHILD PROCESS that reports JSON lines (daemon/train_job.h) on a pipe: a crash, an OOM
//      kill or NaNs there fail the job, never the daemon;
//   3. load the new version like any other (checksums, sanity, saved index), rename it into
//      place, switch `current`, swap the serving bundle (journal replayed), prune.
// A child still running after retrain.timeout_s is killed (the job fails).
// A failed job leaves the served version alone; its error shows in status() and in
// vasgd_retrain_total{result="failed"}; the schedule goes on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "daemon/model_registry.h"
#include "daemon/serving_state.h"
#include "http/api.h"
#include "store/graph_store.h"

namespace vasgd {

class Retrainer {
 public:
  // `vasgd_binary`: the executable run as `vasgd train` (normally /proc/self/exe). Pointers are
  // not owned and must outlive the retrainer.
  Retrainer(const Config& config, std::string vasgd_binary, GraphStore* store, ServingState* serving,
            ModelRegistry* registry, MetricsRegistry* metrics);
  ~Retrainer();  // Stop()

  // Serves the last good version at once: `current`, else the newest version that passes its
  // checks (each refusal logged with its reason). NotFound when none passes.
  Status LoadInitial();

  // Starts the scheduling thread; a store with purchases and no model starts a job at once.
  Status Start();
  // Stops scheduling; a running child gets SIGTERM (SIGKILL after 5 s). Idempotent.
  void Stop();

  // Queues a job; its id. AlreadyExists while one is queued or running.
  Result<std::string> Trigger(const std::string& reason);

  // Serves the version `previous` names (loaded and checked first); returns it. FailedPrecondition
  // when there is none.
  Result<std::string> Rollback();

  TrainingProgress progress() const;
  std::string last_error() const;
  // Jobs finished (succeeded or failed) since start.
  int64_t jobs_finished() const { return jobs_finished_.load(); }
  // The training child's pid while one runs, else -1.
  pid_t child_pid() const { return child_pid_.load(); }

 private:
  void Loop();
  bool Due(std::string* reason);
  // One job from snapshot to swap; false when it failed.
  bool RunJob(const std::string& job_id, const std::string& reason);
  // Child process + progress; "" on success (the new version is in `out_dir`), else why not.
  std::string TrainInChild(const std::string& job_id, const std::string& work, const std::string& out_dir,
                           const std::string& version);
  void OnProgressLine(const std::string& line, std::string* error, std::string* done_version);
  // Loads `dir`, installs it with the journal session `token`.
  Status LoadAndInstall(const std::string& dir, int64_t token);
  void SetStage(const std::string& stage);
  void Fail(const std::string& job_id, const std::string& error);

  const Config config_;
  const std::string binary_;
  GraphStore* store_;
  ServingState* serving_;
  ModelRegistry* registry_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;
  std::string pending_job_;  // queued by Trigger, "" when none
  std::string pending_reason_;
  TrainingProgress progress_;
  std::string last_error_;
  std::chrono::steady_clock::time_point last_start_;
  int64_t events_at_last_start_ = 0;
  int64_t next_job_ = 1;
  std::thread thread_;
  std::atomic<pid_t> child_pid_{-1};
  std::atomic<int64_t> jobs_finished_{0};
  std::mutex switch_mu_;  // one version switch (install, rollback) at a time

  Counter* ok_;
  Counter* failed_;
  Histogram* duration_;
  Gauge* running_;
  Gauge* holdout_auc_;
  Gauge* loss_skipgram_;
  Gauge* loss_reconstruction_;
  Gauge* loss_encoder_;
  Gauge* pairs_per_second_;
  Gauge* trained_at_;
};

}  // namespace vasgd

// The trainer's side of the shared model directory (config [cluster], docs/SCALE.md): every
// version the trainer serves is published into cluster.shared_models, a directory every node
// mounts, laid out like data_dir/models/ (daemon/model_registry.h): <version>/ directories,
// `current` and `previous` symlinks, .staging/. One trainer writes it; replicas only read it
// (daemon/shared_model_follower.h).
//
// One version is published in this order, so that a reader never sees part of one:
//   1. every file but the manifest copied into shared_models/.staging/<version>/, each fsynced;
//   2. manifest.json (every file's size and CRC-32C) copied and fsynced, then the directory;
//   3. the directory renamed to shared_models/<version>, the parent fsynced;
//   4. `current` switched by renaming a new symlink over it, the parent fsynced; then pruned to
//      cluster.shared_keep_versions.
// A crash before 4 leaves `current` on the version before; before 3, only staging, which Init
// clears. The publisher follows the trainer's own `current` (polled every
// cluster.poll_interval_ms): a retraining and a rollback alike are published, a version already
// in the shared directory only pointed to. A failed publish is logged once per version, counted
// (vasgd_shared_models_published_total{result="failed"}) and retried at the next poll.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/metrics.h"
#include "common/options.h"
#include "common/periodic_thread.h"
#include "common/status.h"
#include "daemon/model_registry.h"

namespace vasgd {

class SharedModelPublisher {
 public:
  // `local`: the trainer's own registry (data_dir/models), not owned, must outlive this object.
  SharedModelPublisher(const ClusterOptions& options, const ModelRegistry* local, MetricsRegistry* metrics);
  ~SharedModelPublisher();  // Stop()

  // Creates the shared directory (and its staging) and clears staging left by a crash.
  Status Init();

  // Publishes the local `current` version unless the shared `current` already names it. OK also
  // when there is nothing to publish yet (no local version).
  Status PublishCurrent();

  // Starts / stops the polling thread (which publishes at once, then every poll_interval_ms).
  void Start();
  void Stop();  // idempotent

 private:
  Status Publish(const std::string& version);

  const ClusterOptions options_;
  const ModelRegistry* local_;
  ModelRegistry shared_;
  std::mutex publish_mu_;          // one publish at a time (the thread, and Start's first call)
  std::string last_failed_;        // the version whose failure was logged last ("" = none)

  Counter* published_ok_;
  Counter* published_failed_;
  PeriodicThread poller_;  // last: stopped before the members its task uses go
};

}  // namespace vasgd

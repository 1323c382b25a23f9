// The replica's side of the shared model directory (config [cluster], role "replica";
// docs/SCALE.md). A replica never trains: it serves the versions the trainer publishes
// (daemon/shared_model_publisher.h). Every cluster.poll_interval_ms it reads
// shared_models/current (polling, not inotify: inotify does not see what another host writes on
// a network mount, which is what the shared directory is); when that names a version other than
// the served one, it
//   1. refuses it unless its directory holds manifest.json (reason "no_manifest");
//   2. copies it into this replica's data_dir/models/.staging/ and loads it there:
//      ServingState::Load verifies every file against the manifest's sizes and CRC-32C, the
//      arrays' shapes and finiteness and the sanity checks (reason "checksum" for a Corruption,
//      "invalid" for any other refusal);
//   3. renames it into data_dir/models/ and makes it the local `current`, so that a restart
//      serves it at once, shared directory reachable or not;
//   4. installs it through ServingState::Install, the reconciliation the local hot swap uses: the
//      store as it stands now (availability, categories, products with features but no vector)
//      and the journal of product events applied since before the load.
// Only `current` is read: a version directory it does not name (a publish in progress, or a
// symlink not yet renamed over `current`) is never loaded. A refused version is logged and
// counted once (vasgd_shared_models_refused_total{reason}) and not tried again while `current`
// names it; a copy that fails (the trainer pruned the version meanwhile, the mount is away) is
// counted in vasgd_shared_models_fetch_failures_total and retried at the next poll. A version this
// replica already holds in data_dir/models (a restart, or `current` moved back to it) is loaded
// from there; if that local copy fails its checks it is deleted and the next poll copies the
// shared one afresh.
#pragma once

#include <string>

#include "common/metrics.h"
#include "common/options.h"
#include "common/periodic_thread.h"
#include "common/status.h"
#include "daemon/model_registry.h"
#include "daemon/serving_state.h"

namespace vasgd {

class SharedModelFollower {
 public:
  // `serving` and `local` (this replica's data_dir/models) are not owned and must outlive this.
  SharedModelFollower(const ClusterOptions& options, ServingState* serving, ModelRegistry* local,
                      MetricsRegistry* metrics);
  ~SharedModelFollower();  // Stop()

  // One look at shared_models/current; loads and serves what it names if that is new. OK when
  // there was nothing to do; the error of a refusal or a failed copy otherwise.
  Status CheckOnce();

  // Starts / stops the polling thread (which checks at once, then every poll_interval_ms).
  void Start();
  void Stop();  // idempotent

 private:
  // Steps 2-4 for `version`; `*refusal` is set to the reason when the version itself is bad.
  Status Follow(const std::string& version, std::string* refusal);
  void Refuse(const std::string& version, const std::string& reason, const Status& why);

  const ClusterOptions options_;
  ServingState* serving_;
  ModelRegistry* local_;
  const ModelRegistry shared_;  // read only: Current() and VersionDir()
  std::string refused_;         // the version refused last; not tried again while current names it
  std::string followed_;        // the version (directory name) loaded last from the shared directory
  bool told_empty_ = false;     // "nothing published yet" logged

  Counter* loaded_;
  Counter* refused_no_manifest_;
  Counter* refused_checksum_;
  Counter* refused_invalid_;
  Counter* fetch_failures_;
  Gauge* last_check_;
  PeriodicThread poller_;  // last: stopped before the members its task uses go
};

}  // namespace vasgd

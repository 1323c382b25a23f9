#include "daemon/shared_model_follower.h"

#include <chrono>
#include <ctime>
#include <filesystem>

#include "common/elapsed.h"
#include "common/log.h"
#include "daemon/version_files.h"

namespace vasgd {
namespace fs = std::filesystem;

SharedModelFollower::SharedModelFollower(const ClusterOptions& options, ServingState* serving, ModelRegistry* local,
                                         MetricsRegistry* metrics)
    : options_(options),
      serving_(serving),
      local_(local),
      shared_(options.shared_models, options.shared_keep_versions),
      poller_(std::chrono::milliseconds(options.poll_interval_ms)) {
  loaded_ = metrics->GetCounter("vasgd_shared_models_loaded_total",
                                "Model versions this replica loaded from cluster.shared_models and serves");
  const char* refused = "vasgd_shared_models_refused_total";
  const char* refused_help =
      "Versions named by cluster.shared_models/current that this replica refused, by reason (never served)";
  refused_no_manifest_ = metrics->GetCounter(refused, refused_help, "reason=\"no_manifest\"");
  refused_checksum_ = metrics->GetCounter(refused, refused_help, "reason=\"checksum\"");
  refused_invalid_ = metrics->GetCounter(refused, refused_help, "reason=\"invalid\"");
  fetch_failures_ = metrics->GetCounter("vasgd_shared_models_fetch_failures_total",
                                        "Copies from cluster.shared_models that failed (retried at the next poll)");
  last_check_ = metrics->GetGauge("vasgd_shared_models_last_check_timestamp_seconds",
                                  "When this replica last read cluster.shared_models/current, seconds since the epoch");
}

SharedModelFollower::~SharedModelFollower() { Stop(); }

void SharedModelFollower::Refuse(const std::string& version, const std::string& reason, const Status& why) {
  refused_ = version;
  (reason == "no_manifest" ? refused_no_manifest_ : reason == "checksum" ? refused_checksum_ : refused_invalid_)->Inc();
  Log(LogLevel::kError, "shared.refused",
      {{"version", version}, {"reason", reason}, {"dir", options_.shared_models}, {"error", why.ToString()}});
}

Status SharedModelFollower::Follow(const std::string& version, std::string* refusal) {
  const std::string local_dir = local_->VersionDir(version);
  std::error_code ec;
  // Already here (fetched before a restart, or current pointed back at it): no copy.
  const bool have = fs::is_regular_file(fs::path(local_dir) / "manifest.json", ec);
  const std::string staging = have ? "" : local_->StagingDir("shared-" + version);
  if (!have) {
    Status copied = CopyVersionFiles(shared_.VersionDir(version), staging);
    if (!copied.ok()) {
      fs::remove_all(staging, ec);
      return copied;
    }
  }
  // The journal opens before the load: product events applied from here on are replayed.
  const int64_t token = serving_->BeginJournal();
  Result<std::shared_ptr<ServingBundle>> bundle = serving_->Load(have ? local_dir : staging);
  Status s = bundle.ok() ? Status::Ok() : bundle.status();
  if (!s.ok() && have) {
    // This replica's own copy fails its checks (its disk, not the trainer's publish): drop it
    // (out of sight first, as the registry prunes); the next poll copies the shared one, which is
    // then judged on its own.
    serving_->EndJournal(token);
    Log(LogLevel::kWarn, "shared.local_copy_dropped", {{"version", version}, {"error", s.ToString()}});
    const std::string doomed = local_->StagingDir("damaged-" + version);
    fs::rename(local_dir, doomed, ec);
    fs::remove_all(doomed, ec);
    return s;
  }
  if (!s.ok()) *refusal = s.code() == Code::kCorruption ? "checksum" : "invalid";
  if (s.ok()) s = have ? local_->SetCurrent(version) : local_->Publish(staging, version);
  if (!s.ok()) {
    serving_->EndJournal(token);
    if (!staging.empty()) fs::remove_all(staging, ec);
    return s;
  }
  (*bundle)->dir = local_dir;
  return serving_->Install(*bundle, token);
}

Status SharedModelFollower::CheckOnce() {
  const std::string version = shared_.Current();
  last_check_->Set(static_cast<double>(std::time(nullptr)));
  if (version.empty()) {
    if (!told_empty_) {
      told_empty_ = true;
      Log(LogLevel::kInfo, "shared.none", {{"dir", options_.shared_models}, {"reason", "no version published yet"}});
    }
    return Status::Ok();
  }
  // Only the name is kept: a reference to the served bundle held across Install would make it
  // wait for the old bundle's last user (see ServingState::Install).
  std::string served;
  if (std::shared_ptr<const ServingBundle> bundle = serving_->Current()) served = bundle->version();
  // followed_: a directory whose manifest names the version otherwise (renamed by hand) is not
  // loaded again at every poll.
  if (served == version || version == followed_ || version == refused_) return Status::Ok();
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(shared_.VersionDir(version)) / "manifest.json", ec)) {
    Status why = Status::NotFound("shared version " + version + " has no manifest.json");
    Refuse(version, "no_manifest", why);
    return why;
  }
  const auto t0 = Clock::now();
  std::string refusal;
  Status s = Follow(version, &refusal);
  if (!s.ok()) {
    if (!refusal.empty()) {
      Refuse(version, refusal, s);
    } else {
      fetch_failures_->Inc();
      LogOncePerKind(LogLevel::kWarn, "shared.fetch." + version, "shared.fetch_failed",
                     {{"version", version}, {"error", s.ToString()}});
    }
    return s;
  }
  refused_.clear();
  followed_ = version;
  loaded_->Inc();
  Log(LogLevel::kInfo, "shared.loaded",
      {{"version", version}, {"previous", served},
       {"seconds", SecondsSince(t0)}});
  return Status::Ok();
}

void SharedModelFollower::Start() {
  poller_.Start([this] { (void)CheckOnce(); });  // refusals and failed copies are logged and counted there
}

void SharedModelFollower::Stop() { poller_.Stop(); }

}  // namespace vasgd

#include "daemon/shared_model_publisher.h"

#include <chrono>
#include <filesystem>

#include "common/elapsed.h"
#include "common/log.h"
#include "daemon/version_files.h"

namespace vasgd {
namespace fs = std::filesystem;

SharedModelPublisher::SharedModelPublisher(const ClusterOptions& options, const ModelRegistry* local,
                                           MetricsRegistry* metrics)
    : options_(options),
      local_(local),
      shared_(options.shared_models, options.shared_keep_versions),
      poller_(std::chrono::milliseconds(options.poll_interval_ms)) {
  const char* name = "vasgd_shared_models_published_total";
  const char* help = "Model versions published into cluster.shared_models by this trainer, by result";
  published_ok_ = metrics->GetCounter(name, help, "result=\"ok\"");
  published_failed_ = metrics->GetCounter(name, help, "result=\"failed\"");
}

SharedModelPublisher::~SharedModelPublisher() { Stop(); }

Status SharedModelPublisher::Init() {
  std::error_code ec;
  fs::create_directories(options_.shared_models, ec);
  if (ec) return Status::IoError("cluster.shared_models: cannot create " + options_.shared_models + ": " + ec.message());
  return shared_.Init();
}

Status SharedModelPublisher::Publish(const std::string& version) {
  const std::string target = shared_.VersionDir(version);
  std::error_code ec;
  if (fs::is_regular_file(fs::path(target) / "manifest.json", ec)) return shared_.SetCurrent(version);
  const std::string staging = shared_.StagingDir(version);  // removed first if a failed try left it
  Status s = CopyVersionFiles(local_->VersionDir(version), staging);
  if (s.ok()) s = shared_.Publish(staging, version);
  if (!s.ok()) fs::remove_all(staging, ec);
  return s;
}

Status SharedModelPublisher::PublishCurrent() {
  std::lock_guard<std::mutex> lock(publish_mu_);
  const std::string version = local_->Current();
  if (version.empty() || version == shared_.Current()) return Status::Ok();
  const auto t0 = Clock::now();
  Status s = Publish(version);
  if (!s.ok()) {
    published_failed_->Inc();
    if (last_failed_ != version) {  // once per version: a poll every second must not flood the log
      last_failed_ = version;
      Log(LogLevel::kError, "shared.publish_failed",
          {{"version", version}, {"dir", options_.shared_models}, {"error", s.ToString()}});
    }
    return s;
  }
  last_failed_.clear();
  published_ok_->Inc();
  Log(LogLevel::kInfo, "shared.published",
      {{"version", version}, {"dir", options_.shared_models},
       {"seconds", SecondsSince(t0)}});
  return s;
}

void SharedModelPublisher::Start() {
  poller_.Start([this] { (void)PublishCurrent(); });  // failures are logged and counted there, retried next time
}

void SharedModelPublisher::Stop() { poller_.Stop(); }

}  // namespace vasgd

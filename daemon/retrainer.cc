#include "daemon/retrainer.h"

#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/config_file.h"
#include "common/elapsed.h"
#include "common/log.h"
#include "daemon/child_process.h"

namespace vasgd {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kProgressFd = 3;
constexpr int kKillGraceSeconds = 5;

std::vector<double> TrainingBuckets() { return {1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}; }

double Num(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

// Seconds since the epoch of an ISO 8601 UTC time ("2026-11-25T18:30:00Z"); 0 if unparsable.
double EpochSeconds(const std::string& iso) {
  std::tm tm{};
  if (!strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<double>(timegm(&tm));
}

}  // namespace

Retrainer::Retrainer(const Config& config, std::string vasgd_binary, GraphStore* store, ServingState* serving,
                     ModelRegistry* registry, MetricsRegistry* metrics)
    : config_(config), binary_(std::move(vasgd_binary)), store_(store), serving_(serving), registry_(registry) {
  const char* total = "vasgd_retrain_total";
  const char* total_help = "Retraining jobs finished, by result";
  ok_ = metrics->GetCounter(total, total_help, "result=\"ok\"");
  failed_ = metrics->GetCounter(total, total_help, "result=\"failed\"");
  duration_ = metrics->GetHistogram("vasgd_retrain_duration_seconds",
                                    "Wall time of retraining jobs (snapshot to swap), successful or not", "",
                                    TrainingBuckets());
  running_ = metrics->GetGauge("vasgd_retrain_running", "1 while a retraining job runs");
  holdout_auc_ = metrics->GetGauge("vasgd_model_holdout_auc", "Holdout AUC of the served model (-1 = none)");
  const char* loss = "vasgd_train_loss";
  const char* loss_help = "Latest training loss reported by the running or last job, by part";
  loss_skipgram_ = metrics->GetGauge(loss, loss_help, "part=\"skipgram\"");
  loss_reconstruction_ = metrics->GetGauge(loss, loss_help, "part=\"reconstruction\"");
  loss_encoder_ = metrics->GetGauge(loss, loss_help, "part=\"encoder\"");
  pairs_per_second_ = metrics->GetGauge("vasgd_train_pairs_per_second",
                                        "Training speed the running or last job reported, positive pairs/s (0 = not reported)");
  trained_at_ = metrics->GetGauge("vasgd_model_trained_timestamp_seconds", "When the served model was trained");
  progress_.loss = std::nan("");
  last_start_ = std::chrono::steady_clock::now();
}

Retrainer::~Retrainer() { Stop(); }

Status Retrainer::LoadAndInstall(const std::string& dir, int64_t token) {
  Result<std::shared_ptr<ServingBundle>> bundle = serving_->Load(dir);
  if (!bundle.ok()) {
    serving_->EndJournal(token);
    return bundle.status();
  }
  VASGD_RETURN_IF_ERROR(serving_->Install(*bundle, token));
  holdout_auc_->Set((*bundle)->holdout_auc);
  trained_at_->Set(EpochSeconds((*bundle)->model->trained_at));
  return Status::Ok();
}

Status Retrainer::LoadInitial() {
  std::lock_guard<std::mutex> lock(switch_mu_);
  const std::string current = registry_->Current();
  std::vector<std::string> candidates;
  if (!current.empty()) candidates.push_back(current);
  std::vector<std::string> versions = registry_->Versions();
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (*it != current) candidates.push_back(*it);
  }
  for (const std::string& version : candidates) {
    const int64_t token = serving_->BeginJournal();
    Status s = LoadAndInstall(registry_->VersionDir(version), token);
    if (!s.ok()) {
      Log(LogLevel::kError, "model.refused", {{"version", version}, {"reason", s.ToString()}});
      continue;
    }
    if (version != current) {
      Log(LogLevel::kWarn, "model.fallback", {{"version", version}, {"instead_of", current}});
      VASGD_RETURN_IF_ERROR(registry_->SetCurrent(version));
    }
    return Status::Ok();
  }
  return Status::NotFound("no servable model version in " + registry_->dir());
}

Status Retrainer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return Status::Ok();
  started_ = true;
  last_start_ = std::chrono::steady_clock::now();
  events_at_last_start_ = serving_->applied_events();
  if (!serving_->Current() && store_->counters().edges > 0) {
    pending_job_ = "job-" + std::to_string(next_job_++);
    pending_reason_ = "no model yet";
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Retrainer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::string> Retrainer::Trigger(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return Status::Unavailable("the daemon is shutting down");
  if (!pending_job_.empty()) return Status::AlreadyExists("retraining " + pending_job_ + " is queued");
  if (progress_.running) return Status::AlreadyExists("retraining " + progress_.job_id + " is running");
  pending_job_ = "job-" + std::to_string(next_job_++);
  pending_reason_ = reason;
  cv_.notify_all();
  return pending_job_;
}

TrainingProgress Retrainer::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  TrainingProgress p = progress_;
  if (!p.running && !pending_job_.empty()) {
    p.running = true;  // queued counts as running: a second POST gets 409
    p.job_id = pending_job_;
    p.stage = "queued";
  }
  return p;
}

std::string Retrainer::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

bool Retrainer::Due(std::string* reason) {
  const auto now = std::chrono::steady_clock::now();
  if (config_.retrain.interval_s > 0 && now - last_start_ >= std::chrono::seconds(config_.retrain.interval_s)) {
    *reason = "schedule";
    return true;
  }
  if (config_.retrain.after_events > 0 &&
      serving_->applied_events() - events_at_last_start_ >= config_.retrain.after_events) {
    *reason = "events";
    return true;
  }
  return false;
}

void Retrainer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    std::string reason;
    if (pending_job_.empty() && Due(&reason)) {
      pending_job_ = "job-" + std::to_string(next_job_++);
      pending_reason_ = reason;
    }
    if (pending_job_.empty()) {
      // Events are counted, not signalled: look again every second.
      cv_.wait_for(lock, std::chrono::seconds(1));
      continue;
    }
    const std::string job = pending_job_, why = pending_reason_;
    pending_job_.clear();
    progress_ = TrainingProgress();
    progress_.running = true;
    progress_.job_id = job;
    progress_.stage = "snapshot";
    progress_.loss = std::nan("");
    last_start_ = std::chrono::steady_clock::now();
    events_at_last_start_ = serving_->applied_events();
    lock.unlock();
    const bool ok = RunJob(job, why);
    lock.lock();
    progress_.running = false;
    progress_.stage = ok ? "done" : "failed";
    progress_.eta_seconds = -1;
  }
}

void Retrainer::SetStage(const std::string& stage) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_.stage = stage;
}

void Retrainer::Fail(const std::string& job_id, const std::string& error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = job_id + ": " + error;
  }
  failed_->Inc();
  Log(LogLevel::kError, "retrain.failed", {{"job", job_id}, {"error", error}});
}

void Retrainer::OnProgressLine(const std::string& line, std::string* error, std::string* done_version) {
  json j = json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return;  // not ours: ignore
  const std::string type = j["type"].get<std::string>();
  std::lock_guard<std::mutex> lock(mu_);
  if (type == "stage" && j["stage"].is_string()) {
    progress_.stage = j["stage"].get<std::string>();
  } else if (type == "progress") {
    if (j["stage"] == "done") return;  // the trainer's last report carries no losses
    if (j["stage"].is_string()) progress_.stage = j["stage"].get<std::string>();
    progress_.epoch = static_cast<int>(Num(j, "epoch", progress_.epoch));
    progress_.epochs = static_cast<int>(Num(j, "epochs", progress_.epochs));
    progress_.loss = Num(j, "loss", progress_.loss);
    progress_.eta_seconds = Num(j, "eta_seconds", -1);
    loss_skipgram_->Set(Num(j, "loss_skipgram", loss_skipgram_->Value()));
    loss_reconstruction_->Set(Num(j, "loss_reconstruction", loss_reconstruction_->Value()));
    loss_encoder_->Set(Num(j, "loss_encoder", loss_encoder_->Value()));
    pairs_per_second_->Set(Num(j, "pairs_per_second", 0));
  } else if (type == "error" && j["message"].is_string()) {
    *error = j["message"].get<std::string>();
  } else if (type == "done" && j["version"].is_string()) {
    *done_version = j["version"].get<std::string>();
  }
}

std::string Retrainer::TrainInChild(const std::string& job_id, const std::string& work, const std::string& out_dir,
                                    const std::string& version) {
  const std::string snapshot = work + "/snapshot";
  const std::string config_path = work + "/config.toml";
  std::error_code ec;
  fs::create_directories(work, ec);
  if (ec) return "cannot create " + work + ": " + ec.message();
  const auto t0 = Clock::now();
  Status s = store_->Checkpoint(snapshot);
  if (!s.ok()) return "snapshot: " + s.ToString();
  const double checkpoint_ms = MillisecondsSince(t0);
  {
    // The child's whole config (tokens redacted: training needs none of them).
    std::ofstream out(config_path);
    out << DescribeConfig(config_);
    if (!out) return "cannot write " + config_path;
  }
  std::vector<std::string> argv = {binary_, "train", "--config", config_path, "--snapshot", snapshot,
                                   "--out", out_dir, "--version", version,
                                   "--progress-fd", std::to_string(kProgressFd)};
  if (std::shared_ptr<const ServingBundle> served = serving_->Current()) {
    argv.push_back("--previous");
    argv.push_back(served->dir);
  }
  const auto t1 = std::chrono::steady_clock::now();
  Result<ChildProcess> child = SpawnWithPipe(argv, kProgressFd, config_.retrain.child_nice);
  if (!child.ok()) return child.status().ToString();
  child_pid_.store(child->pid);
  Log(LogLevel::kInfo, "retrain.child_started", {{"job", job_id}, {"pid", static_cast<int64_t>(child->pid)},
                                                 {"checkpoint_ms", checkpoint_ms}, {"spawn_ms", MillisecondsSince(t1)}});

  // Stop() may come while we read: a watcher sends SIGTERM, then SIGKILL after the grace time.
  // A child past retrain.timeout_s is killed: one stuck for good (e.g. a BLAS library spinning on
  // failed allocations under a memory limit) would otherwise block every later retraining.
  std::atomic<bool> child_done{false}, timed_out{false};
  std::thread watcher([this, &child_done, &timed_out, pid = child->pid] {
    std::unique_lock<std::mutex> lock(mu_);
    const auto done_or_stop = [&] { return stop_ || child_done.load(); };
    if (config_.retrain.timeout_s <= 0) {
      cv_.wait(lock, done_or_stop);
    } else if (!cv_.wait_for(lock, std::chrono::seconds(config_.retrain.timeout_s), done_or_stop)) {
      timed_out = true;
      ::kill(pid, SIGKILL);  // no grace: it is stuck, not busy
      return;
    }
    if (child_done.load()) return;
    ::kill(pid, SIGTERM);
    if (!cv_.wait_for(lock, std::chrono::seconds(kKillGraceSeconds), [&] { return child_done.load(); })) {
      ::kill(pid, SIGKILL);
    }
  });
  std::string buffer, line, error, done_version;
  while (ReadLine(child->read_fd, &buffer, &line)) OnProgressLine(line, &error, &done_version);
  ::close(child->read_fd);
  const std::string ended = WaitChild(child->pid);
  child_pid_.store(-1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    child_done.store(true);
  }
  cv_.notify_all();
  watcher.join();
  fs::remove_all(snapshot, ec);

  if (timed_out.load()) {
    return "training took longer than retrain.timeout_s (" + std::to_string(config_.retrain.timeout_s) +
           " s): the training process was killed";
  }
  if (!error.empty()) return error + (ended.empty() ? "" : " (training process " + ended + ")");
  if (!ended.empty()) return "training process " + ended;
  if (done_version != version) return "training process ended without reporting a finished version";
  return "";
}

bool Retrainer::RunJob(const std::string& job_id, const std::string& reason) {
  const auto t0 = Clock::now();
  running_->Set(1);
  Log(LogLevel::kInfo, "retrain.start", {{"job", job_id}, {"reason", reason}});
  const std::string work = registry_->StagingDir(job_id);
  const std::string out_dir = work + "/version";
  const std::string version = registry_->NewVersionName();
  // The journal opens before the snapshot: every product change after it is replayed.
  const int64_t token = serving_->BeginJournal();
  std::string error = TrainInChild(job_id, work, out_dir, version);
  if (error.empty()) {
    SetStage("swap");
    std::lock_guard<std::mutex> lock(switch_mu_);
    Result<std::shared_ptr<ServingBundle>> bundle = serving_->Load(out_dir);
    Status s = bundle.ok() ? registry_->Publish(out_dir, version) : bundle.status();
    if (s.ok()) {
      (*bundle)->dir = registry_->VersionDir(version);
      s = serving_->Install(*bundle, token);
      if (s.ok()) {
        holdout_auc_->Set((*bundle)->holdout_auc);
        trained_at_->Set(EpochSeconds((*bundle)->model->trained_at));
      }
    } else {
      serving_->EndJournal(token);
    }
    if (!s.ok()) error = "installing " + version + ": " + s.ToString();
  } else {
    serving_->EndJournal(token);
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  const double seconds = SecondsSince(t0);
  duration_->Observe(seconds);
  running_->Set(0);
  if (!error.empty()) {
    Fail(job_id, error);
  } else {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_.clear();
    }
    ok_->Inc();
    Log(LogLevel::kInfo, "retrain.done", {{"job", job_id}, {"version", version}, {"seconds", seconds}});
  }
  jobs_finished_.fetch_add(1);
  return error.empty();
}

Result<std::string> Retrainer::Rollback() {
  std::lock_guard<std::mutex> lock(switch_mu_);
  const std::string previous = registry_->Previous();
  if (previous.empty()) return Status::FailedPrecondition("there is no previous model version to roll back to");
  const int64_t token = serving_->BeginJournal();
  VASGD_RETURN_IF_ERROR(LoadAndInstall(registry_->VersionDir(previous), token));
  VASGD_RETURN_IF_ERROR(registry_->SetCurrent(previous));
  Log(LogLevel::kInfo, "model.rolled_back", {{"version", previous}});
  return previous;
}

}  // namespace vasgd

// An implementation of our own http/api.h interface for the server tests: deterministic answers
// that echo what the HTTP layer parsed, so a test can check parsing end to end, plus switches
// for the error paths. The daemon's implementation is tested in tests/daemon.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "http/api.h"

namespace vasgd::testing_http {

class TestApi : public Api {
 public:
  Result<Recommendations> Recommend(const RecommendRequest& r) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_recommend_ = r;
    }
    calls_++;
    if (r.user == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    if (r.user == "down") return Status::Unavailable("no model loaded yet");
    if (r.user == "boom") throw std::runtime_error("handler bug");
    Recommendations out;
    out.user = r.user;
    out.model_version = "v-test";
    out.strategy = r.user.rfind("new", 0) == 0 ? "popular" : "model";
    // k items, scores descending, named after the offset so pagination is visible.
    for (int i = 0; i < r.k; ++i) out.items.push_back({"p" + std::to_string(r.offset + i), 1.0f - 0.01f * i});
    return out;
  }

  Result<SimilarItems> Similar(const SimilarRequest& r) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_similar_ = r;
    }
    if (r.product == "missing") return Status::NotFound("unknown product 'missing'");
    SimilarItems out;
    out.product = r.product;
    out.model_version = "v-test";
    for (int i = 0; i < r.k; ++i) out.items.push_back({r.product + "-n" + std::to_string(r.offset + i), 0.5f});
    return out;
  }

  Result<AnalogyResult> Analogy(const AnalogyRequest& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_analogy_ = r;
    AnalogyResult out;
    out.model_version = "v-test";
    for (int i = 0; i < r.k; ++i) out.items.push_back({"a" + std::to_string(i), 0.25f});
    return out;
  }

  // Accepts events whose JSON mentions "purchase"; the rest are rejected with a reason.
  Result<std::vector<EventOutcome>> Ingest(const std::vector<std::string>& events) override {
    ingesting_++;
    while (hold_ingest) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a slow commit
    std::vector<EventOutcome> out;
    for (const std::string& e : events) {
      if (e.find("\"purchase\"") != std::string::npos) {
        out.push_back({true, ""});
      } else {
        out.push_back({false, "not a purchase"});
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    ingested_ += static_cast<int>(events.size());
    return out;
  }

  Result<RetrainJob> StartRetrain() override {
    if (retraining_.exchange(true)) return Status::AlreadyExists("a retraining is already running (job-1)");
    return RetrainJob{"job-1"};
  }

  Result<std::string> Rollback() override {
    return Status::FailedPrecondition("no previous model version to roll back to");
  }

  AdminStatus GetStatus() override {
    AdminStatus s;
    s.role = "trainer";
    s.model_version = "v-test";
    s.trained_at = "2026-01-01T00:00:00Z";
    s.model_age_seconds = 12.5;
    s.training.running = retraining_;
    s.training.job_id = retraining_ ? "job-1" : "";
    s.training.stage = retraining_ ? "skipgram" : "";
    s.training.epoch = 2;
    s.training.epochs = 5;
    s.training.loss = 0.5;
    s.users = 3;
    s.products = 4;
    s.edges = 5;
    s.last_error = "disk full";
    return s;
  }

  Readiness Ready() override {
    Readiness r;
    r.ready = ready;
    if (!ready) r.reason = "no model loaded yet";
    return r;
  }

  RecommendRequest last_recommend() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_recommend_;
  }
  SimilarRequest last_similar() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_similar_;
  }
  AnalogyRequest last_analogy() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_analogy_;
  }
  int ingested() {
    std::lock_guard<std::mutex> lock(mu_);
    return ingested_;
  }

  std::atomic<bool> ready{true};
  std::atomic<bool> hold_ingest{false};  // Ingest waits while set
  std::atomic<int> ingesting_{0};        // Ingest calls entered
  std::atomic<int> calls_{0};
  int slow_ms = 400;

 private:
  std::mutex mu_;
  RecommendRequest last_recommend_;
  SimilarRequest last_similar_;
  AnalogyRequest last_analogy_;
  int ingested_ = 0;
  std::atomic<bool> retraining_{false};
};

}  // namespace vasgd::testing_http

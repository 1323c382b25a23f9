// The daemon's lifecycle through the real `vasgd serve`: retraining triggers, a hot swap under
// concurrent queries, rollback and pruning, failed retrainings (a NaN model, a model below the
// holdout threshold, a killed training child) that leave the current model serving, a restart
// that serves at once, a corrupted version that is never served, and graceful SIGTERM.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/daemon/serve_harness.h"

namespace vasgd::testing_daemon {
namespace {

namespace fs = std::filesystem;

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() + "/data";
    config_ = TestConfig(data_);
  }

  // Starts the daemon on the current config; the log goes to serve-<n>.log.
  std::unique_ptr<ServeProcess> Start() {
    const std::string path = WriteConfig(dir_.path() + "/vasgd.toml", config_);
    return ServeProcess::Start(path, dir_.path() + "/serve-" + std::to_string(starts_++) + ".log");
  }

  // Starts, loads the small shop over HTTP and trains the first version.
  std::unique_ptr<ServeProcess> StartTrained() {
    auto serve = Start();
    if (!serve) return nullptr;
    EXPECT_TRUE(PostEvents(*serve, ShopEvents(SmallShop())));
    EXPECT_FALSE(serve->Retrain().empty());
    EXPECT_EQ(LastError(serve->StatusJson()), "") << serve->Log();
    return serve;
  }

  std::vector<std::string> VersionDirs() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(data_ + "/models")) {
      const std::string name = e.path().filename().string();
      if (name[0] != '.' && !e.is_symlink() && e.is_directory()) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  std::string data_;
  ConfigMap config_;
  int starts_ = 0;
};

TEST_F(LifecycleTest, SwapUnderConcurrentQueriesFailsNoRequest) {
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  const std::string v1 = serve->StatusJson()["model_version"];
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::mutex mu;
  std::set<std::string> versions_seen;
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      // One keep-alive connection per client, as a shop's frontend would hold.
      auto conn = std::make_unique<testing_http::Connection>(serve->port());
      int i = 0;
      while (!stop.load()) {
        const std::string target = (t == 2 ? "/v1/products/p" + std::to_string(i % 150) + "/similar?k=10"
                                           : "/v1/users/u" + std::to_string(i % 300) + "/recommendations?k=10");
        ++i;
        if (!conn->Send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")) {
          failed++;
          conn = std::make_unique<testing_http::Connection>(serve->port());
          continue;
        }
        Response r = conn->Read();
        json j = json::parse(r.body, nullptr, false);
        if (r.status != 200 || j.is_discarded() || j["items"].size() != 10u) {
          failed++;
        } else {
          ok++;
          std::lock_guard<std::mutex> lock(mu);
          versions_seen.insert(j["model_version"].get<std::string>());
        }
        if (r.closed) conn = std::make_unique<testing_http::Connection>(serve->port());
      }
    });
  }
  // Two retrainings, each ending in a swap, while the clients query.
  ASSERT_FALSE(serve->Retrain().empty());
  ASSERT_FALSE(serve->Retrain().empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (std::thread& c : clients) c.join();
  const json status = serve->StatusJson();
  EXPECT_EQ(LastError(status), "") << serve->Log();
  EXPECT_NE(status["model_version"], v1);
  EXPECT_EQ(failed.load(), 0) << "of " << ok.load() + failed.load() << " requests";
  EXPECT_GT(ok.load(), 100);
  EXPECT_GE(versions_seen.size(), 2u) << "queries saw only one version: no swap happened under load";
  EXPECT_EQ(serve->Metric("vasgd_model_swaps_total"), 3);
}

TEST_F(LifecycleTest, WhatArrivesDuringTrainingSurvivesTheSwap) {
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  const std::string v1 = serve->StatusJson()["model_version"];
  const SyntheticShop shop = SmallShop();
  const int64_t before = serve->FinishedJobs();
  ASSERT_EQ(serve->Post("/v1/admin/retrain", "", kAdminToken).status, 202);
  // Once the child runs, its snapshot is taken: these events are not in it.
  ASSERT_TRUE(WaitFor([&] { return !serve->Children().empty(); }, 30));
  const std::string hidden = serve->GetJson("/v1/users/u9/recommendations?k=1")["items"][0]["product"];
  ASSERT_TRUE(PostEvents(*serve, {ProductEvent("mid-train", shop.train.features.row(11), shop.train.features.dim, "c-new"),
                                  R"({"type":"product","product":")" + hidden + R"(","available":false})"}));
  ASSERT_EQ(serve->GetJson("/v1/products/mid-train/similar?k=5")["__status"], 200);
  ASSERT_TRUE(WaitFor([&] { return serve->FinishedJobs() > before; }, 120));
  ASSERT_EQ(LastError(serve->StatusJson()), "") << serve->Log();
  const ModelVersion v2 = CurrentModel(data_);
  ASSERT_NE(v2.version, v1);
  EXPECT_EQ(std::count(v2.product_ids.begin(), v2.product_ids.end(), "mid-train"), 0) << "not in the snapshot";
  // Still served after the swap, placed by the NEW model's encoder, with its category.
  std::vector<float> embedding(v2.dim), scratch;
  v2.encoder.Forward(shop.train.features.row(11), embedding.data(), &scratch);
  ModelVersion cosine = v2;
  cosine.score = "cosine";
  json similar = serve->GetJson("/v1/products/mid-train/similar?k=5");
  ASSERT_EQ(similar["__status"], 200);
  EXPECT_EQ(similar["model_version"], v2.version);
  EXPECT_TRUE(MatchesRanking(similar["items"], ExactTopK(cosine, embedding.data(), {"mid-train", hidden}, 5)));
  json in_category = serve->GetJson("/v1/users/u9/recommendations?k=5&category=c-new");
  ASSERT_EQ(in_category["items"].size(), 1u);
  EXPECT_EQ(in_category["items"][0]["product"], "mid-train");
  // Still hidden after the swap.
  // Named: a range-for over ["items"] of the temporary would iterate freed memory (ASan).
  json all = serve->GetJson("/v1/users/u9/recommendations?k=50");
  ASSERT_EQ(all["__status"], 200);
  for (const json& item : all["items"]) EXPECT_NE(item["product"], hidden);
}

TEST_F(LifecycleTest, RollbackServesThePreviousVersionAndPruningKeepsN) {
  config_["retrain"]["keep_versions"] = "2";
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  const std::string v1 = serve->StatusJson()["model_version"];
  ASSERT_FALSE(serve->Retrain().empty());
  const std::string v2 = serve->StatusJson()["model_version"];
  ASSERT_FALSE(serve->Retrain().empty());
  const std::string v3 = serve->StatusJson()["model_version"];
  ASSERT_LT(v1, v2);
  ASSERT_LT(v2, v3);
  EXPECT_EQ(VersionDirs(), (std::vector<std::string>{v2, v3})) << "keep_versions = 2";

  json r = serve->PostJson("/v1/admin/rollback", "", kAdminToken);
  ASSERT_EQ(r["__status"], 200) << r.dump();
  EXPECT_EQ(r["model_version"], v2);
  EXPECT_EQ(serve->StatusJson()["model_version"], v2);
  EXPECT_EQ(serve->GetJson("/v1/users/u3/recommendations?k=3")["model_version"], v2);
  EXPECT_EQ(fs::read_symlink(data_ + "/models/current").string(), v2);
  // v1 was pruned: nothing older to go back to.
  json again = serve->PostJson("/v1/admin/rollback", "", kAdminToken);
  EXPECT_EQ(again["__status"], 409) << again.dump();
  EXPECT_EQ(serve->StatusJson()["model_version"], v2);
  // After a restart the rolled-back version is still the one served.
  ASSERT_EQ(serve->Stop(), 0);
  serve = Start();
  ASSERT_NE(serve, nullptr);
  EXPECT_EQ(serve->StatusJson()["model_version"], v2);
}

TEST_F(LifecycleTest, AKilledTrainingChildFailsTheJobNotTheDaemon) {
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  const std::string v1 = serve->StatusJson()["model_version"];
  const int64_t before = serve->FinishedJobs();
  ASSERT_EQ(serve->Post("/v1/admin/retrain", "", kAdminToken).status, 202);
  EXPECT_EQ(serve->Post("/v1/admin/retrain", "", kAdminToken).status, 409) << "one job at a time";
  std::vector<pid_t> children;
  ASSERT_TRUE(WaitFor([&] { return !(children = serve->Children()).empty(); }, 30));
  for (pid_t c : children) kill(c, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return serve->FinishedJobs() > before; }, 60));
  const json status = serve->StatusJson();
  EXPECT_NE(LastError(status).find("killed by signal 9"), std::string::npos) << status.dump();
  EXPECT_EQ(status["model_version"], v1);
  EXPECT_EQ(status["training"]["running"], false);
  EXPECT_EQ(serve->Metric("vasgd_retrain_total{result=\"failed\"}"), 1);
  EXPECT_EQ(serve->GetJson("/v1/users/u1/recommendations?k=5")["__status"], 200);
  // The next retraining runs and succeeds.
  ASSERT_FALSE(serve->Retrain().empty());
  EXPECT_EQ(LastError(serve->StatusJson()), "");
  EXPECT_NE(serve->StatusJson()["model_version"], v1);
}

TEST_F(LifecycleTest, ANanModelOrOneBelowTheHoldoutThresholdIsNeverServed) {
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  const std::string v1 = serve->StatusJson()["model_version"];
  ASSERT_EQ(serve->Stop(), 0);

  // Step sizes that blow the embeddings up to NaN in the batched LibTorch kernel (a crash of the
  // training child is covered by the killed-child test): the skip-gram step of that kernel is
  // embedding_learning_rate; learning_rate is the decoder's and encoder's Adam step.
  config_["train"]["kernel"] = "\"torch\"";
  config_["train"]["embedding_learning_rate"] = "1e30";
  config_["train"]["learning_rate"] = "1e30";
  config_["train"]["warm_start"] = "false";
  serve = Start();
  ASSERT_NE(serve, nullptr);
  EXPECT_EQ(serve->StatusJson()["model_version"], v1) << "restart serves the last good model";
  ASSERT_FALSE(serve->Retrain().empty());
  json status = serve->StatusJson();
  // The trainer's divergence check or the job's sanity check refuses it, either way by name.
  EXPECT_NE(LastError(status).find("non-finite"), std::string::npos) << status.dump();
  EXPECT_EQ(status["model_version"], v1);
  EXPECT_EQ(serve->GetJson("/v1/users/u1/recommendations?k=5")["model_version"], v1);
  ASSERT_EQ(serve->Stop(), 0);

  // A sound model, but the bar is set above what it reaches.
  config_["train"].erase("kernel");
  config_["train"].erase("embedding_learning_rate");
  config_["train"].erase("learning_rate");
  config_["retrain"]["min_holdout_auc"] = "0.9999";
  serve = Start();
  ASSERT_NE(serve, nullptr);
  ASSERT_FALSE(serve->Retrain().empty());
  status = serve->StatusJson();
  EXPECT_NE(LastError(status).find("below retrain.min_holdout_auc"), std::string::npos)
      << status.dump();
  EXPECT_EQ(status["model_version"], v1);
  EXPECT_EQ(serve->Metric("vasgd_retrain_total{result=\"failed\"}"), 1);
  EXPECT_EQ(VersionDirs(), std::vector<std::string>{v1}) << "a refused model is never published";
}

TEST_F(LifecycleTest, RestartServesTheLastModelAtOnceWithTheSameAnswers) {
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  // A product added live (embedded by the encoder) must survive the restart too.
  const SyntheticShop shop = SmallShop();
  ASSERT_TRUE(PostEvents(*serve, {ProductEvent("live-1", shop.train.features.row(4), shop.train.features.dim)}));
  const std::string version = serve->StatusJson()["model_version"];
  const json before = serve->GetJson("/v1/users/u7/recommendations?k=10");
  const json similar_before = serve->GetJson("/v1/products/live-1/similar?k=5");
  ASSERT_EQ(similar_before["__status"], 200);
  ASSERT_EQ(serve->Stop(), 0);

  serve = Start();
  ASSERT_NE(serve, nullptr);
  // Ready on the very first request: the saved version and index were loaded before listening.
  EXPECT_EQ(serve->Get("/readyz").status, 200);
  EXPECT_EQ(serve->StatusJson()["model_version"], version);
  EXPECT_EQ(serve->Metric("vasgd_retrain_total{result=\"ok\"}"), 0) << "no retraining before serving";
  EXPECT_EQ(serve->GetJson("/v1/users/u7/recommendations?k=10")["items"], before["items"]);
  EXPECT_EQ(serve->GetJson("/v1/products/live-1/similar?k=5")["items"], similar_before["items"]);
  EXPECT_NE(serve->Log().find("\"index\":\"loaded\""), std::string::npos) << "the saved HNSW index is loaded, not rebuilt";
  // Reopening the store flushed what its log recovered into tables: the answers above read the
  // purchases through RocksDB's block cache, which the metric shows (refreshed every second).
  EXPECT_TRUE(WaitFor([&] { return serve->Metric("vasgd_store_memory_bytes{part=\"block_cache\"}") > 0; }, 10))
      << serve->Metric("vasgd_store_memory_bytes{part=\"block_cache\"}");
}

TEST_F(LifecycleTest, ACorruptedVersionIsNeverServed) {
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  const std::string v1 = serve->StatusJson()["model_version"];
  ASSERT_FALSE(serve->Retrain().empty());
  const std::string v2 = serve->StatusJson()["model_version"];
  ASSERT_NE(v1, v2);
  ASSERT_EQ(serve->Stop(), 0);
  {
    // Flip one byte of v2's product embeddings.
    std::fstream f(data_ + "/models/" + v2 + "/products.f32", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c;
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  serve = Start();
  ASSERT_NE(serve, nullptr);
  EXPECT_EQ(serve->StatusJson()["model_version"], v1);
  EXPECT_EQ(fs::read_symlink(data_ + "/models/current").string(), v1);
  const std::string log = serve->Log();
  EXPECT_NE(log.find("model.refused"), std::string::npos);
  EXPECT_NE(log.find("products.f32"), std::string::npos) << "the refusal names the bad file";
}

TEST_F(LifecycleTest, RetrainsOnScheduleAndAfterEnoughEvents) {
  config_["retrain"]["after_events"] = "50";
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  const std::string v1 = serve->StatusJson()["model_version"];
  std::vector<std::string> events;
  for (int i = 0; i < 60; ++i) events.push_back(PurchaseEvent("u" + std::to_string(i), "p" + std::to_string(i % 7)));
  ASSERT_TRUE(PostEvents(*serve, events));
  ASSERT_TRUE(WaitFor([&] { return serve->StatusJson()["model_version"] != v1; }, 120)) << serve->Log();
  EXPECT_NE(serve->Log().find("\"reason\":\"events\""), std::string::npos);
  ASSERT_EQ(serve->Stop(), 0);

  config_["retrain"]["after_events"] = "0";
  config_["retrain"]["interval_s"] = "2";
  serve = Start();
  ASSERT_NE(serve, nullptr);
  const std::string v2 = serve->StatusJson()["model_version"];
  ASSERT_TRUE(WaitFor([&] { return serve->StatusJson()["model_version"] != v2; }, 120)) << serve->Log();
  EXPECT_NE(serve->Log().find("\"reason\":\"schedule\""), std::string::npos);
}

TEST_F(LifecycleTest, SigtermFinishesInFlightWorkAndLosesNothingAcknowledged) {
  auto serve = StartTrained();
  ASSERT_NE(serve, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acknowledged{0}, torn{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      Response r = serve->Post("/v1/events", "[" + PurchaseEvent("late-" + std::to_string(i), "p1") + "]");
      if (r.status == 200) {
        acknowledged++;
      } else if (r.status > 0) {
        torn++;  // an answer other than success: not allowed during a graceful stop
      }
    }
  });
  std::thread reader([&] {
    while (!stop.load()) {
      Response r = serve->Get("/v1/users/u5/recommendations?k=10");
      if (r.status > 0 && r.status != 200) torn++;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int code = serve->Stop(SIGTERM);
  stop = true;
  writer.join();
  reader.join();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(acknowledged.load(), 0);
  // RocksDB was closed cleanly (the lock is free) and every acknowledged event is there.
  serve = Start();
  ASSERT_NE(serve, nullptr);
  const json status = serve->StatusJson();
  EXPECT_EQ(status["graph"]["users"].get<int64_t>(), SmallShop().train.graph.num_users + acknowledged.load());
}

}  // namespace
}  // namespace vasgd::testing_daemon

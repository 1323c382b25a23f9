// What the reliability drills share: the real `vasgd serve` (tests/daemon/serve_harness.h) fed
// from librdkafka's mock cluster, which lives in this test process and so survives every kill
// of the daemon; a reproducible event stream with its reference graph (tests/stream/
// event_stream.h: valid events of every kind and bad ones); a feeder thread that produces it at
// a steady rate; and the checks every drill ends with: the store equals the reference graph
// (nothing lost, nothing applied twice) and the model directory holds only complete versions.
//
// Drill sizes come from the environment so the suite runs short versions and the scripts
// (scripts/drills.sh) the long ones on the same code:
//   VASGD_DRILL_KILLS     kills per kind (default 3; the drill: 20)
//   VASGD_DRILL_OUTAGE_S  seconds the broker stays down (default 3; the drill: 30)
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "model/model_version.h"
#include "store/graph_store.h"
#include "stream/kafka_producer.h"
#include "stream/mock_cluster.h"
#include "tests/daemon/serve_harness.h"
#include "tests/stream/event_stream.h"

namespace vasgd::testing_reliability {

using testing_daemon::ConfigMap;
using testing_daemon::json;
using testing_daemon::ServeProcess;
using testing_daemon::TempDir;
using testing_daemon::WaitFor;
using testing_stream::Message;
using testing_stream::RefGraph;

constexpr char kTopic[] = "vasgd-events";
constexpr char kDeadLetters[] = "vasgd-dead-letter";
constexpr int kDim = 4;                  // the stream's feature dimension, fixed in the config
constexpr int64_t kMaxMessageBytes = 4096;

inline int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// The daemon test config (small, fast training) for a store fed by the mock cluster: the
// stream's fixed feature dimension, its message limit, every retraining accepted (the drills
// test what happens around a swap, not the quality gate), two versions kept so that pruning
// runs at every swap.
inline ConfigMap DrillConfig(const std::string& data_dir, const std::string& brokers) {
  ConfigMap c = testing_daemon::TestConfig(data_dir);
  c["store"]["feature_dim"] = std::to_string(kDim);
  c["kafka"]["brokers"] = "\"" + brokers + "\"";
  c["kafka"]["group"] = "\"drill\"";
  c["kafka"]["topics"] = std::string("[\"") + kTopic + "\"]";
  c["kafka"]["dead_letter_topic"] = std::string("\"") + kDeadLetters + "\"";
  c["kafka"]["max_message_bytes"] = std::to_string(kMaxMessageBytes);
  c["kafka"]["session_timeout_ms"] = "6000";
  c["retrain"]["min_holdout_auc"] = "0";
  c["retrain"]["keep_versions"] = "2";
  return c;
}

// The mock cluster with the event and dead-letter topics.
inline std::unique_ptr<MockCluster> StartCluster(int brokers, int partitions) {
  auto cluster = MockCluster::Start(brokers);
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  if (!cluster.ok()) return nullptr;
  EXPECT_TRUE((*cluster)->CreateTopic(kTopic, partitions).ok());
  EXPECT_TRUE((*cluster)->CreateTopic(kDeadLetters, 1).ok());
  return std::move(cluster).value();
}

// Produces messages[begin, end) at `per_second` on its own thread (keyed as DESIGN.md says, so a
// product's events stay in order on one partition). Join() waits until all are delivered.
class Feeder {
 public:
  Feeder(const std::string& brokers, const std::vector<Message>* messages, size_t begin, size_t end,
         double per_second)
      : messages_(messages) {
    auto producer = KafkaProducer::Create(brokers, {{"linger.ms", "5"}, {"message.timeout.ms", "600000"}});
    EXPECT_TRUE(producer.ok()) << producer.status().ToString();
    if (!producer.ok()) return;
    producer_ = std::move(producer).value();
    thread_ = std::thread([this, begin, end, per_second] {
      const auto t0 = std::chrono::steady_clock::now();
      for (size_t i = begin; i < end; ++i) {
        const Message& m = (*messages_)[i];
        if (!producer_->Produce(kTopic, -1, m.key, m.value).ok()) ++produce_errors_;
        produced_.store(i + 1 - begin);
        if (per_second > 0 && !hurry_.load()) {
          std::this_thread::sleep_until(t0 + std::chrono::duration<double>((i + 1 - begin) / per_second));
        }
      }
      finished_.store(true);
    });
  }
  ~Feeder() { Join(); }

  // Waits for the thread and the deliveries; the number of messages that failed (0 expected).
  int64_t Join() {
    if (thread_.joinable()) thread_.join();
    if (!producer_) return -1;
    if (!producer_->Flush(120000).ok()) return -1;
    return producer_->failed() + produce_errors_;
  }
  // The rest of the messages as fast as the producer takes them.
  void Hurry() { hurry_.store(true); }
  size_t produced() const { return produced_.load(); }
  // Every message was handed to the producer (not necessarily delivered yet).
  bool finished() const { return finished_.load(); }

 private:
  const std::vector<Message>* messages_;
  std::unique_ptr<KafkaProducer> producer_;
  std::thread thread_;
  std::atomic<size_t> produced_{0};
  std::atomic<bool> finished_{false};
  std::atomic<bool> hurry_{false};
  int64_t produce_errors_ = 0;
};

// Messages the store has committed on kTopic (the sum of its next offsets over `partitions`),
// read beside a running daemon; -1 when the store cannot be opened.
inline int64_t StoredMessages(const std::string& data_dir, int partitions) {
  StoreOptions o;
  o.data_dir = data_dir;
  auto store = GraphStore::OpenReadOnly(o);
  if (!store.ok()) return -1;
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) total += std::max<int64_t>(0, (*store)->NextOffset(kTopic, p));
  return total;
}

// The status page's consumer lag (-1 when unknown or unreachable).
inline int64_t Lag(const ServeProcess& serve) {
  const json s = serve.StatusJson();
  return s.contains("consumer_lag") && s["consumer_lag"].is_number_integer() ? s["consumer_lag"].get<int64_t>() : -1;
}

// Opens the store of a stopped daemon and compares it with the reference graph; also checks
// that every valid event was applied exactly once (the applied counter counts applications).
inline void ExpectStoreHoldsExactly(const std::string& data_dir, const RefGraph& ref, int64_t valid_events) {
  StoreOptions o;
  o.data_dir = data_dir;
  o.feature_dim = kDim;
  auto store = GraphStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing_stream::ExpectStoreEquals(**store, ref);
  EXPECT_EQ((*store)->counters().events_applied, valid_events) << "each valid event applied exactly once";
}

// Every directory under models/ that is not a link or the staging area must be a complete,
// verified version (manifest, sizes, CRC-32C, finite arrays). The names of the versions.
inline std::vector<std::string> ExpectOnlyCompleteVersions(const std::string& data_dir) {
  std::vector<std::string> versions;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(data_dir + "/models", ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_symlink() || name == ".staging") continue;
    Result<ModelVersion> m = ReadModelVersion(e.path().string());
    EXPECT_TRUE(m.ok()) << name << ": " << m.status().ToString();
    versions.push_back(name);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

// The version data_dir/models/current names ("" when none).
inline std::string CurrentLink(const std::string& data_dir) {
  std::error_code ec;
  const auto target = std::filesystem::read_symlink(data_dir + "/models/current", ec);
  return ec ? "" : target.filename().string();
}

}  // namespace vasgd::testing_reliability

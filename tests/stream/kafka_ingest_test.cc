// KafkaIngester against librdkafka's mock cluster (the real Kafka protocol on loopback) and a
// real RocksDB store: every event kind, bad events to the dead-letter topic, in both partition
// modes ("all": every partition, no group; "group"), rebalances (eager and cooperative), topics
// found after the start, and broker errors; afterwards the store equals the reference graph.
#include "stream/kafka_ingester.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "stream/kafka_producer.h"
#include "stream/mock_cluster.h"
#include "tests/stream/event_stream.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

using testing_stream::Message;
using testing_stream::RefGraph;

constexpr int kDim = 4;
constexpr int kPartitions = 4;
constexpr int64_t kMaxMessageBytes = 4096;
// Kafka protocol ApiKeys (rdkafka_mock.h takes them as plain numbers).
constexpr int16_t kApiFetch = 1;
constexpr int16_t kApiHeartbeat = 12;
constexpr int16_t kApiSyncGroup = 14;

using testing_support::TempDir;

// Waits stretch with VASGD_TEST_WAIT_SCALE (sanitized builds).
using testing_support::WaitFor;

struct DeadLetter {
  std::string key, value, reason, source_topic;
};

// Reads every message of a single-partition topic from the beginning with a bare consumer.
std::vector<DeadLetter> ReadTopic(const std::string& brokers, const std::string& topic, size_t expected) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "dlq-reader", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<DeadLetter> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      DeadLetter d;
      d.key.assign(static_cast<const char*>(m->key), m->key_len);
      d.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void* v;
        size_t n;
        if (rd_kafka_header_get_last(hdrs, "vasgd-reason", &v, &n) == 0) d.reason.assign(static_cast<const char*>(v), n);
        if (rd_kafka_header_get_last(hdrs, "vasgd-source-topic", &v, &n) == 0) d.source_topic.assign(static_cast<const char*>(v), n);
      }
      out.push_back(std::move(d));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

class KafkaIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = MockCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
    ASSERT_TRUE(cluster_->CreateTopic("events", kPartitions).ok());
    ASSERT_TRUE(cluster_->CreateTopic("dead", 1).ok());

    StoreOptions so;
    so.data_dir = dir_.path();
    so.feature_dim = kDim;
    so.sync_writes = true;
    auto store = GraphStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    applier_ = std::make_unique<EventApplier>(store_.get(), &metrics_);
  }

  // A consumer group member (kafka.partitions = "group").
  KafkaOptions Options(const std::string& strategy = "cooperative-sticky", const std::string& instance_id = "") {
    KafkaOptions o;
    o.partitions = "group";
    o.brokers = cluster_->bootstrap();
    o.group = "vasgd-test";
    o.topics = {"events"};
    o.dead_letter_topic = "dead";
    o.batch_max_events = 256;
    o.batch_max_wait_ms = 10;
    o.session_timeout_ms = 6000;
    o.assignment_strategy = strategy;
    o.group_instance_id = instance_id;
    o.max_message_bytes = kMaxMessageBytes;
    return o;
  }

  void Produce(const std::vector<Message>& messages, size_t begin, size_t end) {
    auto producer = KafkaProducer::Create(cluster_->bootstrap(), {{"linger.ms", "5"}});
    ASSERT_TRUE(producer.ok());
    for (size_t i = begin; i < end; ++i) {
      ASSERT_TRUE((*producer)->Produce("events", -1, messages[i].key, messages[i].value).ok());
    }
    ASSERT_TRUE((*producer)->Flush(30000).ok());
    ASSERT_EQ((*producer)->failed(), 0);
  }

  // Sum over partitions of the store's next offsets = messages committed to the store.
  int64_t StoredMessages() {
    int64_t total = 0;
    for (int p = 0; p < kPartitions; ++p) total += std::max<int64_t>(0, store_->NextOffset("events", p));
    return total;
  }

  double Metric(const std::string& name, const std::string& labels) {
    return metrics_.GetCounter(name, "", labels)->Value();
  }
  double GaugeValue(const std::string& name, const std::string& labels = "") {
    return metrics_.GetGauge(name, "", labels)->Value();
  }

  // Consumes everything produced with a fresh member and checks the store against the reference:
  // nothing lost, nothing applied twice, whatever happened before.
  void ConsumeRestAndCompare(const std::vector<Message>& messages, const RefGraph& ref) {
    KafkaOptions o = Options("range");
    o.group = "vasgd-check";
    KafkaIngester check(o, applier_.get(), &metrics_);
    ASSERT_TRUE(check.Start().ok());
    ASSERT_TRUE(WaitFor([&] { return StoredMessages() == static_cast<int64_t>(messages.size()); }, 60))
        << "stored " << StoredMessages() << " of " << messages.size();
    check.Stop();
    testing_stream::ExpectStoreEquals(*store_, ref);
    EXPECT_EQ(store_->counters().events_applied, testing_stream::CountValid(messages));
  }

  TempDir dir_;
  MetricsRegistry metrics_;
  std::unique_ptr<MockCluster> cluster_;
  std::unique_ptr<GraphStore> store_;
  std::unique_ptr<EventApplier> applier_;
};

// Both partition modes: "group" (a cooperative-sticky member) and "all" (every partition, no group).
class KafkaModesTest : public KafkaIngestTest, public ::testing::WithParamInterface<std::string> {
 protected:
  KafkaOptions ModeOptions() {
    KafkaOptions o = Options();
    o.partitions = GetParam();
    return o;
  }
};

TEST_P(KafkaModesTest, EveryEventKindWithBadEventsGoesToStoreAndDeadLetters) {
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(6000, 300, 400, kDim, 1, &ref, kMaxMessageBytes);
  Produce(messages, 0, messages.size());

  applier_->KeepRecentRejections(5);  // as the daemon does for its dashboard
  KafkaIngester ingester(ModeOptions(), applier_.get(), &metrics_);
  ASSERT_TRUE(ingester.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == static_cast<int64_t>(messages.size()); }, 60))
      << "stored " << StoredMessages() << " of " << messages.size();
  ASSERT_TRUE(WaitFor([&] { return ingester.lag() == 0; }, 10)) << "lag " << ingester.lag();
  ingester.Stop();

  testing_stream::ExpectStoreEquals(*store_, ref);
  const int valid = testing_stream::CountValid(messages);
  EXPECT_EQ(store_->counters().events_applied, valid);
  EXPECT_EQ(Metric("vasgd_events_total", "result=\"accepted\""), valid);

  // Every bad message reached the dead-letter topic with its reason and its original bytes.
  std::map<std::string, int> expected_reasons;
  std::multiset<std::string> bad_values;
  for (const Message& m : messages) {
    if (m.reason.empty()) continue;
    ++expected_reasons[m.reason];
    bad_values.insert(m.value);
  }
  std::vector<DeadLetter> dead = ReadTopic(cluster_->bootstrap(), "dead", bad_values.size());
  ASSERT_EQ(dead.size(), bad_values.size());
  std::map<std::string, int> got_reasons;
  std::multiset<std::string> got_values;
  for (const DeadLetter& d : dead) {
    ++got_reasons[d.reason];
    got_values.insert(d.value);
    EXPECT_EQ(d.source_topic, "events");
    EXPECT_EQ(d.key.rfind("bad", 0), 0u);
  }
  EXPECT_EQ(got_reasons, expected_reasons);
  EXPECT_TRUE(got_values == bad_values);
  for (auto& [reason, n] : expected_reasons) {
    EXPECT_EQ(Metric("vasgd_events_rejected_total", "reason=\"" + reason + "\""), n) << reason;
  }
  EXPECT_EQ(Metric("vasgd_dead_letters_total", ""), static_cast<double>(bad_values.size()));
  // The last rejections are kept with their source partition and offset and the start of their bytes.
  std::vector<RejectedEvent> kept = applier_->rejections()->Recent();
  ASSERT_EQ(kept.size(), 5u);
  for (const RejectedEvent& r : kept) {
    EXPECT_EQ(r.source.rfind("kafka events/", 0), 0u) << r.source;
    EXPECT_TRUE(expected_reasons.count(r.reason)) << r.reason;
    bool is_prefix_of_a_bad_value = false;
    for (const std::string& v : bad_values) is_prefix_of_a_bad_value |= v.rfind(r.excerpt, 0) == 0;
    EXPECT_TRUE(is_prefix_of_a_bad_value) << r.excerpt;
  }

  // Restarting consumes nothing twice.
  KafkaIngester again(ModeOptions(), applier_.get(), &metrics_);
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return again.assigned_partitions() == kPartitions && again.lag() == 0; }, 30));
  again.Stop();
  EXPECT_EQ(store_->counters().events_applied, valid);
  testing_stream::ExpectStoreEquals(*store_, ref);
  // Only a group hands out partitions by rebalancing; "all" assigns them itself.
  if (GetParam() == "all") {
    EXPECT_EQ(Metric("vasgd_consumer_rebalances_total", ""), 0);
    EXPECT_EQ(again.group_instance_id(), "") << "no group, no membership";
  } else {
    EXPECT_GT(Metric("vasgd_consumer_rebalances_total", ""), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Partitions, KafkaModesTest, ::testing::Values("group", "all"),
                         [](const auto& info) { return info.param; });

// "all": a configured topic that does not exist yet is found once it is created (the watcher
// re-reads the topics every partition_refresh_ms), from its first message; until then the
// consumer reports how long it has had no partition; its partitions report their lag and age
// while assigned and -1 once it stops.
TEST_F(KafkaIngestTest, AllPartitionsFindsATopicCreatedAfterTheStart) {
  KafkaOptions o = Options();
  o.partitions = "all";
  o.topics = {"events", "later"};
  o.partition_refresh_ms = 300;
  KafkaIngester ingester(o, applier_.get(), &metrics_);
  ASSERT_TRUE(ingester.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return ingester.assigned_partitions() == kPartitions; }, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // three refreshes without "later"
  EXPECT_EQ(ingester.assigned_partitions(), kPartitions);

  ASSERT_TRUE(cluster_->CreateTopic("later", 3).ok());
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(900, 300, 400, kDim, 21, &ref, kMaxMessageBytes);
  {
    auto producer = KafkaProducer::Create(cluster_->bootstrap(), {{"linger.ms", "5"}});
    ASSERT_TRUE(producer.ok());
    for (const Message& m : messages) ASSERT_TRUE((*producer)->Produce("later", -1, m.key, m.value).ok());
    ASSERT_TRUE((*producer)->Flush(30000).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return ingester.assigned_partitions() == kPartitions + 3; }, 10))
      << ingester.assigned_partitions();
  auto stored_later = [&] {
    int64_t n = 0;
    for (int p = 0; p < 3; ++p) n += std::max<int64_t>(0, store_->NextOffset("later", p));
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return stored_later() == static_cast<int64_t>(messages.size()); }, 30)) << stored_later();
  ASSERT_TRUE(WaitFor([&] { return ingester.lag() == 0; }, 10)) << ingester.lag();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // one refresh of the gauges
  EXPECT_EQ(GaugeValue("vasgd_consumer_partition_lag_events", "topic=\"later\",partition=\"2\""), 0);
  EXPECT_GE(GaugeValue("vasgd_consumer_last_message_age_seconds", "topic=\"later\",partition=\"2\""), 0);
  ingester.Stop();
  testing_stream::ExpectStoreEquals(*store_, ref);
  EXPECT_EQ(store_->counters().events_applied, testing_stream::CountValid(messages));
  EXPECT_EQ(GaugeValue("vasgd_consumer_partition_lag_events", "topic=\"later\",partition=\"2\""), -1);
  EXPECT_EQ(GaugeValue("vasgd_consumer_last_message_age_seconds", "topic=\"later\",partition=\"2\""), -1);
}

// "all" with no topic there yet: no partition, and for how long, as in a group before its
// first assignment.
TEST_F(KafkaIngestTest, AllPartitionsWithoutTopicsReportsTimeWithoutPartitions) {
  KafkaOptions o = Options();
  o.partitions = "all";
  o.topics = {"not-yet"};
  o.partition_refresh_ms = 200;
  KafkaIngester ingester(o, applier_.get(), &metrics_);
  ASSERT_TRUE(ingester.Start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(ingester.assigned_partitions(), 0);
  EXPECT_GE(ingester.unassigned_seconds(), 1.0);
  ASSERT_TRUE(cluster_->CreateTopic("not-yet", 2).ok());
  ASSERT_TRUE(WaitFor([&] { return ingester.assigned_partitions() == 2; }, 10));
  EXPECT_EQ(ingester.unassigned_seconds(), -1);
  ingester.Stop();
}

class KafkaRebalanceTest : public KafkaIngestTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(KafkaRebalanceTest, SecondConsumerJoinsAndFirstLeavesMidStream) {
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(9000, 300, 400, kDim, 2, &ref, kMaxMessageBytes);
  const size_t third = messages.size() / 3;
  Produce(messages, 0, third);

  auto a = std::make_unique<KafkaIngester>(Options(GetParam()), applier_.get(), &metrics_);
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() > 0; }, 30));

  KafkaIngester b(Options(GetParam()), applier_.get(), &metrics_);  // joins: partitions are split
  ASSERT_TRUE(b.Start().ok());
  Produce(messages, third, 2 * third);
  ASSERT_TRUE(WaitFor([&] { return a->assigned_partitions() > 0 && b.assigned_partitions() > 0 &&
                                   a->assigned_partitions() + b.assigned_partitions() == kPartitions; }, 60))
      << "a " << a->assigned_partitions() << " b " << b.assigned_partitions();
  Produce(messages, 2 * third, messages.size());
  a->Stop();  // leaves mid-stream: its partitions move to b
  a.reset();
  ASSERT_TRUE(WaitFor([&] { return b.assigned_partitions() == kPartitions; }, 60));
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == static_cast<int64_t>(messages.size()); }, 60))
      << "stored " << StoredMessages() << " of " << messages.size();
  b.Stop();

  testing_stream::ExpectStoreEquals(*store_, ref);
  EXPECT_EQ(store_->counters().events_applied, testing_stream::CountValid(messages));
  EXPECT_GE(Metric("vasgd_consumer_rebalances_total", ""), 3.0);
}

INSTANTIATE_TEST_SUITE_P(Protocols, KafkaRebalanceTest, ::testing::Values("range", "cooperative-sticky"),
                         [](const auto& info) { return info.param == "range" ? std::string("Eager") : std::string("Cooperative"); });

TEST_F(KafkaIngestTest, BrokerErrorsAndOutagesNeverStopTheStream) {
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(8000, 300, 400, kDim, 3, &ref, kMaxMessageBytes);
  Produce(messages, 0, messages.size() / 2);

  KafkaIngester ingester(Options(), applier_.get(), &metrics_);
  ASSERT_TRUE(ingester.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() > 0; }, 30));

  // Fetches fail with retriable and leadership errors, group heartbeats are told to rejoin.
  cluster_->PushRequestErrors(kApiFetch, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                                RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION});
  cluster_->PushRequestErrors(kApiHeartbeat, {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS});
  // Every broker goes down in turn (partition leaders and the group coordinator among them).
  for (int32_t broker = 1; broker <= 3; ++broker) {
    ASSERT_TRUE(cluster_->SetBrokerDown(broker).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    ASSERT_TRUE(cluster_->SetBrokerUp(broker).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  Produce(messages, messages.size() / 2, messages.size());
  cluster_->PushRequestErrors(kApiFetch, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION});
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == static_cast<int64_t>(messages.size()); }, 90))
      << "stored " << StoredMessages() << " of " << messages.size();
  ingester.Stop();

  testing_stream::ExpectStoreEquals(*store_, ref);
  EXPECT_EQ(store_->counters().events_applied, testing_stream::CountValid(messages));
}

// A stop while the member has joined its group but has no assignment yet: the mock answers the
// first JoinGroup after its 3 s initial rebalance delay, and the SyncGroup that follows fails
// (injected), so the member rejoins and waits another (session timeout - 1 s). Closing a
// cooperative-sticky consumer in that window aborted the process with librdkafka 2.0.2
// (#4312); range has no assignor state. Either way the stop is graceful and loses nothing.
class KafkaStopTest : public KafkaIngestTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(KafkaStopTest, StopAfterJoiningBeforeTheFirstAssignmentIsGraceful) {
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(3000, 300, 400, kDim, 11, &ref, kMaxMessageBytes);
  Produce(messages, 0, messages.size());
  cluster_->PushRequestErrors(kApiSyncGroup, {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS});

  KafkaIngester ingester(Options(GetParam()), applier_.get(), &metrics_);
  ASSERT_TRUE(ingester.Start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  ASSERT_EQ(ingester.assigned_partitions(), 0) << "the stop must come before the first assignment";
  EXPECT_GT(ingester.unassigned_seconds(), 4.0);
  ingester.Stop();  // with librdkafka 2.0.2 and no guard, cooperative-sticky aborts here
  // cooperative-sticky waits for its first assignment before closing (about 8 s after the start
  // here); range stops at once, never assigned.
  EXPECT_EQ(Metric("vasgd_consumer_rebalances_total", "") > 0, GetParam() == "cooperative-sticky");
  ConsumeRestAndCompare(messages, ref);
}

INSTANTIATE_TEST_SUITE_P(Protocols, KafkaStopTest, ::testing::Values("range", "cooperative-sticky"),
                         [](const auto& info) { return info.param == "range" ? std::string("Eager") : std::string("Cooperative"); });

// Stops at moments spread over the join (before it, while the mock delays it, right after the
// first assignment, mid-stream): every one is graceful and the next member goes on from the store.
TEST_F(KafkaIngestTest, StopAtAnyMomentLosesNothing) {
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(20000, 300, 400, kDim, 12, &ref, kMaxMessageBytes);
  Produce(messages, 0, messages.size());
  for (int stop_ms : {0, 50, 1500, 2900, 3050, 3200, 3600}) {
    KafkaIngester ingester(Options("range", "member-1"), applier_.get(), &metrics_);
    ASSERT_TRUE(ingester.Start().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(stop_ms));
    ingester.Stop();
    EXPECT_TRUE(ingester.fatal_error().empty()) << ingester.fatal_error();
  }
  ConsumeRestAndCompare(messages, ref);
}

// KIP-345 members do not send LeaveGroup when closed; vasgd's stop leaves all the same, so the
// other member takes the partitions after one rebalance (the mock elects (session timeout - 1 s)
// after the leave, ~5 s) instead of first waiting out the stopped member's session (>= 6 s,
// then the same rebalance: ~11 s).
TEST_F(KafkaIngestTest, StoppedStaticMemberLeavesTheGroup) {
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(6000, 300, 400, kDim, 13, &ref, kMaxMessageBytes);
  Produce(messages, 0, messages.size() / 2);
  auto a = std::make_unique<KafkaIngester>(Options("range", "member-a"), applier_.get(), &metrics_);
  KafkaIngester b(Options("range", "member-b"), applier_.get(), &metrics_);
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return a->assigned_partitions() > 0 && b.assigned_partitions() > 0 &&
                                   a->assigned_partitions() + b.assigned_partitions() == kPartitions; }, 60))
      << "a " << a->assigned_partitions() << " b " << b.assigned_partitions();
  EXPECT_EQ(a->group_instance_id(), "member-a");
  a->Stop();
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return b.assigned_partitions() == kPartitions; }, 30));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  EXPECT_LT(seconds, 8.5) << "b got a's partitions only after a's session timed out: a did not leave";
  Produce(messages, messages.size() / 2, messages.size());
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == static_cast<int64_t>(messages.size()); }, 60));
  b.Stop();
  testing_stream::ExpectStoreEquals(*store_, ref);
}

// Two daemons with one group.instance.id: the broker fences the older member (its heartbeat is
// answered FENCED_INSTANCE_ID; the mock cluster of librdkafka 2.0.2 does not implement static
// membership, so the answer is injected). librdkafka makes that fatal; the ingester says why,
// naming the id, and stops consuming; what it committed stays exact.
TEST_F(KafkaIngestTest, FencedStaticMemberStopsWithAnErrorNamingItsId) {
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(4000, 300, 400, kDim, 14, &ref, kMaxMessageBytes);
  Produce(messages, 0, messages.size() / 2);
  KafkaIngester ingester(Options("range", "shop-1"), applier_.get(), &metrics_);
  ASSERT_TRUE(ingester.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == static_cast<int64_t>(messages.size() / 2); }, 60));
  cluster_->PushRequestErrors(kApiHeartbeat, {RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID});
  ASSERT_TRUE(WaitFor([&] { return !ingester.fatal_error().empty(); }, 20));
  EXPECT_NE(ingester.fatal_error().find("fenced"), std::string::npos) << ingester.fatal_error();
  EXPECT_NE(ingester.fatal_error().find("\"shop-1\""), std::string::npos) << ingester.fatal_error();
  EXPECT_NE(ingester.fatal_error().find("kafka.group_instance_id"), std::string::npos) << ingester.fatal_error();
  Produce(messages, messages.size() / 2, messages.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(StoredMessages(), static_cast<int64_t>(messages.size() / 2)) << "a fenced member consumes nothing more";
  ingester.Stop();
  ConsumeRestAndCompare(messages, ref);
}

// How long the member has been without partitions, and per partition how long since its last
// message, for /readyz, /v1/admin/status and /metrics.
TEST_F(KafkaIngestTest, ReportsTimeWithoutAssignmentAndPerPartitionMessageAge) {
  KafkaIngester ingester(Options("range"), applier_.get(), &metrics_);
  EXPECT_EQ(ingester.unassigned_seconds(), -1) << "not started";
  ASSERT_TRUE(ingester.Start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  const double early = ingester.unassigned_seconds();
  EXPECT_GE(early, 1.0);
  EXPECT_GE(GaugeValue("vasgd_consumer_unassigned_seconds"), 0.0);  // refreshed every second
  ASSERT_TRUE(WaitFor([&] { return ingester.assigned_partitions() == kPartitions; }, 30));
  EXPECT_EQ(ingester.unassigned_seconds(), -1);
  RefGraph ref;
  std::vector<Message> messages = testing_stream::GenerateStream(2000, 300, 400, kDim, 15, &ref, kMaxMessageBytes);
  Produce(messages, 0, messages.size());
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == static_cast<int64_t>(messages.size()); }, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // one lag refresh at least
  for (int p = 0; p < kPartitions; ++p) {
    const double age = GaugeValue("vasgd_consumer_last_message_age_seconds",
                                  "topic=\"events\",partition=\"" + std::to_string(p) + "\"");
    EXPECT_GE(age, 0.0) << p;
    EXPECT_LT(age, 10.0) << p;
    EXPECT_EQ(GaugeValue("vasgd_consumer_partition_lag_events", "topic=\"events\",partition=\"" + std::to_string(p) + "\""),
              0)
        << p;
  }
  EXPECT_EQ(GaugeValue("vasgd_consumer_unassigned_seconds"), -1);
  EXPECT_GE(GaugeValue("vasgd_kafka_prefetched_messages"), 0);
  ingester.Stop();
  EXPECT_EQ(GaugeValue("vasgd_consumer_last_message_age_seconds", "topic=\"events\",partition=\"0\""), -1)
      << "a partition no longer assigned";
  EXPECT_EQ(GaugeValue("vasgd_consumer_partition_lag_events", "topic=\"events\",partition=\"0\""), -1)
      << "a partition no longer assigned";
}

TEST_F(KafkaIngestTest, EventsDeletedByRetentionBeforeConsumptionAreCountedAsSkipped) {
  // The mock keeps 5 MiB per partition: 60,000 purchases of ~110 bytes lose their oldest part.
  ASSERT_TRUE(cluster_->CreateTopic("small", 1).ok());
  {
    auto producer = KafkaProducer::Create(cluster_->bootstrap(), {{"linger.ms", "5"}});
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < 60000; ++i) {
      std::string v = R"({"type":"purchase","user":"user-)" + std::to_string(i) + R"(","product":"product-)" +
                      std::to_string(i % 977) + R"(","ts":1732550000,"event_id":"event-)" + std::to_string(i) + "\"}";
      ASSERT_TRUE((*producer)->Produce("small", 0, "k", v).ok());
    }
    ASSERT_TRUE((*producer)->Flush(30000).ok());
  }
  KafkaOptions o = Options();
  o.topics = {"small"};
  o.group = "retention";
  KafkaIngester ingester(o, applier_.get(), &metrics_);
  ASSERT_TRUE(ingester.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return store_->NextOffset("small", 0) == 60000; }, 60));
  ingester.Stop();
  const double skipped = Metric("vasgd_consumer_skipped_offsets_total", "");
  EXPECT_GT(skipped, 0);
  EXPECT_EQ(store_->counters().events_applied + static_cast<int64_t>(skipped), 60000);
}

}  // namespace
}  // namespace vasgd

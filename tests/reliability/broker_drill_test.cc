// The Kafka broker goes away for VASGD_DRILL_OUTAGE_S seconds (3 in the suite, 30 in
// scripts/drills.sh) and comes back, and its requests fail with injected errors (fetches,
// heartbeats, group joins, metadata, dead-letter produces), while events keep being produced.
// The daemon keeps answering queries; /readyz stays 200 (a model is served) and shows the
// broker as disconnected, as does vasgd_kafka_brokers_up and the error counter; consumption
// resumes by itself, the lag returns to 0, and the store equals the reference graph: nothing
// lost, nothing applied twice.
#include <librdkafka/rdkafka.h>

#include "tests/reliability/drill_harness.h"

namespace vasgd::testing_reliability {
namespace {

using Clock = std::chrono::steady_clock;

// Kafka protocol ApiKeys (rdkafka_mock.h takes them as plain numbers).
constexpr int16_t kApiProduce = 0;
constexpr int16_t kApiFetch = 1;
constexpr int16_t kApiListOffsets = 2;
constexpr int16_t kApiMetadata = 3;
constexpr int16_t kApiFindCoordinator = 10;
constexpr int16_t kApiJoinGroup = 11;
constexpr int16_t kApiHeartbeat = 12;
constexpr int16_t kApiSyncGroup = 14;
constexpr int kPartitions = 4;

class BrokerDrill : public ::testing::Test {
 protected:
  int64_t StoredMessages() const { return testing_reliability::StoredMessages(data_, kPartitions); }

  TempDir dir_;
  std::string data_;
};

json Readyz(const ServeProcess& serve) {
  const testing_http::Response r = serve.Get("/readyz");
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) j = json::object();
  j["__status"] = r.status;
  return j;
}

TEST_F(BrokerDrill, OutageAndInjectedErrorsLoseNothingAndShow) {
  const int outage_s = std::max(1, EnvInt("VASGD_DRILL_OUTAGE_S", 3));
  auto cluster = StartCluster(1, kPartitions);
  ASSERT_NE(cluster, nullptr);
  data_ = dir_.path() + "/data";
  const std::string config =
      testing_daemon::WriteConfig(dir_.path() + "/vasgd.toml", DrillConfig(data_, cluster->bootstrap()));
  RefGraph ref;
  const int n = 8000 + 1000 * outage_s;
  const std::vector<Message> messages = testing_stream::GenerateStream(n, 300, 400, kDim, 5, &ref, kMaxMessageBytes);

  Feeder first(cluster->bootstrap(), &messages, 0, 5000, 0);
  ASSERT_EQ(first.Join(), 0);
  auto serve = ServeProcess::Start(config, dir_.path() + "/serve.log");
  ASSERT_NE(serve, nullptr);
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == 5000; }, 120)) << serve->Log();
  ASSERT_FALSE(serve->Retrain(180).empty());
  json ready = Readyz(*serve);
  EXPECT_EQ(ready["__status"], 200);
  EXPECT_TRUE(WaitFor([&] { return Readyz(*serve)["kafka"] == "connected"; }, 10)) << Readyz(*serve).dump();
  EXPECT_EQ(serve->Metric("vasgd_kafka_brokers_up"), 1);
  const double errors_before = serve->Metric("vasgd_kafka_errors_total");

  // Events keep coming (the producer's own retries carry them over the outage).
  Feeder second(cluster->bootstrap(), &messages, 5000, messages.size(), 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // Injected errors first, then the broker goes down.
  cluster->PushRequestErrors(kApiFetch, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                         RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__TRANSPORT});
  cluster->PushRequestErrors(kApiHeartbeat, {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_NOT_COORDINATOR});
  cluster->PushRequestErrors(kApiMetadata, {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  cluster->PushRequestErrors(kApiProduce, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(cluster->SetBrokerDown(1).ok());
  const auto down_at = Clock::now();
  bool shown_down = false, metric_down = false;
  int64_t queries = 0, failed_queries = 0;
  while (Clock::now() - down_at < std::chrono::seconds(outage_s)) {
    const json r = Readyz(*serve);
    EXPECT_EQ(r["__status"], 200) << "a model is served: still ready";
    shown_down |= r["kafka"] == "disconnected";
    metric_down |= serve->Metric("vasgd_kafka_brokers_up") == 0;
    const testing_http::Response q = serve->Get("/v1/users/u" + std::to_string(queries % 300) + "/recommendations?k=10");
    ++queries;
    failed_queries += q.status != 200;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(shown_down) << "/readyz shows the broker as disconnected: " << Readyz(*serve).dump();
  EXPECT_TRUE(metric_down) << "vasgd_kafka_brokers_up drops to 0";
  EXPECT_GT(serve->Metric("vasgd_kafka_errors_total"), errors_before);
  EXPECT_EQ(failed_queries, 0) << "of " << queries << " queries during the outage";
  const int64_t stored_during = StoredMessages();

  // Back, with a group rejoin that fails a few times first.
  cluster->PushRequestErrors(kApiFindCoordinator, {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE});
  cluster->PushRequestErrors(kApiJoinGroup, {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS});
  cluster->PushRequestErrors(kApiSyncGroup, {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS});
  cluster->PushRequestErrors(kApiListOffsets, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION});
  ASSERT_TRUE(cluster->SetBrokerUp(1).ok());
  const auto up_at = Clock::now();
  ASSERT_EQ(second.Join(), 0) << "the producer delivered everything after the outage";
  const double delivered_s = std::chrono::duration<double>(Clock::now() - up_at).count();
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == n; }, 180)) << StoredMessages() << " of " << n << "\n"
                                                                   << serve->Log();
  const double caught_up_s = std::chrono::duration<double>(Clock::now() - up_at).count();
  ASSERT_TRUE(WaitFor([&] { return Lag(*serve) == 0; }, 30)) << serve->StatusJson().dump();
  EXPECT_TRUE(WaitFor([&] { return Readyz(*serve)["kafka"] == "connected"; }, 10)) << Readyz(*serve).dump();
  EXPECT_EQ(serve->Metric("vasgd_kafka_brokers_up"), 1);
  std::printf("outage %d s: %lld messages stored when it ended; after the broker returned, the producer had "
              "delivered all %d in %.1f s and the daemon stored all in %.1f s; %lld queries answered during it\n",
              outage_s, static_cast<long long>(stored_during), n, delivered_s, caught_up_s,
              static_cast<long long>(queries));
  RecordProperty("caught_up_seconds", std::to_string(caught_up_s));
  ASSERT_EQ(serve->Stop(SIGTERM), 0);
  ExpectStoreHoldsExactly(data_, ref, testing_stream::CountValid(messages));
}

}  // namespace
}  // namespace vasgd::testing_reliability

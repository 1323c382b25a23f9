// MockCluster: librdkafka's mock Kafka cluster (rdkafka_mock.h), which speaks the real Kafka
// protocol on loopback, for tests, the benchmark and `vasgd-mock-kafka`. Its brokers run on
// librdkafka threads inside this process; other processes (vasgd, kcat) reach it over TCP.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace vasgd {

class MockCluster {
 public:
  // Starts `brokers` brokers (ids 1..brokers) on ephemeral loopback ports.
  static Result<std::unique_ptr<MockCluster>> Start(int brokers);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:port,..." for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }

  Status CreateTopic(const std::string& topic, int partitions);

  // Fault injection: the next errors.size() requests of `api_key` (a Kafka ApiKey, e.g. 1 =
  // Fetch, 8 = OffsetCommit, 11 = JoinGroup) fail with these rd_kafka_resp_err_t codes.
  void PushRequestErrors(int16_t api_key, const std::vector<int>& errors);
  // Takes a broker down (connections closed, new ones refused) or brings it back.
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);

  rd_kafka_mock_cluster_t* handle() const { return mcluster_; }

 private:
  MockCluster() = default;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mcluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace vasgd

// KafkaProducer: a small librdkafka producer for dead letters, the dev tool, tests and the
// benchmark. Messages are copied on Produce; delivery is asynchronous until Flush.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace vasgd {

struct KafkaHeader {
  std::string_view name;
  std::string_view value;
};

class KafkaProducer {
 public:
  // `conf` holds extra librdkafka properties (e.g. {"linger.ms","5"}); InvalidArgument names a
  // bad one. Idempotent unless `conf` sets enable.idempotence=false: a retry never duplicates.
  static Result<std::unique_ptr<KafkaProducer>> Create(
      const std::string& brokers, const std::vector<std::pair<std::string, std::string>>& conf = {});
  ~KafkaProducer();  // waits up to 5 s for outstanding deliveries
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Enqueues one message. partition < 0 lets the key choose it (librdkafka's partitioner).
  // Waits while the local queue is full; Unavailable only when it stays full for 30 s.
  Status Produce(const std::string& topic, int32_t partition, std::string_view key, std::string_view value,
                 const std::vector<KafkaHeader>& headers = {});

  // Waits until every enqueued message is delivered or has failed; Unavailable on timeout.
  // Failed deliveries are counted in failed().
  Status Flush(int timeout_ms);

  int64_t delivered() const { return delivered_.load(); }
  int64_t failed() const { return failed_.load(); }

 private:
  KafkaProducer() = default;
  static void OnDelivery(rd_kafka_t* rk, const void* message, void* opaque);

  rd_kafka_t* rk_ = nullptr;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
};

}  // namespace vasgd

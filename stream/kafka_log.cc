#include "stream/kafka_log.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <mutex>

#include "common/log.h"

namespace vasgd {

void LogKafkaDiagnostic(bool error, const char* event, const char* name, const char* text) {
  static std::mutex mu;
  static std::chrono::steady_clock::time_point last;
  static int64_t suppressed = 0;
  std::lock_guard<std::mutex> lock(mu);
  auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::seconds(1)) {
    ++suppressed;
    return;
  }
  Log(error ? LogLevel::kError : LogLevel::kWarn, event,
      {{"name", name}, {"message", text}, {"suppressed_before", suppressed}});
  last = now;
  suppressed = 0;
}

void RouteKafkaLogs(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int level, const char* fac, const char* buf) {
    if (level <= 4) LogKafkaDiagnostic(level <= 3, "kafka.log", fac, buf);
  });
}

}  // namespace vasgd

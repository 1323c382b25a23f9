#include "stream/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include <chrono>

#include "common/log.h"
#include "stream/kafka_log.h"

namespace vasgd {

void KafkaProducer::OnDelivery(rd_kafka_t*, const void* message, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  const auto* m = static_cast<const rd_kafka_message_t*>(message);
  if (m->err) {
    self->failed_.fetch_add(1);
    LogOncePerKind(LogLevel::kError, std::string("produce:") + rd_kafka_err2name(m->err), "kafka.delivery_failed",
                   {{"error", rd_kafka_err2str(m->err)}});
  } else {
    self->delivered_.fetch_add(1);
  }
}

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const std::string& brokers, const std::vector<std::pair<std::string, std::string>>& conf_pairs) {
  std::unique_ptr<KafkaProducer> p(new KafkaProducer());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Idempotence: a batch the broker appended but whose answer was lost (a broker outage) is
  // retried, and without it the retry is appended again (the broker drill saw 11,001 messages
  // on the topic for 11,000 produced).
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", brokers},
                                                          {"client.id", "vasgd"},
                                                          {"log.connection.close", "false"},
                                                          {"enable.idempotence", "true"}};
  all.insert(all.end(), conf_pairs.begin(), conf_pairs.end());
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("kafka producer " + k + ": " + err);
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    OnDelivery(rk, m, opaque);
  });
  rd_kafka_conf_set_opaque(conf, p.get());
  RouteKafkaLogs(conf);
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!p->rk_) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("kafka producer: ") + err);
  }
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (!rk_) return;
  rd_kafka_flush(rk_, 5000);
  rd_kafka_destroy(rk_);
}

Status KafkaProducer::Produce(const std::string& topic, int32_t partition, std::string_view key,
                              std::string_view value, const std::vector<KafkaHeader>& headers) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const KafkaHeader& h : headers) {
        rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
      }
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);  // null headers: none
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_poll(rk_, 0);  // serve delivery reports
      return Status::Ok();
    }
    if (hdrs) rd_kafka_headers_destroy(hdrs);  // not taken over on failure
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return Status::Unavailable(std::string("produce to ") + topic + ": " + rd_kafka_err2str(err));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("produce to " + topic + ": local queue stayed full");
    }
    rd_kafka_poll(rk_, 10);
  }
}

Status KafkaProducer::Flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_, timeout_ms);
  if (err) return Status::Unavailable(std::string("flush: ") + rd_kafka_err2str(err));
  return Status::Ok();
}

}  // namespace vasgd

// Routes librdkafka's diagnostics into vasgd's structured log, at most one line per second
// (a down broker is reported on every reconnect attempt). Internal to stream/.
#pragma once

typedef struct rd_kafka_conf_s rd_kafka_conf_t;

namespace vasgd {

// Installs the log callback on `conf` (librdkafka levels <= 4, i.e. warning and worse).
void RouteKafkaLogs(rd_kafka_conf_t* conf);

// One rate-limited log line (shared budget with the routed librdkafka logs).
void LogKafkaDiagnostic(bool error, const char* event, const char* name, const char* text);

}  // namespace vasgd

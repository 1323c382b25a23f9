// The process the crash test kills: opens the store, consumes from the mock cluster with the
// real KafkaIngester, and reports "S <assigned partitions> <messages committed to the store>"
// on stdout whenever that changes. SIGTERM stops it cleanly (exit 0).
//   ingest_crash_child BROKERS DATA_DIR TOPIC PARTITIONS GROUP
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/metrics.h"
#include "store/graph_store.h"
#include "stream/event_applier.h"
#include "stream/kafka_ingester.h"

namespace {
std::atomic<bool> g_stop{false};
}

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s BROKERS DATA_DIR TOPIC PARTITIONS GROUP\n", argv[0]);
    return 2;
  }
  signal(SIGTERM, [](int) { g_stop = true; });
  const std::string topic = argv[3];
  const int partitions = std::atoi(argv[4]);

  vasgd::StoreOptions so;
  so.data_dir = argv[2];
  so.feature_dim = 4;
  so.sync_writes = true;
  auto store = vasgd::GraphStore::Open(so);
  if (!store.ok()) {
    std::printf("E %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto stored = [&] {
    int64_t total = 0;
    for (int p = 0; p < partitions; ++p) total += std::max<int64_t>(0, (*store)->NextOffset(topic, p));
    return total;
  };
  std::printf("S 0 %lld\n", static_cast<long long>(stored()));
  std::fflush(stdout);

  vasgd::MetricsRegistry metrics;
  vasgd::EventApplier applier(store->get(), &metrics);
  vasgd::KafkaOptions ko;
  ko.brokers = argv[1];
  ko.group = argv[5];
  ko.topics = {topic};
  ko.dead_letter_topic = "dead";
  ko.batch_max_events = 256;
  ko.batch_max_wait_ms = 10;
  ko.session_timeout_ms = 3000;  // a killed member is expired quickly
  ko.max_message_bytes = 4096;
  vasgd::KafkaIngester ingester(ko, &applier, &metrics);
  if (vasgd::Status s = ingester.Start(); !s.ok()) {
    std::printf("E %s\n", s.ToString().c_str());
    return 1;
  }
  int last_assigned = -1;
  int64_t last_stored = -1;
  while (!g_stop) {
    int assigned = ingester.assigned_partitions();
    int64_t now_stored = stored();
    if (assigned != last_assigned || now_stored != last_stored) {
      std::printf("S %d %lld\n", assigned, static_cast<long long>(now_stored));
      std::fflush(stdout);
      last_assigned = assigned;
      last_stored = now_stored;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ingester.Stop();
  std::printf("D %lld\n", static_cast<long long>(stored()));
  std::fflush(stdout);
  return 0;
}

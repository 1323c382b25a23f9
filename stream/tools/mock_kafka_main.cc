// vasgd-mock-kafka: librdkafka's mock Kafka cluster on loopback, for local runs and demos.
// Prints the bootstrap address on stdout (one line), creates the topics, runs until SIGINT/SIGTERM.
//
//   vasgd-mock-kafka [--brokers 3] [--partitions 8] [--topics vasgd-events,vasgd-dead-letter]
//
// The mock keeps at most 5 MiB (and 100,000 message sets) per partition, deleting the oldest
// like retention does: give large streams more partitions.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "stream/mock_cluster.h"

namespace {

volatile sig_atomic_t g_stop = 0;

int Usage(const char* problem) {
  std::fprintf(stderr,
               "vasgd-mock-kafka: %s\nusage: vasgd-mock-kafka [--brokers N] [--partitions N] [--topics a,b]\n",
               problem);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3, partitions = 8;
  std::vector<std::string> topics = {"vasgd-events", "vasgd-dead-letter"};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(("missing value for " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--brokers") {
      brokers = std::atoi(value.c_str());
    } else if (flag == "--partitions") {
      partitions = std::atoi(value.c_str());
    } else if (flag == "--topics") {
      topics.clear();
      for (size_t start = 0; start <= value.size();) {
        size_t end = value.find(',', start);
        if (end == std::string::npos) end = value.size();
        if (end > start) topics.push_back(value.substr(start, end - start));
        start = end + 1;
      }
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (brokers < 1 || partitions < 1 || topics.empty()) return Usage("brokers, partitions and topics must be positive");

  auto cluster = vasgd::MockCluster::Start(brokers);
  if (!cluster.ok()) {
    std::fprintf(stderr, "vasgd-mock-kafka: %s\n", cluster.status().ToString().c_str());
    return 1;
  }
  for (const std::string& t : topics) {
    if (vasgd::Status s = (*cluster)->CreateTopic(t, partitions); !s.ok()) {
      std::fprintf(stderr, "vasgd-mock-kafka: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("%s\n", (*cluster)->bootstrap().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "vasgd-mock-kafka: %d broker(s) at %s, topics with %d partitions:", brokers,
               (*cluster)->bootstrap().c_str(), partitions);
  for (const std::string& t : topics) std::fprintf(stderr, " %s", t.c_str());
  std::fprintf(stderr, "; Ctrl-C stops it\n");

  signal(SIGINT, [](int) { g_stop = 1; });
  signal(SIGTERM, [](int) { g_stop = 1; });
  while (!g_stop) pause();
  return 0;
}

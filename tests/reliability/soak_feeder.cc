// The event side of scripts/soak.sh: runs librdkafka's mock cluster on loopback, produces a
// reproducible stream (tests/stream/event_stream.h: every event kind, ~8% bad events) at a fixed
// rate for a fixed time while keeping the reference graph, then compares a store with it.
//
//   soak_feeder --rate 1000 --seconds 1800 [--partitions 8] [--users 20000] [--products 5000]
//               [--dim 16] [--seed 1] [--linger-ms 100] [--verify-only DATA_DIR]
// --linger-ms: the producer's linger.ms. librdkafka 2.0.2's mock broker finds a fetch's offset by
// walking the partition's message sets from the oldest (rd_kafka_mock_msgset_find), so its CPU per
// fetch grows with the number of sets it keeps (up to its 5 MiB per partition): at 5 ms, 1,000
// events/s over 8 partitions made sets of ~1 message and the mock's thread ran at 87-100 % of a
// core within minutes (docs/RELIABILITY.md); 100 ms makes ~12 messages a set, as a busy real
// producer's batches would be, and delays each event by at most 0.1 s.
// stdout, one line each: the bootstrap address at once; "produced N valid V" when done; then it
// reads commands on stdin: "verify DATA_DIR" (the daemon must be stopped) prints one JSON line
// {"produced","valid","events_applied","edges","reference_edges","missing_edges","extra_edges",
//  "wrong_weights","product_mismatches","equal"}; "quit" (or EOF) ends it.
// Progress ("t=60s produced=60000") goes to stderr every 10 s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/graph_store.h"
#include "stream/kafka_producer.h"
#include "stream/mock_cluster.h"
#include "tests/stream/event_stream.h"

namespace {

using vasgd::testing_stream::Message;
using vasgd::testing_stream::RefGraph;

struct Args {
  double rate = 1000;
  int seconds = 60;
  int partitions = 8;
  int users = 20000;
  int products = 5000;
  int dim = 16;
  uint64_t seed = 1;
  int linger_ms = 100;
  std::string verify_only;  // a stopped daemon's data dir: regenerate the stream, compare, exit
};

int Usage(const std::string& problem) {
  std::fprintf(stderr, "soak_feeder: %s\nusage: soak_feeder --rate R --seconds S [--partitions N] [--users N] "
                       "[--products N] [--dim D] [--seed S] [--verify-only DATA_DIR]\n", problem.c_str());
  return 2;
}

// Compares the store in data_dir with the reference; one JSON line.
std::string Verify(const std::string& data_dir, const RefGraph& ref, int64_t produced, int64_t valid, int dim) {
  vasgd::StoreOptions o;
  o.data_dir = data_dir;
  o.feature_dim = dim;
  auto store = vasgd::GraphStore::Open(o);
  if (!store.ok()) return "{\"error\":\"" + store.status().ToString() + "\"}";
  const vasgd::GraphStore& s = **store;
  // Names and features from one snapshot: a RocksDB Get per edge (UserName) read a whole
  // multi-MB filter block each time on a large store and took longer than the soak itself.
  vasgd::Result<vasgd::TrainingData> snap = s.ExportSnapshot();
  if (!snap.ok()) return "{\"error\":\"" + snap.status().ToString() + "\"}";
  const std::vector<std::string>& users = snap->user_ids;
  const std::vector<std::string>& products = snap->product_ids;
  int64_t edges = 0, extra = 0, wrong = 0, ref_edges = 0, found = 0;
  vasgd::Status st = s.ForEachEdge([&](int32_t u, int32_t p, float w) {
    ++edges;
    if (u < 0 || p < 0 || static_cast<size_t>(u) >= users.size() || static_cast<size_t>(p) >= products.size()) {
      ++extra;
      return true;
    }
    auto user = ref.edges.find(users[u]);
    if (user == ref.edges.end() || !user->second.count(products[p])) {
      ++extra;
    } else {
      ++found;
      if (user->second.at(products[p]) != w) ++wrong;
    }
    return true;
  });
  for (const auto& [u, items] : ref.edges) ref_edges += static_cast<int64_t>(items.size());
  std::unordered_map<std::string, int32_t> product_id;
  for (size_t p = 0; p < products.size(); ++p) product_id[products[p]] = static_cast<int32_t>(p);
  const vasgd::FeatureMatrix& features = snap->features;
  int64_t product_mismatches = 0;
  for (const auto& [name, rp] : ref.products) {
    auto it = product_id.find(name);
    if (it == product_id.end()) {
      ++product_mismatches;
      continue;
    }
    const int32_t id = it->second;
    const bool has = id < static_cast<int32_t>(features.present.size()) && features.present[id];
    if (has != !rp.features.empty() ||
        (has && std::vector<float>(features.row(id), features.row(id) + features.dim) != rp.features)) {
      ++product_mismatches;
    }
    if (s.ProductAvailable(id) == rp.hidden) ++product_mismatches;
  }
  const int64_t applied = s.counters().events_applied;
  const bool equal = st.ok() && extra == 0 && wrong == 0 && found == ref_edges && product_mismatches == 0 &&
                     applied == valid;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "{\"produced\":%lld,\"valid\":%lld,\"events_applied\":%lld,\"edges\":%lld,\"reference_edges\":%lld,"
                "\"missing_edges\":%lld,\"extra_edges\":%lld,\"wrong_weights\":%lld,\"product_mismatches\":%lld,"
                "\"equal\":%s}",
                static_cast<long long>(produced), static_cast<long long>(valid), static_cast<long long>(applied),
                static_cast<long long>(edges), static_cast<long long>(ref_edges),
                static_cast<long long>(ref_edges - found), static_cast<long long>(extra), static_cast<long long>(wrong),
                static_cast<long long>(product_mismatches), equal ? "true" : "false");
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--rate") a.rate = std::atof(v.c_str());
    else if (flag == "--seconds") a.seconds = std::atoi(v.c_str());
    else if (flag == "--partitions") a.partitions = std::atoi(v.c_str());
    else if (flag == "--users") a.users = std::atoi(v.c_str());
    else if (flag == "--products") a.products = std::atoi(v.c_str());
    else if (flag == "--dim") a.dim = std::atoi(v.c_str());
    else if (flag == "--seed") a.seed = std::strtoull(v.c_str(), nullptr, 10);
    else if (flag == "--linger-ms") a.linger_ms = std::atoi(v.c_str());
    else if (flag == "--verify-only") a.verify_only = v;
    else return Usage("unknown flag " + flag);
  }
  if (a.rate <= 0 || a.seconds <= 0 || a.partitions <= 0) return Usage("rate, seconds and partitions must be positive");

  constexpr int kChunk = 10000;  // generated a chunk at a time: the reference accumulates
  const int64_t total = static_cast<int64_t>(a.rate * a.seconds);
  if (!a.verify_only.empty()) {
    // The same chunks with the same seeds as a producing run with these flags: its reference.
    RefGraph ref;
    int64_t valid = 0;
    for (uint64_t chunk = 0; static_cast<int64_t>(chunk) * kChunk < total; ++chunk) {
      const int n = static_cast<int>(std::min<int64_t>(kChunk, total - static_cast<int64_t>(chunk) * kChunk));
      valid += vasgd::testing_stream::CountValid(
          vasgd::testing_stream::GenerateStream(n, a.users, a.products, a.dim, a.seed * 1000003 + chunk, &ref, 4096));
    }
    std::printf("%s\n", Verify(a.verify_only, ref, total, valid, a.dim).c_str());
    return 0;
  }

  auto cluster = vasgd::MockCluster::Start(1);
  if (!cluster.ok()) return Usage(cluster.status().ToString());
  for (const char* topic : {"vasgd-events", "vasgd-dead-letter"}) {
    if (!(*cluster)->CreateTopic(topic, std::string(topic) == "vasgd-events" ? a.partitions : 1).ok()) {
      return Usage("cannot create topics");
    }
  }
  std::printf("%s\n", (*cluster)->bootstrap().c_str());
  std::fflush(stdout);

  auto producer = vasgd::KafkaProducer::Create((*cluster)->bootstrap(), {{"linger.ms", std::to_string(a.linger_ms)}});
  if (!producer.ok()) return Usage(producer.status().ToString());
  RefGraph ref;
  int64_t produced = 0, valid = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto next_report = t0 + std::chrono::seconds(10);
  for (uint64_t chunk = 0; produced < total; ++chunk) {
    const int n = static_cast<int>(std::min<int64_t>(kChunk, total - produced));
    const std::vector<Message> messages =
        vasgd::testing_stream::GenerateStream(n, a.users, a.products, a.dim, a.seed * 1000003 + chunk, &ref, 4096);
    valid += vasgd::testing_stream::CountValid(messages);
    for (const Message& m : messages) {
      while (!(*producer)->Produce("vasgd-events", -1, m.key, m.value).ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // queue full: let it drain
      }
      ++produced;
      std::this_thread::sleep_until(t0 + std::chrono::duration<double>(produced / a.rate));
      if (std::chrono::steady_clock::now() >= next_report) {
        std::fprintf(stderr, "t=%.0fs produced=%lld\n",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                     static_cast<long long>(produced));
        next_report += std::chrono::seconds(10);
      }
    }
  }
  if (!(*producer)->Flush(120000).ok() || (*producer)->failed() > 0) {
    std::fprintf(stderr, "soak_feeder: %lld messages failed to be delivered\n", static_cast<long long>((*producer)->failed()));
  }
  std::printf("produced %lld valid %lld failed %lld\n", static_cast<long long>(produced), static_cast<long long>(valid),
              static_cast<long long>((*producer)->failed()));
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.rfind("verify ", 0) == 0) {
      std::printf("%s\n", Verify(line.substr(7), ref, produced, valid, a.dim).c_str());
      std::fflush(stdout);
    } else if (line == "quit") {
      break;
    }
  }
  return 0;
}

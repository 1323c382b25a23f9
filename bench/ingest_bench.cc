// Ingestion benchmark (issue 2): sustained events/s from librdkafka's mock cluster into the
// RocksDB graph store with durable (fsynced) writes, printed beside the rate at which a bare
// librdkafka consumer drains the same topic in the same run; and the bulk import rate for the
// TikTok dataset beside loading the same files into memory (model/tsv.h) without a store.
//
//   ingest_bench [--events 1000000] [--users 100000] [--products 100000] [--partitions 32]
//                [--runs 3] [--batch 16384] [--tiktok DIR] [--tmp DIR] [--prefetch-held 1]
//                [--prefetch-kb N] [--prefetch-batches N] [--fetch-kb N] [--partition-fetch-kb N]
//                [--kafka-partitions all|group]
//
// The --prefetch-*/--fetch-* flags set the ingester's kafka.* knobs of the same names (defaults:
// common/options.h), for A/B runs. Fourth (--prefetch-held 1): the memory prefetching holds when
// ingestion falls behind, at 1 partition and at --partitions (see PrefetchHeld).
//
// Third, as a floor: RocksDB alone, opened with the store's options, writing the store's records
// for the same events in sorted fsynced batches. Each timing starts when the consumer has its partitions and stops when the last event is
// consumed (bare) or durably committed to the store (vasgd); group joins are not timed.
#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/bench_args.h"
#include "common/log.h"
#include "common/metrics.h"
#include "model/tsv.h"
#include "store/db_options.h"
#include "store/graph_store.h"
#include "store/sorted_batch.h"
#include "store/store_keys.h"
#include "stream/bulk_import.h"
#include "stream/event_applier.h"
#include "stream/kafka_ingester.h"
#include "stream/kafka_producer.h"
#include "stream/mock_cluster.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchFlags {
  int64_t events = 1000000;
  int users = 100000;
  int products = 100000;
  int partitions = 32;  // the mock keeps at most 5 MiB per partition: 1 M events need >= 20
  int runs = 3;
  int batch = 16384;
  std::string tiktok;
  std::string tmp = std::filesystem::temp_directory_path().string();
  bool prefetch_held = true;
  KafkaOptions kafka;  // the prefetch knobs (the rest is set per consumer)
};

// The ingester's options for `group` on `topic`, with the flags' batch and prefetch knobs.
KafkaOptions IngesterOptions(const BenchFlags& f, const std::string& brokers, const std::string& group,
                             const std::string& topic) {
  KafkaOptions ko = f.kafka;
  ko.brokers = brokers;
  ko.group = group;
  ko.topics = {topic};
  ko.batch_max_events = f.batch;
  return ko;
}

// Resident set size from /proc/self/statm, MiB.
double ResidentMiB() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  long long size = 0, resident = 0;
  if (!statm) return 0;
  const int n = std::fscanf(statm, "%lld %lld", &size, &resident);
  std::fclose(statm);
  return n == 2 ? static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20) : 0;
}

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Timing {
  double seconds = 0;
  double cpu_seconds = 0;
  int64_t peak_prefetched_messages = -1;  // vasgd only: the most librdkafka reported queued
};

// (a) A bare librdkafka consumer in a fresh group: counts messages and touches their bytes.
Timing BareConsumer(const std::string& brokers, const std::string& group, int64_t expected) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
  static std::atomic<bool> assigned;
  assigned = false;
  rd_kafka_conf_set_rebalance_cb(conf, [](rd_kafka_t* rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t* p, void*) {
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      rd_kafka_assign(rk, p);
      assigned = true;
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, "events", RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);

  int64_t count = 0;
  uint64_t checksum = 0;
  Clock::time_point start{};
  double cpu_start = 0;
  while (count < expected) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (assigned && start == Clock::time_point{}) {
      start = Clock::now();
      cpu_start = CpuSeconds();
    }
    if (!m) continue;
    if (!m->err) {
      ++count;
      checksum += m->len + static_cast<const unsigned char*>(m->payload)[m->len / 2];
    }
    rd_kafka_message_destroy(m);
  }
  Timing t{Seconds(start, Clock::now()), CpuSeconds() - cpu_start};
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (checksum == 0) std::printf("(checksum %llu)\n", static_cast<unsigned long long>(checksum));
  return t;
}

// Records when the applier has committed `expected` events.
class DoneListener : public EventListener {
 public:
  explicit DoneListener(int64_t expected) : expected_(expected) {}
  void OnEventsApplied(const Event*, const UpdateOutcome*, size_t n) override {
    applied_ += static_cast<int64_t>(n);
    if (applied_ >= expected_ && !done_) {
      done_at_ = Clock::now();
      done_ = true;
    }
  }
  bool done() const { return done_; }
  Clock::time_point done_at() const { return done_at_; }

 private:
  const int64_t expected_;
  int64_t applied_ = 0;
  std::atomic<bool> done_{false};
  Clock::time_point done_at_;
};

// (b) vasgd's consumer applying into a fresh store with durable writes.
Timing VasgdConsumer(const std::string& brokers, const std::string& group, int64_t expected, const BenchFlags& f,
                     const std::string& data_dir, GraphCounters* counters) {
  std::filesystem::remove_all(data_dir);
  StoreOptions so;
  so.data_dir = data_dir;
  so.sync_writes = true;
  auto store = GraphStore::Open(so);
  if (!store.ok()) {
    std::fprintf(stderr, "store: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  MetricsRegistry metrics;
  EventApplier applier(store->get(), &metrics);
  DoneListener done(expected);
  applier.AddListener(&done);
  KafkaIngester ingester(IngesterOptions(f, brokers, group, "events"), &applier, &metrics);
  if (Status s = ingester.Start(); !s.ok()) {
    std::fprintf(stderr, "ingester: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  while (ingester.assigned_partitions() < f.partitions) std::this_thread::sleep_for(std::chrono::microseconds(500));
  const Clock::time_point start = Clock::now();
  const double cpu_start = CpuSeconds();
  int64_t peak_messages = 0;  // the consumer queue's length, refreshed once a second
  while (!done.done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    peak_messages = std::max(peak_messages, ingester.prefetched_messages());
  }
  Timing t{Seconds(start, done.done_at()), CpuSeconds() - cpu_start};
  t.peak_prefetched_messages = peak_messages;
  ingester.Stop();
  *counters = (*store)->counters();
  return t;
}

// Produces f.events purchases to `topic`; returns their mean payload size, bytes.
double ProduceEvents(const std::string& brokers, const BenchFlags& f, const std::string& topic = "events") {
  auto producer = KafkaProducer::Create(brokers, {{"linger.ms", "50"}, {"batch.num.messages", "10000"},
                                                  {"queue.buffering.max.messages", "1000000"}});
  if (!producer.ok()) std::exit(1);
  std::mt19937_64 rng(7);
  // Purchases as shops send them: ids as strings, a timestamp, usually no weight.
  std::string value, user, product;
  const auto start = Clock::now();
  double payload_bytes = 0;
  for (int64_t i = 0; i < f.events; ++i) {
    user = "u" + std::to_string(rng() % f.users);
    product = "p" + std::to_string(rng() % f.products);
    value = "{\"type\":\"purchase\",\"user\":\"" + user + "\",\"product\":\"" + product +
            "\",\"ts\":" + std::to_string(1732550000 + i / 1000) + "}";
    payload_bytes += static_cast<double>(value.size());
    if (!(*producer)->Produce(topic, -1, user, value).ok()) std::exit(1);
  }
  if (!(*producer)->Flush(120000).ok() || (*producer)->failed() > 0) {
    std::fprintf(stderr, "produce failed\n");
    std::exit(1);
  }
  std::printf("produced %lld purchase events (%d users x %d products, %d partitions) in %.1f s\n",
              static_cast<long long>(f.events), f.users, f.products, f.partitions, Seconds(start, Clock::now()));
  return f.events > 0 ? payload_bytes / static_cast<double>(f.events) : 0;
}

// (c) RocksDB alone: what vasgd's store writes for these events, with nothing else around it.
// The events of ProduceEvents (same generator, same seed), cut into batches of --batch events as
// the ingester commits them; each batch holds the store's records in its key layout
// (store/store_keys.h): both adjacency keys of every purchase with its summed weight, both id-map
// records of every new id, one offset record per partition and the counters record, in key order
// (SortedBatch, as the store hands them over). RocksDB is opened with the store's own options
// (store/db_options.h) and every batch is fsynced. The batches are built before the clock
// starts: the floor times RocksDB's work only, the floor under any design that writes every edge
// at commit time with this RocksDB build.
struct StoreBatches {
  std::vector<rocksdb::WriteBatch> batches;
  int64_t keys = 0;
};

StoreBatches BuildStoreBatches(const BenchFlags& f) {
  StoreBatches out;
  std::mt19937_64 rng(7);  // ProduceEvents' generator
  std::unordered_map<std::string, int32_t> users, products;
  std::unordered_map<uint64_t, float> weights;
  SortedBatch batch;
  std::string key, value, user, product;
  int64_t counters[keys::kNumSlots] = {};
  auto intern = [&](const std::string& id, char id_prefix, char name_prefix, auto* ids, int slot) {
    auto [it, created] = ids->emplace(id, static_cast<int32_t>(ids->size()));
    if (!created) return it->second;
    ++counters[slot];
    keys::StringKey(id_prefix, id, &key);
    value.clear();
    keys::PutFixed<int32_t>(&value, it->second);
    batch.Put(key, value);
    keys::IdKey(name_prefix, it->second, &key);
    batch.Put(key, id);
    return it->second;
  };
  for (int64_t i = 0; i < f.events; ++i) {
    user = "u" + std::to_string(rng() % f.users);
    product = "p" + std::to_string(rng() % f.products);
    const int32_t u = intern(user, keys::kUserId, keys::kUserName, &users, keys::kUsers);
    const int32_t p = intern(product, keys::kProductId, keys::kProductName, &products, keys::kProducts);
    auto [w, created] = weights.emplace((uint64_t{static_cast<uint32_t>(u)} << 32) | static_cast<uint32_t>(p), 0.0f);
    w->second += 1.0f;
    counters[keys::kEdges] += created;
    keys::PutEdgeValue(&value, w->second, ++counters[keys::kApplied]);
    keys::PairKey(keys::kEdge, u, p, &key);
    batch.Put(key, value);
    keys::PairKey(keys::kReverseEdge, p, u, &key);
    batch.Put(key, value);
    if ((i + 1) % f.batch != 0 && i + 1 != f.events) continue;
    for (int32_t part = 0; part < f.partitions; ++part) {
      keys::OffsetKey("events", part, &key);
      value.clear();
      keys::PutFixed<int64_t>(&value, i);
      batch.Put(key, value);
    }
    value.clear();
    for (int64_t c : counters) keys::PutFixed<int64_t>(&value, c);
    batch.Put(rocksdb::Slice(&keys::kCounters, 1), value);
    out.keys += static_cast<int64_t>(batch.size());
    out.batches.emplace_back();
    batch.EmitTo(&out.batches.back());
    batch.Clear();
  }
  return out;
}

Timing RawRocksDb(const std::string& dir, std::vector<rocksdb::WriteBatch>* batches) {
  std::filesystem::remove_all(dir);
  rocksdb::Options o = GraphDbOptions(StoreOptions(), rocksdb::NewLRUCache(static_cast<size_t>(StoreOptions().block_cache_mb) << 20));
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(o, dir, &raw).ok()) std::exit(1);
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const auto start = Clock::now();
  const double cpu_start = CpuSeconds();
  for (rocksdb::WriteBatch& wb : *batches) {
    if (!db->Write(wo, &wb).ok()) std::exit(1);
  }
  Timing t{Seconds(start, Clock::now()), CpuSeconds() - cpu_start};
  db.reset();
  std::filesystem::remove_all(dir);
  return t;
}

// Holds the writer after its first batch until Release(): ingestion that has fallen behind.
class HoldingListener : public EventListener {
 public:
  void OnEventsApplied(const Event*, const UpdateOutcome*, size_t) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return released_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

// (d) What prefetching holds when ingestion falls behind (the soak: queries took the CPU and the
// consumer's RSS grew with its lag): the writer is held after its first batch, so the consumer
// thread fills its own batch and waits, and librdkafka fetches on until its bounds stop it.
// Printed once the queue stops growing: what librdkafka reports queued (messages, payload) and
// how much the process's resident memory grew meanwhile (the queued messages with librdkafka's
// per-message overhead and fetch buffers, and vasgd's two parsed batches).
void PrefetchHeld(const std::string& brokers, const std::string& topic, const BenchFlags& f, double mean_bytes,
                  const std::string& dir) {
  std::filesystem::remove_all(dir);
  StoreOptions so;
  so.data_dir = dir;
  auto store = GraphStore::Open(so);
  if (!store.ok()) std::exit(1);
  MetricsRegistry metrics;
  EventApplier applier(store->get(), &metrics);
  HoldingListener hold;
  applier.AddListener(&hold);
  KafkaIngester ingester(IngesterOptions(f, brokers, "held-" + topic, topic), &applier, &metrics);
  const double rss_before = ResidentMiB();
  if (!ingester.Start().ok()) std::exit(1);
  while (ingester.assigned_partitions() < f.partitions) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Statistics come once a second: stable for 3 s in a row (or 30 s in all) is the plateau.
  int64_t last = -1, messages = 0;
  int stable = 0;
  for (int i = 0; i < 30 && stable < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    messages = ingester.prefetched_messages();
    stable = messages == last ? stable + 1 : 0;
    last = messages;
  }
  const double rss_held = ResidentMiB();
  hold.Release();
  ingester.Stop();
  store->reset();
  std::filesystem::remove_all(dir);
  std::printf("PREFETCH HELD, %d partition(s), %lld events in the topic, batch %d, prefetch_max_kb %d, "
              "prefetch_max_batches %d, fetch_max_kb %d, partition_fetch_max_kb %d: librdkafka queued %lld messages "
              "(%.1f MiB of payload at the stream's %.0f bytes each); resident memory +%.1f MiB\n",
              f.partitions, static_cast<long long>(f.events), f.batch, f.kafka.prefetch_max_kb,
              f.kafka.prefetch_max_batches, f.kafka.fetch_max_kb, f.kafka.partition_fetch_max_kb,
              static_cast<long long>(messages), messages * mean_bytes / 1048576.0, mean_bytes, rss_held - rss_before);
}

void KafkaBench(const BenchFlags& f) {
  auto cluster = MockCluster::Start(3);
  if (!cluster.ok() || !(*cluster)->CreateTopic("events", f.partitions).ok()) std::exit(1);
  const std::string brokers = (*cluster)->bootstrap();
  const double mean_bytes = ProduceEvents(brokers, f);

  std::vector<double> bare_rates, vasgd_rates, raw_rates, bare_cpu, vasgd_cpu;
  StoreBatches floor = BuildStoreBatches(f);
  GraphCounters counters;
  for (int r = 0; r < f.runs; ++r) {
    Timing bare = BareConsumer(brokers, "bare-" + std::to_string(r), f.events);
    Timing ours = VasgdConsumer(brokers, "vasgd-" + std::to_string(r), f.events, f,
                                f.tmp + "/vasgd-ingest-bench", &counters);
    bare_rates.push_back(f.events / bare.seconds);
    vasgd_rates.push_back(f.events / ours.seconds);
    bare_cpu.push_back(bare.cpu_seconds);
    vasgd_cpu.push_back(ours.cpu_seconds);
    const int64_t keys = floor.keys;
    const double keys_per_event = static_cast<double>(keys) / f.events;
    Timing raw = RawRocksDb(f.tmp + "/vasgd-raw-rocksdb-bench", &floor.batches);
    raw_rates.push_back(f.events / raw.seconds);
    std::printf("run %d: bare consumer %.0f events/s (%.2f s, %.2f cpu-s) | vasgd -> RocksDB (fsync) %.0f events/s "
                "(%.2f s, %.2f cpu-s, prefetch peak %lld messages) | ratio %.2f | RocksDB alone, %.2f "
                "sorted keys/event: %.0f events/s (%.2f s, %.2f cpu-s, %.2f us cpu/key)\n",
                r + 1, bare_rates.back(), bare.seconds, bare.cpu_seconds, vasgd_rates.back(), ours.seconds,
                ours.cpu_seconds, static_cast<long long>(ours.peak_prefetched_messages),
                vasgd_rates.back() / bare_rates.back(), keys_per_event,
                raw_rates.back(), raw.seconds, raw.cpu_seconds, raw.cpu_seconds / keys * 1e6);
  }
  std::printf("store after a run: %lld users, %lld products, %lld edges, %lld events applied\n",
              static_cast<long long>(counters.users), static_cast<long long>(counters.products),
              static_cast<long long>(counters.edges), static_cast<long long>(counters.events_applied));
  const double bare = Median(bare_rates), ours = Median(vasgd_rates);
  std::printf("KAFKA INGEST (median of %d): vasgd %.0f events/s, bare librdkafka consumer %.0f events/s, "
              "ratio %.2f (targets: >= 100000 events/s and >= 0.50)\n",
              f.runs, ours, bare, ours / bare);
  std::printf("RocksDB ALONE writing the store's records, store options (median of %d): %.0f events/s; vasgd reaches %.2f of it\n",
              f.runs, Median(raw_rates), ours / Median(raw_rates));
  std::filesystem::remove_all(f.tmp + "/vasgd-ingest-bench");
  if (f.prefetch_held) {
    // One partition: the mock keeps 5 MiB of it, so ~40,000 of these events.
    if (!(*cluster)->CreateTopic("events-1", 1).ok()) std::exit(1);
    BenchFlags one = f;
    one.events = std::min<int64_t>(f.events, 40000);
    one.partitions = 1;
    ProduceEvents(brokers, one, "events-1");
    PrefetchHeld(brokers, "events-1", one, mean_bytes, f.tmp + "/vasgd-ingest-held");
    PrefetchHeld(brokers, "events", f, mean_bytes, f.tmp + "/vasgd-ingest-held");
  }
}

void ImportBench(const BenchFlags& f) {
  const std::string tsv = f.tiktok + "/train.tsv", npy = f.tiktok + "/image_feat.npy";
  if (!std::filesystem::exists(tsv) || !std::filesystem::exists(npy)) {
    std::printf("BULK IMPORT: skipped, no TikTok dataset at %s\n", f.tiktok.c_str());
    return;
  }
  std::vector<double> ours_rates, peer_rates;
  for (int r = 0; r < f.runs; ++r) {
    const std::string dir = f.tmp + "/vasgd-import-bench";
    std::filesystem::remove_all(dir);
    const auto start = Clock::now();
    StoreOptions so;
    so.data_dir = dir;
    so.sync_writes = true;
    auto store = GraphStore::Open(so);
    if (!store.ok()) std::exit(1);
    MetricsRegistry metrics;
    EventApplier applier(store->get(), &metrics);
    ImportReport features, interactions;
    if (!ImportFeaturesNpy(npy, &applier, ImportOptions(), &features).ok() ||
        !ImportInteractionsTsv(tsv, &applier, ImportOptions(), &interactions).ok()) {
      std::exit(1);
    }
    store->reset();  // closed: everything durable
    const double ours = Seconds(start, Clock::now());
    const int64_t rows = features.rows + interactions.rows;

    const auto peer_start = Clock::now();
    auto direct = LoadTrainingData(tsv, npy);
    if (!direct.ok()) std::exit(1);
    const double peer = Seconds(peer_start, Clock::now());
    ours_rates.push_back(rows / ours);
    peer_rates.push_back(rows / peer);
    std::printf("run %d: vasgd import %lld rows (%lld features + %lld interactions) in %.3f s = %.0f rows/s | "
                "in-memory load (model/tsv.h, no store) %.3f s = %.0f rows/s\n",
                r + 1, static_cast<long long>(rows), static_cast<long long>(features.rows),
                static_cast<long long>(interactions.rows), ours, ours_rates.back(), peer, peer_rates.back());
    std::filesystem::remove_all(dir);
  }
  std::printf("BULK IMPORT TikTok (median of %d): vasgd import %.0f rows/s into RocksDB (fsync per batch), "
              "in-memory load %.0f rows/s, ratio %.2f\n",
              f.runs, Median(ours_rates), Median(peer_rates), Median(ours_rates) / Median(peer_rates));
}

}  // namespace
}  // namespace vasgd

int main(int argc, char** argv) {
  vasgd::BenchFlags f;
  f.tiktok = std::string(VASGD_SOURCE_DIR) + "/../shared/data/tiktok";
  if (const char* env = std::getenv("VASGD_TIKTOK_DIR")) f.tiktok = env;
  vasgd::BenchArgs args("ingest_bench", argc, argv,
                        {"events", "users", "products", "partitions", "runs", "batch", "tiktok", "tmp",
                         "prefetch-held", "prefetch-kb", "prefetch-batches", "fetch-kb", "partition-fetch-kb",
                         "kafka-partitions"},
                        "usage: see the head of bench/ingest_bench.cc");
  int prefetch_held = f.prefetch_held ? 1 : 0;
  args.Number("events", &f.events);
  args.Number("users", &f.users);
  args.Number("products", &f.products);
  args.Number("partitions", &f.partitions);
  args.Number("runs", &f.runs);
  args.Number("batch", &f.batch);
  args.Number("prefetch-held", &prefetch_held);
  args.Number("prefetch-kb", &f.kafka.prefetch_max_kb);
  args.Number("prefetch-batches", &f.kafka.prefetch_max_batches);
  args.Number("fetch-kb", &f.kafka.fetch_max_kb);
  args.Number("partition-fetch-kb", &f.kafka.partition_fetch_max_kb);
  args.Text("tiktok", &f.tiktok);
  args.Text("tmp", &f.tmp);
  args.Text("kafka-partitions", &f.kafka.partitions);
  if (!args.ok()) return 2;
  f.prefetch_held = prefetch_held != 0;
  vasgd::LogOptions quiet;
  quiet.level = "warn";
  vasgd::ConfigureLogging(quiet);
  std::printf("ingest_bench: %u hardware threads\n", std::thread::hardware_concurrency());
  vasgd::KafkaBench(f);
  vasgd::ImportBench(f);
  return 0;
}

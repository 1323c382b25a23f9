// PartitionWatcher: the partitions of a set of topics, read from the cluster's metadata at once
// and then every `interval`, on its own thread, for a consumer that assigns itself every
// partition (kafka.partitions = "all") instead of having a consumer group hand them out.
//
// Why a thread: rd_kafka_metadata() blocks until the brokers answer or its timeout passes; while
// they are away the consumer thread must keep polling (lag, statistics, a stop). Why periodic:
// without a group nobody tells the consumer that a topic gained partitions or that a configured
// topic was created after the start; Kafka never removes partitions from a topic, so the set only
// grows.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

typedef struct rd_kafka_s rd_kafka_t;

namespace vasgd {

struct TopicPartition {
  std::string topic;
  int32_t partition;
};

class PartitionWatcher {
 public:
  // `rk` is not owned and must outlive the watcher (Stop() before destroying it).
  PartitionWatcher(rd_kafka_t* rk, std::vector<std::string> topics, std::chrono::milliseconds interval);
  ~PartitionWatcher();  // Stop()
  PartitionWatcher(const PartitionWatcher&) = delete;
  PartitionWatcher& operator=(const PartitionWatcher&) = delete;

  // Starts the thread; its first metadata request goes out at once.
  void Start();
  // Ends the thread; waits at most for one metadata request in flight (kMetadataTimeoutMs).
  // Safe to call more than once.
  void Stop();

  // Whether TakeNew() has something (cheap: for the consumer loop, every turn).
  bool has_new() const { return has_new_.load(std::memory_order_acquire); }
  // Partitions seen since the previous call, each returned once in the watcher's life, in
  // topic order then partition order; empty when none are new.
  std::vector<TopicPartition> TakeNew();
  // Metadata requests that failed (no broker answered in time); for tests and logs.
  int64_t failures() const { return failures_.load(std::memory_order_relaxed); }

  // How long one metadata request may block (so, at most, Stop()).
  static constexpr int kMetadataTimeoutMs = 2000;

 private:
  void Run();
  // One metadata request; returns false when the cluster did not answer.
  bool Refresh();

  rd_kafka_t* const rk_;
  const std::vector<std::string> topics_;
  const std::chrono::milliseconds interval_;
  std::vector<int32_t> known_counts_;  // watcher thread: partitions seen per topic
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                  // under mu_
  std::vector<TopicPartition> new_;    // under mu_
  std::atomic<bool> has_new_{false};
  std::atomic<int64_t> failures_{0};
};

}  // namespace vasgd

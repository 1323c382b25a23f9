// KafkaIngester: a Kafka consumer that applies events from KafkaOptions.topics to the graph
// store, exactly once.
//
// Partitions (KafkaOptions.partitions): "all" (the default) assigns this consumer every partition
// of the topics itself (rd_kafka_incremental_assign; a PartitionWatcher re-reads the topics'
// partitions every partition_refresh_ms and adds the new ones) and joins no group. Why: every
// daemon keeps the whole graph in its own store, with the offsets committed in it, so splitting
// the partitions among daemons is never what vasgd wants, and a group costs a restart after
// kill -9 the dead member's session timeout (librdkafka 2.0.2's mock cluster ignores static
// membership; so do brokers before Kafka 2.3). "group" joins KafkaOptions.group, which splits the
// partitions among its members (below).
//
// Offsets live in the store, not in Kafka (enable.auto.commit=false): on every assignment the
// partitions start at the store's next offsets, and each batch commits its graph changes and its
// offsets in one RocksDB write batch. Revoked partitions are flushed before they are released,
// so a rebalance (eager or cooperative) hands them over exactly. One thread polls and parses
// the next batch while a writer thread commits the previous one. Bad messages are counted by
// reason and produced to the dead-letter topic (original key and bytes, reason in headers)
// before the batch that consumes them is committed. Broker errors are counted and logged; the
// loop never stops on them. A store write failure keeps the batch and retries it with backoff.
// Whether the brokers are reachable comes from librdkafka's statistics (every second).
//
// Membership ("group" only): static (KIP-345) when options.group_instance_id is set ("auto" = derived from the
// host name and the store's directory), so a daemon restarted after a crash takes its partitions
// back at once; a stop leaves the group all the same, so a stopped daemon's partitions move to
// the other members at once. A broker that fences this member (another consumer joined with the
// same instance id) is a fatal error: fatal_error() says so and the consumer stops.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "stream/event.h"
#include "stream/event_applier.h"
#include "stream/partition_watcher.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;
typedef struct rd_kafka_topic_partition_s rd_kafka_topic_partition_t;
namespace simdjson::dom {
class element;
}

namespace vasgd {

class KafkaProducer;

class KafkaIngester {
 public:
  // Registers vasgd_consumer_lag_events, vasgd_kafka_errors_total, vasgd_dead_letters_total and
  // vasgd_store_write_failures_total. Pointers are not owned and must outlive the ingester.
  KafkaIngester(const KafkaOptions& options, EventApplier* applier, MetricsRegistry* metrics);
  ~KafkaIngester();  // Stop()
  KafkaIngester(const KafkaIngester&) = delete;
  KafkaIngester& operator=(const KafkaIngester&) = delete;

  // Creates the consumer (and the dead-letter producer), subscribes ("group") or starts watching
  // the topics' partitions ("all"), and starts the consuming thread. InvalidArgument when
  // options.brokers is empty or librdkafka refuses the settings.
  Status Start();

  // Applies what was consumed, leaves the group ("group": which revokes and flushes), joins the thread.
  // Safe to call more than once, and at any moment after Start (before the group join, during
  // it, before the first assignment, mid-batch).
  void Stop();

  // Messages behind the high watermarks of the assigned partitions, summed; -1 until known.
  int64_t lag() const { return lag_.load(std::memory_order_relaxed); }
  // Messages taken from Kafka (valid or not) and committed to the store since Start.
  int64_t committed_messages() const { return committed_.load(std::memory_order_relaxed); }
  // Number of partitions currently assigned to this consumer (by the group, or "all": found).
  int assigned_partitions() const { return assigned_count_.load(std::memory_order_relaxed); }
  // Brokers the client is connected to (librdkafka state UP) and brokers it knows (those learned
  // from the cluster, or the bootstrap ones before that); both -1 until the first statistics.
  int brokers_up() const { return brokers_up_.load(std::memory_order_relaxed); }
  int brokers_known() const { return brokers_known_.load(std::memory_order_relaxed); }
  // Seconds this member has gone without any assigned partition (since Start, or since it lost
  // its last one); -1 while it has partitions or before Start.
  double unassigned_seconds() const;
  // Messages fetched by librdkafka but not yet taken by the consumer thread (the consumer
  // queue's length, refreshed every second, also while the thread waits for the writer); -1
  // until known.
  int64_t prefetched_messages() const { return prefetched_messages_.load(std::memory_order_relaxed); }
  // The static membership id in use ("" = dynamic membership, or no group: partitions "all").
  const std::string& group_instance_id() const { return instance_id_; }
  // Why the consumer stopped for good (e.g. fenced by another member with the same instance
  // id); "" while it runs. The daemon exits non-zero on it.
  std::string fatal_error() const;

 private:
  using Clock = std::chrono::steady_clock;

  struct Assigned {
    std::string topic;
    int32_t partition;
    int64_t next;                  // next offset to apply; -1 = from the beginning
    Clock::time_point last_message;  // when a message of it was last committed (else: assigned)
    Gauge* age;                    // vasgd_consumer_last_message_age_seconds{topic,partition}
    Gauge* lag;                    // vasgd_consumer_partition_lag_events{topic,partition}
  };
  // A partition leaves this member: its age and lag gauges say "not assigned" (-1).
  static void MarkUnassigned(const Assigned& a);

  // A batch of consumed messages, parsed; kept until committed so their bytes can still go to
  // the dead-letter topic.
  struct Batch {
    std::vector<Event> events;
    std::vector<UpdateOutcome> outcomes;
    std::vector<rd_kafka_message_t*> messages;
    std::vector<SourcePartition> sources;
    std::vector<std::pair<rd_kafka_topic_t*, int32_t>> source_keys;
    size_t size = 0;
    bool dead_letters = false;  // holds messages produced to the dead-letter topic
    bool committed = false;     // set by the writer
  };

  void Run();
  void WriterLoop();
  void Consume(rd_kafka_message_t* message);
  static int32_t SourceSlot(Batch* batch, rd_kafka_topic_t* rkt, int32_t partition);
  void Submit();          // hands the filling batch to the writer (waits for the previous one)
  void FlushPending();    // Submit, then wait until everything consumed is committed
  void WaitForWriter();   // waits for the batch in flight and finishes it
  void Finish(Batch* batch);
  void DeadLetter(const rd_kafka_message_t* message, const EventError& error, Batch* batch);
  void UpdateLag();
  void OnStatistics(const char* json, size_t size);
  void UpdateBrokerStates(const simdjson::dom::element& doc);
  void OnRebalance(rd_kafka_t* rk, int err, rd_kafka_topic_partition_list_t* partitions);
  // Records a partition given to this consumer and sets its start offset (the store's next).
  void AddAssigned(rd_kafka_topic_partition_t* p, Clock::time_point now);
  // "all": assigns the partitions the watcher found since the last call.
  void AssignFound();
  void OnError(int err, const char* reason);
  void OnFatal();
  void SetAssignedCount();
  bool StopNow(Clock::time_point now, Clock::time_point* deadline);
  void LeaveGroup();
  bool CloseMayAbort() const;

  const KafkaOptions options_;
  const std::string instance_id_;
  MetricsRegistry* metrics_;
  EventApplier* applier_;
  EventParser parser_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_queue_t* consumer_queue_ = nullptr;  // the consumer queue (for its length)
  std::unique_ptr<KafkaProducer> dead_letters_;
  const bool all_partitions_;                  // options_.partitions == "all"
  std::unique_ptr<PartitionWatcher> watcher_;  // "all" only
  std::thread thread_;   // polls and parses
  std::thread writer_;   // commits batches to the store, one at a time, in order
  std::atomic<bool> stop_{false};
  bool started_ = false;
  bool cooperative_ = false;       // options_.assignment_strategy is cooperative-sticky
  bool assignment_seen_ = false;   // consumer thread: an assignment arrived since Start
  std::atomic<bool> fatal_{false};
  mutable std::mutex fatal_mu_;
  std::string fatal_error_;        // under fatal_mu_

  // Two batches: the consumer thread fills one while the writer commits the other.
  Batch batches_[2];
  Batch* filling_ = &batches_[0];
  Batch* in_flight_ = nullptr;   // consumer thread: submitted, not yet finished
  std::mutex writer_mu_;
  std::condition_variable writer_cv_;
  Batch* job_ = nullptr;         // under writer_mu_: the batch the writer must commit
  bool writer_exit_ = false;     // under writer_mu_
  std::atomic<bool> job_done_{false};  // the writer finished the batch in flight

  std::vector<Assigned> assigned_;
  std::vector<int64_t> slot_first_, slot_last_, slot_count_;  // per source of a batch

  std::atomic<int64_t> lag_{-1};
  std::atomic<int64_t> committed_{0};
  std::atomic<int> assigned_count_{0};
  std::atomic<int> brokers_up_{-1};
  std::atomic<int> brokers_known_{-1};
  std::atomic<int64_t> unassigned_since_ns_{0};  // steady clock; 0 = partitions assigned (or not started)
  std::atomic<int64_t> prefetched_messages_{-1};
  Gauge* brokers_up_gauge_;
  Gauge* unassigned_gauge_;
  Gauge* prefetched_messages_gauge_;
  Gauge* lag_gauge_;
  Counter* kafka_errors_;
  Counter* dead_lettered_;
  Counter* dead_letter_failures_;
  Counter* store_failures_;
  Counter* rebalances_;
  Counter* skipped_offsets_;
};

}  // namespace vasgd

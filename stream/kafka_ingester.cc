#include "stream/kafka_ingester.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>

#include "common/log.h"
#include "stream/kafka_log.h"
#include "stream/kafka_producer.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

// How long a batch waits for its dead letters to be acknowledged before it commits anyway
// (the rejection is still counted and logged): a broken dead-letter topic must not stall
// ingestion of the valid events around it.
constexpr int kDeadLetterFlushMs = 5000;
constexpr int kMaxStoreBackoffMs = 5000;

}  // namespace

KafkaIngester::KafkaIngester(const KafkaOptions& options, EventApplier* applier, MetricsRegistry* metrics)
    : options_(options), applier_(applier), parser_(applier->Limits(options.max_message_bytes)) {
  lag_gauge_ = metrics->GetGauge("vasgd_consumer_lag_events",
                                 "Messages behind the high watermarks of the assigned partitions");
  kafka_errors_ = metrics->GetCounter("vasgd_kafka_errors_total", "Errors reported by the Kafka client");
  dead_lettered_ = metrics->GetCounter("vasgd_dead_letters_total", "Rejected messages sent to the dead-letter topic");
  dead_letter_failures_ = metrics->GetCounter("vasgd_dead_letter_failures_total",
                                              "Rejected messages the dead-letter topic did not acknowledge");
  store_failures_ = metrics->GetCounter("vasgd_store_write_failures_total",
                                        "Batches the graph store failed to write (retried)");
  rebalances_ = metrics->GetCounter("vasgd_consumer_rebalances_total", "Partition assignments and revocations");
  skipped_offsets_ = metrics->GetCounter("vasgd_consumer_skipped_offsets_total",
                                         "Offsets never delivered (deleted by retention before consumption, compaction)");
  brokers_up_gauge_ = metrics->GetGauge("vasgd_kafka_brokers_up",
                                        "Kafka brokers the consumer is connected to (-1 until known)");
  brokers_up_gauge_->Set(-1);
}

KafkaIngester::~KafkaIngester() { Stop(); }

Status KafkaIngester::Start() {
  if (started_) return Status::FailedPrecondition("ingester already started");
  if (options_.brokers.empty()) return Status::InvalidArgument("kafka.brokers is empty");
  if (options_.topics.empty()) return Status::InvalidArgument("kafka.topics is empty");

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const int session = options_.session_timeout_ms;
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", options_.brokers},
      {"group.id", options_.group},
      {"client.id", "vasgd"},
      {"enable.auto.commit", "false"},  // offsets live in the store, in the batch they belong to
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
      {"session.timeout.ms", std::to_string(session)},
      {"heartbeat.interval.ms", std::to_string(std::max(100, session / 3))},
      {"partition.assignment.strategy", options_.assignment_strategy},
      {"log.connection.close", "false"},
      {"statistics.interval.ms", "1000"},  // broker states for vasgd_kafka_brokers_up and /readyz
      // librdkafka prefetches up to 64 MiB (and 100,000 messages per partition) by default: a
      // daemon that falls behind under query load held all of it (the soak's RSS rose with the lag).
      {"queued.max.messages.kbytes", std::to_string(options_.prefetch_max_kb)},
      {"queued.min.messages", std::to_string(std::max(1, options_.batch_max_events))},
  };
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("kafka " + k + ": " + err);
    }
  }
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_rebalance_cb(conf, [](rd_kafka_t* rk, rd_kafka_resp_err_t e,
                                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaIngester*>(opaque)->OnRebalance(rk, e, partitions);
  });
  rd_kafka_conf_set_stats_cb(conf, [](rd_kafka_t*, char* json, size_t size, void* opaque) {
    static_cast<KafkaIngester*>(opaque)->OnStatistics(json, size);
    return 0;  // librdkafka frees the text
  });
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int e, const char* reason, void* opaque) {
    static_cast<KafkaIngester*>(opaque)->kafka_errors_->Inc();
    LogKafkaDiagnostic(false, "kafka.error", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(e)), reason);
  });
  RouteKafkaLogs(conf);

  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!consumer_) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(consumer_);

  if (!options_.dead_letter_topic.empty()) {
    auto producer = KafkaProducer::Create(options_.brokers, {{"linger.ms", "5"}});
    if (!producer.ok()) {
      rd_kafka_destroy(consumer_);
      consumer_ = nullptr;
      return producer.status();
    }
    dead_letters_ = std::move(producer).value();
  }

  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size()));
  for (const std::string& t : options_.topics) {
    rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) {
    rd_kafka_destroy(consumer_);
    consumer_ = nullptr;
    return Status::InvalidArgument(std::string("subscribe: ") + rd_kafka_err2str(e));
  }

  for (Batch& b : batches_) {
    b.events.resize(static_cast<size_t>(options_.batch_max_events));
    b.outcomes.resize(b.events.size());
    b.messages.reserve(b.events.size());
  }
  parser_.set_feature_dim(applier_->store()->feature_dim());
  stop_ = false;
  writer_exit_ = false;
  started_ = true;
  writer_ = std::thread(&KafkaIngester::WriterLoop, this);
  thread_ = std::thread(&KafkaIngester::Run, this);
  Log(LogLevel::kInfo, "kafka.started",
      {{"group", options_.group}, {"topics", static_cast<int64_t>(options_.topics.size())},
       {"strategy", options_.assignment_strategy}});
  return Status::Ok();
}

void KafkaIngester::Stop() {
  if (!started_) return;
  stop_ = true;
  thread_.join();  // everything consumed is committed (or abandoned) by now
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    writer_exit_ = true;
  }
  writer_cv_.notify_all();
  writer_.join();
  rd_kafka_destroy(consumer_);
  consumer_ = nullptr;
  dead_letters_.reset();
  started_ = false;
  Log(LogLevel::kInfo, "kafka.stopped", {{"committed_messages", committed_.load()}});
}

void KafkaIngester::Run() {
  pthread_setname_np(pthread_self(), "vasgd-kafka");
  const auto max_wait = std::chrono::milliseconds(options_.batch_max_wait_ms);
  Clock::time_point batch_deadline{}, next_lag_update{};
  while (!stop_.load(std::memory_order_relaxed)) {
    int timeout_ms = 100;
    if (filling_->size > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(batch_deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 100));
    }
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, timeout_ms)) {
      const size_t before = filling_->size;
      Consume(m);
      if (before == 0 && filling_->size == 1) batch_deadline = Clock::now() + max_wait;
    }
    // Finish a committed batch promptly even when nothing else arrives (offsets, lag, counts).
    if (in_flight_ && job_done_.load(std::memory_order_acquire)) WaitForWriter();
    const auto now = Clock::now();
    if (filling_->size >= filling_->events.size() || (filling_->size > 0 && now >= batch_deadline)) Submit();
    if (now >= next_lag_update) {
      UpdateLag();
      next_lag_update = now + std::chrono::seconds(1);
    }
  }
  FlushPending();
  rd_kafka_consumer_close(consumer_);  // leaves the group: the revoke callback runs here
  UpdateLag();
}

void KafkaIngester::Consume(rd_kafka_message_t* m) {
  if (m->err) {
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      kafka_errors_->Inc();
      LogKafkaDiagnostic(false, "kafka.consume_error", rd_kafka_err2name(m->err),
                         rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
    return;
  }
  Batch* b = filling_;
  Event& event = b->events[b->size];
  std::string_view payload(m->payload ? static_cast<const char*>(m->payload) : "", m->len);
  EventError error;
  if (!parser_.Parse(payload, UnixNow(), &event, &error)) {
    applier_->CountRejected(error);
    DeadLetter(m, error, b);
    event.Clear();  // kNone: committing it only advances the offset
  }
  event.source = SourceSlot(b, m->rkt, m->partition);
  event.offset = m->offset;
  b->messages.push_back(m);
  ++b->size;
}

int32_t KafkaIngester::SourceSlot(Batch* b, rd_kafka_topic_t* rkt, int32_t partition) {
  for (size_t i = 0; i < b->source_keys.size(); ++i) {
    if (b->source_keys[i].first == rkt && b->source_keys[i].second == partition) return static_cast<int32_t>(i);
  }
  b->source_keys.emplace_back(rkt, partition);
  b->sources.push_back({rd_kafka_topic_name(rkt), partition});
  return static_cast<int32_t>(b->sources.size() - 1);
}

void KafkaIngester::DeadLetter(const rd_kafka_message_t* m, const EventError& error, Batch* batch) {
  if (!dead_letters_) return;
  const std::string partition = std::to_string(m->partition), offset = std::to_string(m->offset);
  const char* topic = rd_kafka_topic_name(m->rkt);
  std::string_view key(m->key ? static_cast<const char*>(m->key) : "", m->key_len);
  std::string_view payload(m->payload ? static_cast<const char*>(m->payload) : "", m->len);
  Status s = dead_letters_->Produce(options_.dead_letter_topic, -1, key, payload,
                                    {{"vasgd-reason", RejectReasonName(error.reason)},
                                     {"vasgd-error", error.message},
                                     {"vasgd-source-topic", topic},
                                     {"vasgd-source-partition", partition},
                                     {"vasgd-source-offset", offset}});
  if (s.ok()) {
    dead_lettered_->Inc();
    if (batch) batch->dead_letters = true;
  } else {
    dead_letter_failures_->Inc();
    LogOncePerKind(LogLevel::kError, "dead_letter_produce", "kafka.dead_letter_failed", {{"error", s.ToString()}});
  }
}

void KafkaIngester::WriterLoop() {
  pthread_setname_np(pthread_self(), "vasgd-apply");
  std::unique_lock<std::mutex> lock(writer_mu_);
  for (;;) {
    writer_cv_.wait(lock, [&] { return job_ != nullptr || writer_exit_; });
    if (!job_) return;
    Batch* b = job_;
    lock.unlock();
    int backoff_ms = 50;
    for (;;) {
      Status s = applier_->Apply(b->events.data(), b->size, b->sources, b->outcomes.data());
      if (s.ok()) {
        b->committed = true;
        break;
      }
      store_failures_->Inc();
      Log(LogLevel::kError, "kafka.store_write_failed",
          {{"error", s.ToString()}, {"events", static_cast<int64_t>(b->size)}, {"retry_ms", backoff_ms}});
      if (stop_.load()) break;  // not committed, so not lost: the next start resumes from the store
      for (int slept = 0; slept < backoff_ms && !stop_.load(); slept += 10) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      backoff_ms = std::min(backoff_ms * 2, kMaxStoreBackoffMs);
    }
    lock.lock();
    job_ = nullptr;
    job_done_.store(true, std::memory_order_release);
    writer_cv_.notify_all();
  }
}

void KafkaIngester::WaitForWriter() {
  if (!in_flight_) return;
  {
    // While the store cannot write (the writer retries), the backlog must still show: the lag
    // goes on being refreshed from the watermarks the client keeps fetching.
    std::unique_lock<std::mutex> lock(writer_mu_);
    while (!writer_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return job_ == nullptr; })) {
      lock.unlock();
      UpdateLag();
      lock.lock();
    }
  }
  Finish(in_flight_);
  in_flight_ = nullptr;
}

void KafkaIngester::Submit() {
  Batch* b = filling_;
  if (b->size == 0) return;
  WaitForWriter();
  if (b->dead_letters) {
    // At-least-once dead letters: acknowledged before their offsets are committed.
    const int64_t failed_before = dead_letters_->failed();
    Status s = dead_letters_->Flush(kDeadLetterFlushMs);
    const int64_t lost = dead_letters_->failed() - failed_before;
    if (!s.ok()) {
      LogOncePerKind(LogLevel::kError, "dead_letter_flush", "kafka.dead_letter_flush_failed", {{"error", s.ToString()}});
    }
    if (lost > 0) dead_letter_failures_->Inc(static_cast<double>(lost));
  }
  b->committed = false;
  in_flight_ = b;
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    job_done_.store(false, std::memory_order_relaxed);
    job_ = b;
  }
  writer_cv_.notify_all();
  filling_ = (b == &batches_[0]) ? &batches_[1] : &batches_[0];  // finished by WaitForWriter above
}

void KafkaIngester::FlushPending() {
  Submit();
  WaitForWriter();
}

void KafkaIngester::Finish(Batch* b) {
  if (!b->committed) {
    Log(LogLevel::kWarn, "kafka.batch_abandoned", {{"events", static_cast<int64_t>(b->size)}});
  } else {
    // Per partition of the batch: offsets seen, to advance `assigned_` and to notice offsets
    // that never arrived (retention deleted them before we consumed them, compaction).
    slot_first_.assign(b->sources.size(), -1);
    slot_last_.assign(b->sources.size(), -1);
    slot_count_.assign(b->sources.size(), 0);
    for (size_t i = 0; i < b->size; ++i) {
      const Event& e = b->events[i];
      if (b->outcomes[i].result == UpdateResult::kRejected) {  // refused by the store after parsing
        EventError error{b->outcomes[i].reason, "rejected by the store"};
        DeadLetter(b->messages[i], error, nullptr);
      }
      if (slot_first_[e.source] < 0) slot_first_[e.source] = e.offset;
      slot_last_[e.source] = e.offset;
      ++slot_count_[e.source];
    }
    for (size_t s = 0; s < b->sources.size(); ++s) {
      for (Assigned& a : assigned_) {
        if (a.partition != b->sources[s].partition || a.topic != b->sources[s].topic) continue;
        const int64_t expected_first = a.next >= 0 ? a.next : 0;
        const int64_t skipped = (slot_last_[s] + 1 - expected_first) - slot_count_[s];
        if (skipped > 0 && slot_first_[s] >= expected_first) {
          skipped_offsets_->Inc(static_cast<double>(skipped));
          LogOncePerKind(LogLevel::kWarn, "offset_gap:" + a.topic + ":" + std::to_string(a.partition),
                         "kafka.offset_gap",
                         {{"topic", a.topic}, {"partition", a.partition}, {"expected", expected_first},
                          {"first_seen", slot_first_[s]}, {"skipped", skipped},
                          {"hint", "retention deleted events before vasgd consumed them, or compaction/transactions"}});
        }
        a.next = std::max(a.next, slot_last_[s] + 1);
      }
    }
    committed_.fetch_add(static_cast<int64_t>(b->size), std::memory_order_relaxed);
    parser_.set_feature_dim(applier_->store()->feature_dim());
  }
  for (rd_kafka_message_t* m : b->messages) rd_kafka_message_destroy(m);
  b->messages.clear();
  b->size = 0;
  b->dead_letters = false;
  b->committed = false;
  b->sources.clear();
  b->source_keys.clear();
}

void KafkaIngester::UpdateLag() {
  int64_t total = 0;
  bool known = assigned_.empty();
  for (const Assigned& a : assigned_) {
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_, a.topic.c_str(), a.partition, &low, &high) != 0 || high < 0) {
      continue;
    }
    int64_t next = a.next >= 0 ? a.next : std::max<int64_t>(low, 0);
    total += std::max<int64_t>(0, high - next);
    known = true;
  }
  lag_.store(known ? total : -1, std::memory_order_relaxed);
  lag_gauge_->Set(known ? static_cast<double>(total) : -1.0);
}

// librdkafka's statistics JSON (STATISTICS.md): "brokers" maps names to objects with "source"
// (learned / configured / logical / internal) and "state" ("UP" when connected). Runs on the
// consumer thread, which serves the client's callbacks.
void KafkaIngester::OnStatistics(const char* json, size_t size) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object brokers;
  if (parser.parse(json, size, /*realloc_if_needed=*/true)["brokers"].get_object().get(brokers)) return;
  int learned = 0, learned_up = 0, configured = 0, configured_up = 0;
  for (simdjson::dom::key_value_pair broker : brokers) {
    std::string_view source, state;
    if (broker.value["source"].get_string().get(source) || broker.value["state"].get_string().get(state)) continue;
    const bool up = state == "UP";
    if (source == "learned") {
      ++learned;
      learned_up += up;
    } else if (source == "configured") {
      ++configured;
      configured_up += up;
    }
  }
  // Bootstrap connections are dropped once the cluster's own brokers are known: judge by those.
  const int known = learned > 0 ? learned : configured;
  const int up = learned > 0 ? learned_up : configured_up;
  brokers_known_.store(known, std::memory_order_relaxed);
  brokers_up_.store(up, std::memory_order_relaxed);
  brokers_up_gauge_->Set(up);
}

void KafkaIngester::OnRebalance(rd_kafka_t* rk, int err, rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  rebalances_->Inc();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) {
      rd_kafka_topic_partition_t& p = partitions->elems[i];
      const int64_t next = applier_->store()->NextOffset(p.topic, p.partition);
      p.offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
      assigned_.push_back({p.topic, p.partition, next});
    }
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions)) {
        Log(LogLevel::kError, "kafka.assign_failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, partitions);
    }
    Log(LogLevel::kInfo, "kafka.assigned", {{"partitions", partitions->cnt}, {"total", static_cast<int64_t>(assigned_.size())}});
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    // Commit what was consumed from them before they go to another member.
    FlushPending();
    if (cooperative) {
      for (int i = 0; i < partitions->cnt; ++i) {
        const rd_kafka_topic_partition_t& p = partitions->elems[i];
        assigned_.erase(std::remove_if(assigned_.begin(), assigned_.end(),
                                       [&](const Assigned& a) { return a.partition == p.partition && a.topic == p.topic; }),
                        assigned_.end());
      }
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) {
        Log(LogLevel::kError, "kafka.unassign_failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      assigned_.clear();
      rd_kafka_assign(rk, nullptr);
    }
    Log(LogLevel::kInfo, "kafka.revoked", {{"partitions", partitions->cnt}, {"lost", rd_kafka_assignment_lost(rk) == 1}});
  } else {
    kafka_errors_->Inc();
    Log(LogLevel::kError, "kafka.rebalance_error", {{"error", rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err))}});
    FlushPending();
    assigned_.clear();
    rd_kafka_assign(rk, nullptr);
  }
  assigned_count_.store(static_cast<int>(assigned_.size()), std::memory_order_relaxed);
}

}  // namespace vasgd

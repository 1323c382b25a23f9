#include "stream/kafka_ingester.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>

#include "common/log.h"
#include "stream/group_instance_id.h"
#include "stream/kafka_log.h"
#include "stream/kafka_producer.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

int64_t SteadyNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// librdkafka before 2.3.0 (Debian 12 ships 2.0.2) aborts in rd_kafka_destroy() when a
// cooperative-sticky consumer joined its group but never received an assignment: the sticky
// assignor's state is created by the first SyncGroup answer, and rd_kafka_cgrp_destroy_final()
// hands it, NULL, to rd_kafka_sticky_assignor_state_destroy(), which asserts (librdkafka #4312,
// fixed by #4381 in 2.3.0). range and roundrobin keep no such state.
constexpr int kFirstFixedVersion = 0x02030000;

// How long a stop waits for the LeaveGroup to go out (it needs the revocation to finish, which
// runs on the consumer thread's polls) before closing anyway.
constexpr int kLeaveWaitMs = 3000;

// How long a batch waits for its dead letters to be acknowledged before it commits anyway
// (the rejection is still counted and logged): a broken dead-letter topic must not stall
// ingestion of the valid events around it.
constexpr int kDeadLetterFlushMs = 5000;
constexpr int kMaxStoreBackoffMs = 5000;

}  // namespace

KafkaIngester::KafkaIngester(const KafkaOptions& options, EventApplier* applier, MetricsRegistry* metrics)
    : options_(options),
      // Without a group there is no membership to keep.
      instance_id_(options.partitions == "all"
                       ? std::string()
                       : ResolveGroupInstanceId(options.group_instance_id, applier->store()->options().data_dir)),
      metrics_(metrics),
      applier_(applier),
      parser_(applier->Limits(options.max_message_bytes)),
      all_partitions_(options.partitions == "all") {
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
  unassigned_gauge_ = metrics->GetGauge("vasgd_consumer_unassigned_seconds",
                                        "Seconds the consumer has gone without any assigned partition (-1: it has some)");
  unassigned_gauge_->Set(-1);
  prefetched_messages_gauge_ = metrics->GetGauge(
      "vasgd_kafka_prefetched_messages", "Messages fetched from Kafka, not yet taken for ingestion (-1 until known; every second)");
  prefetched_messages_gauge_->Set(-1);
}

KafkaIngester::~KafkaIngester() { Stop(); }

Status KafkaIngester::Start() {
  if (started_) return Status::FailedPrecondition("ingester already started");
  if (options_.brokers.empty()) return Status::InvalidArgument("kafka.brokers is empty");
  if (options_.topics.empty()) return Status::InvalidArgument("kafka.topics is empty");

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const int session = options_.session_timeout_ms;
  const int64_t kib = 1024;
  std::vector<std::pair<std::string, std::string>> settings = {
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
      // Prefetch (docs/INGESTION.md, "Prefetch"): librdkafka 2.0.2 stops fetching while the
      // consumer queue (all partitions) holds queued.min.messages or queued.max.messages.kbytes,
      // and looks again only when a broker thread wakes, up to 1 s later. The queue must hold
      // more than a second of ingestion or the writer starves: a bound of one batch (16,384
      // messages) cut ingest_bench to a third. The byte bound caps memory; the message bound,
      // counted in batches, caps the per-message overhead of small events; the fetch sizes cap
      // what one fetch adds beyond them (one response per broker, one share per partition).
      {"queued.max.messages.kbytes", std::to_string(options_.prefetch_max_kb)},
      {"queued.min.messages",
       std::to_string(std::clamp<int64_t>(int64_t{options_.prefetch_max_batches} * options_.batch_max_events, 1,
                                          10000000))},
      {"fetch.max.bytes", std::to_string(options_.fetch_max_kb * kib)},
      {"max.partition.fetch.bytes", std::to_string(options_.partition_fetch_max_kb * kib)},
  };
  if (!instance_id_.empty()) settings.emplace_back("group.instance.id", instance_id_);
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
    static_cast<KafkaIngester*>(opaque)->OnError(e, reason);
  });
  RouteKafkaLogs(conf);

  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!consumer_) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(consumer_);
  consumer_queue_ = rd_kafka_queue_get_consumer(consumer_);

  if (!options_.dead_letter_topic.empty()) {
    auto producer = KafkaProducer::Create(options_.brokers, {{"linger.ms", "5"}});
    if (!producer.ok()) {
      rd_kafka_destroy(consumer_);
      consumer_ = nullptr;
      return producer.status();
    }
    dead_letters_ = std::move(producer).value();
  }

  if (all_partitions_) {
    // No subscription: librdkafka never joins the group (group.id only names the client, and
    // rd_kafka_poll_set_consumer needs one); the watcher finds the partitions, Run assigns them.
    watcher_ = std::make_unique<PartitionWatcher>(consumer_, options_.topics,
                                                  std::chrono::milliseconds(options_.partition_refresh_ms));
  } else {
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size()));
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
  cooperative_ = !all_partitions_ && options_.assignment_strategy == "cooperative-sticky";
  assignment_seen_ = false;
  unassigned_since_ns_.store(SteadyNs(Clock::now()), std::memory_order_relaxed);
  writer_ = std::thread(&KafkaIngester::WriterLoop, this);
  thread_ = std::thread(&KafkaIngester::Run, this);
  if (watcher_) watcher_->Start();
  Log(LogLevel::kInfo, "kafka.started",
      {{"partitions", options_.partitions}, {"group", options_.group},
       {"topics", static_cast<int64_t>(options_.topics.size())},
       {"strategy", options_.assignment_strategy},
       {"group_instance_id", instance_id_.empty() ? "(dynamic membership)" : instance_id_},
       {"librdkafka", rd_kafka_version_str()}});
  if (cooperative_ && rd_kafka_version() < kFirstFixedVersion) {
    Log(LogLevel::kWarn, "kafka.cooperative_close_guard",
        {{"why", "librdkafka < 2.3.0 aborts when a cooperative-sticky consumer is closed before its first "
                 "assignment (librdkafka #4312): a stop waits for that assignment (up to session_timeout_ms)"}});
  }
  return Status::Ok();
}

void KafkaIngester::Stop() {
  if (!started_) return;
  stop_ = true;
  if (watcher_) watcher_->Stop();  // it uses the consumer handle; at most one metadata request's wait
  thread_.join();  // everything consumed is committed (or abandoned) by now
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    writer_exit_ = true;
  }
  writer_cv_.notify_all();
  writer_.join();
  rd_kafka_queue_destroy(consumer_queue_);
  consumer_queue_ = nullptr;
  if (CloseMayAbort()) {
    // Destroying it would abort the whole process (librdkafka #4312, see kFirstFixedVersion):
    // leave the handle to the process's exit. Offsets and graph are committed already.
    Log(LogLevel::kError, "kafka.destroy_skipped",
        {{"why", "cooperative-sticky consumer without an assignment; librdkafka < 2.3.0 would abort (#4312)"}});
  } else {
    rd_kafka_destroy(consumer_);
  }
  consumer_ = nullptr;
  watcher_.reset();
  dead_letters_.reset();
  started_ = false;
  unassigned_since_ns_.store(0, std::memory_order_relaxed);
  unassigned_gauge_->Set(-1);
  Log(LogLevel::kInfo, "kafka.stopped", {{"committed_messages", committed_.load()}});
}

void KafkaIngester::Run() {
  pthread_setname_np(pthread_self(), "vasgd-kafka");
  const auto max_wait = std::chrono::milliseconds(options_.batch_max_wait_ms);
  Clock::time_point batch_deadline{}, next_lag_update{}, stop_deadline{};
  while (!StopNow(Clock::now(), &stop_deadline)) {
    int timeout_ms = 100;
    if (filling_->size > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(batch_deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 100));
    }
    if (watcher_ && watcher_->has_new()) AssignFound();
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
  if (!fatal_.load() && !all_partitions_) LeaveGroup();
  rd_kafka_consumer_close(consumer_);  // a dynamic member leaves here if it has not yet; "all": unassigns
  // "all" (or a fatal error): no revocation said so; the partitions are not this consumer's any more.
  for (const Assigned& a : assigned_) MarkUnassigned(a);
  assigned_.clear();
  SetAssignedCount();
  UpdateLag();
}

// Whether the consumer loop should end: on a fatal error, or once a stop was asked for, except
// that a cooperative-sticky consumer on an affected librdkafka first waits (up to a session
// timeout) for its first assignment, so that closing it cannot abort (librdkafka #4312).
bool KafkaIngester::StopNow(Clock::time_point now, Clock::time_point* deadline) {
  if (fatal_.load(std::memory_order_relaxed)) return true;
  if (!stop_.load(std::memory_order_relaxed)) return false;
  if (!CloseMayAbort()) return true;
  if (*deadline == Clock::time_point{}) {
    *deadline = now + std::chrono::milliseconds(options_.session_timeout_ms);
    Log(LogLevel::kInfo, "kafka.stop_waits_for_assignment", {{"max_ms", options_.session_timeout_ms}});
  }
  return now >= *deadline;
}

bool KafkaIngester::CloseMayAbort() const {
  return cooperative_ && !assignment_seen_ && rd_kafka_version() < kFirstFixedVersion;
}

// A static member (group.instance.id) does not send LeaveGroup when it is closed (KIP-345: the
// broker keeps its partitions for session.timeout.ms, waiting for it to come back); a stopped
// daemon must hand them to the group's other members at once. librdkafka sends LeaveGroup on an
// unsubscribe, static member or not, once the revocation has finished, which runs on this
// thread's polls: poll (dropping prefetched messages: their offsets were never committed to
// the store, the next owner reads them again) until the member id is gone, then close.
void KafkaIngester::LeaveGroup() {
  if (rd_kafka_resp_err_t e = rd_kafka_unsubscribe(consumer_)) {
    Log(LogLevel::kWarn, "kafka.unsubscribe_failed", {{"error", rd_kafka_err2str(e)}});
    return;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(kLeaveWaitMs);
  while (Clock::now() < deadline) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 20)) rd_kafka_message_destroy(m);
    char* member = rd_kafka_memberid(consumer_);
    const bool member_left = member == nullptr || *member == '\0';
    if (member) rd_kafka_mem_free(consumer_, member);
    if (member_left) return;
  }
  Log(LogLevel::kWarn, "kafka.leave_timeout", {{"waited_ms", kLeaveWaitMs}});
}

void KafkaIngester::OnError(int e, const char* reason) {
  kafka_errors_->Inc();
  const auto code = static_cast<rd_kafka_resp_err_t>(e);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    OnFatal();
  } else {
    LogKafkaDiagnostic(false, "kafka.error", rd_kafka_err2name(code), reason);
  }
}

// librdkafka hands a consumer's fatal error (e.g. FENCED_INSTANCE_ID) to consumer_poll() as a
// message with ERR__FATAL, other clients' to the error callback; the handle is unusable after.
void KafkaIngester::OnFatal() {
  if (fatal_.load()) return;
  char text[512];
  const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(consumer_, text, sizeof(text));
  std::string message = std::string(rd_kafka_err2name(cause)) + ": " + text;
  if (cause == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID) {
    message = "fenced: another consumer joined group \"" + options_.group + "\" with this daemon's group.instance.id \"" +
              instance_id_ + "\" (two daemons share kafka.group_instance_id; give each its own, or \"auto\")";
  }
  {
    std::lock_guard<std::mutex> lock(fatal_mu_);
    fatal_error_ = message;
  }
  fatal_.store(true);
  Log(LogLevel::kError, "kafka.fatal",
      {{"error", message}, {"group", options_.group}, {"group_instance_id", instance_id_}});
}

std::string KafkaIngester::fatal_error() const {
  std::lock_guard<std::mutex> lock(fatal_mu_);
  return fatal_error_;
}

double KafkaIngester::unassigned_seconds() const {
  const int64_t since = unassigned_since_ns_.load(std::memory_order_relaxed);
  if (since == 0) return -1;
  return static_cast<double>(SteadyNs(Clock::now()) - since) * 1e-9;
}

void KafkaIngester::Consume(rd_kafka_message_t* m) {
  if (m->err) {
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
      kafka_errors_->Inc();
      OnFatal();
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
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
    // Kept (with where it came from and its start) for the dashboard's last rejected events.
    applier_->CountRejected(error,
                            "kafka " + std::string(rd_kafka_topic_name(m->rkt)) + "/" + std::to_string(m->partition) +
                                "@" + std::to_string(m->offset),
                            payload);
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
    const Clock::time_point finished_at = Clock::now();
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
        a.last_message = finished_at;
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
  const Clock::time_point now = Clock::now();
  for (const Assigned& a : assigned_) {
    a.age->Set(std::chrono::duration<double>(now - a.last_message).count());
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_, a.topic.c_str(), a.partition, &low, &high) != 0 || high < 0) {
      continue;
    }
    int64_t next = a.next >= 0 ? a.next : std::max<int64_t>(low, 0);
    a.lag->Set(static_cast<double>(std::max<int64_t>(0, high - next)));
    total += std::max<int64_t>(0, high - next);
    known = true;
  }
  lag_.store(known ? total : -1, std::memory_order_relaxed);
  lag_gauge_->Set(known ? static_cast<double>(total) : -1.0);
  unassigned_gauge_->Set(unassigned_seconds());
  // Also while the writer is behind and this thread waits for it (no polls, so no statistics).
  const auto queued = static_cast<int64_t>(rd_kafka_queue_length(consumer_queue_));
  prefetched_messages_.store(queued, std::memory_order_relaxed);
  prefetched_messages_gauge_->Set(static_cast<double>(queued));
}

// librdkafka's statistics JSON (STATISTICS.md), every second, on the consumer thread (which
// serves the client's callbacks): broker states. (Its per-partition fetchq_size is no measure of
// the prefetched payload: ingest_bench read 0 there while ~90,000 messages were queued.)
void KafkaIngester::OnStatistics(const char* json, size_t size) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json, size, /*realloc_if_needed=*/true).get(doc)) return;
  UpdateBrokerStates(doc);
}

// "brokers" maps names to objects with "source" (learned / configured / logical / internal) and
// "state" ("UP" when connected).
void KafkaIngester::UpdateBrokerStates(const simdjson::dom::element& doc) {
  simdjson::dom::object brokers;
  if (doc["brokers"].get_object().get(brokers)) return;
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
    assignment_seen_ = true;
    const Clock::time_point now = Clock::now();
    for (int i = 0; i < partitions->cnt; ++i) AddAssigned(&partitions->elems[i], now);
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
        auto revoked = [&](const Assigned& a) { return a.partition == p.partition && a.topic == p.topic; };
        for (const Assigned& a : assigned_) {
          if (revoked(a)) MarkUnassigned(a);
        }
        assigned_.erase(std::remove_if(assigned_.begin(), assigned_.end(), revoked), assigned_.end());
      }
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) {
        Log(LogLevel::kError, "kafka.unassign_failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      for (const Assigned& a : assigned_) MarkUnassigned(a);
      assigned_.clear();
      rd_kafka_assign(rk, nullptr);
    }
    Log(LogLevel::kInfo, "kafka.revoked", {{"partitions", partitions->cnt}, {"lost", rd_kafka_assignment_lost(rk) == 1}});
  } else {
    kafka_errors_->Inc();
    Log(LogLevel::kError, "kafka.rebalance_error", {{"error", rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err))}});
    FlushPending();
    for (const Assigned& a : assigned_) MarkUnassigned(a);
    assigned_.clear();
    rd_kafka_assign(rk, nullptr);
  }
  SetAssignedCount();
}

void KafkaIngester::AddAssigned(rd_kafka_topic_partition_t* p, Clock::time_point now) {
  const int64_t next = applier_->store()->NextOffset(p->topic, p->partition);
  p->offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;  // never seen: from its first message
  const std::string labels =
      "topic=\"" + std::string(p->topic) + "\",partition=\"" + std::to_string(p->partition) + "\"";
  Gauge* age = metrics_->GetGauge(
      "vasgd_consumer_last_message_age_seconds",
      "Seconds since a message of the partition was last consumed and committed (since its assignment if none; -1: not assigned)",
      labels);
  age->Set(0);
  Gauge* lag = metrics_->GetGauge("vasgd_consumer_partition_lag_events",
                                  "Messages behind the partition's high watermark (-1: not assigned or not known yet)", labels);
  lag->Set(-1);
  assigned_.push_back({p->topic, p->partition, next, now, age, lag});
}

// Partitions are only ever added here (Kafka never removes one from a topic), so an incremental
// assignment suffices: the partitions already fetching keep their position and their prefetched
// messages. librdkafka allows it without a group (no rebalance protocol is in force).
void KafkaIngester::AssignFound() {
  const std::vector<TopicPartition> found = watcher_->TakeNew();
  if (found.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(found.size()));
  const Clock::time_point now = Clock::now();
  for (const TopicPartition& tp : found) {
    AddAssigned(rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition), now);
  }
  if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_, list)) {
    kafka_errors_->Inc();
    Log(LogLevel::kError, "kafka.assign_failed", {{"error", rd_kafka_error_string(e)}});
    rd_kafka_error_destroy(e);
  }
  rd_kafka_topic_partition_list_destroy(list);
  SetAssignedCount();
  Log(LogLevel::kInfo, "kafka.assigned",
      {{"partitions", static_cast<int64_t>(found.size())}, {"total", static_cast<int64_t>(assigned_.size())},
       {"mode", "all"}});
}

void KafkaIngester::MarkUnassigned(const Assigned& a) {
  a.age->Set(-1);
  a.lag->Set(-1);
}

void KafkaIngester::SetAssignedCount() {
  const int count = static_cast<int>(assigned_.size());
  assigned_count_.store(count, std::memory_order_relaxed);
  if (count > 0) {
    unassigned_since_ns_.store(0, std::memory_order_relaxed);
  } else if (unassigned_since_ns_.load(std::memory_order_relaxed) == 0) {
    unassigned_since_ns_.store(SteadyNs(Clock::now()), std::memory_order_relaxed);
  }
  unassigned_gauge_->Set(unassigned_seconds());
}

}  // namespace vasgd

#include "stream/partition_watcher.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>

#include <algorithm>

#include "common/log.h"
#include "stream/kafka_log.h"

namespace vasgd {
namespace {

// A request that found no broker is retried this soon (but never more often than the interval
// asks): a daemon started while its brokers are away assigns its partitions soon after they come.
constexpr std::chrono::milliseconds kRetryAfterFailure{1000};

}  // namespace

PartitionWatcher::PartitionWatcher(rd_kafka_t* rk, std::vector<std::string> topics, std::chrono::milliseconds interval)
    : rk_(rk), topics_(std::move(topics)), interval_(interval), known_counts_(topics_.size(), 0) {}

PartitionWatcher::~PartitionWatcher() { Stop(); }

void PartitionWatcher::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread(&PartitionWatcher::Run, this);
}

void PartitionWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<TopicPartition> PartitionWatcher::TakeNew() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TopicPartition> out;
  out.swap(new_);
  has_new_.store(false, std::memory_order_release);
  return out;
}

void PartitionWatcher::Run() {
  pthread_setname_np(pthread_self(), "vasgd-kmeta");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const bool answered = Refresh();
    lock.lock();
    const auto wait = answered ? interval_ : std::min(interval_, kRetryAfterFailure);
    cv_.wait_for(lock, wait, [&] { return stop_; });
  }
}

// One request for the whole cluster's topic list: a request naming a topic (a topic handle) may
// create it (brokers with auto.create.topics.enable, librdkafka's mock cluster), and a daemon
// must not create the topics it merely reads.
bool PartitionWatcher::Refresh() {
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, /*all_topics=*/1, nullptr, &md, kMetadataTimeoutMs);
  if (err) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    LogKafkaDiagnostic(false, "kafka.metadata_failed", rd_kafka_err2name(err), "listing the topics' partitions");
    return false;
  }
  std::vector<TopicPartition> found;
  for (size_t t = 0; t < topics_.size(); ++t) {
    const rd_kafka_metadata_topic* mt = nullptr;
    for (int i = 0; i < md->topic_cnt && !mt; ++i) {
      if (topics_[t] == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) mt = &md->topics[i];
    }
    if (!mt) {  // not created yet: looked for again at the next refresh
      LogOncePerKind(LogLevel::kWarn, "topic_missing:" + topics_[t], "kafka.topic_missing",
                     {{"topic", topics_[t]}, {"retry_ms", static_cast<int64_t>(interval_.count())}});
      continue;
    }
    std::vector<int32_t> ids;
    for (int p = 0; p < mt->partition_cnt; ++p) ids.push_back(mt->partitions[p].id);
    std::sort(ids.begin(), ids.end());
    // Partition ids run 0..n-1 and only grow: the ones beyond what was seen are new.
    for (int32_t id : ids) {
      if (id >= known_counts_[t]) found.push_back({topics_[t], id});
    }
    if (!ids.empty()) known_counts_[t] = std::max(known_counts_[t], ids.back() + 1);
  }
  rd_kafka_metadata_destroy(md);
  if (!found.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    new_.insert(new_.end(), found.begin(), found.end());
    has_new_.store(true, std::memory_order_release);
  }
  return true;
}

}  // namespace vasgd

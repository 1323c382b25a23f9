// EventApplier: validated events -> one store batch -> counters -> listeners, in commit order.
// Kafka ingestion, POST /v1/events and bulk import all apply through it, so metrics and
// listeners see every source alike.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "store/graph_store.h"
#include "stream/event.h"
#include "stream/rejection_log.h"

namespace vasgd {

// Told about every batch after it is durably committed. The daemon subscribes to keep live
// state (purchase exclusions, availability, the index) current.
class EventListener {
 public:
  virtual ~EventListener() = default;
  // events[i] was applied when outcomes[i].result == kApplied; outcomes carry the dense ids and
  // whether the user/product/edge is new. Called with the applier's lock held, in commit order:
  // keep it quick and do not call back into the applier.
  virtual void OnEventsApplied(const Event* events, const UpdateOutcome* outcomes, size_t n) = 0;
};

class EventApplier {
 public:
  // Registers vasgd_events_total{result=...} and vasgd_events_rejected_total{reason=...} (every
  // reason, at 0) in `metrics`. Neither pointer is owned; both must outlive the applier.
  EventApplier(GraphStore* store, MetricsRegistry* metrics);

  // Adds a listener (not owned). Call before the first Apply.
  void AddListener(EventListener* listener);

  // Applies events[0..n) in one store batch (see GraphStore::Apply: kNone events only advance
  // their offsets), counts each outcome, logs the first rejection of each kind, then notifies
  // the listeners. On a non-OK Status nothing was applied or counted: retry the same call.
  // Thread-safe; concurrent callers are applied one batch at a time.
  Status Apply(const Event* events, size_t n, const std::vector<SourcePartition>& sources,
               UpdateOutcome* outcomes);

  // Counts an event rejected before it reached the store (by the parser or a reader) and logs
  // the first of each reason. When rejections are kept (KeepRecentRejections), records it with
  // `source` (where it came from, e.g. "kafka events/3@1042"; "" = not said) and the start of
  // its text `payload`.
  void CountRejected(const EventError& error, std::string_view source = {}, std::string_view payload = {});

  // Keeps the last `keep` rejections (parser's and store's) for rejections(). Call before the
  // first Apply or CountRejected; without it none are kept.
  void KeepRecentRejections(size_t keep);
  // The kept rejections; null unless KeepRecentRejections was called.
  const RejectionLog* rejections() const { return rejections_.get(); }

  // Limits for parsers feeding this applier: the store's max id length and current dimension.
  EventLimits Limits(int64_t max_message_bytes) const;

  GraphStore* store() const { return store_; }

 private:
  GraphStore* store_;
  std::mutex mu_;  // one batch at a time, so listeners see commits in order
  std::vector<EventListener*> listeners_;
  Counter* accepted_;
  Counter* duplicates_;
  Counter* rejected_total_;
  Counter* rejected_[static_cast<size_t>(RejectReason::kCount)];
  Histogram* commit_seconds_;
  std::unique_ptr<RejectionLog> rejections_;
};

}  // namespace vasgd

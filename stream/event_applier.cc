#include "stream/event_applier.h"

#include <chrono>

#include "common/log.h"

namespace vasgd {
namespace {

// "kafka <topic>/<partition>@<offset>" for an event from Kafka; "" for HTTP and bulk import,
// which do not say which of the two they are.
std::string SourceName(const Event& event, const std::vector<SourcePartition>& sources) {
  if (event.source < 0 || static_cast<size_t>(event.source) >= sources.size()) return "";
  const SourcePartition& s = sources[static_cast<size_t>(event.source)];
  return "kafka " + s.topic + "/" + std::to_string(s.partition) + "@" + std::to_string(event.offset);
}

}  // namespace

EventApplier::EventApplier(GraphStore* store, MetricsRegistry* metrics) : store_(store) {
  const std::string events_help = "Events by result: accepted (applied), rejected, duplicate (already applied)";
  accepted_ = metrics->GetCounter("vasgd_events_total", events_help, "result=\"accepted\"");
  rejected_total_ = metrics->GetCounter("vasgd_events_total", events_help, "result=\"rejected\"");
  duplicates_ = metrics->GetCounter("vasgd_events_total", events_help, "result=\"duplicate\"");
  for (size_t r = 1; r < static_cast<size_t>(RejectReason::kCount); ++r) {
    rejected_[r] = metrics->GetCounter(
        "vasgd_events_rejected_total", "Rejected events by reason",
        std::string("reason=\"") + RejectReasonName(static_cast<RejectReason>(r)) + "\"");
  }
  rejected_[0] = rejected_total_;  // never used for kNone; keeps the table total
  commit_seconds_ = metrics->GetHistogram("vasgd_store_commit_seconds",
                                          "Time to apply one batch to the graph store, durably");
}

void EventApplier::AddListener(EventListener* listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(listener);
}

void EventApplier::KeepRecentRejections(size_t keep) { rejections_ = std::make_unique<RejectionLog>(keep); }

void EventApplier::CountRejected(const EventError& error, std::string_view source, std::string_view payload) {
  if (rejections_) rejections_->Add(source, RejectReasonName(error.reason), error.message, payload);
  rejected_total_->Inc();
  rejected_[static_cast<size_t>(error.reason)]->Inc();
  LogOncePerKind(LogLevel::kWarn, std::string("event.rejected:") + RejectReasonName(error.reason), "event.rejected",
                 {{"reason", RejectReasonName(error.reason)}, {"message", error.message}});
}

EventLimits EventApplier::Limits(int64_t max_message_bytes) const {
  EventLimits limits;
  limits.max_id_bytes = store_->options().max_id_bytes;
  limits.max_message_bytes = max_message_bytes;
  limits.feature_dim = store_->feature_dim();
  return limits;
}

Status EventApplier::Apply(const Event* events, size_t n, const std::vector<SourcePartition>& sources,
                           UpdateOutcome* outcomes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto start = std::chrono::steady_clock::now();
  VASGD_RETURN_IF_ERROR(store_->Apply(events, n, sources, outcomes));
  commit_seconds_->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  int64_t applied = 0, duplicates = 0;
  for (size_t i = 0; i < n; ++i) {
    switch (outcomes[i].result) {
      case UpdateResult::kApplied: ++applied; break;
      case UpdateResult::kDuplicate: ++duplicates; break;
      case UpdateResult::kSkipped: break;  // counted as rejected when it was parsed
      case UpdateResult::kRejected: {
        EventError error;
        error.reason = outcomes[i].reason;
        error.message = "product " + events[i].product + ": features have dimension " +
                        std::to_string(events[i].features.size()) + ", the store's is " +
                        std::to_string(store_->feature_dim());
        CountRejected(error, SourceName(events[i], sources));
        break;
      }
    }
  }
  if (applied) accepted_->Inc(static_cast<double>(applied));
  if (duplicates) duplicates_->Inc(static_cast<double>(duplicates));
  for (EventListener* l : listeners_) l->OnEventsApplied(events, outcomes, n);
  return Status::Ok();
}

}  // namespace vasgd

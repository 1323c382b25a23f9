#include "stream/bulk_import.h"

#include <chrono>
#include <cstring>

#include "common/log.h"
#include "model/npy.h"
#include "model/tsv.h"
#include "stream/line_reader.h"

namespace vasgd {
namespace {

constexpr size_t kMaxReportedErrors = 10;

// Gathers events into batches and applies them; counts every outcome into the report.
class BatchWriter {
 public:
  BatchWriter(EventApplier* applier, const ImportOptions& options, ImportReport* report)
      : applier_(applier), report_(report), events_(options.batch_events), outcomes_(options.batch_events) {}

  // The next event slot to fill; call Commit() after filling it (or leave it to be reused).
  Event* Slot() { return &events_[pending_]; }

  // Validates the filled slot; a valid event joins the batch, which is applied when full.
  Status Commit(int64_t row, const EventLimits& limits) {
    EventError error;
    if (!ValidateEvent(limits, events_[pending_], &error)) {
      Reject(row, error);
      return Status::Ok();
    }
    rows_[pending_] = row;
    if (++pending_ == events_.size()) return Flush();
    return Status::Ok();
  }

  void Reject(int64_t row, const EventError& error) {
    applier_->CountRejected(error);
    ++report_->rejected;
    ++report_->rejected_by_reason[RejectReasonName(error.reason)];
    if (report_->first_errors.size() < kMaxReportedErrors) {
      report_->first_errors.push_back("line " + std::to_string(row) + ": " + RejectReasonName(error.reason) +
                                      ": " + error.message);
    }
  }

  Status Flush() {
    if (pending_ == 0) return Status::Ok();
    static const std::vector<SourcePartition> kNoSources;
    VASGD_RETURN_IF_ERROR(applier_->Apply(events_.data(), pending_, kNoSources, outcomes_.data()));
    for (size_t i = 0; i < pending_; ++i) {
      if (outcomes_[i].result == UpdateResult::kApplied) {
        ++report_->accepted;
      } else if (outcomes_[i].result == UpdateResult::kRejected) {
        ++report_->rejected;
        ++report_->rejected_by_reason[RejectReasonName(outcomes_[i].reason)];
        if (report_->first_errors.size() < kMaxReportedErrors) {
          report_->first_errors.push_back("line " + std::to_string(rows_[i]) + ": " +
                                          RejectReasonName(outcomes_[i].reason) + ": rejected by the store");
        }
      }
    }
    pending_ = 0;
    return Status::Ok();
  }

 private:
  EventApplier* applier_;
  ImportReport* report_;
  std::vector<Event> events_;
  std::vector<UpdateOutcome> outcomes_;
  std::vector<int64_t> rows_ = std::vector<int64_t>(events_.size());
  size_t pending_ = 0;
};

// Maps model/tsv.h's error words onto reject reasons.
RejectReason TsvReason(const std::string& message) {
  if (message.rfind("id_too_long", 0) == 0) return RejectReason::kIdTooLong;
  if (message.rfind("bad_weight", 0) == 0) return RejectReason::kBadWeight;
  if (message.rfind("missing_field", 0) == 0) return RejectReason::kMissingField;
  return RejectReason::kBadField;  // too_many_fields and anything new
}

class Timer {
 public:
  explicit Timer(ImportReport* report) : report_(report), start_(std::chrono::steady_clock::now()) {}
  ~Timer() { report_->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  ImportReport* report_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

std::string ImportReport::ToJson() const {
  std::string out = "{\"rows\":" + std::to_string(rows) + ",\"accepted\":" + std::to_string(accepted) +
                    ",\"rejected\":" + std::to_string(rejected) + ",\"rejected_by_reason\":{";
  bool first = true;
  for (const auto& [reason, n] : rejected_by_reason) {
    out += (first ? "\"" : ",\"") + reason + "\":" + std::to_string(n);
    first = false;
  }
  out += "},\"first_errors\":[";
  for (size_t i = 0; i < first_errors.size(); ++i) {
    out += i ? ",\"" : "\"";
    AppendJsonEscaped(&out, first_errors[i]);
    out += "\"";
  }
  char tail[96];
  std::snprintf(tail, sizeof(tail), "],\"seconds\":%.3f,\"rows_per_second\":%.0f}", seconds,
                seconds > 0 ? static_cast<double>(rows) / seconds : 0.0);
  return out + tail;
}

Status ImportFeaturesNpy(const std::string& path, EventApplier* applier, const ImportOptions& options,
                         ImportReport* report) {
  Timer timer(report);
  Result<NpyMatrix> npy = ReadNpy(path);
  if (!npy.ok()) return npy.status();
  const NpyMatrix& m = *npy;
  BatchWriter writer(applier, options, report);
  EventLimits limits = applier->Limits(options.max_message_bytes);
  for (int64_t r = 0; r < m.rows; ++r) {
    Event* e = writer.Slot();
    e->Clear();
    e->type = UpdateType::kProduct;
    e->product = std::to_string(r);
    e->has_features = true;
    e->features.assign(m.row(r), m.row(r) + m.cols);
    ++report->rows;
    VASGD_RETURN_IF_ERROR(writer.Commit(r, limits));
    if (limits.feature_dim == 0) limits.feature_dim = static_cast<int>(m.cols);  // the first row fixes it
  }
  return writer.Flush();
}

Status ImportInteractionsTsv(const std::string& path, EventApplier* applier, const ImportOptions& options,
                             ImportReport* report) {
  Timer timer(report);
  LineReader reader;
  VASGD_RETURN_IF_ERROR(reader.Open(path));
  BatchWriter writer(applier, options, report);
  const EventLimits limits = applier->Limits(options.max_message_bytes);
  std::string_view line;
  if (!reader.Next(&line)) return reader.status().ok() ? Status::InvalidArgument(path + " is empty") : reader.status();
  const int64_t now = UnixNow();
  Interaction row;
  while (reader.Next(&line)) {
    if (line.empty()) continue;
    ++report->rows;
    Status s = ParseInteractionLine(line, &row, limits.max_id_bytes);
    if (!s.ok()) {
      writer.Reject(reader.line_number(), EventError{TsvReason(s.message()), s.message()});
      continue;
    }
    Event* e = writer.Slot();
    e->Clear();
    e->type = UpdateType::kPurchase;
    e->user.assign(row.user.data(), row.user.size());
    e->product.assign(row.item.data(), row.item.size());
    e->weight = row.weight;
    e->ts = now;
    VASGD_RETURN_IF_ERROR(writer.Commit(reader.line_number(), limits));
  }
  VASGD_RETURN_IF_ERROR(reader.status());
  return writer.Flush();
}

Status ImportEventsJsonl(const std::string& path, EventApplier* applier, const ImportOptions& options,
                         ImportReport* report) {
  Timer timer(report);
  LineReader reader;
  VASGD_RETURN_IF_ERROR(reader.Open(path));
  BatchWriter writer(applier, options, report);
  EventLimits limits = applier->Limits(options.max_message_bytes);
  EventParser parser(limits);
  const int64_t now = UnixNow();
  std::string_view line;
  EventError error;
  while (reader.Next(&line)) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    ++report->rows;
    if (!parser.Parse(line, now, writer.Slot(), &error)) {
      writer.Reject(reader.line_number(), error);
      continue;
    }
    const Event& e = *writer.Slot();
    if (limits.feature_dim == 0 && e.has_features) {  // the first features fix the dimension
      limits.feature_dim = static_cast<int>(e.features.size());
      parser.set_feature_dim(limits.feature_dim);
    }
    VASGD_RETURN_IF_ERROR(writer.Commit(reader.line_number(), limits));
  }
  VASGD_RETURN_IF_ERROR(reader.status());
  return writer.Flush();
}

}  // namespace vasgd

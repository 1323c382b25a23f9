// The last few rejected events, for the operator dashboard: when, from where, why, and the
// start of the event's text. Bounded (the oldest goes when full); rejections are rare, so one
// mutex is enough. Holds event contents (ids, features), never credentials: whoever shows it
// (the dashboard's admin endpoint) keeps it behind the admin token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vasgd {

struct RejectedEvent {
  double time = 0;       // seconds since the epoch
  std::string source;    // "kafka <topic>/<partition>@<offset>", "http", ... ("" = not said)
  std::string reason;    // RejectReasonName
  std::string message;   // EventError::message
  std::string excerpt;   // the event's text, cut to kExcerptBytes ("" when the caller had none)
};

class RejectionLog {
 public:
  static constexpr size_t kExcerptBytes = 300;

  // Keeps the last `keep` rejections; 0 keeps none (Add only counts).
  explicit RejectionLog(size_t keep) : keep_(keep) {}

  // Records one rejection at the current time; `payload` is cut to kExcerptBytes (at a UTF-8
  // character boundary). Thread-safe.
  void Add(std::string_view source, std::string_view reason, std::string_view message, std::string_view payload);

  // The kept rejections, newest first.
  std::vector<RejectedEvent> Recent() const;
  // Rejections ever added (kept or not).
  int64_t total() const;

 private:
  const size_t keep_;
  mutable std::mutex mu_;
  std::deque<RejectedEvent> recent_;  // oldest first
  int64_t total_ = 0;
};

}  // namespace vasgd

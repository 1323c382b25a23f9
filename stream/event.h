// Events as DESIGN.md defines them, and the ONE path that validates them: Kafka messages,
// POST /v1/events bodies, JSON Lines files, TSV rows and .npy rows all end up in ValidateEvent.
//
//   {"type":"purchase","user":"u42","product":"p7","ts":1732550000,"weight":1.0,"event_id":"e-1"}
//   {"type":"product","product":"p9","features":[0.1,0.0,2.3],"categories":["shoes"],"meta":{...}}
//   {"type":"product","product":"p9","features_b64":"<base64 of little-endian float32>"}
//   {"type":"product","product":"p9","available":false}
//
// A rejection carries a stable machine reason (RejectReasonName: bad_json, unknown_type, ...)
// and a human message. Unknown fields are ignored (forward compatibility); a repeated field
// counts with its last value.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/graph_update.h"

namespace vasgd {

// An event is exactly the graph update it asks for (store/graph_update.h).
using Event = GraphUpdate;

struct EventLimits {
  int max_id_bytes = 256;                  // StoreOptions.max_id_bytes
  int64_t max_message_bytes = 4 << 20;     // KafkaOptions.max_message_bytes
  int feature_dim = 0;                     // the store's fixed dimension; 0 = not fixed yet
};

struct EventError {
  RejectReason reason = RejectReason::kNone;
  std::string message;  // for people: names the field and what is wrong with it
};

// Checks an event built by any reader: ids present and at most max_id_bytes, weight finite > 0,
// ts >= 0, features non-empty, finite and of the fixed dimension, categories within the id
// limit. False with *error filled on the first problem.
bool ValidateEvent(const EventLimits& limits, const Event& event, EventError* error);

// Parses JSON events. Holds reusable parse buffers: one per thread, not thread-safe.
class EventParser {
 public:
  explicit EventParser(const EventLimits& limits);
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // The dimension features must have (follow GraphStore::feature_dim() as it becomes fixed).
  void set_feature_dim(int dim) { limits_.feature_dim = dim; }
  const EventLimits& limits() const { return limits_; }

  // Parses one JSON object into *event (cleared first, buffers reused); `now` (seconds since the
  // epoch) is the ts of an event that has none. On a rejection returns false and fills *error.
  bool Parse(std::string_view json, int64_t now, Event* event, EventError* error);

  // Parses a JSON array of event objects (a POST /v1/events body). *events and *errors get one
  // entry per element (errors[i].reason == kNone for a valid one). A body that is not a JSON
  // array is InvalidArgument (no per-event results); body size limits are the caller's.
  Status ParseArray(std::string_view json, int64_t now, std::vector<Event>* events,
                    std::vector<EventError>* errors);

 private:
  struct Impl;  // simdjson stays out of this header
  EventLimits limits_;
  std::unique_ptr<Impl> impl_;
};

// Seconds since the epoch, for `now`.
int64_t UnixNow();

}  // namespace vasgd

// Fuzz harness: the event parser (stream/event.h) on Kafka-message and POST /v1/events bodies,
// with JSON features and base64 `features_b64`, and the base64 codec on its own.
// Invariants: an accepted event passes ValidateEvent (the one rule set all readers share), a
// rejection carries a reason and a message, an array body gives one result per element, and
// base64 decoding round-trips through the encoder.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "stream/base64.h"
#include "stream/event.h"

namespace {

using vasgd::Event;
using vasgd::EventError;
using vasgd::EventLimits;
using vasgd::EventParser;
using vasgd::RejectReason;

EventLimits Limits(int feature_dim) {
  EventLimits l;
  l.max_id_bytes = 64;            // small, so the fuzzer reaches the length checks
  l.max_message_bytes = 1 << 16;  // larger inputs exercise the size check
  l.feature_dim = feature_dim;
  return l;
}

void CheckOne(EventParser* parser, std::string_view text) {
  Event event;
  EventError error;
  if (parser->Parse(text, 1732550000, &event, &error)) {
    EventError again;
    FUZZ_CHECK(vasgd::ValidateEvent(parser->limits(), event, &again), again.message.c_str());
    FUZZ_CHECK(event.type != vasgd::UpdateType::kNone, "an accepted event changes the graph");
    for (float f : event.features) FUZZ_CHECK(std::isfinite(f), "accepted features are finite");
  } else {
    FUZZ_CHECK(error.reason != RejectReason::kNone, "a rejection has a reason");
    FUZZ_CHECK(!error.message.empty(), "a rejection has a message");
  }
}

void CheckArray(EventParser* parser, std::string_view text) {
  std::vector<Event> events;
  std::vector<EventError> errors;
  if (parser->ParseArray(text, 1732550000, &events, &errors).ok()) {
    FUZZ_CHECK(events.size() == errors.size(), "one result per element");
    for (size_t i = 0; i < events.size(); ++i) {
      if (errors[i].reason != RejectReason::kNone) continue;
      EventError again;
      FUZZ_CHECK(vasgd::ValidateEvent(parser->limits(), events[i], &again), again.message.c_str());
    }
  }
}

void CheckBase64(std::string_view text) {
  std::string decoded;
  if (!vasgd::Base64Decode(text, &decoded)) return;
  std::string again;
  FUZZ_CHECK(vasgd::Base64Decode(vasgd::Base64Encode(decoded), &again), "encoder output decodes");
  FUZZ_CHECK(again == decoded, "base64 round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Parsers keep buffers between calls, as in the ingester: reuse them across inputs too.
  static EventParser any_dim(Limits(0));
  static EventParser dim4(Limits(4));
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckOne(&any_dim, text);
  CheckOne(&dim4, text);
  CheckArray(&dim4, text);
  CheckBase64(text);
  return 0;
}

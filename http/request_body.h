// JSON request bodies: POST /v1/analogy and POST /v1/events.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/api.h"

namespace vasgd {

// {"positive":["p:p1","u:u2"],"negative":["u:u1"],"k":10,"offset":0}: "p:" names a product,
// "u:" a user; positive needs at least one entry; k in [1, max_k], k + offset <= max_k.
// InvalidArgument naming the field otherwise (unknown fields too).
Result<AnalogyRequest> ParseAnalogyBody(std::string_view body, int max_k);

// A JSON array of events (or one event object) -> the JSON text of each element, in order.
// InvalidArgument for a body that is not JSON or not an array/object; ResourceExhausted when it
// holds more than `max_events`.
Result<std::vector<std::string>> SplitEventsBody(std::string_view body, int max_events);

}  // namespace vasgd

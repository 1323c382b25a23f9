// JSON answers of the HTTP API, written by hand (a few fields each, on the hot path):
// errors as {"error":{"code","message"}}, and one renderer per Api result.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/api.h"

namespace vasgd {

// The HTTP status for an Api error (see http/api.h).
int HttpStatusFor(const Status& status);
// A short machine-readable code per HTTP status: "invalid_argument", "unauthorized", ...
const char* ErrorCodeFor(int http_status);
// {"error":{"code":"<ErrorCodeFor(status)>","message":"<message>"}}
std::string ErrorJson(int http_status, std::string_view message);

std::string RenderRecommendations(const Recommendations& r);
std::string RenderSimilar(const SimilarItems& r);
std::string RenderAnalogy(const AnalogyResult& r);
// {"accepted":A,"rejected":R,"results":[{"index":0,"accepted":true},{"index":1,"accepted":false,"reason":"…"}]}
std::string RenderIngest(const std::vector<EventOutcome>& outcomes);
std::string RenderStatus(const AdminStatus& s);
// ,"assigned_partitions":N[,"unassigned_seconds":S] appended to an object being written; nothing
// without Kafka.
void AppendAssignment(std::string* out, const ConsumerAssignment& a);

// A JSON number with enough digits to round-trip a float; null when not finite.
void AppendJsonNumber(std::string* out, double v);
// "…" with escaping.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace vasgd

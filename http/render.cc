#include "http/render.h"

#include <charconv>
#include <cmath>

#include "common/log.h"

namespace vasgd {
namespace {

void AppendItems(std::string* out, const std::vector<ScoredItem>& items) {
  *out += "\"items\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) *out += ',';
    *out += "{\"product\":";
    AppendJsonString(out, items[i].product);
    *out += ",\"score\":";
    AppendJsonNumber(out, items[i].score);
    if (items[i].reason != nullptr) {
      *out += ",\"reason\":";
      AppendJsonString(out, items[i].reason);
    }
    *out += '}';
  }
  *out += ']';
}

void AppendInt(std::string* out, int64_t v) { *out += std::to_string(v); }

}  // namespace

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition: return 409;
    case Code::kResourceExhausted: return 429;
    case Code::kUnavailable: return 503;
    default: return 500;
  }
}

const char* ErrorCodeFor(int http_status) {
  switch (http_status) {
    case 400: return "invalid_argument";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 429: return "too_many_requests";
    case 431: return "header_too_large";
    case 503: return "unavailable";
    default: return "internal";
  }
}

std::string ErrorJson(int http_status, std::string_view message) {
  std::string out = "{\"error\":{\"code\":\"";
  out += ErrorCodeFor(http_status);
  out += "\",\"message\":";
  AppendJsonString(&out, message);
  out += "}}";
  return out;
}

void AppendJsonNumber(std::string* out, double v) {
  if (!std::isfinite(v)) {
    *out += "null";
    return;
  }
  // As printf's "%.9g" (to_chars with a precision is specified so), without printf's
  // locale and format parsing: 20 scores per answer made it a few % of a request's CPU.
  char buf[32];
  const std::to_chars_result end = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, 9);
  out->append(buf, end.ptr);
}

void AppendJsonString(std::string* out, std::string_view s) {
  *out += '"';
  AppendJsonEscaped(out, s);
  *out += '"';
}

std::string RenderRecommendations(const Recommendations& r) {
  std::string out;
  out.reserve(64 + r.items.size() * 48);
  out += "{\"user\":";
  AppendJsonString(&out, r.user);
  out += ",\"model_version\":";
  AppendJsonString(&out, r.model_version);
  out += ",\"strategy\":";
  AppendJsonString(&out, r.strategy);
  out += ',';
  AppendItems(&out, r.items);
  out += '}';
  return out;
}

std::string RenderSimilar(const SimilarItems& r) {
  std::string out;
  out.reserve(64 + r.items.size() * 48);
  out += "{\"product\":";
  AppendJsonString(&out, r.product);
  out += ",\"model_version\":";
  AppendJsonString(&out, r.model_version);
  out += ',';
  AppendItems(&out, r.items);
  out += '}';
  return out;
}

std::string RenderAnalogy(const AnalogyResult& r) {
  std::string out = "{\"model_version\":";
  AppendJsonString(&out, r.model_version);
  out += ',';
  AppendItems(&out, r.items);
  out += '}';
  return out;
}

std::string RenderIngest(const std::vector<EventOutcome>& outcomes) {
  int64_t accepted = 0;
  for (const EventOutcome& o : outcomes) accepted += o.accepted;
  std::string out = "{\"accepted\":";
  AppendInt(&out, accepted);
  out += ",\"rejected\":";
  AppendInt(&out, static_cast<int64_t>(outcomes.size()) - accepted);
  out += ",\"results\":[";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (i) out += ',';
    out += "{\"index\":";
    AppendInt(&out, static_cast<int64_t>(i));
    out += outcomes[i].accepted ? ",\"accepted\":true" : ",\"accepted\":false";
    if (!outcomes[i].accepted) {
      out += ",\"reason\":";
      AppendJsonString(&out, outcomes[i].reason);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

void AppendAssignment(std::string* out, const ConsumerAssignment& a) {
  if (!a.kafka) return;
  *out += ",\"assigned_partitions\":";
  AppendInt(out, a.partitions);
  *out += ",\"unassigned_seconds\":";
  if (a.unassigned_seconds < 0) {
    *out += "null";
  } else {
    AppendJsonNumber(out, a.unassigned_seconds);
  }
}

std::string RenderStatus(const AdminStatus& s) {
  std::string out = "{\"role\":";
  if (s.role.empty()) {
    out += "null";
  } else {
    AppendJsonString(&out, s.role);
  }
  out += ",\"model_version\":";
  if (s.model_version.empty()) {
    out += "null";
  } else {
    AppendJsonString(&out, s.model_version);
  }
  out += ",\"trained_at\":";
  if (s.trained_at.empty()) {
    out += "null";
  } else {
    AppendJsonString(&out, s.trained_at);
  }
  out += ",\"model_age_seconds\":";
  if (s.model_age_seconds < 0) {
    out += "null";
  } else {
    AppendJsonNumber(&out, s.model_age_seconds);
  }
  const TrainingProgress& t = s.training;
  out += ",\"training\":{\"running\":";
  out += t.running ? "true" : "false";
  out += ",\"job_id\":";
  AppendJsonString(&out, t.job_id);
  out += ",\"stage\":";
  AppendJsonString(&out, t.stage);
  out += ",\"epoch\":";
  AppendInt(&out, t.epoch);
  out += ",\"epochs\":";
  AppendInt(&out, t.epochs);
  out += ",\"loss\":";
  AppendJsonNumber(&out, t.loss);
  out += ",\"eta_seconds\":";
  if (t.eta_seconds < 0) {
    out += "null";
  } else {
    AppendJsonNumber(&out, t.eta_seconds);
  }
  out += "},\"graph\":{\"users\":";
  AppendInt(&out, s.users);
  out += ",\"products\":";
  AppendInt(&out, s.products);
  out += ",\"edges\":";
  AppendInt(&out, s.edges);
  out += "},\"consumer_lag\":";
  if (s.consumer_lag < 0) {
    out += "null";
  } else {
    AppendInt(&out, s.consumer_lag);
  }
  AppendAssignment(&out, s.assignment);
  out += ",\"last_error\":";
  if (s.last_error.empty()) {
    out += "null";
  } else {
    AppendJsonString(&out, s.last_error);
  }
  out += '}';
  return out;
}

}  // namespace vasgd

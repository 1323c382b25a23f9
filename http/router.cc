#include "http/router.h"

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <set>

#include "common/log.h"
#include "common/utf8.h"
#include "http/auth.h"
#include "http/render.h"
#include "http/request_body.h"
#include "http/url.h"

namespace vasgd {
namespace {

constexpr size_t kMaxIdBytes = 256;

struct RouteSpec {
  Route route;
  const char* method;
  std::vector<const char*> pattern;  // path segments; "*" matches one id segment
  Access access;
  std::set<std::string> params;      // accepted query parameters
  bool may_block = false;            // see Router::MayBlock
};

const std::vector<RouteSpec>& Specs() {
  static const std::vector<RouteSpec> specs = {
      {Route::kRecommendations, "GET", {"v1", "users", "*", "recommendations"}, Access::kClient,
       {"k", "offset", "exclude", "category", "include_purchased", "cold_share"}},
      {Route::kSimilar, "GET", {"v1", "products", "*", "similar"}, Access::kClient,
       {"k", "offset", "exclude", "category"}},
      {Route::kAnalogy, "POST", {"v1", "analogy"}, Access::kClient, {}},
      {Route::kEvents, "POST", {"v1", "events"}, Access::kClient, {}, /*may_block=*/true},
      {Route::kRetrain, "POST", {"v1", "admin", "retrain"}, Access::kAdmin, {}, /*may_block=*/true},
      {Route::kStatus, "GET", {"v1", "admin", "status"}, Access::kAdmin, {}},
      {Route::kRollback, "POST", {"v1", "admin", "rollback"}, Access::kAdmin, {}, /*may_block=*/true},
      {Route::kHealthz, "GET", {"healthz"}, Access::kOpen, {}},
      {Route::kReadyz, "GET", {"readyz"}, Access::kOpen, {}},
      {Route::kMetrics, "GET", {"metrics"}, Access::kOpen, {}},
      // The dashboard: the page and its files are open (they hold no data), its data is admin.
      {Route::kDashboard, "GET", {""}, Access::kOpen, {}},
      {Route::kDashboardFile, "GET", {"dashboard", "*"}, Access::kOpen, {}},
      {Route::kAdminModels, "GET", {"v1", "admin", "models"}, Access::kAdmin, {}},
      {Route::kAdminHistory, "GET", {"v1", "admin", "history"}, Access::kAdmin, {"since"}},
      {Route::kAdminRejections, "GET", {"v1", "admin", "rejections"}, Access::kAdmin, {}},
      {Route::kAdminEmbeddingMap, "GET", {"v1", "admin", "embedding_map"}, Access::kAdmin, {}},
      {Route::kAdminUser, "GET", {"v1", "admin", "users", "*"}, Access::kAdmin, {}},
  };
  return specs;
}

bool Matches(const RouteSpec& spec, const std::vector<std::string>& segments, std::string* id) {
  if (spec.pattern.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (std::string_view(spec.pattern[i]) == "*") {
      *id = segments[i];
    } else if (segments[i] != spec.pattern[i]) {
      return false;
    }
  }
  return true;
}

HttpReply Error(int status, std::string_view message) {
  HttpReply reply;
  reply.status = status;
  reply.body = ErrorJson(status, message);
  return reply;
}

HttpReply ErrorFrom(const Status& status) { return Error(HttpStatusFor(status), status.message()); }

// For a 503 /readyz: a Kafka consumer without partitions says so and for how long ("" otherwise).
std::string UnassignedNote(const ConsumerAssignment& a) {
  if (!a.kafka || a.unassigned_seconds < 0) return "";
  return "; kafka consumer has no partition assigned (for " + std::to_string(static_cast<int64_t>(a.unassigned_seconds)) +
         " s)";
}

HttpReply Json(int status, std::string body) {
  HttpReply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

// Strict: digits only, no sign, no spaces, within [min, max].
Status ParseInt(const std::string& name, const std::string& value, int min, int max, int* out) {
  const std::string range = " must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
  if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument(name + range + ", got '" + value.substr(0, 32) + "'");
  }
  long v = std::strtol(value.c_str(), nullptr, 10);
  if (v < min || v > max) return Status::InvalidArgument(name + range + ", got " + value);
  *out = static_cast<int>(v);
  return Status::Ok();
}

Status ParseBool(const std::string& name, const std::string& value, bool* out) {
  if (value == "true" || value == "1") {
    *out = true;
  } else if (value == "false" || value == "0") {
    *out = false;
  } else {
    return Status::InvalidArgument(name + " must be true or false, got '" + value.substr(0, 32) + "'");
  }
  return Status::Ok();
}

Status CheckId(const char* what, const std::string& id) {
  if (id.empty()) return Status::InvalidArgument(std::string(what) + " id is empty");
  if (id.size() > kMaxIdBytes) return Status::InvalidArgument(std::string(what) + " id is longer than 256 bytes");
  if (!IsValidUtf8(id)) return Status::InvalidArgument(std::string(what) + " id is not valid UTF-8");
  return Status::Ok();
}

// The query parameters shared by the two read endpoints.
struct ListParams {
  int k = 20;
  int offset = 0;
  std::vector<std::string> exclude;
  std::string category;
  bool include_purchased = false;
  int cold_share = -1;  // -1 = the configured hybrid.cold_share
};

Status ParseListParams(const std::vector<std::pair<std::string, std::string>>& query, int max_k, ListParams* out) {
  std::set<std::string> seen;
  for (const auto& [name, raw] : query) {
    if (!seen.insert(name).second) return Status::InvalidArgument("query parameter '" + name + "' is given twice");
    if (name == "exclude") {
      Result<std::vector<std::string>> ids = DecodeList(raw);
      if (!ids.ok()) return ids.status();
      for (const std::string& id : *ids) VASGD_RETURN_IF_ERROR(CheckId("excluded product", id));
      out->exclude = std::move(ids.value());
      continue;
    }
    Result<std::string> value = DecodeValue(raw);
    if (!value.ok()) return value.status();
    if (name == "k") {
      VASGD_RETURN_IF_ERROR(ParseInt("k", *value, 1, max_k, &out->k));
    } else if (name == "offset") {
      VASGD_RETURN_IF_ERROR(ParseInt("offset", *value, 0, max_k, &out->offset));
    } else if (name == "category") {
      if (value->size() > kMaxIdBytes) return Status::InvalidArgument("category is longer than 256 bytes");
      if (!IsValidUtf8(*value)) return Status::InvalidArgument("category is not valid UTF-8");
      out->category = std::move(value.value());
    } else if (name == "include_purchased") {
      VASGD_RETURN_IF_ERROR(ParseBool("include_purchased", *value, &out->include_purchased));
    } else if (name == "cold_share") {
      VASGD_RETURN_IF_ERROR(ParseInt("cold_share", *value, 0, max_k, &out->cold_share));
    }
  }
  if (out->k + out->offset > max_k) {
    return Status::InvalidArgument("k + offset must not exceed " + std::to_string(max_k));
  }
  return Status::Ok();
}

// A time in seconds since the epoch: digits with an optional fraction, no sign or exponent.
Status ParseSeconds(const std::string& name, const std::string& raw, double* out) {
  const bool digits = !raw.empty() && raw.size() <= 24 && raw.find_first_not_of("0123456789.") == std::string::npos &&
                      raw.find('.') == raw.rfind('.') && raw.front() != '.';
  if (!digits) return Status::InvalidArgument(name + " must be seconds since the epoch, got '" + raw.substr(0, 32) + "'");
  *out = std::strtod(raw.c_str(), nullptr);
  return Status::Ok();
}

// Whether an If-None-Match header names `etag` (or is "*").
bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.empty()) return false;
  if (if_none_match == "*") return true;
  size_t at = 0;
  while ((at = if_none_match.find(etag, at)) != std::string_view::npos) {
    const size_t end = at + etag.size();
    const bool starts = at == 0 || if_none_match[at - 1] == ' ' || if_none_match[at - 1] == ',' ||
                        if_none_match[at - 1] == '/';  // W/"..." compares weakly, which is enough for GET
    const bool ends = end == if_none_match.size() || if_none_match[end] == ',' || if_none_match[end] == ' ';
    if (starts && ends) return true;
    at = end;
  }
  return false;
}

// Whether an Accept-Encoding header accepts gzip (not refused with q=0).
bool AcceptsGzip(std::string_view accept_encoding) {
  size_t at = accept_encoding.find("gzip");
  if (at == std::string_view::npos) return false;
  std::string_view rest = accept_encoding.substr(at + 4);
  rest = rest.substr(0, rest.find(','));
  const size_t q = rest.find("q=");
  if (q == std::string_view::npos) return true;
  return std::strtod(std::string(rest.substr(q + 2)).c_str(), nullptr) > 0;
}

// A static file of the dashboard: revalidated on every load (no-cache + a strong ETag; a match
// answers 304 without a body), gzip when the client takes it. The page gets a content security
// policy that allows nothing but this origin: no other host is ever asked for anything.
HttpReply StaticFileReply(const StaticFile& file, const HttpRequestView& request, bool is_page) {
  HttpReply reply;
  reply.headers = {{"Cache-Control", "no-cache"},
                   {"ETag", std::string(file.etag)},
                   {"Vary", "Accept-Encoding"},
                   {"X-Content-Type-Options", "nosniff"}};
  if (is_page) {
    reply.headers.emplace_back("Content-Security-Policy",
                               "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    reply.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (EtagMatches(request.if_none_match, file.etag)) {
    reply.status = 304;
    reply.content_type.clear();
    return reply;
  }
  reply.content_type = std::string(file.content_type);
  if (!file.gzip_body.empty() && AcceptsGzip(request.accept_encoding)) {
    reply.body = std::string(file.gzip_body);
    reply.headers.emplace_back("Content-Encoding", "gzip");
  } else {
    reply.body = std::string(file.body);
  }
  return reply;
}

}  // namespace

const char* RouteName(Route route) {
  switch (route) {
    case Route::kRecommendations: return "recommendations";
    case Route::kSimilar: return "similar";
    case Route::kAnalogy: return "analogy";
    case Route::kEvents: return "events";
    case Route::kRetrain: return "admin_retrain";
    case Route::kStatus: return "admin_status";
    case Route::kRollback: return "admin_rollback";
    case Route::kHealthz: return "healthz";
    case Route::kReadyz: return "readyz";
    case Route::kMetrics: return "metrics";
    case Route::kDashboard: return "dashboard";
    case Route::kDashboardFile: return "dashboard_file";
    case Route::kAdminModels: return "admin_models";
    case Route::kAdminHistory: return "admin_history";
    case Route::kAdminRejections: return "admin_rejections";
    case Route::kAdminEmbeddingMap: return "admin_embedding_map";
    case Route::kAdminUser: return "admin_user";
    case Route::kUnknown: return "unknown";
  }
  return "unknown";
}

Router::Router(const HttpOptions& options, Api* api, const MetricsRegistry* metrics, DashboardApi* dashboard)
    : options_(options), api_(api), metrics_(metrics), dashboard_(dashboard) {}

HttpReply Router::Handle(const HttpRequestView& request, Route* route) const {
  *route = Route::kUnknown;
  Result<Target> target = ParseTarget(request.target);
  if (!target.ok()) return ErrorFrom(target.status());

  const RouteSpec* found = nullptr;
  std::string id;
  std::string allow;
  for (const RouteSpec& spec : Specs()) {
    if (!Matches(spec, target->segments, &id)) continue;
    if (request.method == spec.method) {
      found = &spec;
      break;
    }
    allow += allow.empty() ? spec.method : std::string(", ") + spec.method;
  }
  if (!found && !allow.empty()) {
    HttpReply reply = Error(405, "method " + std::string(request.method.substr(0, 16)) + " is not allowed here; use " + allow);
    reply.allow = allow;
    return reply;
  }
  if (!found) {
    const std::string_view path = request.target.substr(0, request.target.find('?'));
    return Error(404, "no such endpoint: " + std::string(path.substr(0, 300)));
  }
  *route = found->route;

  switch (Authorize(found->access, request.authorization, options_)) {
    case AuthResult::kAllowed: break;
    case AuthResult::kDisabled:
      return Error(403, "admin endpoints are disabled: no admin token is configured");
    case AuthResult::kMissing: {
      HttpReply reply = Error(401, "this endpoint needs an Authorization: Bearer token");
      reply.bearer_challenge = true;
      return reply;
    }
    case AuthResult::kWrong: {
      HttpReply reply = Error(401, "the bearer token is not valid for this endpoint");
      reply.bearer_challenge = true;
      return reply;
    }
  }
  for (const auto& param : target->query) {
    if (!found->params.count(param.first)) {
      std::string accepted;
      for (const std::string& p : found->params) accepted += (accepted.empty() ? "" : ", ") + p;
      return Error(400, "unknown query parameter '" + param.first.substr(0, 64) + "'" +
                            (accepted.empty() ? std::string("; this endpoint takes none") : "; accepted: " + accepted));
    }
  }
  try {
    return Dispatch(found->route, id, request, target->query);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "http.handler_exception", {{"route", RouteName(found->route)}, {"what", e.what()}});
    return Error(500, "internal error");
  }
}

bool Router::MayBlock(const HttpRequestView& request) const {
  if (request.method != "POST") return false;
  Result<Target> target = ParseTarget(request.target);
  if (!target.ok()) return false;
  std::string id;
  for (const RouteSpec& spec : Specs()) {
    if (request.method == spec.method && Matches(spec, target->segments, &id)) return spec.may_block;
  }
  return false;
}

HttpReply Router::Dispatch(Route route, const std::string& path_id, const HttpRequestView& request,
                           const std::vector<std::pair<std::string, std::string>>& query) const {
  switch (route) {
    case Route::kRecommendations: {
      Status st = CheckId("user", path_id);
      ListParams p;
      if (st.ok()) st = ParseListParams(query, options_.max_k, &p);
      if (!st.ok()) return ErrorFrom(st);
      RecommendRequest req{path_id,      p.k, p.offset, std::move(p.exclude), std::move(p.category), p.include_purchased,
                           p.cold_share};
      Result<Recommendations> r = api_->Recommend(req);
      return r.ok() ? Json(200, RenderRecommendations(*r)) : ErrorFrom(r.status());
    }
    case Route::kSimilar: {
      Status st = CheckId("product", path_id);
      ListParams p;
      if (st.ok()) st = ParseListParams(query, options_.max_k, &p);
      if (!st.ok()) return ErrorFrom(st);
      SimilarRequest req{path_id, p.k, p.offset, std::move(p.exclude), std::move(p.category)};
      Result<SimilarItems> r = api_->Similar(req);
      return r.ok() ? Json(200, RenderSimilar(*r)) : ErrorFrom(r.status());
    }
    case Route::kAnalogy: {
      Result<AnalogyRequest> req = ParseAnalogyBody(request.body, options_.max_k);
      if (!req.ok()) return ErrorFrom(req.status());
      Result<AnalogyResult> r = api_->Analogy(*req);
      return r.ok() ? Json(200, RenderAnalogy(*r)) : ErrorFrom(r.status());
    }
    case Route::kEvents: {
      Result<std::vector<std::string>> events = SplitEventsBody(request.body, options_.max_events_per_request);
      if (!events.ok()) {
        // Too many events is a too-large request, not a rate limit.
        const bool too_many = events.status().code() == Code::kResourceExhausted;
        return too_many ? Error(413, events.status().message()) : ErrorFrom(events.status());
      }
      Result<std::vector<EventOutcome>> r = api_->Ingest(*events);
      if (r.ok() && r->size() != events->size()) return Error(500, "ingestion returned a wrong number of outcomes");
      return r.ok() ? Json(200, RenderIngest(*r)) : ErrorFrom(r.status());
    }
    case Route::kRetrain: {
      Result<RetrainJob> r = api_->StartRetrain();
      if (!r.ok()) return ErrorFrom(r.status());
      std::string body = "{\"job_id\":";
      AppendJsonString(&body, r->job_id);
      body += ",\"status\":\"started\"}";
      return Json(202, std::move(body));
    }
    case Route::kStatus:
      return Json(200, RenderStatus(api_->GetStatus()));
    case Route::kRollback: {
      Result<std::string> r = api_->Rollback();
      if (!r.ok()) return ErrorFrom(r.status());
      std::string body = "{\"model_version\":";
      AppendJsonString(&body, *r);
      body += '}';
      return Json(200, std::move(body));
    }
    case Route::kHealthz:
      return Json(200, "{\"status\":\"ok\"}");
    case Route::kReadyz: {
      Readiness r = api_->Ready();
      if (!r.ready) return Error(503, (r.reason.empty() ? "not ready" : r.reason) + UnassignedNote(r.assignment));
      std::string body = "{\"ready\":true";
      if (!r.role.empty()) {
        body += ",\"role\":";
        AppendJsonString(&body, r.role);
      }
      if (!r.model_version.empty()) {
        body += ",\"model_version\":";
        AppendJsonString(&body, r.model_version);
      }
      if (r.model_age_seconds >= 0) {
        body += ",\"model_age_seconds\":";
        AppendJsonNumber(&body, r.model_age_seconds);
      }
      if (!r.kafka.empty()) {
        body += ",\"kafka\":";
        AppendJsonString(&body, r.kafka);
        body += ",\"consumer_lag\":" + std::to_string(r.consumer_lag);
      }
      AppendAssignment(&body, r.assignment);
      return Json(200, body + "}");
    }
    case Route::kMetrics: {
      HttpReply reply;
      reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
      if (metrics_) reply.body = metrics_->RenderText();
      return reply;
    }
    case Route::kDashboard:
    case Route::kDashboardFile:
    case Route::kAdminModels:
    case Route::kAdminHistory:
    case Route::kAdminRejections:
    case Route::kAdminEmbeddingMap:
    case Route::kAdminUser:
      return DispatchDashboard(route, path_id, request, query);
    case Route::kUnknown:
      break;
  }
  return Error(404, "no such endpoint");
}

HttpReply Router::DispatchDashboard(Route route, const std::string& path_id, const HttpRequestView& request,
                                    const std::vector<std::pair<std::string, std::string>>& query) const {
  if (!dashboard_) return Error(404, "the dashboard is disabled (dashboard.enabled = false)");
  auto json = [](Result<std::string> r) { return r.ok() ? Json(200, std::move(r).value()) : ErrorFrom(r.status()); };
  switch (route) {
    case Route::kDashboard:
    case Route::kDashboardFile: {
      const std::string name = route == Route::kDashboard ? "index.html" : path_id;
      const StaticFile* file = dashboard_->File(name);
      if (!file) return Error(404, "no such dashboard file: " + name.substr(0, 100));
      return StaticFileReply(*file, request, route == Route::kDashboard);
    }
    case Route::kAdminModels:
      return json(dashboard_->Models());
    case Route::kAdminHistory: {
      double since = 0;
      for (const auto& [name, raw] : query) {
        Status st = ParseSeconds("since", raw, &since);
        if (!st.ok()) return ErrorFrom(st);
      }
      return json(dashboard_->History(since));
    }
    case Route::kAdminRejections:
      return json(dashboard_->Rejections());
    case Route::kAdminEmbeddingMap:
      return json(dashboard_->EmbeddingMap());
    case Route::kAdminUser: {
      Status st = CheckId("user", path_id);
      if (!st.ok()) return ErrorFrom(st);
      return json(dashboard_->UserPurchases(path_id));
    }
    default:
      break;
  }
  return Error(404, "no such endpoint");
}

}  // namespace vasgd

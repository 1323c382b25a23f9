// Routing of DESIGN.md's endpoints to an Api: path and method matching, bearer tokens, query
// parameter validation and JSON answers. Knows nothing of sockets (http/server.h feeds it), so
// every decision about a request is made here, once.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "common/options.h"
#include "http/api.h"
#include "http/dashboard_api.h"

namespace vasgd {

enum class Route {
  kRecommendations,  // GET  /v1/users/{user}/recommendations
  kSimilar,          // GET  /v1/products/{product}/similar
  kAnalogy,          // POST /v1/analogy
  kEvents,           // POST /v1/events
  kRetrain,          // POST /v1/admin/retrain
  kStatus,           // GET  /v1/admin/status
  kRollback,         // POST /v1/admin/rollback
  kHealthz,          // GET  /healthz
  kReadyz,           // GET  /readyz
  kMetrics,          // GET  /metrics
  kDashboard,        // GET  /  (the operator dashboard's page; http/dashboard_api.h)
  kDashboardFile,    // GET  /dashboard/{file}
  kAdminModels,      // GET  /v1/admin/models
  kAdminHistory,     // GET  /v1/admin/history
  kAdminRejections,  // GET  /v1/admin/rejections
  kAdminEmbeddingMap,  // GET  /v1/admin/embedding_map
  kAdminUser,        // GET  /v1/admin/users/{user}
  kUnknown,          // no such path, or a request too malformed to route
};
constexpr int kNumRoutes = static_cast<int>(Route::kUnknown) + 1;

// The route's label in metrics: "recommendations", "similar", ..., "unknown".
const char* RouteName(Route route);

struct HttpRequestView {
  std::string_view method;         // "GET", "POST", ...
  std::string_view target;         // "/v1/users/u1/recommendations?k=5"
  std::string_view authorization;  // the Authorization header, "" when absent
  std::string_view body;
  std::string_view if_none_match;    // the If-None-Match header (static files), "" when absent
  std::string_view accept_encoding;  // the Accept-Encoding header (static files), "" when absent
};

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;              // for 405: the methods the path accepts
  bool bearer_challenge = false;  // for 401: send WWW-Authenticate: Bearer
  std::vector<std::pair<std::string, std::string>> headers;  // further headers (static files: caching, CSP)
};

class Router {
 public:
  // `api` and `metrics` (may be null: /metrics then answers an empty text) must outlive the router.
  // `dashboard` (may be null: its endpoints then answer 404) too.
  Router(const HttpOptions& options, Api* api, const MetricsRegistry* metrics, DashboardApi* dashboard = nullptr);

  // Answers one request; never throws (an exception from the Api becomes a 500). Sets *route.
  // Safe to call from many threads at once (as safe as the Api).
  HttpReply Handle(const HttpRequestView& request, Route* route) const;

  // Whether answering `request` may wait on the disk or on other writers: POST /v1/events
  // (a synced commit, one batch at a time), /v1/admin/retrain and /v1/admin/rollback (model
  // files). The server answers those off its I/O threads, which queries need. False at once for
  // any method but POST.
  bool MayBlock(const HttpRequestView& request) const;

 private:
  HttpReply Dispatch(Route route, const std::string& path_id, const HttpRequestView& request,
                     const std::vector<std::pair<std::string, std::string>>& query) const;
  // The dashboard's routes (Dispatch hands them over); 404 when there is no dashboard.
  HttpReply DispatchDashboard(Route route, const std::string& path_id, const HttpRequestView& request,
                              const std::vector<std::pair<std::string, std::string>>& query) const;

  const HttpOptions options_;
  Api* api_;
  const MetricsRegistry* metrics_;
  DashboardApi* dashboard_;
};

}  // namespace vasgd

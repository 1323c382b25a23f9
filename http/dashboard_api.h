// What the HTTP server asks of the operator dashboard (dashboard/): its static files and the
// admin data its panels show beyond /v1/admin/status. The router (http/router.h) owns routing,
// authentication (GET / and /dashboard/<file> are open: the page holds no data; every data
// endpoint needs the admin token) and caching headers; an implementation returns finished JSON
// texts, since the dashboard is their only reader.
//
// Endpoints:
//   GET /                        the page (index.html)
//   GET /dashboard/<file>        its scripts, styles and the vendored chart library
//   GET /v1/admin/models         every kept model version's manifest summary; current, previous
//   GET /v1/admin/history?since=T  the charts' series (ring buffers), samples newer than T
//   GET /v1/admin/rejections     the last rejected events with their reason
//   GET /v1/admin/embedding_map  a 2-D projection of the served version's product embeddings
//   GET /v1/admin/users/{user}   the user's purchases as the store holds them now
//
// Errors are Status values mapped as in http/api.h. Thread-safety: called from the server's
// worker threads at once.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace vasgd {

// One file of the page, compiled into the binary (never changes while the process runs).
struct StaticFile {
  std::string_view body;          // the bytes as sent without compression
  std::string_view gzip_body;     // the same, gzip-compressed at build time; empty = none
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // a strong ETag, quotes included: "\"<hash>\""
};

class DashboardApi {
 public:
  virtual ~DashboardApi() = default;

  // The file called `name` ("index.html", "app.js", ...); null when there is none.
  virtual const StaticFile* File(std::string_view name) const = 0;

  virtual Result<std::string> Models() = 0;
  // `since`: seconds since the epoch; only samples taken after it are returned (0 = all kept).
  virtual Result<std::string> History(double since) = 0;
  virtual Result<std::string> Rejections() = 0;
  // Unavailable while no model is served.
  virtual Result<std::string> EmbeddingMap() = 0;
  // NotFound for a user the store does not know.
  virtual Result<std::string> UserPurchases(const std::string& user) = 0;
};

}  // namespace vasgd

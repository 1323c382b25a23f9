// The HTTP/1.1 server (Boost.Beast on Boost.Asio, kept out of this header): one session per
// connection with keep-alive, HttpOptions.threads threads running one io_context, one more
// thread answering the requests that may wait on the disk (Router::MayBlock), and the limits
// of HttpOptions:
//   - a request (headers and body) must arrive within request_timeout_ms of its first byte,
//     else 408 and the connection is closed; a new connection must start its first request
//     within request_timeout_ms, an idle keep-alive one its next within idle_timeout_ms, else
//     it is closed silently;
//   - headers over max_header_bytes get 431, a body over max_body_bytes 413 (announced by
//     Content-Length: answered before the body is read); both close the connection;
//   - beyond max_connections open connections a new one is closed at once.
// Requests go to a Router (http/router.h); metrics go to http/request_metrics.h's series.
#pragma once

#include <cstdint>
#include <memory>

#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "http/api.h"
#include "http/dashboard_api.h"

namespace vasgd {

class HttpServer {
 public:
  // `api` and `metrics` (may be null) must outlive the server; so must `dashboard` (may be null:
  // no dashboard, its endpoints answer 404).
  HttpServer(const HttpOptions& options, Api* api, MetricsRegistry* metrics, DashboardApi* dashboard = nullptr);
  ~HttpServer();  // Stop()s first
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds options.listen ("host:port"; port 0 picks a free one) and starts serving.
  // InvalidArgument for a malformed address, IoError when it cannot be bound.
  Status Start();

  // The bound port (after Start).
  uint16_t port() const;

  // Graceful shutdown: stops accepting, closes idle connections, lets requests being read or
  // answered finish (each within its request_timeout_ms), then stops the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vasgd

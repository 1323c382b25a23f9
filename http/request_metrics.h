// The server's own metrics in the MetricsRegistry:
//   vasgd_http_requests_total{route,code}             requests answered, by route and HTTP status
//   vasgd_http_request_duration_seconds{route}        from a complete request to its answer, histogram
//   vasgd_http_open_connections                       connections now open
//   vasgd_http_connections_rejected_total             closed at once: over max_connections
//   vasgd_http_request_timeouts_total                 requests not received within request_timeout_ms
// Series are created on first use and then updated without locks.
#pragma once

#include <array>
#include <atomic>

#include "common/metrics.h"
#include "http/router.h"

namespace vasgd {

class RequestMetrics {
 public:
  // `registry` may be null (nothing is recorded); else it must outlive this object.
  explicit RequestMetrics(MetricsRegistry* registry);

  void Record(Route route, int http_status, double seconds);
  void ConnectionOpened();
  void ConnectionClosed();
  void ConnectionRejected();
  void RequestTimedOut();

 private:
  // The statuses the server answers with, plus one slot for any other.
  static constexpr std::array<int, 15> kStatuses = {200, 202, 304, 400, 401, 403, 404, 405,
                                                    408, 409, 413, 429, 431, 500, 503};
  static constexpr int kSlots = static_cast<int>(kStatuses.size()) + 1;

  Counter* RequestCounter(Route route, int slot, int http_status);

  MetricsRegistry* registry_;
  std::array<std::array<std::atomic<Counter*>, kSlots>, kNumRoutes> requests_{};
  std::array<std::atomic<Histogram*>, kNumRoutes> latency_{};
  Gauge* open_ = nullptr;
  Counter* rejected_ = nullptr;
  Counter* timeouts_ = nullptr;
};

}  // namespace vasgd

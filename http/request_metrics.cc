#include "http/request_metrics.h"

#include <string>

namespace vasgd {

RequestMetrics::RequestMetrics(MetricsRegistry* registry) : registry_(registry) {
  if (!registry_) return;
  open_ = registry_->GetGauge("vasgd_http_open_connections", "HTTP connections now open");
  rejected_ = registry_->GetCounter("vasgd_http_connections_rejected_total",
                                    "HTTP connections closed at once because max_connections were open");
  timeouts_ = registry_->GetCounter("vasgd_http_request_timeouts_total",
                                    "HTTP requests not received within request_timeout_ms (answered 408)");
}

Counter* RequestMetrics::RequestCounter(Route route, int slot, int http_status) {
  std::atomic<Counter*>& cached = requests_[static_cast<int>(route)][slot];
  Counter* c = cached.load(std::memory_order_acquire);
  if (c) return c;
  // The registry returns the same counter for the same labels, so racing threads agree.
  const std::string code = slot < static_cast<int>(kStatuses.size()) ? std::to_string(http_status) : "other";
  c = registry_->GetCounter("vasgd_http_requests_total", "HTTP requests answered, by route and status",
                            "route=\"" + std::string(RouteName(route)) + "\",code=\"" + code + "\"");
  cached.store(c, std::memory_order_release);
  return c;
}

void RequestMetrics::Record(Route route, int http_status, double seconds) {
  if (!registry_) return;
  int slot = static_cast<int>(kStatuses.size());
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == http_status) slot = static_cast<int>(i);
  }
  RequestCounter(route, slot, http_status)->Inc();
  std::atomic<Histogram*>& cached = latency_[static_cast<int>(route)];
  Histogram* h = cached.load(std::memory_order_acquire);
  if (!h) {
    h = registry_->GetHistogram("vasgd_http_request_duration_seconds",
                                "Time from a complete request to its answer being ready to send, by route",
                                "route=\"" + std::string(RouteName(route)) + "\"");
    cached.store(h, std::memory_order_release);
  }
  h->Observe(seconds);
}

void RequestMetrics::ConnectionOpened() {
  if (open_) open_->Add(1);
}
void RequestMetrics::ConnectionClosed() {
  if (open_) open_->Add(-1);
}
void RequestMetrics::ConnectionRejected() {
  if (rejected_) rejected_->Inc();
}
void RequestMetrics::RequestTimedOut() {
  if (timeouts_) timeouts_->Inc();
}

}  // namespace vasgd

// The short history behind the dashboard's charts, sampled from the same metrics registry that
// GET /metrics renders (so a chart and a Prometheus scrape can never disagree about what was
// counted). Each Sample() appends one value to every series, in rings of `samples` values
// (dashboard.history_samples × dashboard.history_interval_s: 720 × 5 s = the last hour):
//
//   events.<result>          events/s by result (accepted, rejected, duplicate)   vasgd_events_total
//   rejected.<reason>        rejected events/s by reason                           vasgd_events_rejected_total
//   dead_letters             messages/s produced to the dead-letter topic           vasgd_dead_letters_total
//   lag.total, lag.<t>/<p>   consumer lag, all partitions / per partition, events  vasgd_consumer_lag_events,
//                                                                                  vasgd_consumer_partition_lag_events
//   http.<route>.rps         requests/s per route                                   vasgd_http_request_duration_seconds
//   http.<route>.p50_ms/.p99_ms  latency quantiles over the interval, ms (linear within a bucket,
//                            as Prometheus' histogram_quantile; null when no request came)
//   memory.rss, memory.store.<part>, index.products, graph.users/products/edges   gauges
//
// Rates and quantiles are over the interval since the previous sample (null for the first). A
// series that appears later (a new route, reason or partition: registered at 0 on first use) is
// null before it appeared, and its first rate counts from 0.
// Memory is bounded: at most `max_series` series (more are counted in dropped_series, not kept;
// a series null for the whole window makes room again), each `samples` floats.
// Thread-safe: one writer (the sampler) and many readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "dashboard/ring.h"

namespace vasgd {

class MetricsHistory {
 public:
  // `metrics` is not owned and must outlive this object.
  MetricsHistory(const MetricsRegistry* metrics, size_t samples, size_t max_series = 256);

  // Takes one sample at `now` (seconds since the epoch; later than the previous sample's).
  void Sample(double now);

  // {"t":[...],"series":{"<name>":[...],...},"dropped_series":N}: the samples taken after
  // `since` (seconds since the epoch), oldest first; null where a value is unknown.
  std::string Json(double since) const;

  // The latest value of a series (NaN when unknown or absent); for tests and summaries.
  double Latest(const std::string& series) const;

 private:
  // Reads the registry into `values` (series name -> value at `now`).
  void Collect(double now, double dt, std::map<std::string, float>* values);
  void CollectRates(const char* family, const std::string& prefix, double dt, std::map<std::string, float>* values);
  void CollectLatency(double dt, std::map<std::string, float>* values);
  void CollectGauges(const char* family, const std::string& prefix, bool negative_unknown,
                     std::map<std::string, float>* values) const;
  // A ring for a new series (nulls for the samples before it), or null when at max_series.
  // `sampled`: this sample's values (their series are never dropped to make room).
  Ring<float>* AddSeries(const std::string& name, const std::map<std::string, float>& sampled);

  const MetricsRegistry* metrics_;
  const size_t samples_;
  const size_t max_series_;

  mutable std::mutex mu_;
  Ring<double> times_;
  std::map<std::string, Ring<float>> series_;
  int64_t dropped_series_ = 0;
  // The raw values of the previous sample, for rates: counters by series name, histogram buckets
  // (and the +Inf bucket last) by route.
  double last_time_ = -1;
  std::map<std::string, double> last_counters_;
  std::map<std::string, std::vector<uint64_t>> last_buckets_;
};

// The value q (0..1) of a latency distribution given by per-bucket counts `counts` (one per bound
// of `bounds`, then the +Inf bucket), interpolated linearly inside the bucket that holds it (the
// first bucket starts at 0; the +Inf bucket answers the largest bound). NaN when counts are all 0.
double BucketQuantile(const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double q);

// The values of a Prometheus label text joined by '/': `topic="a",partition="3"` -> "a/3".
std::string LabelValues(const std::string& labels);

}  // namespace vasgd

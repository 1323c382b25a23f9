// Prometheus metrics: counters, gauges and histograms that hot paths update without locks,
// and a registry that renders them in the text exposition format for GET /metrics.
// The registry is an object the daemon owns and hands to each part (no hidden global).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace vasgd {

// A double that many threads add to without a lock.
class AtomicDouble {
 public:
  void Add(double v) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Counter {
 public:
  void Inc(double v = 1.0) { value_.Add(v); }
  double Value() const { return value_.Get(); }

 private:
  AtomicDouble value_;
};

class Gauge {
 public:
  void Set(double v) { value_.Set(v); }
  void Add(double v) { value_.Add(v); }
  double Value() const { return value_.Get(); }

 private:
  AtomicDouble value_;
};

// Cumulative buckets with fixed upper bounds (seconds for latencies), plus sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  uint64_t BucketCount(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.Get(); }
  // Approximate quantile q in [0,1] from the buckets (upper bound of the bucket holding it).
  double Quantile(double q) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  AtomicDouble sum_;
};

// Latency buckets from 50 µs to 10 s, in seconds.
std::vector<double> LatencyBuckets();

// Owns every metric. Get* returns the same object for the same name and labels, so callers
// look a metric up once and keep the pointer (valid as long as the registry lives).
// labels: Prometheus label text without braces, e.g. `reason="bad_json"`.
class MetricsRegistry {
 public:
  Counter* GetCounter(const std::string& name, const std::string& help, const std::string& labels = "");
  Gauge* GetGauge(const std::string& name, const std::string& help, const std::string& labels = "");
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::string& labels = "", std::vector<double> bounds = LatencyBuckets());

  // The whole registry in the Prometheus text format (version 0.0.4).
  std::string RenderText() const;

  // The series of family `name` registered so far, each with its label text, in label order;
  // empty when there is no such family or it has another type. For readers that follow series
  // they cannot name in advance (the dashboard's history: every route, rejection reason and
  // partition). The pointers live as long as the registry; reading their values takes no lock.
  std::vector<std::pair<std::string, const Counter*>> CounterSeries(const std::string& name) const;
  std::vector<std::pair<std::string, const Gauge*>> GaugeSeries(const std::string& name) const;
  std::vector<std::pair<std::string, const Histogram*>> HistogramSeries(const std::string& name) const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family* GetFamily(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace vasgd

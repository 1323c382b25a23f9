#include "dashboard/metrics_history.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "dashboard/json_number.h"

namespace vasgd {
namespace {

constexpr float kUnknown = std::numeric_limits<float>::quiet_NaN();

}  // namespace

double BucketQuantile(const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0 || bounds.empty()) return std::nan("");
  const double rank = q * static_cast<double>(total);
  double below = 0;  // observations in the buckets before bucket i
  for (size_t i = 0; i < counts.size(); ++i) {
    const double in = static_cast<double>(counts[i]);
    if (in > 0 && below + in >= rank) {
      if (i >= bounds.size()) return bounds.back();  // the +Inf bucket
      const double lower = i == 0 ? 0.0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * std::max(0.0, rank - below) / in;
    }
    below += in;
  }
  return bounds.back();
}

std::string LabelValues(const std::string& labels) {
  std::string out;
  size_t at = 0;
  while ((at = labels.find("=\"", at)) != std::string::npos) {
    at += 2;
    if (!out.empty()) out += '/';
    while (at < labels.size() && labels[at] != '"') {
      if (labels[at] == '\\' && at + 1 < labels.size()) ++at;  // an escaped '"' or '\'
      out += labels[at++];
    }
  }
  return out;
}

MetricsHistory::MetricsHistory(const MetricsRegistry* metrics, size_t samples, size_t max_series)
    : metrics_(metrics), samples_(samples == 0 ? 1 : samples), max_series_(max_series), times_(samples_) {}

void MetricsHistory::CollectRates(const char* family, const std::string& prefix, double dt,
                                  std::map<std::string, float>* values) {
  for (const auto& [labels, counter] : metrics_->CounterSeries(family)) {
    const std::string name = labels.empty() ? prefix : prefix + LabelValues(labels);
    const double now = counter->Value();
    auto last = last_counters_.find(name);
    // A series registered since the previous sample started from 0 then (series are created at 0
    // on first use); only the first sample has no interval.
    const double before = last != last_counters_.end() ? last->second : 0.0;
    (*values)[name] = dt > 0 && now >= before ? static_cast<float>((now - before) / dt) : kUnknown;
    last_counters_[name] = now;
  }
}

void MetricsHistory::CollectLatency(double dt, std::map<std::string, float>* values) {
  for (const auto& [labels, histogram] : metrics_->HistogramSeries("vasgd_http_request_duration_seconds")) {
    const std::string route = "http." + LabelValues(labels);
    const size_t buckets = histogram->bounds().size() + 1;
    std::vector<uint64_t> now(buckets);
    for (size_t i = 0; i < buckets; ++i) now[i] = histogram->BucketCount(i);
    auto last = last_buckets_.find(route);
    if (dt > 0) {
      // As for counters: a histogram registered since the previous sample held zeros then.
      const std::vector<uint64_t> before = last != last_buckets_.end() ? last->second : std::vector<uint64_t>(buckets, 0);
      std::vector<uint64_t> delta(buckets);
      uint64_t requests = 0;
      for (size_t i = 0; i < buckets; ++i) {
        delta[i] = now[i] >= before[i] ? now[i] - before[i] : 0;
        requests += delta[i];
      }
      (*values)[route + ".rps"] = static_cast<float>(static_cast<double>(requests) / dt);
      (*values)[route + ".p50_ms"] = static_cast<float>(1e3 * BucketQuantile(histogram->bounds(), delta, 0.50));
      (*values)[route + ".p99_ms"] = static_cast<float>(1e3 * BucketQuantile(histogram->bounds(), delta, 0.99));
    } else {
      (*values)[route + ".rps"] = kUnknown;
    }
    last_buckets_[route] = std::move(now);
  }
}

void MetricsHistory::CollectGauges(const char* family, const std::string& prefix, bool negative_unknown,
                                   std::map<std::string, float>* values) const {
  for (const auto& [labels, gauge] : metrics_->GaugeSeries(family)) {
    const double v = gauge->Value();
    (*values)[labels.empty() ? prefix : prefix + LabelValues(labels)] =
        negative_unknown && v < 0 ? kUnknown : static_cast<float>(v);
  }
}

void MetricsHistory::Collect(double now, double dt, std::map<std::string, float>* values) {
  CollectRates("vasgd_events_total", "events.", dt, values);
  CollectRates("vasgd_events_rejected_total", "rejected.", dt, values);
  CollectRates("vasgd_dead_letters_total", "dead_letters", dt, values);
  CollectLatency(dt, values);
  // Lag: -1 means "not known yet" (no Kafka, or no watermarks), not a negative lag.
  CollectGauges("vasgd_consumer_lag_events", "lag.total", true, values);
  CollectGauges("vasgd_consumer_partition_lag_events", "lag.", true, values);
  CollectGauges("vasgd_process_resident_memory_bytes", "memory.rss", false, values);
  CollectGauges("vasgd_store_memory_bytes", "memory.store.", false, values);
  CollectGauges("vasgd_index_products", "index.products", false, values);
  CollectGauges("vasgd_graph_users", "graph.users", false, values);
  CollectGauges("vasgd_graph_products", "graph.products", false, values);
  CollectGauges("vasgd_graph_edges", "graph.edges", false, values);
}

Ring<float>* MetricsHistory::AddSeries(const std::string& name, const std::map<std::string, float>& sampled) {
  if (series_.size() >= max_series_) {
    // Make room from series that have been null for the whole window (e.g. revoked partitions)
    // and are null in this sample too.
    for (auto it = series_.begin(); it != series_.end();) {
      auto now = sampled.find(it->first);
      bool all_null = now == sampled.end() || std::isnan(now->second);
      for (size_t i = 0; i < it->second.size() && all_null; ++i) all_null = std::isnan(it->second.at(i));
      it = all_null ? series_.erase(it) : std::next(it);
    }
    if (series_.size() >= max_series_) return nullptr;
  }
  Ring<float>& ring = series_.emplace(name, Ring<float>(samples_)).first->second;
  // The samples before this one (times_ already holds this sample's time).
  for (size_t i = 0; i + 1 < times_.size(); ++i) ring.Push(kUnknown);
  return &ring;
}

void MetricsHistory::Sample(double now) {
  std::lock_guard<std::mutex> lock(mu_);
  const double dt = last_time_ < 0 ? 0 : now - last_time_;
  std::map<std::string, float> values;
  Collect(now, dt, &values);
  last_time_ = now;
  times_.Push(now);
  for (const auto& [name, value] : values) {
    if (series_.count(name) || AddSeries(name, values)) continue;
    ++dropped_series_;
  }
  for (auto& [name, ring] : series_) {
    auto v = values.find(name);
    ring.Push(v == values.end() ? kUnknown : v->second);
  }
}

std::string MetricsHistory::Json(double since) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t first = 0;
  while (first < times_.size() && times_.at(first) <= since) ++first;
  nlohmann::json t = nlohmann::json::array();
  for (size_t i = first; i < times_.size(); ++i) t.push_back(RoundedNumber(times_.at(i), 13));
  nlohmann::json series = nlohmann::json::object();
  for (const auto& [name, ring] : series_) {
    nlohmann::json values = nlohmann::json::array();
    for (size_t i = first; i < ring.size(); ++i) values.push_back(RoundedNumber(ring.at(i)));
    series[name] = std::move(values);
  }
  return nlohmann::json{{"t", std::move(t)}, {"series", std::move(series)}, {"dropped_series", dropped_series_}}.dump();
}

double MetricsHistory::Latest(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(name);
  return it == series_.end() || it->second.empty() ? std::nan("") : it->second.back();
}

}  // namespace vasgd

#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace vasgd {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.Add(v);
}

double Histogram::Quantile(double q) const {
  uint64_t total = Count();
  if (total == 0) return 0.0;
  uint64_t target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t seen = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    seen += BucketCount(i);
    if (seen >= target) return bounds_[i];
  }
  return bounds_.empty() ? 0.0 : bounds_.back();
}

std::vector<double> LatencyBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
          25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0, 10.0};
}

MetricsRegistry::Family* MetricsRegistry::GetFamily(const std::string& name, const std::string& help,
                                                    Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return &it->second;
}

Counter* MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = GetFamily(name, help, Type::kCounter)->counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = GetFamily(name, help, Type::kGauge)->gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::string& labels, std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = GetFamily(name, help, Type::kHistogram)->histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return slot.get();
}

namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest text that reads back as the same double: "0.1", not "0.10000000000000001".
  char buf[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string Braced(const std::string& labels, const std::string& extra = "") {
  std::string inner = labels;
  if (!extra.empty()) inner += (inner.empty() ? "" : ",") + extra;
  return inner.empty() ? "" : "{" + inner + "}";
}

}  // namespace

std::string MetricsRegistry::RenderText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  for (const auto& [name, fam] : families_) {
    const char* type = fam.type == Type::kCounter ? "counter"
                       : fam.type == Type::kGauge ? "gauge" : "histogram";
    out << "# HELP " << name << " " << fam.help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& [labels, c] : fam.counters) out << name << Braced(labels) << " " << FormatValue(c->Value()) << "\n";
    for (const auto& [labels, g] : fam.gauges) out << name << Braced(labels) << " " << FormatValue(g->Value()) << "\n";
    for (const auto& [labels, h] : fam.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        cumulative += h->BucketCount(i);
        out << name << "_bucket" << Braced(labels, "le=\"" + FormatValue(h->bounds()[i]) + "\"") << " "
            << cumulative << "\n";
      }
      out << name << "_bucket" << Braced(labels, "le=\"+Inf\"") << " " << h->Count() << "\n";
      out << name << "_sum" << Braced(labels) << " " << FormatValue(h->Sum()) << "\n";
      out << name << "_count" << Braced(labels) << " " << h->Count() << "\n";
    }
  }
  return out.str();
}

namespace {

template <typename T>
std::vector<std::pair<std::string, const T*>> SeriesOf(const std::map<std::string, std::unique_ptr<T>>& by_labels) {
  std::vector<std::pair<std::string, const T*>> out;
  out.reserve(by_labels.size());
  for (const auto& [labels, metric] : by_labels) out.emplace_back(labels, metric.get());
  return out;
}

}  // namespace

std::vector<std::pair<std::string, const Counter*>> MetricsRegistry::CounterSeries(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::kCounter) return {};
  return SeriesOf(it->second.counters);
}

std::vector<std::pair<std::string, const Gauge*>> MetricsRegistry::GaugeSeries(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::kGauge) return {};
  return SeriesOf(it->second.gauges);
}

std::vector<std::pair<std::string, const Histogram*>> MetricsRegistry::HistogramSeries(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::kHistogram) return {};
  return SeriesOf(it->second.histograms);
}

}  // namespace vasgd

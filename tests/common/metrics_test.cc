#include "common/metrics.h"

#include <gtest/gtest.h>
#include <thread>

namespace vasgd {
namespace {

TEST(Metrics, CountersAreSharedByNameAndLabels) {
  MetricsRegistry r;
  Counter* a = r.GetCounter("vasgd_events_total", "events", "result=\"accepted\"");
  Counter* b = r.GetCounter("vasgd_events_total", "events", "result=\"accepted\"");
  Counter* c = r.GetCounter("vasgd_events_total", "events", "result=\"rejected\"");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry r;
  Counter* c = r.GetCounter("x_total", "x");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) ts.emplace_back([c] { for (int i = 0; i < 100000; ++i) c->Inc(); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(c->Value(), 400000.0);
}

TEST(Metrics, HistogramRendersCumulativeBuckets) {
  MetricsRegistry r;
  Histogram* h = r.GetHistogram("lat_seconds", "latency", "", {0.1, 1.0});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5.0);
  std::string text = r.RenderText();
  EXPECT_NE(text.find("# TYPE lat_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count 3"), std::string::npos);
  EXPECT_DOUBLE_EQ(h->Quantile(0.5), 1.0);
}

TEST(Metrics, TypeClashIsABug) {
  MetricsRegistry r;
  r.GetCounter("m", "m");
  EXPECT_THROW(r.GetGauge("m", "m"), std::logic_error);
}

TEST(Metrics, SeriesOfAFamilyAreListedWithTheirLabels) {
  MetricsRegistry r;
  Counter* b = r.GetCounter("vasgd_events_rejected_total", "r", "reason=\"bad_json\"");
  Counter* a = r.GetCounter("vasgd_events_rejected_total", "r", "reason=\"bad_id\"");
  Histogram* h = r.GetHistogram("vasgd_http_request_duration_seconds", "d", "route=\"similar\"");
  r.GetGauge("vasgd_index_products", "n")->Set(7);
  auto counters = r.CounterSeries("vasgd_events_rejected_total");
  ASSERT_EQ(counters.size(), 2u);
  EXPECT_EQ(counters[0].first, "reason=\"bad_id\"");  // label order
  EXPECT_EQ(counters[0].second, a);
  EXPECT_EQ(counters[1].second, b);
  auto histograms = r.HistogramSeries("vasgd_http_request_duration_seconds");
  ASSERT_EQ(histograms.size(), 1u);
  EXPECT_EQ(histograms[0].second, h);
  auto gauges = r.GaugeSeries("vasgd_index_products");
  ASSERT_EQ(gauges.size(), 1u);
  EXPECT_EQ(gauges[0].first, "");
  EXPECT_EQ(gauges[0].second->Value(), 7);
  // Another type or no such family: nothing.
  EXPECT_TRUE(r.GaugeSeries("vasgd_events_rejected_total").empty());
  EXPECT_TRUE(r.CounterSeries("vasgd_no_such_total").empty());
}

}  // namespace
}  // namespace vasgd

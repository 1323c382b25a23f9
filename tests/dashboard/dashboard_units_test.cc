// The dashboard's server-side parts on their own: the ring, the history sampled from a real
// metrics registry (rates, windowed latency quantiles, late series, bounds), the training curve,
// the embedding map's sample and projection, and the model list over manifests on disk.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "common/metrics.h"
#include "dashboard/embedding_map.h"
#include "dashboard/metrics_history.h"
#include "dashboard/model_list.h"
#include "dashboard/ring.h"
#include "dashboard/training_curve.h"
#include "model/model_version.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

using json = nlohmann::json;

TEST(Ring, KeepsTheNewestValuesInOrder) {
  Ring<int> r(3);
  EXPECT_TRUE(r.empty());
  for (int i = 1; i <= 5; ++i) r.Push(i);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.at(0), 3);
  EXPECT_EQ(r.at(1), 4);
  EXPECT_EQ(r.at(2), 5);
  EXPECT_EQ(r.back(), 5);
  r.Clear();
  EXPECT_EQ(r.size(), 0u);
  r.Push(9);
  EXPECT_EQ(r.at(0), 9);
}

TEST(BucketQuantile, InterpolatesInsideTheBucket) {
  const std::vector<double> bounds = {1, 2, 4};
  // 10 observations in (1, 2], 10 in (2, 4]: the median is the top of the first of those buckets.
  EXPECT_DOUBLE_EQ(BucketQuantile(bounds, {0, 10, 10, 0}, 0.5), 2.0);
  // q = 0.25: 5 of the 10 in (1, 2] -> halfway through it.
  EXPECT_DOUBLE_EQ(BucketQuantile(bounds, {0, 10, 10, 0}, 0.25), 1.5);
  // The first bucket starts at 0.
  EXPECT_DOUBLE_EQ(BucketQuantile(bounds, {4, 0, 0, 0}, 0.5), 0.5);
  // Beyond the last bound: the largest bound.
  EXPECT_DOUBLE_EQ(BucketQuantile(bounds, {0, 0, 0, 3}, 0.99), 4.0);
  EXPECT_TRUE(std::isnan(BucketQuantile(bounds, {0, 0, 0, 0}, 0.5)));
}

TEST(LabelValues, JoinsValuesAndUnescapes) {
  EXPECT_EQ(LabelValues(""), "");
  EXPECT_EQ(LabelValues("route=\"similar\""), "similar");
  EXPECT_EQ(LabelValues("topic=\"events\",partition=\"3\""), "events/3");
  EXPECT_EQ(LabelValues("reason=\"a\\\"b\""), "a\"b");
}

json Parse(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << text;
  return j;
}

TEST(MetricsHistory, RatesQuantilesAndGaugesPerInterval) {
  MetricsRegistry r;
  Counter* accepted = r.GetCounter("vasgd_events_total", "", "result=\"accepted\"");
  Histogram* similar = r.GetHistogram("vasgd_http_request_duration_seconds", "", "route=\"similar\"");
  Gauge* lag = r.GetGauge("vasgd_consumer_lag_events", "");
  Gauge* rss = r.GetGauge("vasgd_process_resident_memory_bytes", "");
  lag->Set(-1);  // not known yet
  rss->Set(1000);
  accepted->Inc(7);      // before the first sample: not a rate
  similar->Observe(0.5);
  MetricsHistory h(&r, 10);
  h.Sample(100);
  accepted->Inc(50);     // 50 in 5 s
  for (int i = 0; i < 99; ++i) similar->Observe(0.0002);  // 99 in (100 µs, 250 µs]
  similar->Observe(3.0);                                   // 1 in (2.5 s, 5 s]
  lag->Set(42);
  rss->Set(2000);
  h.Sample(105);

  json j = Parse(h.Json(0));
  ASSERT_EQ(j["t"], json({100, 105}));
  const json& s = j["series"];
  EXPECT_TRUE(s["events.accepted"][0].is_null());
  EXPECT_DOUBLE_EQ(s["events.accepted"][1].get<double>(), 10.0);
  EXPECT_TRUE(s["http.similar.rps"][0].is_null());
  EXPECT_DOUBLE_EQ(s["http.similar.rps"][1].get<double>(), 20.0);
  // Only this interval's requests count: the 0.5 s one before the first sample does not.
  const double p50 = s["http.similar.p50_ms"][1].get<double>();
  EXPECT_GT(p50, 0.1);
  EXPECT_LE(p50, 0.25);
  EXPECT_GT(s["http.similar.p99_ms"][1].get<double>(), 0.1);
  EXPECT_LE(s["http.similar.p99_ms"][1].get<double>(), 0.25);
  // The slowest one is the 100th percentile, in (2.5 s, 5 s].
  EXPECT_TRUE(s["lag.total"][0].is_null());
  EXPECT_DOUBLE_EQ(s["lag.total"][1].get<double>(), 42);
  EXPECT_DOUBLE_EQ(s["memory.rss"][0].get<double>(), 1000);
  EXPECT_DOUBLE_EQ(s["memory.rss"][1].get<double>(), 2000);
  EXPECT_DOUBLE_EQ(h.Latest("http.similar.rps"), 20.0);

  // A route first used after the first sample: its requests count from 0 in their interval.
  Histogram* similar2 = r.GetHistogram("vasgd_http_request_duration_seconds", "", "route=\"analogy\"");
  for (int i = 0; i < 10; ++i) similar2->Observe(0.001);
  h.Sample(107);
  EXPECT_DOUBLE_EQ(h.Latest("http.analogy.rps"), 5.0);
  EXPECT_DOUBLE_EQ(h.Latest("http.similar.rps"), 0.0);
  r.GetCounter("vasgd_events_rejected_total", "", "reason=\"bad_json\"")->Inc(4);
  h.Sample(109);
  EXPECT_DOUBLE_EQ(h.Latest("rejected.bad_json"), 2.0);

  // A quiet interval: 0 requests/s and no quantile.
  h.Sample(110);
  j = Parse(h.Json(109));
  ASSERT_EQ(j["t"], json({110}));
  EXPECT_DOUBLE_EQ(j["series"]["http.similar.rps"][0].get<double>(), 0.0);
  EXPECT_TRUE(j["series"]["http.similar.p99_ms"][0].is_null());
}

TEST(MetricsHistory, LateSeriesAreNullBeforeTheyAppearAndRingsWrap) {
  MetricsRegistry r;
  r.GetGauge("vasgd_index_products", "")->Set(5);
  MetricsHistory h(&r, 3);
  h.Sample(1);
  h.Sample(2);
  r.GetGauge("vasgd_consumer_partition_lag_events", "", "topic=\"events\",partition=\"1\"")->Set(9);
  h.Sample(3);
  json j = Parse(h.Json(0));
  EXPECT_EQ(j["t"], json({1, 2, 3}));
  EXPECT_EQ(j["series"]["lag.events/1"], json({nullptr, nullptr, 9}));
  h.Sample(4);  // the oldest sample goes
  j = Parse(h.Json(0));
  EXPECT_EQ(j["t"], json({2, 3, 4}));
  EXPECT_EQ(j["series"]["lag.events/1"], json({nullptr, 9, 9}));
  EXPECT_EQ(j["series"]["index.products"], json({5, 5, 5}));
}

TEST(MetricsHistory, SeriesBeyondTheBoundAreCountedNotKept) {
  MetricsRegistry r;
  MetricsHistory h(&r, 4, /*max_series=*/2);
  for (int p = 0; p < 5; ++p) {
    r.GetGauge("vasgd_consumer_partition_lag_events", "", "partition=\"" + std::to_string(p) + "\"")->Set(p);
  }
  h.Sample(1);
  json j = Parse(h.Json(0));
  EXPECT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(j["dropped_series"], 3);
  // Lag -1 is "unknown": once the kept series have been null for the whole window, others get their place.
  for (int p = 0; p < 5; ++p) {
    r.GetGauge("vasgd_consumer_partition_lag_events", "", "partition=\"" + std::to_string(p) + "\"")->Set(p < 2 ? -1 : p);
  }
  for (int t = 2; t <= 5; ++t) h.Sample(t);  // 4 samples: partitions 0 and 1 null throughout
  for (int p = 0; p < 2; ++p) {
    r.GetGauge("vasgd_consumer_partition_lag_events", "", "partition=\"" + std::to_string(p) + "\"")->Set(-1);
  }
  h.Sample(6);
  j = Parse(h.Json(0));
  EXPECT_EQ(j["series"].size(), 2u);
  EXPECT_TRUE(j["series"].contains("lag.2")) << j.dump();
}

TEST(TrainingCurve, FollowsOneJobAndStartsOverForTheNext) {
  TrainingCurve c(100);
  EXPECT_EQ(Parse(c.Json(0))["job"], nullptr);
  TrainingProgress p;
  p.running = true;
  p.job_id = "job-1";
  p.stage = "snapshot";
  c.Record(10, p, {});
  p.stage = "stage1";
  p.epoch = 1;
  p.epochs = 2;
  c.Record(11, p, {2.5, 0.9, 0, 1e6});
  p.epoch = 2;
  c.Record(12, p, {2.0, 0.8, 0, 1.2e6});
  p.stage = "stage2";
  c.Record(13, p, {2.0, 0.8, 0.7, 0});
  p.running = false;
  p.stage = "done";
  c.Record(14, p, {2.0, 0.8, 0.6, 0});
  json j = Parse(c.Json(0));
  EXPECT_EQ(j["job"], "job-1");
  EXPECT_EQ(j["running"], false);
  std::vector<std::string> stages;
  for (const json& s : j["stages"]) stages.push_back(s["stage"]);
  EXPECT_EQ(stages, (std::vector<std::string>{"snapshot", "stage1", "stage2", "done"}));
  // Points only in the trainer's stages, while running.
  EXPECT_EQ(j["points"]["elapsed"], json({1, 2, 3}));
  EXPECT_EQ(j["points"]["skipgram"], json({2.5, 2, 2}));
  EXPECT_EQ(j["points"]["encoder"], json({0, 0, 0.7}));
  EXPECT_EQ(j["points"]["pairs_per_second"], json({1e6, 1.2e6, nullptr}));
  EXPECT_EQ(Parse(c.Json(12))["points"]["elapsed"], json({3}));

  p.job_id = "job-2";
  p.running = true;
  p.stage = "queued";
  c.Record(20, p, {9, 9, 9, 9});
  j = Parse(c.Json(0));
  EXPECT_EQ(j["job"], "job-2");
  EXPECT_EQ(j["points"]["t"].size(), 0u);
  EXPECT_EQ(j["stages"].size(), 1u);
}

TEST(EmbeddingMap, SampleTakesColdFirstThenSpreadsWarm) {
  std::vector<uint8_t> kind(100, 1);
  for (int i = 0; i < 100; i += 10) kind[i] = 2;  // 10 cold
  kind[5] = 0;                                     // no embedding: never drawn
  std::vector<int32_t> rows = SampleMapRows(kind, 20);
  ASSERT_EQ(rows.size(), 20u);
  int cold = 0;
  for (int32_t r : rows) {
    EXPECT_NE(r, 5);
    cold += kind[r] == 2;
  }
  EXPECT_EQ(cold, 5);  // a quarter
  EXPECT_EQ(SampleMapRows(kind, 1000).size(), 99u);
}

TEST(EmbeddingMap, PcaFindsThePlantedAxesDeterministically) {
  // 200 rows in 6-d: two clusters apart along dimension 0 (the largest spread), and inside each a
  // spread along dimension 3 (the second), plus small noise everywhere.
  const int dim = 6, n = 200;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  std::vector<float> v(n * dim);
  std::vector<int32_t> rows;
  for (int r = 0; r < n; ++r) {
    for (int j = 0; j < dim; ++j) v[r * dim + j] = noise(rng);
    v[r * dim + 0] += r < n / 2 ? -1.0f : 1.0f;
    v[r * dim + 3] += 0.4f * ((r % 10) - 4.5f) / 4.5f;
    v[r * dim + 1] += 2.0f;  // a common offset: centring removes it
    rows.push_back(r);
  }
  auto xy = ProjectPca2(v.data(), dim, rows);
  ASSERT_EQ(xy.size(), rows.size());
  // The first axis separates the clusters: every point of one is on one side.
  const float side = xy[0][0] > 0 ? 1.0f : -1.0f;
  for (int r = 0; r < n; ++r) EXPECT_GT(side * (r < n / 2 ? 1 : -1) * xy[r][0], 0.0f) << r;
  // The second axis follows dimension 3's spread inside a cluster.
  double cov = 0;
  for (int r = 0; r < n; ++r) cov += xy[r][1] * ((r % 10) - 4.5);
  EXPECT_GT(std::abs(cov), 0.5);
  EXPECT_EQ(ProjectPca2(v.data(), dim, rows), xy);
  // Too little to project: zeros.
  EXPECT_EQ(ProjectPca2(v.data(), dim, {3}), (std::vector<std::array<float, 2>>{{0, 0}}));
}

ModelVersion TinyModel(const std::string& version, const std::string& extra_json) {
  ModelVersion m;
  m.version = version;
  m.trained_at = "2026-12-06T05:00:00Z";
  m.dim = 2;
  m.user_ids = {"u1"};
  m.product_ids = {"p1", "p2"};
  m.user_vectors = {1, 0};
  m.product_vectors = {1, 0, 0, 1};
  m.product_kind = {1, 2};
  m.popularity = {1, 0};
  m.manifest_extra_json = extra_json;
  return m;
}

TEST(ModelList, SummarisesEveryKeptVersionNewestFirst) {
  testing_support::TempDir dir;
  const std::string extra = R"({"data":{"users":1,"products":2,"edges":1},
      "validation":{"holdout_auc":0.81,"holdout_pairs":12},
      "hybrid":{"ranking":"hybrid","weights":{"vasg":4,"popularity":1.6},"holdout":{"chosen":{"recall@20":0.19}},
                "lists_tried":[1,2,3]},
      "training":{"seconds":30.5,"pairs_per_second":1.5e6,"device":"cpu","kendall_log_var":[0,1]},
      "losses":{"stage1":[{"epoch":1,"skipgram":2.7},{"epoch":2,"skipgram":2.1}]},
      "config":{"epochs":2}})";
  ASSERT_TRUE(WriteModelVersion(dir.file("20261206T050000Z"), TinyModel("20261206T050000Z", extra)).ok());
  ASSERT_TRUE(WriteModelVersion(dir.file("20261206T060000Z"), TinyModel("20261206T060000Z", "{}")).ok());
  std::filesystem::create_directories(dir.file("20261206T070000Z"));
  std::ofstream(dir.file("20261206T070000Z/manifest.json")) << "{not json";

  ModelList list;
  ModelVersionsOnDisk disk{dir.path(), "20261206T060000Z", "20261206T050000Z",
                           {"20261206T050000Z", "20261206T060000Z", "20261206T070000Z"}};
  json j = Parse(list.Json(disk));
  EXPECT_EQ(j["current"], "20261206T060000Z");
  EXPECT_EQ(j["previous"], "20261206T050000Z");
  ASSERT_EQ(j["versions"].size(), 3u);
  EXPECT_EQ(j["versions"][0]["version"], "20261206T070000Z");
  EXPECT_TRUE(j["versions"][0].contains("error"));
  EXPECT_EQ(j["versions"][1]["current"], true);
  const json& old = j["versions"][2];
  EXPECT_EQ(old["previous"], true);
  EXPECT_EQ(old["current"], false);
  EXPECT_EQ(old["trained_at"], "2026-12-06T05:00:00Z");
  EXPECT_EQ(old["data"]["edges"], 1);
  EXPECT_DOUBLE_EQ(old["validation"]["holdout_auc"].get<double>(), 0.81);
  EXPECT_EQ(old["hybrid"]["weights"]["vasg"], 4);
  EXPECT_DOUBLE_EQ(old["hybrid"]["holdout"]["chosen"]["recall@20"].get<double>(), 0.19);
  EXPECT_FALSE(old["hybrid"].contains("lists_tried"));  // the search's trail is left out
  EXPECT_EQ(old["training"]["device"], "cpu");
  EXPECT_FALSE(old["training"].contains("kendall_log_var"));
  EXPECT_DOUBLE_EQ(old["losses"]["stage1"]["skipgram"].get<double>(), 2.1);  // the last epoch
  EXPECT_EQ(old["config"]["epochs"], 2);

  // A pruned version drops out; the flags follow the links.
  disk.versions = {"20261206T060000Z"};
  disk.previous = "";
  j = Parse(list.Json(disk));
  ASSERT_EQ(j["versions"].size(), 1u);
  EXPECT_EQ(j["previous"], nullptr);
}

}  // namespace
}  // namespace vasgd

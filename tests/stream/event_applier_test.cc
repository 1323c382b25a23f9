// EventApplier: counters by result and reason, listeners in commit order, the HTTP-style path
// (ParseArray -> Apply) and Kafka-style replays, over a real RocksDB store.
#include "stream/event_applier.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/test_support.h"

namespace vasgd {
namespace {

class Recorder : public EventListener {
 public:
  void OnEventsApplied(const Event* events, const UpdateOutcome* outcomes, size_t n) override {
    ++batches;
    for (size_t i = 0; i < n; ++i) {
      if (outcomes[i].result != UpdateResult::kApplied) continue;
      log.push_back(events[i].type == UpdateType::kPurchase ? events[i].user + ">" + events[i].product
                                                             : "product " + events[i].product);
      if (outcomes[i].new_edge) ++new_edges;
    }
  }
  int batches = 0;
  int new_edges = 0;
  std::vector<std::string> log;
};

class EventApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    StoreOptions so;
    so.data_dir = dir_;
    so.sync_writes = false;
    auto store = GraphStore::Open(so);
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    applier_ = std::make_unique<EventApplier>(store_.get(), &metrics_);
    applier_->AddListener(&recorder_);
  }
  void TearDown() override {
    applier_.reset();
    store_.reset();
  }
  double Count(const std::string& name, const std::string& labels) {
    return metrics_.GetCounter(name, "", labels)->Value();
  }

  testing_support::TempDir tmp_;
  std::string dir_;
  MetricsRegistry metrics_;
  std::unique_ptr<GraphStore> store_;
  std::unique_ptr<EventApplier> applier_;
  Recorder recorder_;
};

TEST_F(EventApplierTest, HttpStyleBodyCountsEveryOutcome) {
  EventParser parser(applier_->Limits(1 << 20));
  std::vector<Event> events;
  std::vector<EventError> errors;
  ASSERT_TRUE(parser.ParseArray(R"([{"type":"purchase","user":"a","product":"x"},
                                    {"type":"purchase","user":"a"},
                                    {"type":"product","product":"x","features":[1,2]},
                                    {"type":"product","product":"y","features":[1,2,3]},
                                    {"type":"purchase","user":"b","product":"x","weight":-1}])",
                                100, &events, &errors).ok());
  // Valid events go to the store; the invalid ones are counted and left out, as POST /v1/events does.
  std::vector<Event> valid;
  for (size_t i = 0; i < events.size(); ++i) {
    if (errors[i].reason == RejectReason::kNone) {
      valid.push_back(events[i]);
    } else {
      applier_->CountRejected(errors[i]);
    }
  }
  std::vector<UpdateOutcome> outcomes(valid.size());
  ASSERT_TRUE(applier_->Apply(valid.data(), valid.size(), {}, outcomes.data()).ok());
  // "y" has another dimension than "x", which fixed it earlier in the same batch.
  EXPECT_EQ(outcomes[2].result, UpdateResult::kRejected);
  EXPECT_EQ(outcomes[2].reason, RejectReason::kFeatureDimMismatch);

  EXPECT_EQ(Count("vasgd_events_total", "result=\"accepted\""), 2);
  EXPECT_EQ(Count("vasgd_events_total", "result=\"rejected\""), 3);
  EXPECT_EQ(Count("vasgd_events_rejected_total", "reason=\"missing_field\""), 1);
  EXPECT_EQ(Count("vasgd_events_rejected_total", "reason=\"bad_weight\""), 1);
  EXPECT_EQ(Count("vasgd_events_rejected_total", "reason=\"feature_dim_mismatch\""), 1);
  EXPECT_EQ(Count("vasgd_events_rejected_total", "reason=\"bad_json\""), 0);
  EXPECT_EQ(recorder_.log, (std::vector<std::string>{"a>x", "product x"}));
  EXPECT_EQ(recorder_.new_edges, 1);

  // Every reason is exported from the start, at zero, for dashboards.
  const std::string text = metrics_.RenderText();
  EXPECT_NE(text.find("vasgd_events_rejected_total{reason=\"non_finite_feature\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("vasgd_events_total{result=\"accepted\"} 2"), std::string::npos) << text;
}

TEST_F(EventApplierTest, ReplayedKafkaBatchIsCountedAsDuplicatesAndNotNotified) {
  std::vector<SourcePartition> sources = {{"events", 3}};
  std::vector<Event> batch(3);
  for (int i = 0; i < 3; ++i) {
    batch[i].type = UpdateType::kPurchase;
    batch[i].user = "u" + std::to_string(i);
    batch[i].product = "p";
    batch[i].source = 0;
    batch[i].offset = 10 + i;
  }
  std::vector<UpdateOutcome> out(3);
  ASSERT_TRUE(applier_->Apply(batch.data(), 3, sources, out.data()).ok());
  ASSERT_TRUE(applier_->Apply(batch.data(), 3, sources, out.data()).ok());
  EXPECT_EQ(Count("vasgd_events_total", "result=\"accepted\""), 3);
  EXPECT_EQ(Count("vasgd_events_total", "result=\"duplicate\""), 3);
  EXPECT_EQ(recorder_.log.size(), 3u);
  EXPECT_EQ(recorder_.batches, 2);
  EXPECT_EQ(store_->NextOffset("events", 3), 13);
  EXPECT_EQ(store_->counters().events_applied, 3);
}

TEST_F(EventApplierTest, LimitsFollowTheStore) {
  EXPECT_EQ(applier_->Limits(77).feature_dim, 0);
  EXPECT_EQ(applier_->Limits(77).max_message_bytes, 77);
  Event e;
  e.type = UpdateType::kProduct;
  e.product = "p";
  e.has_features = true;
  e.features = {1, 2, 3};
  UpdateOutcome out;
  ASSERT_TRUE(applier_->Apply(&e, 1, {}, &out).ok());
  EXPECT_EQ(applier_->Limits(77).feature_dim, 3);
  EXPECT_EQ(applier_->Limits(77).max_id_bytes, 256);
}

TEST_F(EventApplierTest, KeptRejectionsSayWhereWhyAndWhat) {
  EXPECT_EQ(applier_->rejections(), nullptr);  // none kept unless asked
  applier_->KeepRecentRejections(2);
  EventError bad_json{RejectReason::kBadJson, "not JSON"};
  applier_->CountRejected(bad_json, "kafka events/3@17", "{oops");
  // An excerpt is cut to RejectionLog::kExcerptBytes without splitting a UTF-8 character.
  const std::string long_text = std::string(RejectionLog::kExcerptBytes - 1, 'x') + "\xc3\xa9tail";
  applier_->CountRejected(bad_json, "", long_text);
  // A product of another dimension than the store's is rejected by the store, with its source.
  Event first, second;
  first.type = second.type = UpdateType::kProduct;
  first.product = "x";
  second.product = "y";
  first.has_features = second.has_features = true;
  first.features = {1, 2};
  second.features = {1, 2, 3};
  second.source = 0;
  second.offset = 41;
  std::vector<Event> events = {first, second};
  std::vector<UpdateOutcome> outcomes(2);
  ASSERT_TRUE(applier_->Apply(events.data(), 2, {{"events", 5}}, outcomes.data()).ok());
  ASSERT_EQ(outcomes[1].result, UpdateResult::kRejected);

  std::vector<RejectedEvent> kept = applier_->rejections()->Recent();
  EXPECT_EQ(applier_->rejections()->total(), 3);
  ASSERT_EQ(kept.size(), 2u);  // the oldest went
  EXPECT_EQ(kept[0].source, "kafka events/5@41");
  EXPECT_EQ(kept[0].reason, RejectReasonName(outcomes[1].reason));
  EXPECT_NE(kept[0].message.find("dimension 3"), std::string::npos) << kept[0].message;
  EXPECT_EQ(kept[1].source, "");
  EXPECT_EQ(kept[1].excerpt, std::string(RejectionLog::kExcerptBytes - 1, 'x'));
  EXPECT_GT(kept[0].time, 1.7e9);
  // Counted as before.
  EXPECT_EQ(Count("vasgd_events_total", "result=\"rejected\""), 3);
}

}  // namespace
}  // namespace vasgd

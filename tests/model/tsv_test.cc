#include "model/tsv.h"

#include <fstream>

#include <gtest/gtest.h>

#include "model/npy.h"
#include "tests/model/test_util.h"

namespace vasgd {
namespace {

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ParseInteractionLine, ValidLines) {
  Interaction row;
  ASSERT_TRUE(ParseInteractionLine("u1\tp9", &row).ok());
  EXPECT_EQ(row.user, "u1");
  EXPECT_EQ(row.item, "p9");
  EXPECT_EQ(row.weight, 1.0f);
  ASSERT_TRUE(ParseInteractionLine("user with spaces\t42\t2.5\r\n", &row).ok());
  EXPECT_EQ(row.user, "user with spaces");
  EXPECT_EQ(row.item, "42");
  EXPECT_EQ(row.weight, 2.5f);
}

TEST(ParseInteractionLine, EveryReason) {
  Interaction row;
  const std::pair<std::string, std::string> cases[] = {
      {"u1", "missing_field"},         {"\tp1", "missing_field"},      {"u1\t", "missing_field"},
      {"u1\tp1\t1\textra", "too_many_fields"}, {std::string(257, 'x') + "\tp1", "id_too_long"},
      {"u1\tp1\tabc", "bad_weight"},   {"u1\tp1\t-1", "bad_weight"},   {"u1\tp1\t0", "bad_weight"},
      {"u1\tp1\tnan", "bad_weight"},   {"u1\tp1\tinf", "bad_weight"},  {"u1\tp1\t1e39", "bad_weight"},
      {"u1\tp1\t1e-80", "bad_weight"},  // positive, but 0 as a float (found by fuzz/fuzz_tsv)
      {"u1\tp1\t", "bad_weight"},      {"u1\tp1\t2x", "bad_weight"},
  };
  for (const auto& [line, reason] : cases) {
    Status st = ParseInteractionLine(line, &row);
    ASSERT_FALSE(st.ok()) << line;
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_EQ(st.message().rfind(reason, 0), 0u) << line << " -> " << st.message();
  }
  EXPECT_TRUE(ParseInteractionLine(std::string(256, 'x') + "\tp1", &row).ok());
  EXPECT_FALSE(ParseInteractionLine("abc\tp1", &row, 2).ok());
}

TEST(ForEachInteraction, SkipsHeaderAndBadLinesKeepsTheRest) {
  testing::TempDir tmp;
  WriteText(tmp.file("i.tsv"), "user\titem\tweight\nu1\tp1\nbroken\nu2\tp1\t3\n\nu1\tp2\t-4\nu3\tp3\n");
  std::vector<std::string> seen;
  TsvReadStats stats;
  ASSERT_TRUE(ForEachInteraction(tmp.file("i.tsv"),
                                 [&](const Interaction& r) {
                                   seen.push_back(std::string(r.user) + "/" + std::string(r.item));
                                   return Status::Ok();
                                 },
                                 &stats)
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"u1/p1", "u2/p1", "u3/p3"}));
  EXPECT_EQ(stats.lines, 5);
  EXPECT_EQ(stats.accepted, 3);
  EXPECT_EQ(stats.rejected, 2);
  ASSERT_EQ(stats.first_errors.size(), 2u);
  EXPECT_EQ(stats.first_errors[0].rfind("line 3: missing_field", 0), 0u) << stats.first_errors[0];
  EXPECT_EQ(stats.first_errors[1].rfind("line 6: bad_weight", 0), 0u) << stats.first_errors[1];
}

TEST(ForEachInteraction, CallbackErrorStopsThePass) {
  testing::TempDir tmp;
  WriteText(tmp.file("i.tsv"), "user\titem\na\tb\nc\td\ne\tf\n");
  int calls = 0;
  Status st = ForEachInteraction(tmp.file("i.tsv"), [&](const Interaction&) {
    return ++calls == 2 ? Status::ResourceExhausted("disk full") : Status::Ok();
  }, nullptr);
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ForEachInteraction(tmp.file("missing.tsv"), [](const Interaction&) { return Status::Ok(); }, nullptr)
                .code(),
            Code::kIoError);
}

TEST(LoadTrainingData, BuildsCsrWithSummedDuplicatesAndFeatureIds) {
  testing::TempDir tmp;
  WriteText(tmp.file("i.tsv"), "user\titem\nbob\t2\nann\t0\nbob\t2\t0.5\nann\tx9\nbob\t0\n");
  const float f[3 * 2] = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(WriteNpy(tmp.file("f.npy"), f, 3, 2).ok());
  Result<TrainingData> d = LoadTrainingData(tmp.file("i.tsv"), tmp.file("f.npy"));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->user_ids, (std::vector<std::string>{"bob", "ann"}));
  EXPECT_EQ(d->product_ids, (std::vector<std::string>{"0", "1", "2", "x9"}));
  const InteractionGraph& g = d->graph;
  EXPECT_EQ(g.num_users, 2);
  EXPECT_EQ(g.num_products, 4);
  EXPECT_EQ(g.user_offsets, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(g.product_index, (std::vector<int32_t>{0, 2, 0, 3}));  // sorted within a row
  EXPECT_EQ(g.weight, (std::vector<float>{1.0f, 1.5f, 1.0f, 1.0f}));
  EXPECT_EQ(d->features.dim, 2);
  EXPECT_EQ(d->features.present, (std::vector<uint8_t>{1, 1, 1, 0}));
  EXPECT_EQ(d->features.row(2)[1], 6.0f);
  EXPECT_EQ(d->features.row(3)[0], 0.0f);
}

TEST(LoadTrainingData, WithoutFeatures) {
  testing::TempDir tmp;
  WriteText(tmp.file("i.tsv"), "user\titem\nu\tp\nv\tp\n");
  Result<TrainingData> d = LoadTrainingData(tmp.file("i.tsv"), "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->features.dim, 0);
  EXPECT_EQ(d->graph.num_edges(), 2);
  EXPECT_EQ(d->product_ids, (std::vector<std::string>{"p"}));
}

TEST(LoadTrainingData, TikTokTrainSplit) {
  const std::string dir = testing::TikTokDir();
  if (const std::string missing = testing_support::MissingData(dir, {"train.tsv", "image_feat.npy"}); !missing.empty()) {
    VASGD_CANNOT_RUN_HERE(missing);
  }
  TsvReadStats stats;
  Result<TrainingData> d = LoadTrainingData(dir + "/train.tsv", dir + "/image_feat.npy", &stats);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(stats.rejected, 0);
  EXPECT_EQ(d->graph.num_users, 9298);  // README: 9,308 users overall, 9,298 with a train purchase
  EXPECT_EQ(d->graph.num_products, 6710);
  EXPECT_EQ(d->graph.num_edges(), 59541);
  int warm = 0;
  std::vector<uint8_t> seen(6710, 0);
  for (int32_t p : d->graph.product_index) seen[p] = 1;
  for (uint8_t s : seen) warm += s;
  EXPECT_EQ(warm, 6710 - 465);
  EXPECT_EQ(d->product_ids[6709], "6709");
}

}  // namespace
}  // namespace vasgd

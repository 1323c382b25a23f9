// `vasgd import`, `vasgd stats` and `vasgd checkpoint` as a user runs them (the real binary), on
// the TikTok dataset and on small files with bad rows.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "model/tsv.h"
#include "store/graph_store.h"
#include "tests/test_support.h"

#ifndef VASGD_BINARY
#error "VASGD_BINARY must name the vasgd binary"
#endif

namespace vasgd {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int status = -1;
  std::string out;
};

// Runs the vasgd binary with `args` (stderr discarded); its exit status and stdout.
RunResult Vasgd(const std::string& args) {
  RunResult r;
  std::string cmd = std::string(VASGD_BINARY) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

using testing_support::TempDir;

using testing_support::TikTokDir;

TEST(ImportCliTest, TikTokTrainSplitAndImageFeatures) {
  const std::string data = TikTokDir();
  if (const std::string missing = testing_support::MissingData(data, {"train.tsv", "image_feat.npy"}); !missing.empty()) {
    VASGD_CANNOT_RUN_HERE(missing);
  }
  TempDir dir;
  const std::string common = "--data-dir " + dir.path() + "/d";
  RunResult imp = Vasgd("import " + common + " --interactions " + data + "/train.tsv --features " + data + "/image_feat.npy");
  ASSERT_EQ(imp.status, 0) << imp.out;
  auto report = nlohmann::json::parse(imp.out);
  EXPECT_EQ(report["interactions"]["accepted"], 59541);
  EXPECT_EQ(report["interactions"]["rejected"], 0);
  EXPECT_EQ(report["features"]["accepted"], 6710);

  RunResult stats = Vasgd("stats " + common);
  ASSERT_EQ(stats.status, 0);
  auto s = nlohmann::json::parse(stats.out);
  EXPECT_EQ(s["users"], 9298);
  EXPECT_EQ(s["products"], 6710);
  EXPECT_EQ(s["products_with_purchases"], 6245);
  EXPECT_EQ(s["products_with_features"], 6710);
  EXPECT_EQ(s["edges"], 59541);
  EXPECT_EQ(s["feature_dim"], 128);
  EXPECT_TRUE(s["model_version"].is_null());

  // The store's training snapshot equals loading the files directly (model/tsv.h): same ids in
  // the same order, same CSR, same float16->float32 features.
  StoreOptions so;
  so.data_dir = dir.path() + "/d";
  auto store = GraphStore::OpenReadOnly(so);
  ASSERT_TRUE(store.ok());
  auto snap = (*store)->ExportSnapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  auto direct = LoadTrainingData(data + "/train.tsv", data + "/image_feat.npy");
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(snap->user_ids, direct->user_ids);
  EXPECT_EQ(snap->product_ids, direct->product_ids);
  EXPECT_EQ(snap->graph.user_offsets, direct->graph.user_offsets);
  EXPECT_EQ(snap->graph.product_index, direct->graph.product_index);
  EXPECT_EQ(snap->graph.weight, direct->graph.weight);
  EXPECT_EQ(snap->features.dim, direct->features.dim);
  EXPECT_EQ(snap->features.present, direct->features.present);
  EXPECT_TRUE(snap->features.values == direct->features.values);
  // The store keeps the file's order of purchases (each edge's sequence), as the loader does.
  ASSERT_EQ(snap->graph.sequence.size(), direct->graph.sequence.size());
  int64_t out_of_order = 0, unnumbered = 0;
  for (int32_t u = 0; u < snap->graph.num_users; ++u) {
    for (int64_t e = snap->graph.user_offsets[u]; e < snap->graph.user_offsets[u + 1]; ++e) {
      unnumbered += snap->graph.sequence[e] <= 0;
      if (e == snap->graph.user_offsets[u]) continue;
      const bool store_later = snap->graph.sequence[e] > snap->graph.sequence[e - 1];
      out_of_order += store_later != (direct->graph.sequence[e] > direct->graph.sequence[e - 1]);
    }
  }
  EXPECT_EQ(unnumbered, 0);
  EXPECT_EQ(out_of_order, 0);

  // A checkpoint is a store of its own with the same counts.
  RunResult cp = Vasgd("checkpoint " + common + " --out " + dir.path() + "/cp");
  ASSERT_EQ(cp.status, 0);
  RunResult cp_stats = Vasgd("stats --data-dir " + dir.path() + "/cp");
  ASSERT_EQ(cp_stats.status, 0);
  EXPECT_EQ(nlohmann::json::parse(cp_stats.out)["edges"], 59541);
  EXPECT_EQ(Vasgd("checkpoint " + common + " --out " + dir.path() + "/cp").status, 1);  // exists
}

TEST(ImportCliTest, BadRowsAreSkippedCountedAndReported) {
  TempDir dir;
  {
    std::ofstream tsv(dir.path() + "/i.tsv");
    tsv << "user\titem\tweight\n"
        << "u1\tp1\n"
        << "u1\tp1\t2.5\n"
        << "u2\n"                      // missing_field
        << "u3\tp2\t-1\n"              // bad_weight
        << "\n"
        << "u4\tp3\t1\textra\n"        // too many fields
        << "u5\tp3\r\n";
    std::ofstream jsonl(dir.path() + "/e.jsonl");
    jsonl << R"({"type":"product","product":"p9","features":[1,2]})" << "\n"
          << R"({"type":"product","product":"p8","features":[1,2,3]})" << "\n"  // feature_dim_mismatch
          << "not json\n"
          << R"({"type":"purchase","user":"u9","product":"p9","weight":2})" << "\n"
          << R"({"type":"product","product":"p1","available":false})" << "\n";
  }
  const std::string common = "--data-dir " + dir.path() + "/d";
  RunResult imp = Vasgd("import " + common + " --interactions " + dir.path() + "/i.tsv --events " + dir.path() + "/e.jsonl");
  ASSERT_EQ(imp.status, 0) << imp.out;
  auto r = nlohmann::json::parse(imp.out);
  EXPECT_EQ(r["interactions"]["rows"], 6);
  EXPECT_EQ(r["interactions"]["accepted"], 3);
  EXPECT_EQ(r["interactions"]["rejected"], 3);
  EXPECT_EQ(r["interactions"]["rejected_by_reason"]["missing_field"], 1);
  EXPECT_EQ(r["interactions"]["rejected_by_reason"]["bad_weight"], 1);
  EXPECT_EQ(r["interactions"]["rejected_by_reason"]["bad_field"], 1);  // too many fields
  EXPECT_EQ(r["interactions"]["first_errors"][0].get<std::string>().rfind("line 4: missing_field: ", 0), 0u)
      << r["interactions"]["first_errors"][0];
  EXPECT_EQ(r["events"]["accepted"], 3);
  EXPECT_EQ(r["events"]["rejected_by_reason"]["feature_dim_mismatch"], 1);
  EXPECT_EQ(r["events"]["rejected_by_reason"]["bad_json"], 1);

  auto s = nlohmann::json::parse(Vasgd("stats " + common).out);
  EXPECT_EQ(s["users"], 3);  // u1, u5, u9
  EXPECT_EQ(s["edges"], 3);
  EXPECT_EQ(s["unavailable_products"], 1);
  EXPECT_EQ(s["products_with_features"], 1);
}

// A version 1.0 .npy file of float16 values (`<f2`), rows × cols, from raw half bit patterns.
void WriteHalfNpy(const std::string& path, int rows, int cols, const std::vector<uint16_t>& halves) {
  std::string header = "{'descr': '<f2', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(halves.data()), static_cast<std::streamsize>(halves.size() * 2));
}

TEST(ImportCliTest, Float16FeaturesWithANonFiniteRow) {
  TempDir dir;
  // Rows: (1, -2), (inf, 0.5), (65504, 2^-24): the infinite row is rejected, the others kept exactly.
  WriteHalfNpy(dir.path() + "/f.npy", 3, 2, {0x3c00, 0xc000, 0x7c00, 0x3800, 0x7bff, 0x0001});
  const std::string common = "--data-dir " + dir.path() + "/d";
  RunResult imp = Vasgd("import " + common + " --features " + dir.path() + "/f.npy");
  ASSERT_EQ(imp.status, 0) << imp.out;
  auto r = nlohmann::json::parse(imp.out);
  EXPECT_EQ(r["features"]["accepted"], 2);
  EXPECT_EQ(r["features"]["rejected_by_reason"]["non_finite_feature"], 1);

  StoreOptions so;
  so.data_dir = dir.path() + "/d";
  auto store = GraphStore::OpenReadOnly(so);
  ASSERT_TRUE(store.ok());
  int32_t p0 = -1, p2 = -1, p1 = -1;
  ASSERT_TRUE((*store)->FindProduct("0", &p0));
  ASSERT_TRUE((*store)->FindProduct("2", &p2));
  EXPECT_FALSE((*store)->FindProduct("1", &p1));
  std::vector<float> f;
  ASSERT_TRUE((*store)->ProductFeatures(p0, &f).ok());
  EXPECT_EQ(f, (std::vector<float>{1.0f, -2.0f}));
  ASSERT_TRUE((*store)->ProductFeatures(p2, &f).ok());
  EXPECT_EQ(f, (std::vector<float>{65504.0f, 5.9604644775390625e-08f}));
  EXPECT_EQ((*store)->counters().feature_dim, 2);
}

TEST(ImportCliTest, BadFlagsExitTwo) {
  EXPECT_EQ(Vasgd("import --data-dir /tmp/x").status, 2);                   // nothing to import
  EXPECT_EQ(Vasgd("import --bogus 1").status, 2);
  EXPECT_EQ(Vasgd("import --interactions a.tsv --batch zero").status, 2);
  EXPECT_EQ(Vasgd("checkpoint --data-dir /tmp/x").status, 2);                // no --out
  EXPECT_EQ(Vasgd("stats --config /nonexistent.toml").status, 2);
  TempDir dir;
  EXPECT_EQ(Vasgd("stats --data-dir " + dir.path() + "/none").status, 1);   // no store there
  EXPECT_EQ(Vasgd("import --data-dir " + dir.path() + "/d --interactions " + dir.path() + "/missing.tsv").status, 1);
}

}  // namespace
}  // namespace vasgd

#include "model/model_version.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/crc32c.h"
#include "tests/model/test_util.h"

namespace vasgd {
namespace {

ModelVersion SmallModel() {
  ModelVersion m;
  m.version = "20261125T183000Z";
  m.trained_at = "2026-11-25T18:30:00Z";
  m.score = "dot";
  m.cold_profile_weight = 0.25f;
  m.dim = 3;
  m.user_ids = {"u1", "user two"};
  m.product_ids = {"p1", "p2", "p3"};
  for (int i = 0; i < 6; ++i) m.user_vectors.push_back(0.5f * i - 1);
  for (int i = 0; i < 9; ++i) m.product_vectors.push_back(std::cos(static_cast<float>(i)));
  m.product_kind = {1, 1, 2};
  m.popularity = {3, 1, 0};
  DenseLayer l1{2, 4, {1, 0, 0, 1, -1, 0, 0, -1}, {0, 0, 0.5f, 0}};
  DenseLayer l2{4, 3, std::vector<float>(12, 0.25f), {1, 2, 3}};
  m.encoder.layers = {l1, l2};
  m.encoder.input_mean = {1, 1};
  m.encoder.input_scale = {2, 0.5f};
  m.manifest_extra_json = R"({"losses":{"skipgram":0.41},"config":{"epochs":5}})";
  return m;
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xe3069283u);  // the standard check value
  EXPECT_EQ(Crc32c(0, "", 0), 0u);
  const std::string a = "hello, ", b = "model versions and more bytes than eight";
  EXPECT_EQ(Crc32c(Crc32c(0, a.data(), a.size()), b.data(), b.size()),
            Crc32c(0, (a + b).data(), a.size() + b.size()));
}

TEST(Mlp, ForwardMatchesHandComputation) {
  const Mlp& mlp = SmallModel().encoder;
  const float in[2] = {2, 3};  // normalised: (2-1)*2 = 2, (3-1)*0.5 = 1
  // layer 1: [2, 1, -2+0.5, -1] -> ReLU [2, 1, 0, 0]; layer 2: 0.25*3 + bias
  float out[3];
  std::vector<float> scratch;
  mlp.Forward(in, out, &scratch);
  EXPECT_FLOAT_EQ(out[0], 1.75f);
  EXPECT_FLOAT_EQ(out[1], 2.75f);
  EXPECT_FLOAT_EQ(out[2], 3.75f);
}

TEST(ModelVersion, RoundTrip) {
  testing::TempDir tmp;
  const ModelVersion m = SmallModel();
  const std::string dir = tmp.file("v1");
  ASSERT_TRUE(WriteModelVersion(dir, m).ok());
  Result<ModelVersion> r = ReadModelVersion(dir);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version, m.version);
  EXPECT_EQ(r->trained_at, m.trained_at);
  EXPECT_EQ(r->score, "dot");
  EXPECT_EQ(r->cold_profile_weight, 0.25f);
  EXPECT_EQ(r->dim, 3);
  EXPECT_EQ(r->user_ids, m.user_ids);
  EXPECT_EQ(r->product_ids, m.product_ids);
  EXPECT_EQ(r->user_vectors, m.user_vectors);
  EXPECT_EQ(r->product_vectors, m.product_vectors);
  EXPECT_EQ(r->product_kind, m.product_kind);
  EXPECT_EQ(r->popularity, m.popularity);
  ASSERT_EQ(r->encoder.layers.size(), 2u);
  EXPECT_EQ(r->encoder.layers[1].weight, m.encoder.layers[1].weight);
  EXPECT_EQ(r->encoder.input_scale, m.encoder.input_scale);
  EXPECT_NE(r->manifest_extra_json.find("\"skipgram\":0.41"), std::string::npos) << r->manifest_extra_json;
  EXPECT_EQ(r->manifest_extra_json.find("\"files\""), std::string::npos);
  // A directory that exists already is never overwritten.
  EXPECT_EQ(WriteModelVersion(dir, m).code(), Code::kAlreadyExists);
}

// Versions written before the profile term existed have no cold_profile_weight: the encoder alone.
TEST(ModelVersion, ColdProfileWeightIsOptionalAndChecked) {
  testing::TempDir tmp;
  ModelVersion m = SmallModel();
  m.cold_profile_weight = 1.5f;
  EXPECT_EQ(WriteModelVersion(tmp.file("bad"), m).code(), Code::kInvalidArgument);
  m.cold_profile_weight = 0.5f;
  const std::string dir = tmp.file("v1");
  ASSERT_TRUE(WriteModelVersion(dir, m).ok());
  auto edit_manifest = [&](auto change) {
    std::ifstream in(dir + "/manifest.json");
    nlohmann::json manifest = nlohmann::json::parse(in);
    change(manifest);
    std::ofstream(dir + "/manifest.json", std::ios::trunc) << manifest.dump(2);
  };
  edit_manifest([](nlohmann::json& j) { j.erase("cold_profile_weight"); });
  Result<ModelVersion> old = ReadModelVersion(dir);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->cold_profile_weight, 0.f);
  edit_manifest([](nlohmann::json& j) { j["cold_profile_weight"] = 2.0; });
  EXPECT_EQ(ReadModelVersion(dir).status().code(), Code::kCorruption);
}

TEST(ModelVersion, AtomicWriteLeavesOnlyTheFinalDirectory) {
  testing::TempDir tmp;
  const std::string dir = tmp.file("models/v7");
  std::filesystem::create_directories(tmp.file("models"));
  ASSERT_TRUE(WriteModelVersionAtomically(dir, SmallModel()).ok());
  ASSERT_TRUE(ReadModelVersion(dir).ok());
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.file("models"))) {
    EXPECT_EQ(e.path().filename(), "v7");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(WriteModelVersionAtomically(dir, SmallModel()).code(), Code::kAlreadyExists);
  ModelVersion bad = SmallModel();
  bad.popularity.clear();
  EXPECT_EQ(WriteModelVersionAtomically(tmp.file("models/v8"), bad).code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(tmp.file("models/v8")));
  entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.file("models"))) entries += e.path() != dir;
  EXPECT_EQ(entries, 0) << "no staging directory is left behind";
}

TEST(ModelVersion, WithoutEncoder) {
  testing::TempDir tmp;
  ModelVersion m = SmallModel();
  m.encoder = Mlp();
  ASSERT_TRUE(WriteModelVersion(tmp.file("v"), m).ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.file("v/encoder.bin")));
  Result<ModelVersion> r = ReadModelVersion(tmp.file("v"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->encoder.empty());
}

TEST(ModelVersion, CorruptedFileIsRefusedNamingIt) {
  testing::TempDir tmp;
  const std::string dir = tmp.file("v");
  ASSERT_TRUE(WriteModelVersion(dir, SmallModel()).ok());
  {  // flip one byte in the middle of the product embeddings, size unchanged
    std::fstream f(dir + "/products.f32", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(13);
    f.put('\x7f');
  }
  Result<ModelVersion> r = ReadModelVersion(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("products.f32"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("CRC"), std::string::npos);
  EXPECT_EQ(VerifyFileChecksum(dir, "products.f32").code(), Code::kCorruption);
  EXPECT_TRUE(VerifyFileChecksum(dir, "users.f32").ok());
}

TEST(ModelVersion, TruncatedOrMissingFilesAreRefused) {
  testing::TempDir tmp;
  const std::string dir = tmp.file("v");
  ASSERT_TRUE(WriteModelVersion(dir, SmallModel()).ok());
  std::filesystem::resize_file(dir + "/users.f32", 8);
  Result<ModelVersion> r = ReadModelVersion(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("users.f32"), std::string::npos);
  std::filesystem::remove(dir + "/users.ids");
  EXPECT_EQ(ReadModelVersion(dir).status().code(), Code::kCorruption);
  std::filesystem::remove(dir + "/manifest.json");
  EXPECT_EQ(ReadModelVersion(dir).status().code(), Code::kCorruption);
  EXPECT_EQ(ReadModelVersion(tmp.file("nothing-here")).status().code(), Code::kNotFound);
}

TEST(ModelVersion, ExtraFilesAreRecordedAndVerified) {
  testing::TempDir tmp;
  const std::string dir = tmp.file("v");
  ASSERT_TRUE(WriteModelVersion(dir, SmallModel()).ok());
  std::ofstream(dir + "/index.hnsw", std::ios::binary) << "graph bytes";
  EXPECT_EQ(VerifyFileChecksum(dir, "index.hnsw").code(), Code::kCorruption);  // not listed yet
  ASSERT_TRUE(RecordFileChecksum(dir, "index.hnsw").ok());
  EXPECT_TRUE(VerifyFileChecksum(dir, "index.hnsw").ok());
  ASSERT_TRUE(ReadModelVersion(dir).ok());
  std::ofstream(dir + "/index.hnsw", std::ios::binary) << "graph bytez";
  EXPECT_EQ(VerifyFileChecksum(dir, "index.hnsw").code(), Code::kCorruption);
  EXPECT_EQ(ReadModelVersion(dir).status().code(), Code::kCorruption);  // every listed file counts
  EXPECT_EQ(RecordFileChecksum(dir, "absent.bin").code(), Code::kNotFound);
}

TEST(ModelVersion, WriterRejectsInconsistentModels) {
  testing::TempDir tmp;
  ModelVersion m = SmallModel();
  m.product_kind.pop_back();
  EXPECT_EQ(WriteModelVersion(tmp.file("a"), m).code(), Code::kInvalidArgument);
  m = SmallModel();
  m.manifest_extra_json = R"({"dim": 7})";
  EXPECT_EQ(WriteModelVersion(tmp.file("b"), m).code(), Code::kInvalidArgument);
  m = SmallModel();
  m.product_ids[1] = "bad\nid";
  EXPECT_EQ(WriteModelVersion(tmp.file("c"), m).code(), Code::kInvalidArgument);
  for (const char* d : {"a", "b", "c"}) EXPECT_FALSE(std::filesystem::exists(tmp.file(d))) << d;
  m = SmallModel();
  m.score = "euclid";
  EXPECT_EQ(WriteModelVersion(tmp.file("d"), m).code(), Code::kInvalidArgument);
}

TEST(ModelVersion, NonFiniteEmbeddingsAreNeverLoaded) {
  testing::TempDir tmp;
  ModelVersion m = SmallModel();
  m.user_vectors[4] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(WriteModelVersion(tmp.file("v"), m).ok());  // checksums are right, values are not
  Result<ModelVersion> r = ReadModelVersion(tmp.file("v"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("non-finite"), std::string::npos);
}

}  // namespace
}  // namespace vasgd

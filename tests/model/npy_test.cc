#include "model/npy.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "tests/model/test_util.h"

namespace vasgd {
namespace {

// A hand-made .npy file: header dict, padded to 64 bytes, then `body`.
std::string MakeNpy(const std::string& dict, const std::string& body, int major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string s = "\x93NUMPY";
  s.push_back(static_cast<char>(major));
  s.push_back(0);
  const uint32_t len = static_cast<uint32_t>(header.size());
  s.append(reinterpret_cast<const char*>(&len), major == 1 ? 2 : 4);
  return s + header + body;
}

std::string HalfBytes(std::initializer_list<uint16_t> halves) {
  std::string s;
  for (uint16_t h : halves) s.append(reinterpret_cast<const char*>(&h), 2);
  return s;
}

TEST(HalfToFloat, ExactValuesAcrossTheRange) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);              // largest normal
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14)); // smallest normal
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
  EXPECT_EQ(HalfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
}

TEST(Npy, Float16FileIsReadIntoFloat32) {
  const std::string file = MakeNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }",
                                   HalfBytes({0x3c00, 0xc000, 0x3800, 0x0000, 0x4200, 0x7bff}));
  Result<NpyMatrix> m = ParseNpy(file.data(), file.size());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 3);
  EXPECT_EQ(m->values, (std::vector<float>{1.0f, -2.0f, 0.5f, 0.0f, 3.0f, 65504.0f}));
}

TEST(Npy, Version2HeaderAndOneDimensionalShape) {
  const float v[3] = {1.5f, -0.25f, 7.0f};
  const std::string file = MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                   std::string(reinterpret_cast<const char*>(v), sizeof v), 2);
  Result<NpyMatrix> m = ParseNpy(file.data(), file.size());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 3);
  EXPECT_EQ(m->cols, 1);
  EXPECT_EQ(m->values, (std::vector<float>{1.5f, -0.25f, 7.0f}));
}

TEST(Npy, EmptyMatrix) {
  // Zero rows: nothing to copy (a memcpy from/to null was undefined behaviour, found by fuzz/fuzz_npy
  // under UBSan; the sanitized corpus replay is the test that sees it).
  const std::string file = MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", "");
  Result<NpyMatrix> m = ParseNpy(file.data(), file.size());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 0);
  EXPECT_EQ(m->cols, 4);
  EXPECT_TRUE(m->values.empty());
}

TEST(Npy, RowsWithoutColumnsAreRefused) {
  // 747 million rows of nothing in 128 bytes made the feature reader allocate and loop over all
  // of them (found by fuzz/fuzz_npy as a timeout).
  const std::string file = MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (747746877, 0), }", "");
  Result<NpyMatrix> m = ParseNpy(file.data(), file.size());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("0 columns"), std::string::npos) << m.status().ToString();
}

TEST(Npy, Float32WriteReadRoundTrip) {
  testing::TempDir tmp;
  std::vector<float> v;
  for (int i = 0; i < 5 * 7; ++i) v.push_back(std::sin(static_cast<float>(i)) * 1e3f);
  ASSERT_TRUE(WriteNpy(tmp.file("a.npy"), v.data(), 5, 7).ok());
  Result<NpyMatrix> m = ReadNpy(tmp.file("a.npy"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 5);
  EXPECT_EQ(m->cols, 7);
  EXPECT_EQ(m->values, v);  // bit-exact
  // The header is padded so the data starts on a 64-byte boundary, as numpy writes it.
  std::ifstream in(tmp.file("a.npy"), std::ios::binary | std::ios::ate);
  EXPECT_EQ((static_cast<int64_t>(in.tellg()) - 5 * 7 * 4) % 64, 0);
}

TEST(Npy, RejectsWhatItCannotRead) {
  const std::string body(24, '\0');
  struct Case {
    std::string file;
    Code code;
    std::string mentions;
  } cases[] = {
      {"not an npy file at all", Code::kInvalidArgument, "magic"},
      {MakeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", body), Code::kInvalidArgument, ">f4"},
      {MakeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }", body), Code::kInvalidArgument, "<f8"},
      {MakeNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", body), Code::kInvalidArgument, "C-order"},
      {MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", body), Code::kInvalidArgument, "shape"},
      {MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", body), Code::kCorruption, "holds 6"},
  };
  for (const Case& c : cases) {
    Result<NpyMatrix> m = ParseNpy(c.file.data(), c.file.size());
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), c.code) << m.status().ToString();
    EXPECT_NE(m.status().message().find(c.mentions), std::string::npos) << m.status().ToString();
  }
  EXPECT_EQ(ReadNpy("/nonexistent/x.npy").status().code(), Code::kIoError);
}

TEST(Npy, FeatureMatrixMarksNonFiniteRowsAbsent) {
  testing::TempDir tmp;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v = {1, 2, nan, 4, 5, 6};
  ASSERT_TRUE(WriteNpy(tmp.file("f.npy"), v.data(), 3, 2).ok());
  int64_t bad = -1;
  Result<FeatureMatrix> f = ReadFeatureMatrix(tmp.file("f.npy"), &bad);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->dim, 2);
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(f->present, (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(f->row(1)[0], 0.0f);
  EXPECT_EQ(f->row(2)[1], 6.0f);
}

TEST(Npy, TikTokImageFeatures) {
  const std::string dir = testing::TikTokDir();
  if (const std::string missing = testing_support::MissingData(dir, {"image_feat.npy"}); !missing.empty()) {
    VASGD_CANNOT_RUN_HERE(missing);
  }
  Result<NpyMatrix> m = ReadNpy(dir + "/image_feat.npy");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 6710);
  EXPECT_EQ(m->cols, 128);
  double sum = 0;
  for (float x : m->values) {
    ASSERT_TRUE(std::isfinite(x));
    ASSERT_GE(x, 0.0f);  // CNN-derived, non-negative (README)
    sum += x;
  }
  // Reference values from numpy: a.astype(np.float64).sum(), a[0, :2], a[6709, 127].
  EXPECT_NEAR(sum, 2309677.059724629, 1e-3);
  EXPECT_EQ(m->row(0)[0], 2.5839844f);
  EXPECT_EQ(m->row(0)[1], 0.95947266f);
  EXPECT_EQ(m->row(6709)[127], 2.87890625f);  // float16 0x41c2
}

}  // namespace
}  // namespace vasgd

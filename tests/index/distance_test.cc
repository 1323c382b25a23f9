// The dot-product kernels: correct against a double-precision loop, and the row kernel gives
// bitwise the same score as the single one (so exact and graph search agree on every score).
#include "index/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace vasgd {
namespace {

TEST(DistanceTest, DotMatchesDoublePrecisionAndRowsMatchDotBitwise) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  for (int32_t dim : {1, 3, 7, 8, 15, 16, 17, 24, 31, 32, 33, 64, 100, 128, 257}) {
    const int64_t n = 23;  // not a multiple of four: the tail rows too
    std::vector<float> q(dim), rows(n * dim), out(n);
    for (float& x : q) x = g(rng);
    for (float& x : rows) x = g(rng);
    DotRows(q.data(), rows.data(), n, dim, out.data());
    // The gather kernel, over the rows in another order (as a graph node's neighbours lie).
    std::vector<const float*> scattered(n);
    for (int64_t r = 0; r < n; ++r) scattered[r] = rows.data() + ((r * 7) % n) * dim;
    std::vector<float> gathered(n);
    DotGather(q.data(), scattered.data(), n, dim, gathered.data());
    for (int64_t r = 0; r < n; ++r) {
      EXPECT_EQ(gathered[r], Dot(q.data(), scattered[r], dim)) << "dim " << dim << " row " << r;  // bitwise
    }
    for (int64_t r = 0; r < n; ++r) {
      double exact = 0;
      for (int32_t d = 0; d < dim; ++d) exact += double(q[d]) * rows[r * dim + d];
      const float single = Dot(q.data(), rows.data() + r * dim, dim);
      EXPECT_NEAR(single, exact, 1e-4 * std::sqrt(double(dim))) << "dim " << dim;
      EXPECT_EQ(out[r], single) << "dim " << dim << " row " << r;  // bitwise
    }
  }
}

// The portable kernel is what a CPU without AVX2+FMA runs; here it is checked on every machine
// against the double-precision loop and against the kernel this machine uses (the vectorised
// one where it exists: the two sum in different orders, so they agree within rounding).
TEST(DistanceTest, PortableKernelAgreesWithTheOneInUse) {
  std::printf("kernel in use: %s\n", DotImplementation());
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  for (int32_t dim = 0; dim <= 70; ++dim) {
    const int64_t n = 9;
    std::vector<float> q(dim), rows(n * dim), out(n);
    for (float& x : q) x = g(rng);
    for (float& x : rows) x = g(rng);
    distance_testing::DotRowsPortable(q.data(), rows.data(), n, dim, out.data());
    for (int64_t r = 0; r < n; ++r) {
      const float* row = rows.data() + r * dim;
      double exact = 0, magnitude = 0;
      for (int32_t d = 0; d < dim; ++d) {
        exact += double(q[d]) * row[d];
        magnitude += std::fabs(double(q[d]) * row[d]);
      }
      const float portable = distance_testing::DotPortable(q.data(), row, dim);
      // float sums in any order are within dim * 2^-24 of |a|.|b| of each other and the truth
      const double bound = 1e-6 + 2 * dim * std::ldexp(magnitude, -24);
      EXPECT_NEAR(portable, exact, bound) << "dim " << dim;
      EXPECT_NEAR(portable, Dot(q.data(), row, dim), 2 * bound) << "dim " << dim;
      EXPECT_EQ(out[r], portable) << "dim " << dim << " row " << r;  // the row kernel: bitwise
    }
  }
}

// fp16 rows: each coordinate rounded to 11 significant bits, products summed in float, so the
// dot product is within 2^-11 of sum |q_i r_i| of the exact one (plus float rounding).
TEST(DistanceTest, HalfRowsDotWithinFp16RoundingOfTheExactDot) {
  if (!HalfRowsSupported()) GTEST_SKIP() << "no hardware fp16 conversion on this CPU";
  std::mt19937 rng(13);
  std::normal_distribution<float> g;
  for (int32_t dim : {1, 7, 8, 9, 16, 31, 100, 128}) {
    const int32_t padded = HalfRowLength(dim);
    ASSERT_EQ(padded % 8, 0);
    ASSERT_GE(padded, dim);
    ASSERT_LT(padded, dim + 8);
    const int64_t n = 11;  // not a multiple of four: the tail rows too
    std::vector<float> q(padded, 0.f), rows(n * dim), out(n);
    for (int32_t d = 0; d < dim; ++d) q[d] = g(rng);
    for (float& x : rows) x = g(rng);
    std::vector<uint16_t> half(n * padded, 0xffff);  // NaNs where ToHalfRow must write zeros
    std::vector<const uint16_t*> pointers(n);
    for (int64_t r = 0; r < n; ++r) {
      ToHalfRow(rows.data() + r * dim, dim, half.data() + r * padded);
      pointers[r] = half.data() + ((r * 3) % n) * padded;
    }
    DotHalfGather(q.data(), pointers.data(), n, dim, out.data());
    for (int64_t r = 0; r < n; ++r) {
      const float* row = rows.data() + ((r * 3) % n) * dim;
      double exact = 0, magnitude = 0;
      for (int32_t d = 0; d < dim; ++d) {
        exact += double(q[d]) * row[d];
        magnitude += std::fabs(double(q[d]) * row[d]);
      }
      EXPECT_NEAR(out[r], exact, std::ldexp(magnitude, -11) + 2 * dim * std::ldexp(magnitude, -24) + 1e-6)
          << "dim " << dim << " row " << r;
      EXPECT_TRUE(std::isfinite(out[r])) << "dim " << dim;  // the padding is zeros, not the NaNs before
    }
  }
}

TEST(DistanceTest, Normalize) {
  float v[3] = {3, 0, 4};
  EXPECT_FLOAT_EQ(NormalizeInPlace(v, 3), 5.0f);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[2], 0.8f);
  float z[2] = {0, 0};
  EXPECT_EQ(NormalizeInPlace(z, 2), 0.0f);
  EXPECT_EQ(z[0], 0.0f);
  EXPECT_NE(std::string(DotImplementation()), "");
}

}  // namespace
}  // namespace vasgd

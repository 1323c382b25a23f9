// model/visual_profile.h: the cold-start profile term shared by the evaluation and serving.
#include "model/visual_profile.h"

#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

namespace vasgd {
namespace {

TEST(VisualProfile, StandardisesThenNormalises) {
  const std::vector<float> mean = {1, 1}, scale = {2, 0.5f};
  const float f[2] = {2, 7};  // z = (2, 3)
  float out[2];
  UnitStandardizedFeatures(f, mean, scale, 2, out);
  EXPECT_FLOAT_EQ(out[0], 2 / std::sqrt(13.f));
  EXPECT_FLOAT_EQ(out[1], 3 / std::sqrt(13.f));
  const float at_mean[2] = {1, 1};
  UnitStandardizedFeatures(at_mean, mean, scale, 2, out);
  EXPECT_EQ(out[0], 0.f);
  EXPECT_EQ(out[1], 0.f);
  UnitStandardizedFeatures(f, {}, {}, 2, out);  // no standardisation
  EXPECT_FLOAT_EQ(out[0], 2 / std::sqrt(53.f));
}

TEST(VisualProfile, IsTheDirectionOfTheMeanStandardisedPurchase) {
  const std::vector<float> mean = {0, 0, 0}, scale = {1, 1, 1};
  VisualProfile profile(&mean, &scale, 3);
  EXPECT_FALSE(profile.Finish()) << "no purchase, no profile";
  const float a[3] = {1, 0, 0}, b[3] = {0, 3, 0};
  profile.Add(a);
  profile.Add(b);
  ASSERT_TRUE(profile.Finish());
  EXPECT_FLOAT_EQ(profile.data()[0], 1 / std::sqrt(10.f));
  EXPECT_FLOAT_EQ(profile.data()[1], 3 / std::sqrt(10.f));
  EXPECT_EQ(profile.data()[2], 0.f);
  profile.Clear();
  EXPECT_FALSE(profile.Finish());
}

TEST(VisualProfile, CentredTermsRankByProfileCosineAndSumToZero) {
  const float profile[2] = {1, 0};
  // Three cold products: along the profile, orthogonal to it, opposite.
  const float unit_z[6] = {1, 0, 0, 1, -1, 0};
  float terms[3];
  CentredProfileTerms(profile, unit_z, 3, 2, 0.5f, terms);
  EXPECT_GT(terms[0], terms[1]);
  EXPECT_GT(terms[1], terms[2]);
  EXPECT_NEAR(terms[0] + terms[1] + terms[2], 0.f, 1e-6f) << "centred: lifts some cold products, lowers others";
  EXPECT_FLOAT_EQ(terms[0], 0.5f * (1 - 0));  // cosines 1, 0, -1 have mean 0
  float doubled[3];
  CentredProfileTerms(profile, unit_z, 3, 2, 1.0f, doubled);
  EXPECT_FLOAT_EQ(doubled[2], 2 * terms[2]);
  CentredProfileTerms(profile, unit_z, 0, 2, 1.0f, doubled);  // no cold product: nothing to do
}

}  // namespace
}  // namespace vasgd

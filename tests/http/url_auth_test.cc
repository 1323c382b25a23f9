// Request target parsing, token checks and number rendering, without sockets.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "http/auth.h"
#include "http/render.h"
#include "http/url.h"

namespace vasgd {
namespace {

TEST(UrlTest, PathSegmentsAreDecodedOneByOne) {
  Result<Target> t = ParseTarget("/v1/users/a%2Fb%20c+d/recommendations?k=5&exclude=p%2C1,p2&flag&=x");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->segments, (std::vector<std::string>{"v1", "users", "a/b c+d", "recommendations"}));
  ASSERT_EQ(t->query.size(), 4u);
  EXPECT_EQ(t->query[0], (std::pair<std::string, std::string>{"k", "5"}));
  EXPECT_EQ(t->query[1].second, "p%2C1,p2");  // raw, so the list splits on literal commas only
  EXPECT_EQ(t->query[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(t->query[3], (std::pair<std::string, std::string>{"", "x"}));
  EXPECT_EQ(*DecodeList(t->query[1].second), (std::vector<std::string>{"p,1", "p2"}));
  EXPECT_EQ(*DecodeValue("a+b%21"), "a b!");
}

TEST(UrlTest, MalformedTargetsAreRejected) {
  EXPECT_FALSE(ParseTarget("v1/users").ok());
  EXPECT_FALSE(ParseTarget("").ok());
  EXPECT_FALSE(ParseTarget("/a%2").ok());
  EXPECT_FALSE(ParseTarget("/a%zz").ok());
  EXPECT_FALSE(DecodeValue("%").ok());
  EXPECT_FALSE(DecodeList("ok,%g0").ok());
  Result<Target> root = ParseTarget("/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->segments, (std::vector<std::string>{""}));
}

TEST(AuthTest, TokenComparison) {
  EXPECT_TRUE(TokenEquals("secret", "secret"));
  EXPECT_FALSE(TokenEquals("secreT", "secret"));
  EXPECT_FALSE(TokenEquals("secret1", "secret"));
  EXPECT_FALSE(TokenEquals("secre", "secret"));
  EXPECT_FALSE(TokenEquals("secretsecret", "secret"));  // a repeat of the secret is not the secret
  EXPECT_FALSE(TokenEquals("", ""));                    // no secret configured: nothing matches
  EXPECT_FALSE(TokenEquals("", "secret"));
}

TEST(AuthTest, BearerHeader) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bEaReR   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(AuthTest, AccessRules) {
  HttpOptions o;
  EXPECT_EQ(Authorize(Access::kClient, "", o), AuthResult::kAllowed);
  EXPECT_EQ(Authorize(Access::kAdmin, "Bearer x", o), AuthResult::kDisabled);
  o.admin_token = "adm";
  EXPECT_EQ(Authorize(Access::kAdmin, "", o), AuthResult::kMissing);
  EXPECT_EQ(Authorize(Access::kAdmin, "Bearer ad", o), AuthResult::kWrong);
  EXPECT_EQ(Authorize(Access::kAdmin, "Bearer adm", o), AuthResult::kAllowed);
  o.read_token = "rd";
  EXPECT_EQ(Authorize(Access::kClient, "", o), AuthResult::kMissing);
  EXPECT_EQ(Authorize(Access::kClient, "Bearer rd", o), AuthResult::kAllowed);
  EXPECT_EQ(Authorize(Access::kClient, "Bearer adm", o), AuthResult::kAllowed);
  EXPECT_EQ(Authorize(Access::kAdmin, "Bearer rd", o), AuthResult::kWrong);
  EXPECT_EQ(Authorize(Access::kOpen, "", o), AuthResult::kAllowed);
}

// Scores are rendered as printf's "%.9g" (enough digits to read every float back exactly),
// without calling printf; non-finite values as null.
TEST(RenderTest, NumbersAreRenderedAsPrintfWouldWithNineDigits) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<double> values = {0.0, -0.0, 1.0, -1.0, 0.1f, 1e-7f, 123456789.0, 1e20, 3e-39f,
                                std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(), 0.5};
  for (int i = 0; i < 2000; ++i) values.push_back(unit(rng) * std::pow(10.0f, static_cast<float>(i % 13 - 6)));
  for (double v : values) {
    std::string got;
    AppendJsonNumber(&got, v);
    char want[40];
    std::snprintf(want, sizeof(want), "%.9g", v);
    ASSERT_EQ(got, want) << v;
    EXPECT_EQ(std::strtof(got.c_str(), nullptr), static_cast<float>(v)) << got;
  }
  std::string out = "x";
  AppendJsonNumber(&out, std::nan(""));
  AppendJsonNumber(&out, std::numeric_limits<double>::infinity());
  EXPECT_EQ(out, "xnullnull");
}

}  // namespace
}  // namespace vasgd

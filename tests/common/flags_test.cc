// Command-line flags (common/flags.h): what the subcommands (serve, import, eval, ...) parse.
#include <gtest/gtest.h>

#include "common/flags.h"

namespace vasgd {
namespace {

TEST(Flags, ValuesSwitchesAndUnknownFlags) {
  Result<Flags> f = Flags::Parse({"--seeds", "3", "--set=train.dim=8", "--help"}, {"seeds", "set"}, {"help"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->Get("seeds"), "3");
  EXPECT_EQ(f->Get("set"), "train.dim=8");
  EXPECT_TRUE(f->Has("help"));
  EXPECT_FALSE(Flags::Parse({"--nope", "1"}, {"seeds"}).ok());
  EXPECT_FALSE(Flags::Parse({"--seeds"}, {"seeds"}).ok());
}

// A repeated flag used to replace the first silently: `--set a --set b` applied b alone.
TEST(Flags, AFlagGivenTwiceIsRefusedNamingIt) {
  Result<Flags> f = Flags::Parse({"--set", "retrain.holdout_pick=random", "--set", "retrain.refit_vasg=true"}, {"set"});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("--set given twice"), std::string::npos) << f.status().ToString();
  EXPECT_NE(f.status().message().find("';'"), std::string::npos) << f.status().ToString();
  EXPECT_FALSE(Flags::Parse({"--help", "--help"}, {}, {"help"}).ok());
}

}  // namespace
}  // namespace vasgd

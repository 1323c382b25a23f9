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

// bench/ programs load no config: the shared config flags would be accepted and ignored there.
TEST(Flags, ParseOnlyKnowsNoSharedConfigFlags) {
  EXPECT_TRUE(Flags::Parse({"--config", "x.toml"}, {"runs"}).ok());
  Result<Flags> f = Flags::ParseOnly({"--config", "x.toml"}, {"runs"});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("unknown flag --config"), std::string::npos) << f.status().ToString();
  Result<Flags> runs = Flags::ParseOnly({"--runs", "3"}, {"runs"});
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->GetInt("runs", 1).value(), 3);
  EXPECT_FALSE(Flags::ParseOnly({"--help"}, {"runs"}).ok()) << "a lone unknown flag is refused, not ignored";
}

}  // namespace
}  // namespace vasgd

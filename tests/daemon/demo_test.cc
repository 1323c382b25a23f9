// `vasgd serve --demo` (what scripts/demo.sh runs): on an empty store it loads the demo shop,
// trains the first model, and prints curl calls; every printed call is run here with the real
// curl against the real daemon and must work.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/daemon/serve_harness.h"

namespace vasgd::testing_daemon {
namespace {

// Runs a shell command line; its stdout.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(Demo, LoadsTheShopTrainsAndItsPrintedCurlCallsWork) {
  if (Shell("command -v curl").empty()) VASGD_CANNOT_RUN_HERE("curl is not installed (scripts/install-deps.sh)");
  // config/vasgd.toml as shipped, with only the data directory and the port overridden: what
  // scripts/demo.sh serves, trained with the shipped [train] settings.
  TempDir dir;
  std::vector<std::string> args = ShippedConfigOverrides(dir.path() + "/data");
  args.push_back("--demo");
  auto serve = ServeProcess::Start(ShippedConfig(), dir.path() + "/serve.log", args, {{"VASGD_ADMIN_TOKEN", ""}});
  ASSERT_NE(serve, nullptr) << ServeProcess::ReadLog(dir.path() + "/serve.log");
  ASSERT_TRUE(serve->WaitForOutput("Try these:", 300)) << serve->stdout_text() << serve->Log();
  ASSERT_TRUE(serve->WaitForOutput("model_holdout)'", 10));  // the last printed call
  const std::string out = serve->stdout_text();

  // A generated admin token, printed once on stdout and never in the log.
  const std::string marker = "admin token for this run: ";
  ASSERT_NE(out.find(marker), std::string::npos) << out;
  const std::string token = out.substr(out.find(marker) + marker.size(), 32);
  EXPECT_EQ(serve->Log().find(token), std::string::npos);
  json status = serve->StatusJson();  // the test's token is not this run's
  EXPECT_EQ(status["__status"], 401);
  EXPECT_EQ(serve->GetJson("/v1/admin/status", token)["graph"]["users"], 2000);

  // Every printed call, in order.
  std::istringstream lines(out.substr(out.find("Try these:")));
  std::string line, comment;
  int calls = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# ", 0) == 0) comment = line;
    if (line.rfind("curl ", 0) != 0) continue;
    ++calls;
    const std::string got = Shell(line);
    SCOPED_TRACE(comment + "\n" + line + "\n-> " + got.substr(0, 500));
    ASSERT_FALSE(got.empty());
    if (line.find("/metrics") != std::string::npos) {
      EXPECT_NE(got.find("vasgd_retrain_total{result=\"ok\"} 1"), std::string::npos);
      continue;
    }
    if (line.find("/v1/admin/rollback") != std::string::npos) {
      // Right after the printed retrain: no previous version yet (409), or the retrain finished.
      EXPECT_TRUE(got.find("no previous model version") != std::string::npos ||
                  got.find("model_version") != std::string::npos);
      continue;
    }
    EXPECT_EQ(got.find("\"error\""), std::string::npos);
    if (line.find("u-new/recommendations") != std::string::npos) {
      EXPECT_NE(got.find("\"strategy\":\"fold-in\""), std::string::npos);
    }
    if (line.find("/v1/events") != std::string::npos) {
      EXPECT_NE(got.find("\"rejected\":0"), std::string::npos);
    }
    if (line.find("/similar") != std::string::npos) {
      EXPECT_NE(got.find("\"items\":[{"), std::string::npos);
    }
  }
  EXPECT_GE(calls, 10);
  EXPECT_EQ(serve->Stop(), 0);

  // A second run serves the saved model at once and loads no second shop.
  auto again = ServeProcess::Start(ShippedConfig(), dir.path() + "/serve-2.log", args, {{"VASGD_ADMIN_TOKEN", kAdminToken}});
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->WaitForOutput("Try these:", 30));
  EXPECT_EQ(again->stdout_text().find("admin token for this run"), std::string::npos) << "the operator's token is used";
  EXPECT_NE(again->stdout_text().find("$VASGD_ADMIN_TOKEN"), std::string::npos);
  EXPECT_EQ(again->StatusJson()["graph"]["users"].get<int64_t>(), 2001);  // the shop plus u-new
}

}  // namespace
}  // namespace vasgd::testing_daemon

// The operator dashboard in a real headless Chromium (Debian's chromium + chromium-driver, driven
// through WebDriver) against a real `vasgd serve --demo` child: the page loads with no console
// error and no failed request, asks nothing of any other host; without the token every panel
// shows the sign-in and the API answers 401; signed in (by keyboard), the served version shows;
// Retrain from its button shows progress and then a new version; Rollback switches back; Explore
// shows a user's recommendations (with score and reason) and a product's similar products; the
// embedding map is drawn; the tabs work from the keyboard; text contrast; phone width.
//
// Figures printed: the page's weight on first load (bytes over the wire, from the browser's
// resource timing). With VASGD_DASHBOARD_SCREENSHOTS=<dir> it saves a PNG of each panel there
// (docs/dashboard/ holds the committed ones).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/daemon/serve_harness.h"
#include "tests/dashboard/webdriver.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

using json = nlohmann::json;
using testing_browser::WebDriver;
using testing_daemon::kAdminToken;
using testing_daemon::ServeProcess;
using testing_support::TempDir;
using testing_support::WaitFor;

// Training longer than the other daemon tests' (about ten seconds, not one or two), so that a
// browser polling every 2 s sees the retraining run and its loss curve; the history sampled every
// second instead of every 5 s, so that the charts fill within the test.
testing_daemon::ConfigMap BrowserTestConfig(const std::string& data_dir) {
  testing_daemon::ConfigMap config = testing_daemon::TestConfig(data_dir);
  config["train"]["walks_per_node"] = "10";
  config["train"]["walk_length"] = "20";
  config["train"]["epochs"] = "30";       // about 0.25 s each on 2 quiet cores
  config["train"]["warm_start"] = "false";  // the retraining runs all of them too
  config["train"]["encoder_epochs"] = "60";
  config["dashboard"]["history_interval_s"] = "1";
  return config;
}

// About 50 recommendation queries a second from a thread, for as long as the object lives.
class BackgroundQueries {
 public:
  explicit BackgroundQueries(const ServeProcess& serve)
      : thread_([this, &serve] {
          for (int i = 0; running_; ++i) {
            serve.Get("/v1/users/u" + std::to_string(i % 50) + "/recommendations?k=10");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~BackgroundQueries() {
    running_ = false;
    thread_.join();
  }

 private:
  std::atomic<bool> running_{true};
  std::thread thread_;
};

class DashboardBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = testing_browser::FindExecutable("VASGD_CHROMIUM", {"/usr/bin/chromium", "/usr/bin/chromium-browser"});
    chromedriver_ = testing_browser::FindExecutable("VASGD_CHROMEDRIVER", {"/usr/bin/chromedriver"});
    if (chromium_.empty() || chromedriver_.empty()) {
      VASGD_CANNOT_RUN_HERE("no headless browser: chromium (" << (chromium_.empty() ? "missing" : chromium_)
                            << ") and chromedriver (" << (chromedriver_.empty() ? "missing" : chromedriver_)
                            << ") are needed; scripts/install-deps.sh installs Debian's chromium and chromium-driver"
                            << " (or set VASGD_CHROMIUM / VASGD_CHROMEDRIVER)");
    }
    dir_.KeepIfFailed();
    const std::string config = testing_daemon::WriteConfig(dir_.file("vasgd.toml"), BrowserTestConfig(dir_.file("data")));
    log_path_ = dir_.file("serve.log");
    serve_ = ServeProcess::Start(config, log_path_, {"--demo"});
    ASSERT_NE(serve_, nullptr) << ServeProcess::ReadLog(log_path_);
    ASSERT_TRUE(WaitFor([&] { return serve_->Get("/readyz").status == 200; }, 300))
        << "the demo's first model was not served:\n" << serve_->Log();
    base_ = "http://127.0.0.1:" + std::to_string(serve_->port());
    std::string error;
    browser_ = WebDriver::Start(chromedriver_, chromium_, 1280, 800, dir_.file("chromedriver.log"), &error);
    ASSERT_NE(browser_, nullptr) << error;
    if (const char* dir = std::getenv("VASGD_DASHBOARD_SCREENSHOTS"); dir && *dir) screenshots_ = dir;
  }

  // The console entries since the last call at level SEVERE (errors, failed requests, CSP).
  std::vector<std::string> ConsoleErrors() {
    std::vector<std::string> errors;
    for (const json& entry : browser_->ConsoleLog()) {
      if (entry.value("level", "") == "SEVERE") errors.push_back(entry.value("message", ""));
    }
    return errors;
  }

  // Waits until `script` (a function body; `arguments` holds `args`) returns true in the page.
  bool WaitInPage(const std::string& script, double seconds, const json& args = json::array()) {
    return WaitFor([&] { return browser_->Script(script, args) == true; }, seconds);
  }

  void ShowTab(const std::string& name) {
    browser_->Click("#tab-" + name);
    ASSERT_TRUE(WaitInPage("return !document.getElementById('panel-" + name + "').hidden;", 5));
  }

  void Screenshot(const std::string& name) {
    if (screenshots_.empty()) return;
    std::filesystem::create_directories(screenshots_);
    std::ofstream(screenshots_ + "/" + name + ".png", std::ios::binary) << browser_->Screenshot();
  }

  std::string ServedVersion() { return serve_->StatusJson()["model_version"].get<std::string>(); }

  std::string chromium_, chromedriver_;
  TempDir dir_{"vasgd-browser"};
  std::string log_path_;
  std::unique_ptr<ServeProcess> serve_;
  std::unique_ptr<WebDriver> browser_;
  std::string base_;
  std::string screenshots_;
};

TEST_F(DashboardBrowserTest, OperatorsSignInRetrainRollBackAndExplore) {
  // ---- The page, signed out ----
  browser_->Navigate(base_ + "/");
  EXPECT_EQ(browser_->Script("return document.title;"), "vasgd operator dashboard");
  ASSERT_TRUE(WaitInPage("return typeof uPlot === 'function';", 10)) << "the vendored chart library did not load";
  // Every panel shows the sign-in note, and no admin data.
  EXPECT_EQ(browser_->Script("return Array.from(document.querySelectorAll('.needs-login')).filter(p => !p.hidden).length;"),
            5);
  EXPECT_EQ(browser_->Script("return document.querySelectorAll('[role=tabpanel] .content:not([hidden])').length;"), 0);
  EXPECT_EQ(browser_->Script("return document.getElementById('token').type;"), "password");
  // What the page loaded: all from this daemon, all answered 2xx/304, and how many bytes.
  json resources = browser_->Script(R"(
      const nav = performance.getEntriesByType('navigation')[0];
      return [nav, ...performance.getEntriesByType('resource')].map(e =>
          ({name: e.name, status: e.responseStatus, transfer: e.transferSize, decoded: e.decodedBodySize}));)");
  int64_t transfer = 0, decoded = 0;
  for (const json& r : resources) {
    const std::string name = r["name"];
    EXPECT_EQ(name.rfind(base_ + "/", 0), 0u) << "a request to another origin: " << name;
    EXPECT_TRUE(r["status"] == 200 || r["status"] == 304) << name << " answered " << r["status"];
    transfer += r["transfer"].get<int64_t>();
    decoded += r["decoded"].get<int64_t>();
  }
  EXPECT_GE(resources.size(), 8u);
  std::printf("dashboard page weight on first load: %zu requests, %lld bytes over the wire (%lld bytes decoded)\n",
              resources.size(), static_cast<long long>(transfer), static_cast<long long>(decoded));
  EXPECT_EQ(ConsoleErrors(), std::vector<std::string>{});
  // The API itself refuses admin data without the token.
  EXPECT_EQ(serve_->Get("/v1/admin/status").status, 401);
  EXPECT_EQ(serve_->Get("/v1/admin/models").status, 401);
  EXPECT_EQ(serve_->Get("/v1/admin/history").status, 401);
  Screenshot("signed-out");

  // ---- Sign in from the keyboard: type the token, press Enter ----
  const std::string v1 = ServedVersion();
  browser_->Type("#token", kAdminToken);
  browser_->Type("#token", testing_browser::kEnter);
  ASSERT_TRUE(WaitInPage("return document.getElementById('served-version').textContent === arguments[0];", 15,
                         json::array({v1})))
      << "the served version " << v1 << " did not show; header: " << browser_->Text("#served");
  // Beside it, the daemon's role and the served version's age, from /v1/admin/status.
  const json role = browser_->Script("return document.getElementById('served-role').textContent;");
  ASSERT_TRUE(role.is_string()) << role.dump();
  EXPECT_EQ(role.get<std::string>().rfind("(all, trained ", 0), 0u) << role.dump();
  ASSERT_TRUE(WaitInPage("return document.querySelectorAll('#models-table tbody tr').length >= 1;", 10));
  EXPECT_EQ(browser_->Script("return document.querySelector('#models-table tr.current th').textContent;"), v1);
  // The token: in sessionStorage, not in the URL, the field or the page's text, nor in the daemon's log.
  EXPECT_EQ(browser_->Script("return sessionStorage.getItem('vasgd.admin_token');"), kAdminToken);
  EXPECT_EQ(browser_->Script("return location.href.includes(arguments[0]) || document.body.innerText.includes(arguments[0]) "
                             "|| document.getElementById('token').value.length > 0;",
                             json::array({kAdminToken})),
            false);
  EXPECT_EQ(serve_->Log().find(kAdminToken), std::string::npos);
  Screenshot("models");

  // ---- Tabs from the keyboard ----
  browser_->Script("document.getElementById('tab-models').focus();");
  browser_->Type("#tab-models", testing_browser::kArrowRight);
  EXPECT_EQ(browser_->Script("return document.activeElement.id;"), "tab-training");
  EXPECT_EQ(browser_->Script("return document.getElementById('tab-training').getAttribute('aria-selected');"), "true");
  EXPECT_EQ(browser_->Script("return document.getElementById('panel-training').hidden;"), false);
  browser_->Type("#tab-training", testing_browser::kArrowLeft);
  EXPECT_EQ(browser_->Script("return document.activeElement.id;"), "tab-models");

  // ---- Retrain from the button: confirm, see it run, then the new version ----
  browser_->Click("#retrain");
  ASSERT_TRUE(WaitInPage("return document.getElementById('confirm').open;", 5));
  browser_->Click("#confirm-ok");
  ASSERT_TRUE(WaitInPage("return /started|Retraining job/.test(document.getElementById('models-message').textContent);", 10))
      << browser_->Text("#models-message");
  ShowTab("training");
  ASSERT_TRUE(WaitInPage("return /running/.test(document.getElementById('t-job').textContent);", 30))
      << "no running job shown: " << browser_->Text("#t-job");
  // Progress: the trainer's stage and epoch, then the loss chart with points.
  ASSERT_TRUE(WaitInPage("return /stage[12]/.test(document.getElementById('t-stages').textContent) && "
                         "/of/.test(document.getElementById('t-epoch').textContent);",
                         120))
      << "stages: " << browser_->Text("#t-stages") << "; epoch: " << browser_->Text("#t-epoch");
  ASSERT_TRUE(WaitInPage("return document.querySelector('#chart-loss .uplot canvas') !== null;", 60))
      << "the loss chart was not drawn";
  if (!screenshots_.empty()) {  // a few more points for the picture, while the job runs
    WaitInPage("return Number(document.getElementById('chart-loss').dataset.points) >= 6 || "
               "!/running/.test(document.getElementById('t-job').textContent);",
               20);
  }
  Screenshot("training");
  ASSERT_TRUE(WaitFor([&] { return !serve_->StatusJson()["training"]["running"].get<bool>(); }, 300));
  const std::string v2 = ServedVersion();
  ASSERT_NE(v2, v1) << "the retraining did not serve a new version: " << serve_->StatusJson().dump();
  EXPECT_TRUE(WaitInPage("return /stage1.*done/.test(document.getElementById('t-stages').textContent);", 15))
      << browser_->Text("#t-stages");
  // The loss curve: one point a second of the trainer's stages, so several for a job of seconds.
  EXPECT_GE(browser_->Script("return Number(document.getElementById('chart-loss').dataset.points);").get<int>(), 3);
  ShowTab("models");
  ASSERT_TRUE(WaitInPage("const c = document.querySelector('#models-table tr.current th');"
                         "return c !== null && c.textContent === arguments[0];",
                         30, json::array({v2})))
      << "the Models panel does not show " << v2 << " as current";
  EXPECT_EQ(browser_->Script("return document.getElementById('served-version').textContent;"), v2);
  EXPECT_NE(browser_->Text("#models-message").find("finished"), std::string::npos) << browser_->Text("#models-message");

  // ---- Roll back: confirm, and the previous version is served again ----
  browser_->Click("#rollback");
  ASSERT_TRUE(WaitInPage("return document.getElementById('confirm').open;", 5));
  EXPECT_NE(browser_->Text("#confirm-text").find(v1), std::string::npos);
  browser_->Click("#confirm-ok");
  ASSERT_TRUE(WaitInPage("const c = document.querySelector('#models-table tr.current th');"
                         "return c !== null && c.textContent === arguments[0];",
                         30, json::array({v1})))
      << "after Rollback the Models panel does not show " << v1 << " as current";
  EXPECT_EQ(ServedVersion(), v1);

  // ---- Serving: queries show as requests/s and latency of their endpoint ----
  auto queries = std::make_unique<BackgroundQueries>(*serve_);  // while the panel is looked at
  ShowTab("serving");
  ASSERT_TRUE(WaitInPage("const row = Array.from(document.querySelectorAll('#routes-table tbody tr'))"
                         "  .find(r => r.cells[0].textContent === 'recommendations');"
                         "return row !== undefined && Number(row.cells[1].textContent) > 0 && "
                         "  Number(row.cells[3].textContent) > 0 && document.querySelector('#chart-rps .uplot') !== null;",
                         30))
      << "no requests/s and p99 shown for the recommendations endpoint: " << browser_->Text("#routes-table");
  EXPECT_NE(browser_->Text("#s-index").find("1,000 products"), std::string::npos) << browser_->Text("#s-index");
  Screenshot("serving");
  browser_->Script("document.getElementById('chart-rps').scrollIntoView();");
  Screenshot("serving-charts");
  queries.reset();

  // ---- Ingestion: accepted and rejected events, the rejected ones listed with their reason ----
  std::string events = R"([{"type":"purchase","user":"u2"},{"type":"product","product":"p-bad","features":[1,2]})";
  for (int i = 0; i < 200; ++i) {
    events += R"(,{"type":"purchase","user":"u)" + std::to_string(i) + R"(","product":"p)" + std::to_string(i % 97) + "\"}";
  }
  testing_http::Response ingest = serve_->Post("/v1/events", events + "]");
  ASSERT_EQ(ingest.status, 200) << ingest.body;
  EXPECT_EQ(json::parse(ingest.body)["rejected"], 2) << ingest.body;
  ShowTab("ingestion");
  ASSERT_TRUE(WaitInPage("return document.querySelectorAll('#rejections-table tbody tr td.excerpt').length === 2 && "
                         "document.querySelector('#chart-events .uplot') !== null && "
                         "document.querySelector('#chart-rejected .uplot') !== null;",
                         30))
      << browser_->Text("#rejections-table");
  const std::string rejections = browser_->Text("#rejections-table");
  EXPECT_NE(rejections.find("missing_field"), std::string::npos) << rejections;
  EXPECT_NE(rejections.find("feature_dim_mismatch"), std::string::npos) << rejections;
  EXPECT_NE(browser_->Text("#lag-note").find("No Kafka consumer"), std::string::npos);
  // The rejected-by-reason chart names the two reasons that occurred, and no other.
  ASSERT_TRUE(WaitInPage("return document.querySelectorAll('#chart-rejected .u-series').length === 3;", 15))
      << browser_->Text("#chart-rejected");
  const std::string reasons = browser_->Text("#chart-rejected");
  EXPECT_NE(reasons.find("missing_field"), std::string::npos) << reasons;
  EXPECT_EQ(reasons.find("bad_json"), std::string::npos) << reasons;
  Screenshot("ingestion");

  // ---- Explore: a user's purchases and recommendations, a product's similar ones, the map ----
  ShowTab("explore");
  browser_->Type("#user-id", "u0");
  browser_->Click("#user-form button");
  ASSERT_TRUE(WaitInPage("return document.querySelectorAll('#recs-table tbody tr').length === 10 && "
                         "document.querySelectorAll('#purchases-table tbody tr').length > 0;",
                         15));
  json api = serve_->GetJson("/v1/users/u0/recommendations?k=10");
  json shown = browser_->Script(
      "return Array.from(document.querySelectorAll('#recs-table tbody tr')).map(r => "
      "[r.cells[1].textContent, r.cells[3].textContent]);");
  ASSERT_EQ(shown.size(), api["items"].size());
  for (size_t i = 0; i < shown.size(); ++i) {
    EXPECT_EQ(shown[i][0], api["items"][i]["product"]) << i;
    EXPECT_EQ(shown[i][1], api["items"][i]["reason"]) << i;
  }
  browser_->Click("#recs-table tbody tr:first-child button");
  ASSERT_TRUE(WaitInPage("return document.querySelectorAll('#similar-table tbody tr').length === 10;", 15));
  EXPECT_EQ(browser_->Text("#similar-product"), api["items"][0]["product"].get<std::string>());
  ASSERT_TRUE(WaitInPage("const c = document.getElementById('map');"
                         "return c.dataset.version === arguments[0] && Number(c.dataset.points) > 100;",
                         30, json::array({v1})))
      << "the embedding map of " << v1 << " was not drawn";
  Screenshot("explore");

  // ---- Contrast: every visible text at 4.5:1 or more against its background (WCAG AA) ----
  json low = browser_->Script(R"(
      const lum = (rgb) => { const c = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                             return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
      const parse = (s) => (s.match(/[\d.]+/g) || []).map(Number);
      const background = (el) => { for (; el; el = el.parentElement) { const c = parse(getComputedStyle(el).backgroundColor);
                                     if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3); } return [255, 255, 255]; };
      const bad = [];
      for (const tab of document.querySelectorAll('[role=tab]')) {
        tab.click();
        for (const el of document.querySelectorAll('body *')) {
          if (!el.offsetParent || el.closest('.uplot')) continue;
          if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
          const fg = lum(parse(getComputedStyle(el).color).slice(0, 3)), bg = lum(background(el));
          const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
          if (ratio < 4.5) bad.push(el.tagName + '#' + el.id + '.' + el.className + ': ' + ratio.toFixed(2));
        }
      }
      return bad;)");
  EXPECT_EQ(low, json::array()) << low.dump();

  // ---- Phone width: no horizontal scrolling of the page ----
  browser_->SetWindowSize(390, 844);
  ShowTab("models");
  ASSERT_TRUE(WaitInPage("return window.innerWidth <= 400;", 5));
  EXPECT_EQ(browser_->Script("return document.documentElement.scrollWidth <= window.innerWidth;"), true)
      << browser_->Script("return document.documentElement.scrollWidth;");
  Screenshot("phone");

  // Nothing above logged an error or a failed request.
  EXPECT_EQ(ConsoleErrors(), std::vector<std::string>{});
}

}  // namespace
}  // namespace vasgd

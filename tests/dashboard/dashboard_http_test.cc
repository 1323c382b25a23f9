// The dashboard's endpoints through the real HTTP server (loopback), backed by a real RocksDB
// store fed through the event applier, model versions written to disk by the model writer and a
// real metrics registry: static files (types, caching, gzip, the content security policy), the
// admin token on every data endpoint, and what each data endpoint answers.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "dashboard/assets.h"
#include "dashboard/dashboard_service.h"
#include "http/server.h"
#include "stream/event.h"
#include "stream/event_applier.h"
#include "tests/http/http_client.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

using json = nlohmann::json;
using testing_http::Fetch;
using testing_http::Response;

constexpr char kAdmin[] = "dashb0ard-adm1n-t0ken";

std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

json Parse(const Response& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.body;
  return j;
}

// Four products in two categories (p4 cold: features, no purchase), two users.
const char* kShop = R"([
  {"type":"product","product":"p1","features":[1,0,0],"categories":["shoes"]},
  {"type":"product","product":"p2","features":[0.9,0.1,0],"categories":["shoes"]},
  {"type":"product","product":"p3","features":[0,1,0],"categories":["hats","red"]},
  {"type":"product","product":"p4","features":[0,0.9,0.1],"categories":["hats"]},
  {"type":"purchase","user":"u1","product":"p1","weight":2},
  {"type":"purchase","user":"u1","product":"p3"},
  {"type":"purchase","user":"u2","product":"p2"}])";

ModelVersion ShopModel(const std::string& version) {
  ModelVersion m;
  m.version = version;
  m.trained_at = "2026-12-06T05:00:00Z";
  m.dim = 3;
  m.user_ids = {"u1", "u2"};
  m.product_ids = {"p1", "p2", "p3", "p4"};
  m.user_vectors = {1, 0.5f, 0, 1, 0, 0};
  m.product_vectors = {1, 0, 0, 0.9f, 0.1f, 0, 0, 1, 0, 0, 0.9f, 0.1f};
  m.product_kind = {1, 1, 1, 2};
  m.popularity = {2, 1, 1, 0};
  m.manifest_extra_json = R"({"data":{"users":2,"products":4,"edges":3},"validation":{"holdout_auc":0.75}})";
  return m;
}

class DashboardHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions so;
    so.data_dir = dir_.file("graph");
    so.sync_writes = false;
    auto store = GraphStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    applier_ = std::make_unique<EventApplier>(store_.get(), &metrics_);
    applier_->KeepRecentRejections(5);
    EventParser parser(applier_->Limits(1 << 20));
    std::vector<Event> events;
    std::vector<EventError> errors;
    ASSERT_TRUE(parser.ParseArray(kShop, 100, &events, &errors).ok());
    std::vector<UpdateOutcome> outcomes(events.size());
    ASSERT_TRUE(applier_->Apply(events.data(), events.size(), {}, outcomes.data()).ok());

    models_dir_ = dir_.file("models");
    for (const char* v : {"20261206T050000Z", "20261206T060000Z"}) {
      ASSERT_TRUE(WriteModelVersion(models_dir_ + "/" + v, ShopModel(v)).ok());
    }
    auto model = ReadModelVersion(models_dir_ + "/20261206T060000Z");
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    served_ = std::make_shared<const ModelVersion>(std::move(model).value());

    DashboardSources sources;
    sources.metrics = &metrics_;
    sources.store = store_.get();
    sources.rejections = applier_->rejections();
    sources.training = [this] { return progress_; };
    sources.served_model = [this] { return served_; };
    sources.versions = [this] {
      return ModelVersionsOnDisk{models_dir_, "20261206T060000Z", "20261206T050000Z",
                                 {"20261206T050000Z", "20261206T060000Z"}};
    };
    DashboardOptions options;
    options.map_points = 4;
    dashboard_ = std::make_unique<DashboardService>(options, std::move(sources));

    HttpOptions http;
    http.listen = "127.0.0.1:0";
    http.admin_token = kAdmin;
    server_ = std::make_unique<HttpServer>(http, nullptr, &metrics_, dashboard_.get());
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  Response Admin(const std::string& target) { return Fetch(port_, "GET", target, "", Bearer(kAdmin)); }

  testing_support::TempDir dir_;
  MetricsRegistry metrics_;
  std::unique_ptr<GraphStore> store_;
  std::unique_ptr<EventApplier> applier_;
  std::string models_dir_;
  std::shared_ptr<const ModelVersion> served_;
  TrainingProgress progress_;
  std::unique_ptr<DashboardService> dashboard_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(DashboardHttpTest, ThePageIsServedOpenlyWithCachingAndAPolicyThatAllowsOnlyThisOrigin) {
  Response page = Fetch(port_, "GET", "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<title>vasgd operator dashboard</title>"), std::string::npos);
  EXPECT_NE(page.headers["content-security-policy"].find("default-src 'none'"), std::string::npos);
  EXPECT_NE(page.headers["content-security-policy"].find("connect-src 'self'"), std::string::npos);
  EXPECT_EQ(page.headers["cache-control"], "no-cache");
  EXPECT_EQ(page.headers["x-content-type-options"], "nosniff");
  const std::string etag = page.headers["etag"];
  ASSERT_GE(etag.size(), 3u);
  EXPECT_EQ(etag.front(), '"');

  // Revalidation: the same ETag answers 304 without a body; another one gets the page.
  Response same = Fetch(port_, "GET", "/", "", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(same.headers["etag"], etag);
  EXPECT_EQ(Fetch(port_, "GET", "/", "", "If-None-Match: \"other\"\r\n").status, 200);

  // gzip when asked for, with the gzip magic bytes and fewer of them.
  Response gz = Fetch(port_, "GET", "/", "", "Accept-Encoding: gzip, deflate\r\n");
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(gz.headers["content-encoding"], "gzip");
  ASSERT_GE(gz.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[1]), 0x8b);
  EXPECT_LT(gz.body.size(), page.body.size());
  EXPECT_EQ(Fetch(port_, "GET", "/", "", "Accept-Encoding: gzip;q=0\r\n").headers.count("content-encoding"), 0u);
}

TEST_F(DashboardHttpTest, EveryFileThePageNamesIsServedWithItsTypeAndNoOtherHostIsNamed) {
  const std::set<std::string_view> names = [] {
    auto v = DashboardFileNames();
    return std::set<std::string_view>(v.begin(), v.end());
  }();
  const std::string page = Fetch(port_, "GET", "/").body;
  std::regex ref("(?:src|href)=\"([^\"]+)\"");
  int named = 0;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), ref); it != std::sregex_iterator(); ++it) {
    const std::string url = (*it)[1];
    if (url.front() == '#') continue;
    ASSERT_EQ(url.rfind("/dashboard/", 0), 0u) << "the page names " << url;
    const std::string name = url.substr(11);
    EXPECT_TRUE(names.count(name)) << name;
    Response r = Fetch(port_, "GET", url);
    EXPECT_EQ(r.status, 200) << url;
    const std::string type = r.headers["content-type"];
    if (name.size() > 3 && name.substr(name.size() - 3) == ".js") {
      EXPECT_EQ(type, "text/javascript; charset=utf-8");
    }
    if (name.size() > 4 && name.substr(name.size() - 4) == ".css") {
      EXPECT_EQ(type, "text/css; charset=utf-8");
    }
    ++named;
  }
  EXPECT_GE(named, 6);
  for (const char* own : {"app.js", "charts.js", "embedding_map.js", "style.css"}) {
    const std::string body = Fetch(port_, "GET", std::string("/dashboard/") + own).body;
    EXPECT_EQ(body.find("http://"), std::string::npos) << own;
    EXPECT_EQ(body.find("https://"), std::string::npos) << own;
  }
  EXPECT_EQ(Fetch(port_, "GET", "/dashboard/nope.js").status, 404);
  EXPECT_EQ(Fetch(port_, "GET", "/dashboard/").status, 404);
  EXPECT_EQ(Fetch(port_, "POST", "/", "").status, 405);
}

TEST_F(DashboardHttpTest, EveryDataEndpointNeedsTheAdminTokenAndNeverEchoesOne) {
  for (const char* target : {"/v1/admin/models", "/v1/admin/history", "/v1/admin/rejections",
                             "/v1/admin/embedding_map", "/v1/admin/users/u1"}) {
    Response none = Fetch(port_, "GET", target);
    EXPECT_EQ(none.status, 401) << target;
    EXPECT_EQ(none.headers["www-authenticate"], "Bearer") << target;
    Response wrong = Fetch(port_, "GET", target, "", Bearer("guess-" + std::string(kAdmin)));
    EXPECT_EQ(wrong.status, 401) << target;
    EXPECT_EQ(wrong.body.find("guess-"), std::string::npos) << wrong.body;
    EXPECT_EQ(Admin(target).status, 200) << target;
  }
}

TEST_F(DashboardHttpTest, ModelsUsersMapRejectionsAndHistory) {
  json models = Parse(Admin("/v1/admin/models"));
  EXPECT_EQ(models["current"], "20261206T060000Z");
  ASSERT_EQ(models["versions"].size(), 2u);
  EXPECT_EQ(models["versions"][0]["current"], true);
  EXPECT_DOUBLE_EQ(models["versions"][1]["validation"]["holdout_auc"].get<double>(), 0.75);

  // Purchases as the store holds them, heaviest first, with their categories.
  json user = Parse(Admin("/v1/admin/users/u1"));
  EXPECT_EQ(user["total"], 2);
  ASSERT_EQ(user["purchases"].size(), 2u);
  EXPECT_EQ(user["purchases"][0]["product"], "p1");
  EXPECT_EQ(user["purchases"][0]["weight"], 2);
  EXPECT_EQ(user["purchases"][1]["categories"], json({"hats", "red"}));
  Response unknown = Admin("/v1/admin/users/nobody");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Admin("/v1/admin/users/" + std::string(300, 'u')).status, 400);

  // The map: map_points = 4 -> the cold product (up to a quarter) and the three warm ones.
  json map = Parse(Admin("/v1/admin/embedding_map"));
  EXPECT_EQ(map["version"], "20261206T060000Z");
  EXPECT_EQ(map["products"], 4);
  const size_t n = map["points"].get<size_t>();
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(map["x"].size(), n);
  EXPECT_EQ(map["product"].size(), n);
  std::set<std::string> categories;
  for (const json& c : map["categories"]) categories.insert(c.get<std::string>());
  EXPECT_EQ(categories, (std::set<std::string>{"shoes", "hats"}));
  for (size_t i = 0; i < n; ++i) {
    const std::string p = map["product"][i];
    const std::string c = map["categories"][map["category"][i].get<int>()];
    EXPECT_EQ(c, p == "p1" || p == "p2" ? "shoes" : "hats") << p;
    EXPECT_EQ(map["cold"][i], p == "p4" ? 1 : 0) << p;
  }
  served_ = nullptr;  // the next version is computed afresh; with none served: 503
  EXPECT_EQ(Admin("/v1/admin/embedding_map").status, 503);

  // Rejections, newest first, as the applier kept them.
  applier_->CountRejected(EventError{RejectReason::kBadJson, "not JSON at byte 1"}, "", "{oops");
  json rejections = Parse(Admin("/v1/admin/rejections"));
  EXPECT_EQ(rejections["total"], 1);
  ASSERT_EQ(rejections["events"].size(), 1u);
  EXPECT_EQ(rejections["events"][0]["reason"], RejectReasonName(RejectReason::kBadJson));
  EXPECT_EQ(rejections["events"][0]["excerpt"], "{oops");

  // History: two samples around real requests to /v1/admin/models.
  dashboard_->SampleNow(1000);
  for (int i = 0; i < 4; ++i) Admin("/v1/admin/models");
  dashboard_->SampleNow(1005);
  json history = Parse(Admin("/v1/admin/history?since=999.5"));
  EXPECT_EQ(history["interval_s"], 5);
  EXPECT_EQ(history["history"]["t"], json({1000, 1005}));
  const json& rps = history["history"]["series"]["http.admin_models.rps"];
  ASSERT_EQ(rps.size(), 2u);
  EXPECT_GE(rps[1].get<double>(), 4.0 / 5.0);
  EXPECT_EQ(Parse(Admin("/v1/admin/history?since=1005"))["history"]["t"].size(), 0u);
  EXPECT_EQ(Admin("/v1/admin/history?since=-1").status, 400);
  EXPECT_EQ(Admin("/v1/admin/history?since=1e9").status, 400);
  EXPECT_EQ(Admin("/v1/admin/history?until=1").status, 400);

  // The training curve follows the source's progress.
  progress_.running = true;
  progress_.job_id = "job-7";
  progress_.stage = "stage1";
  progress_.epoch = 1;
  progress_.epochs = 3;
  metrics_.GetGauge("vasgd_train_loss", "", "part=\"skipgram\"")->Set(2.5);
  dashboard_->SampleNow(1006);
  json training = Parse(Admin("/v1/admin/history?since=0"))["training"];
  EXPECT_EQ(training["job"], "job-7");
  EXPECT_EQ(training["points"]["skipgram"], json({2.5}));
}

TEST(DashboardDisabled, ItsEndpointsAnswer404) {
  MetricsRegistry metrics;
  HttpOptions http;
  http.listen = "127.0.0.1:0";
  http.admin_token = kAdmin;
  HttpServer server(http, nullptr, &metrics, nullptr);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(Fetch(server.port(), "GET", "/").status, 404);
  EXPECT_EQ(Fetch(server.port(), "GET", "/dashboard/app.js").status, 404);
  EXPECT_EQ(Fetch(server.port(), "GET", "/v1/admin/models", "", Bearer(kAdmin)).status, 404);
  server.Stop();
}

}  // namespace
}  // namespace vasgd

// The HTTP server over real loopback sockets: every endpoint and its errors, tokens, limits,
// keep-alive, timeouts, the connection cap, metrics and graceful shutdown.
#include "http/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"
#include "tests/http/http_client.h"
#include "tests/http/test_api.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

using testing_http::Connection;
using testing_http::Fetch;
using testing_http::Response;
using testing_http::TestApi;
using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kAdmin = "adm1n-s3cret-t0ken";
constexpr const char* kRead = "r3ad-s3cret-t0ken";

std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

Json Parse(const Response& r) {
  Json j = Json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.body;
  return j;
}

std::string ErrorCode(const Response& r) {
  Json j = Parse(r);
  return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(HttpOptions options) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<HttpServer>(options, &api_, &metrics_);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void Start() { Start(HttpOptions()); }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  TestApi api_;
  MetricsRegistry metrics_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, HealthReadinessAndMetrics) {
  Start();
  Response h = Fetch(port_, "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(Parse(h)["status"], "ok");
  api_.ready = false;
  Response not_ready = Fetch(port_, "GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(ErrorCode(not_ready), "unavailable");
  EXPECT_NE(not_ready.body.find("no model loaded yet"), std::string::npos);
  api_.ready = true;
  EXPECT_EQ(Fetch(port_, "GET", "/readyz").status, 200);
  Response m = Fetch(port_, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(m.body.find("vasgd_http_requests_total{route=\"healthz\",code=\"200\"} 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("vasgd_http_requests_total{route=\"readyz\",code=\"503\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("vasgd_http_request_duration_seconds_count{route=\"readyz\"} 2"), std::string::npos);
  EXPECT_NE(m.body.find("vasgd_http_open_connections"), std::string::npos);
}

TEST_F(ServerTest, RecommendationsParseEveryParameter) {
  Start();
  Response r = Fetch(port_, "GET",
                     "/v1/users/u%2F42%20x/recommendations?k=3&offset=4&exclude=p1,p%2C2,,p%203&category=shoes+red"
                     "&include_purchased=true");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  Json j = Parse(r);
  EXPECT_EQ(j["user"], "u/42 x");
  EXPECT_EQ(j["model_version"], "v-test");
  EXPECT_EQ(j["strategy"], "model");
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][0]["product"], "p4");
  EXPECT_FLOAT_EQ(j["items"][1]["score"].get<float>(), 0.99f);
  RecommendRequest seen = api_.last_recommend();
  EXPECT_EQ(seen.user, "u/42 x");
  EXPECT_EQ(seen.k, 3);
  EXPECT_EQ(seen.offset, 4);
  EXPECT_EQ(seen.exclude, (std::vector<std::string>{"p1", "p,2", "p 3"}));
  EXPECT_EQ(seen.category, "shoes red");
  EXPECT_TRUE(seen.include_purchased);

  Response d = Fetch(port_, "GET", "/v1/users/new-user/recommendations");
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(Parse(d)["strategy"], "popular");
  seen = api_.last_recommend();
  EXPECT_EQ(seen.k, 20);  // the defaults
  EXPECT_EQ(seen.offset, 0);
  EXPECT_TRUE(seen.exclude.empty());
  EXPECT_FALSE(seen.include_purchased);
}

TEST_F(ServerTest, BadParametersGet400WithAPreciseMessage) {
  HttpOptions o;
  o.max_k = 100;
  Start(o);
  struct Case {
    const char* target;
    const char* says;
  } cases[] = {
      {"/v1/users/u1/recommendations?k=0", "k must be an integer between 1 and 100"},
      {"/v1/users/u1/recommendations?k=abc", "got 'abc'"},
      {"/v1/users/u1/recommendations?k=-5", "k must be an integer"},
      {"/v1/users/u1/recommendations?k=101", "got 101"},
      {"/v1/users/u1/recommendations?k=99999999999", "k must be an integer"},
      {"/v1/users/u1/recommendations?k=60&offset=50", "k + offset must not exceed 100"},
      {"/v1/users/u1/recommendations?offset=x", "offset must be an integer between 0 and 100"},
      {"/v1/users/u1/recommendations?include_purchased=maybe", "include_purchased must be true or false"},
      {"/v1/users/u1/recommendations?colour=red", "unknown query parameter 'colour'"},
      {"/v1/users/u1/recommendations?k=5&k=6", "given twice"},
      {"/v1/users/u1/recommendations?exclude=p%zz", "malformed percent-escape"},
      {"/v1/users//recommendations", "user id is empty"},
      {"/v1/users/u%4/recommendations", "malformed percent-escape in the path"},
      {"/v1/products/p1/similar?include_purchased=true", "unknown query parameter 'include_purchased'"},
      {"/v1/products/p1/similar?k=1000", "k must be an integer between 1 and 100"},
      {"/healthz?verbose=1", "this endpoint takes none"},
  };
  for (const Case& c : cases) {
    Response r = Fetch(port_, "GET", c.target);
    EXPECT_EQ(r.status, 400) << c.target;
    EXPECT_EQ(ErrorCode(r), "invalid_argument") << c.target;
    EXPECT_NE(Parse(r)["error"]["message"].get<std::string>().find(c.says), std::string::npos)
        << c.target << " -> " << r.body;
  }
  std::string long_id(300, 'x');
  EXPECT_EQ(Fetch(port_, "GET", "/v1/users/" + long_id + "/recommendations").status, 400);
  EXPECT_EQ(api_.calls_.load(), 0);  // none of them reached the Api
}

TEST_F(ServerTest, SimilarAnalogyAndApiErrors) {
  Start();
  Response s = Fetch(port_, "GET", "/v1/products/p%207/similar?k=2&offset=1&exclude=a,b&category=c");
  ASSERT_EQ(s.status, 200) << s.body;
  Json j = Parse(s);
  EXPECT_EQ(j["product"], "p 7");
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["product"], "p 7-n1");
  EXPECT_EQ(api_.last_similar().exclude, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(api_.last_similar().category, "c");

  Response missing = Fetch(port_, "GET", "/v1/products/missing/similar");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "not_found");
  EXPECT_NE(missing.body.find("unknown product 'missing'"), std::string::npos);

  Response down = Fetch(port_, "GET", "/v1/users/down/recommendations");
  EXPECT_EQ(down.status, 503);
  Response boom = Fetch(port_, "GET", "/v1/users/boom/recommendations");
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(ErrorCode(boom), "internal");
  EXPECT_EQ(boom.body.find("handler bug"), std::string::npos);  // internals are logged, not sent

  Response a = Fetch(port_, "POST", "/v1/analogy", R"({"positive":["p:p1","u:u2"],"negative":["u:u1"],"k":4})");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Parse(a)["items"].size(), 4u);
  AnalogyRequest seen = api_.last_analogy();
  ASSERT_EQ(seen.positive.size(), 2u);
  EXPECT_EQ(seen.positive[0].kind, EntityRef::Kind::kProduct);
  EXPECT_EQ(seen.positive[0].id, "p1");
  EXPECT_EQ(seen.positive[1].kind, EntityRef::Kind::kUser);
  ASSERT_EQ(seen.negative.size(), 1u);
  EXPECT_EQ(seen.negative[0].id, "u1");
  for (const char* bad : {R"({"positive":["x:p1"]})", R"({"negative":["u:u1"]})", R"({"positive":"p:p1"})",
                          R"({"positive":["p:p1"],"k":0})", R"({"positive":["p:p1"],"kk":3})", "not json", "[1]",
                          R"({"positive":["p:"]})"}) {
    Response r = Fetch(port_, "POST", "/v1/analogy", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_argument") << bad;
  }
}

TEST_F(ServerTest, UnknownRoutesAndWrongMethods) {
  Start();
  Response r = Fetch(port_, "GET", "/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  EXPECT_EQ(Fetch(port_, "GET", "/v1/users/u1/recommendations/").status, 404);
  EXPECT_EQ(Fetch(port_, "GET", "/v1/users/u1").status, 404);
  Response m = Fetch(port_, "POST", "/v1/users/u1/recommendations", "{}");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.headers["allow"], "GET");
  EXPECT_EQ(ErrorCode(m), "method_not_allowed");
  Response e = Fetch(port_, "GET", "/v1/events");
  EXPECT_EQ(e.status, 405);
  EXPECT_EQ(e.headers["allow"], "POST");
  EXPECT_EQ(Fetch(port_, "DELETE", "/healthz").status, 405);
}

TEST_F(ServerTest, EventsArePassedOnOneByOne) {
  HttpOptions o;
  o.max_events_per_request = 3;
  Start(o);
  Response r = Fetch(port_, "POST", "/v1/events",
                     R"([{"type":"purchase","user":"u","product":"p"},{"type":"product","product":"p"},{"type":"purchase"}])");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Parse(r);
  EXPECT_EQ(j["accepted"], 2);
  EXPECT_EQ(j["rejected"], 1);
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["results"][1]["index"], 1);
  EXPECT_EQ(j["results"][1]["accepted"], false);
  EXPECT_EQ(j["results"][1]["reason"], "not a purchase");
  EXPECT_EQ(api_.ingested(), 3);
  Response one = Fetch(port_, "POST", "/v1/events", R"({"type":"purchase","user":"u","product":"p"})");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(Parse(one)["accepted"], 1);
  Response many = Fetch(port_, "POST", "/v1/events", "[{},{},{},{}]");
  EXPECT_EQ(many.status, 413);
  EXPECT_EQ(ErrorCode(many), "payload_too_large");
  EXPECT_NE(many.body.find("at most 3 events"), std::string::npos);
  EXPECT_EQ(Fetch(port_, "POST", "/v1/events", "[{\"type\":").status, 400);
  EXPECT_EQ(Fetch(port_, "POST", "/v1/events", "42").status, 400);
  EXPECT_EQ(api_.ingested(), 4);
}

// An ingestion whose commit waits (an fsync, a writer queued behind another) holds no I/O
// thread: with a single one, queries are answered while it waits, and it is answered after.
TEST_F(ServerTest, QueriesAreAnsweredWhileAnIngestionWaits) {
  HttpOptions o;
  o.threads = 1;
  Start(o);
  api_.hold_ingest = true;
  Connection poster(port_);
  const std::string body = R"([{"type":"purchase","user":"u","product":"p"}])";
  ASSERT_TRUE(poster.Send("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body));
  while (api_.ingesting_.load() == 0) std::this_thread::sleep_for(milliseconds(2));  // it is in the handler
  for (int i = 0; i < 5; ++i) {
    Response r = Fetch(port_, "GET", "/v1/users/u" + std::to_string(i) + "/recommendations?k=2");
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(Fetch(port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(api_.ingested(), 0);  // still waiting: the answers above did not wait for it
  api_.hold_ingest = false;
  Response posted = poster.Read(milliseconds(5000));
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(Parse(posted)["accepted"], 1);
  EXPECT_EQ(api_.ingested(), 1);
  // Admin writes go the same way and still answer.
  Response retrain = Fetch(port_, "POST", "/v1/admin/retrain", "", Bearer("x"));
  EXPECT_EQ(retrain.status, 403);  // no admin token configured: refused, but answered
}

TEST_F(ServerTest, ReadTokenGuardsClientEndpointsAdminTokenGuardsAdmin) {
  HttpOptions o;
  o.admin_token = kAdmin;
  o.read_token = kRead;
  Start(o);
  const std::string rec = "/v1/users/u1/recommendations";
  Response none = Fetch(port_, "GET", rec);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(ErrorCode(none), "unauthorized");
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(Fetch(port_, "GET", rec, "", Bearer("wrong")).status, 401);
  EXPECT_EQ(Fetch(port_, "GET", rec, "", Bearer(std::string(kRead) + "x")).status, 401);
  EXPECT_EQ(Fetch(port_, "GET", rec, "", "Authorization: Basic " + std::string(kRead) + "\r\n").status, 401);
  EXPECT_EQ(Fetch(port_, "GET", rec, "", Bearer(kRead)).status, 200);
  EXPECT_EQ(Fetch(port_, "GET", rec, "", "Authorization: bearer " + std::string(kRead) + "\r\n").status, 200);
  EXPECT_EQ(Fetch(port_, "GET", rec, "", Bearer(kAdmin)).status, 200);  // admin may read
  EXPECT_EQ(Fetch(port_, "POST", "/v1/events", "[]").status, 401);
  EXPECT_EQ(Fetch(port_, "POST", "/v1/events", "[]", Bearer(kRead)).status, 200);

  EXPECT_EQ(Fetch(port_, "GET", "/v1/admin/status").status, 401);
  EXPECT_EQ(Fetch(port_, "GET", "/v1/admin/status", "", Bearer(kRead)).status, 401);  // read is not admin
  Response status = Fetch(port_, "GET", "/v1/admin/status", "", Bearer(kAdmin));
  ASSERT_EQ(status.status, 200);
  Json s = Parse(status);
  EXPECT_EQ(s["model_version"], "v-test");
  EXPECT_EQ(s["role"], "trainer");
  EXPECT_EQ(s["model_age_seconds"], 12.5);
  EXPECT_EQ(s["graph"]["edges"], 5);
  EXPECT_EQ(s["training"]["epochs"], 5);
  EXPECT_TRUE(s["consumer_lag"].is_null());
  EXPECT_EQ(s["last_error"], "disk full");

  Response job = Fetch(port_, "POST", "/v1/admin/retrain", "", Bearer(kAdmin));
  EXPECT_EQ(job.status, 202);
  EXPECT_EQ(Parse(job)["job_id"], "job-1");
  Response again = Fetch(port_, "POST", "/v1/admin/retrain", "", Bearer(kAdmin));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(ErrorCode(again), "conflict");
  EXPECT_EQ(Parse(Fetch(port_, "GET", "/v1/admin/status", "", Bearer(kAdmin)))["training"]["running"], true);
  Response rollback = Fetch(port_, "POST", "/v1/admin/rollback", "", Bearer(kAdmin));
  EXPECT_EQ(rollback.status, 409);
  EXPECT_NE(rollback.body.find("no previous model version"), std::string::npos);
  EXPECT_EQ(Fetch(port_, "POST", "/v1/admin/rollback", "", Bearer("nope")).status, 401);

  // Liveness, readiness and metrics stay open for probes and scrapers.
  EXPECT_EQ(Fetch(port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/readyz").status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/metrics").status, 200);
}

TEST_F(ServerTest, AdminEndpointsAreDisabledWithoutAnAdminToken) {
  Start();  // no tokens: client endpoints open, admin ones off
  Response r = Fetch(port_, "POST", "/v1/admin/retrain", "", Bearer("anything"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "forbidden");
  EXPECT_EQ(Fetch(port_, "GET", "/v1/admin/status").status, 403);
  EXPECT_EQ(Fetch(port_, "GET", "/v1/users/u/recommendations").status, 200);
}

TEST_F(ServerTest, TokensNeverAppearInLogsOrBodies) {
  HttpOptions o;
  o.admin_token = kAdmin;
  o.read_token = kRead;
  LogOptions debug;
  debug.level = "debug";
  ConfigureLogging(debug);
  testing_support::TempDir tmp("vasgd-http-log");
  const std::string path = tmp.file("stderr.log");
  int log_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(log_fd, 0);
  std::fflush(stderr);
  int saved = dup(2);
  dup2(log_fd, 2);

  Start(o);
  std::string bodies;
  for (const std::string& token : {std::string(kAdmin), std::string(kRead), std::string("wrong")}) {
    for (const char* target : {"/v1/admin/status", "/v1/users/u1/recommendations", "/v1/nothing", "/metrics",
                               "/v1/users/boom/recommendations"}) {
      bodies += Fetch(port_, "GET", target, "", Bearer(token)).body;
    }
    // A token misplaced in the query string or a path is not echoed either.
    bodies += Fetch(port_, "GET", "/v1/users/u1/recommendations?token=" + token, "", Bearer(token)).body;
    bodies += Fetch(port_, "POST", "/v1/admin/retrain", "", Bearer(token)).body;
  }
  bodies += Fetch(port_, "GET", "/metrics").body;
  server_->Stop();

  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(log_fd);
  ConfigureLogging(LogOptions());
  std::ifstream in(path);
  std::stringstream logs;
  logs << in.rdbuf();
  std::remove(path.c_str());
  EXPECT_NE(logs.str().find("http.request"), std::string::npos);  // debug request lines were written
  EXPECT_NE(logs.str().find("http.handler_exception"), std::string::npos);
  for (const char* secret : {kAdmin, kRead}) {
    EXPECT_EQ(logs.str().find(secret), std::string::npos) << "token in logs";
    EXPECT_EQ(bodies.find(secret), std::string::npos) << "token in a response body";
  }
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  Connection c(port_);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send("GET /v1/users/u" + std::to_string(i) + "/recommendations?k=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    Response r = c.Read();
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_FALSE(r.closed);
    EXPECT_EQ(Parse(r)["user"], "u" + std::to_string(i));
  }
  // Two pipelined requests in one write: both answered, in order.
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/users/z/recommendations?k=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_EQ(Parse(c.Read())["user"], "z");
  // Connection: close is honoured.
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  Response last = c.Read();
  EXPECT_EQ(last.status, 200);
  EXPECT_TRUE(last.closed);
  EXPECT_TRUE(c.WaitClosed(milliseconds(2000)));
  // HTTP/1.0 without keep-alive: one request per connection.
  Connection old(port_);
  ASSERT_TRUE(old.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(old.Read().status, 200);
  EXPECT_TRUE(old.WaitClosed(milliseconds(2000)));
}

TEST_F(ServerTest, OversizedBodyGets413BeforeItIsSent) {
  HttpOptions o;
  o.max_body_bytes = 1000;
  Start(o);
  Connection c(port_);
  // Only the headers: the server must answer from Content-Length alone.
  ASSERT_TRUE(c.Send("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
  Response r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCode(r), "payload_too_large");
  EXPECT_TRUE(r.closed);
  // A chunked body that grows past the limit.
  Connection chunked(port_);
  std::string chunk(600, 'x');
  char size[16];
  std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
  ASSERT_TRUE(chunked.Send("POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           std::string(size) + chunk + "\r\n" + size + chunk + "\r\n"));
  EXPECT_EQ(chunked.Read().status, 413);
  // Exactly at the limit is fine.
  std::string body = "[" + std::string(998, ' ') + "]";
  EXPECT_EQ(Fetch(port_, "POST", "/v1/events", body).status, 200);
}

TEST_F(ServerTest, ExpectContinueGetsTheGoAheadOrAnEarly413) {
  HttpOptions o;
  o.max_body_bytes = 4096;
  Start(o);
  const std::string body = R"([{"type":"purchase","user":"u","product":"p"}])";
  Connection c(port_);
  ASSERT_TRUE(c.Send("POST /v1/events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  Response go = c.Read(milliseconds(2000));  // the client waits for this before sending the body
  EXPECT_EQ(go.status, 100);
  ASSERT_TRUE(c.Send(body));
  Response r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r)["accepted"], 1);
  // Too large: refused at once, no go-ahead.
  Connection big(port_);
  ASSERT_TRUE(big.Send("POST /v1/events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99999\r\n\r\n"));
  EXPECT_EQ(big.Read(milliseconds(2000)).status, 413);
}

TEST_F(ServerTest, HugeHeaderGets431) {
  HttpOptions o;
  o.max_header_bytes = 2048;
  Start(o);
  Response r = Fetch(port_, "GET", "/healthz", "", "X-Filler: " + std::string(4000, 'a') + "\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(ErrorCode(r), "header_too_large");
  EXPECT_EQ(Fetch(port_, "GET", "/healthz", "", "X-Filler: " + std::string(1000, 'a') + "\r\n").status, 200);
}

TEST_F(ServerTest, MalformedRequestGets400) {
  Start();
  Connection c(port_);
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost x-no-colon\r\n\r\n"));
  Response r = c.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.closed);
}

TEST_F(ServerTest, SlowClientTimesOutWhileOthersAreServed) {
  HttpOptions o;
  o.request_timeout_ms = 600;
  o.threads = 1;  // one thread: the slow client must not hold it
  Start(o);
  Connection slow(port_);
  ASSERT_TRUE(slow.Send("GET /v1/users/u1/recomm"));  // and then nothing
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    Response r = Fetch(port_, "GET", "/healthz");
    ASSERT_EQ(r.status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(600));  // served meanwhile
  Response timed_out = slow.Read(milliseconds(5000));
  EXPECT_EQ(timed_out.status, 408);
  EXPECT_EQ(ErrorCode(timed_out), "request_timeout");
  EXPECT_TRUE(slow.WaitClosed(milliseconds(2000)));
  EXPECT_NE(metrics_.RenderText().find("vasgd_http_request_timeouts_total 1"), std::string::npos);

  // A client that trickles a byte at a time is cut at the same deadline, not per byte.
  Connection trickle(port_);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  Response r;
  for (char ch : req) {
    if (!trickle.Send(std::string(1, ch))) break;
    std::this_thread::sleep_for(milliseconds(60));
    if (std::chrono::steady_clock::now() - t0 > milliseconds(1500)) break;
  }
  r = trickle.Read(milliseconds(3000));
  EXPECT_EQ(r.status, 408);
}

TEST_F(ServerTest, IdleConnectionsAreClosed) {
  HttpOptions o;
  o.idle_timeout_ms = 300;
  o.request_timeout_ms = 5000;
  Start(o);
  Connection c(port_);
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(c.Read().status, 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed(milliseconds(3000)));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, milliseconds(250));
  EXPECT_LT(waited, milliseconds(2500));
  EXPECT_TRUE(c.pending().empty());  // closed silently, no 408 for an idle connection
}

TEST_F(ServerTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
  HttpOptions o;
  o.max_connections = 3;
  Start(o);
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Connection>(port_));
    ASSERT_TRUE(held.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(held.back()->Read().status, 200);  // accepted and kept alive
  }
  Connection extra(port_);
  ASSERT_TRUE(extra.connected());  // the kernel completes the handshake...
  extra.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(extra.WaitClosed(milliseconds(2000)));  // ...and the server closes it unanswered
  EXPECT_EQ(extra.pending().find("HTTP/1.1 200"), std::string::npos);
  // The held connections still work, and a slot freed is a slot usable.
  ASSERT_TRUE(held[0]->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(held[0]->Read().status, 200);
  held.pop_back();
  Response r;
  for (int attempt = 0; attempt < 50 && r.status != 200; ++attempt) {
    std::this_thread::sleep_for(milliseconds(20));  // the server notices the close asynchronously
    r = Fetch(port_, "GET", "/healthz");
  }
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(metrics_.RenderText().find("vasgd_http_connections_rejected_total"), std::string::npos);
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequestsAndClosesIdleOnes) {
  Start();
  Connection idle(port_);
  ASSERT_TRUE(idle.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(idle.Read().status, 200);
  Connection busy(port_);
  ASSERT_TRUE(busy.Send("GET /v1/users/slow/recommendations?k=2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  while (api_.calls_.load() == 0) std::this_thread::sleep_for(milliseconds(5));  // it is in the handler
  std::thread stopper([&] { server_->Stop(); });
  Response r = busy.Read(milliseconds(5000));
  EXPECT_EQ(r.status, 200);  // finished, not cut
  EXPECT_EQ(Parse(r)["items"].size(), 2u);
  EXPECT_TRUE(r.closed);     // and told the connection ends
  EXPECT_TRUE(idle.WaitClosed(milliseconds(3000)));
  stopper.join();
  Connection after(port_);
  EXPECT_TRUE(!after.connected() || after.WaitClosed(milliseconds(1000)));
}

TEST_F(ServerTest, ConcurrentClientsAllServed) {
  Start();
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      Connection c(port_);
      for (int i = 0; i < 50; ++i) {
        c.Send("GET /v1/users/c" + std::to_string(t) + "/recommendations?k=5 HTTP/1.1\r\nHost: x\r\n\r\n");
        Response r = c.Read();
        ok += r.status == 200 && Parse(r)["user"] == "c" + std::to_string(t);
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_NE(metrics_.RenderText().find("vasgd_http_requests_total{route=\"recommendations\",code=\"200\"} 400"),
            std::string::npos);
}

TEST(ServerStartTest, BadAddressesAreReported) {
  testing_http::TestApi api;
  HttpOptions o;
  o.listen = "no-port-here";
  EXPECT_EQ(HttpServer(o, &api, nullptr).Start().code(), Code::kInvalidArgument);
  // A port in use.
  o.listen = "127.0.0.1:0";
  HttpServer first(o, &api, nullptr);
  ASSERT_TRUE(first.Start().ok());
  o.listen = "127.0.0.1:" + std::to_string(first.port());
  Status st = HttpServer(o, &api, nullptr).Start();
  EXPECT_EQ(st.code(), Code::kIoError);
  EXPECT_NE(st.message().find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace vasgd

// Hostile HTTP clients against the real `vasgd serve` (a trained model, real sockets), while a
// well-behaved client queries on its own connection the whole time and must get nothing but 200:
// oversized bodies and headers, slow clients (header and body deadlines), thousands of idle
// connections (below and beyond the connection cap), invalid UTF-8, invalid and deeply nested
// JSON, huge k, negative offsets, malformed framing. Each gets a precise 4xx or a closed
// connection. Then auth: refusal without or with a wrong token, no token in logs, bodies,
// metrics or the training child's files, and the default bind address 127.0.0.1.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>

#include "tests/reliability/drill_harness.h"

namespace vasgd::testing_reliability {
namespace {

using std::chrono::milliseconds;
using testing_daemon::kAdminToken;
using testing_http::Connection;
using testing_http::Response;

constexpr char kReadToken[] = "read-tok-5f1c2a9e77d04b";

std::string Request(const std::string& method, const std::string& target, const std::string& extra = "",
                    const std::string& body = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kReadToken + "\r\n" + extra;
  if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

// The error code of a JSON error answer ("" when there is none).
std::string Code(const Response& r) {
  const json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "";
}

// A client that queries all the time on one keep-alive connection (reconnecting when the server
// ends it), counting answers that are not 200.
class GoodClient {
 public:
  explicit GoodClient(uint16_t port) : port_(port), thread_([this] { Run(); }) {}
  ~GoodClient() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t ok() const { return ok_.load(); }
  int64_t bad() const { return bad_.load(); }
  std::string first_bad() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_bad_;
  }

 private:
  void Run() {
    std::unique_ptr<Connection> c;
    for (int i = 0; !stop_.load(); ++i) {
      if (!c) c = std::make_unique<Connection>(port_);
      const std::string user = "u" + std::to_string(i % 300);
      Response r;
      if (c->Send(Request("GET", "/v1/users/" + user + "/recommendations?k=10"))) r = c->Read(milliseconds(10000));
      if (r.status == 200) {
        ++ok_;
      } else {
        ++bad_;
        std::lock_guard<std::mutex> lock(mu_);
        if (first_bad_.empty()) first_bad_ = std::to_string(r.status) + " " + r.body;
      }
      if (r.closed || r.status != 200) c.reset();
    }
  }
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0}, bad_{0};
  mutable std::mutex mu_;
  std::string first_bad_;
  std::thread thread_;
};

class HttpAbuse : public testing_daemon::SuiteSetUpChecked<HttpAbuse> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    data_ = dir_->path() + "/data";
    ConfigMap c = testing_daemon::TestConfig(data_);
    c["http"]["request_timeout_ms"] = "1500";
    c["http"]["idle_timeout_ms"] = "3000";
    c["http"]["max_connections"] = "2500";
    c["http"]["max_events_per_request"] = "100";
    config_ = testing_daemon::WriteConfig(dir_->path() + "/vasgd.toml", c);
    serve_ = ServeProcess::Start(config_, dir_->path() + "/serve.log", {},
                                 {{"VASGD_ADMIN_TOKEN", kAdminToken}, {"VASGD_READ_TOKEN", kReadToken}})
                 .release();
    // Failures fail every test (SuiteSetUpChecked), not only this set-up.
    if (serve_ == nullptr) return SetUpFailed("vasgd serve did not start");
    PostShop();
    if (!SetUpOk()) return;
    if (serve_->Post("/v1/admin/retrain", "", kAdminToken).status != 202) {
      SetUpFailed("the retraining was not accepted");
    } else if (!WaitFor([] { return serve_->Get("/readyz").status == 200; }, 180)) {
      SetUpFailed("no model after 180 s\n" + serve_->Log());
    }
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }

  // The shop's events, with the read token (testing_daemon::PostEvents sends none).
  static void PostShop() {
    const std::vector<std::string> events = testing_daemon::ShopEvents(testing_daemon::SmallShop());
    for (size_t i = 0; i < events.size(); i += 100) {
      std::string body = "[";
      for (size_t j = i; j < std::min(events.size(), i + 100); ++j) body += (j > i ? "," : "") + events[j];
      body += "]";
      Connection c(serve_->port());
      c.Send(Request("POST", "/v1/events", "Content-Type: application/json\r\n", body));
      const Response r = c.Read();
      if (r.status != 200 || json::parse(r.body, nullptr, false).value("rejected", -1) != 0) {
        return SetUpFailed("the shop's events were not all accepted: " + std::to_string(r.status) + " " + r.body);
      }
    }
  }

  uint16_t port() const { return serve_->port(); }

  // One request on a fresh connection, with the read token.
  Response Send(const std::string& raw, milliseconds wait = milliseconds(5000)) {
    Connection c(port());
    if (!c.Send(raw)) {
      Response r;
      r.closed = true;
      return r;
    }
    return c.Read(wait);
  }

  // Runs `abuse` while a good client queries; the good client must see only 200s.
  void WhileServingOthers(const std::function<void()>& abuse) {
    GoodClient good(port());
    std::this_thread::sleep_for(milliseconds(100));
    abuse();
    std::this_thread::sleep_for(milliseconds(100));
    good.Stop();
    EXPECT_GT(good.ok(), 0);
    EXPECT_EQ(good.bad(), 0) << good.first_bad();
  }

  static TempDir* dir_;
  static std::string data_, config_;
  static ServeProcess* serve_;
};

TempDir* HttpAbuse::dir_ = nullptr;
std::string HttpAbuse::data_, HttpAbuse::config_;
ServeProcess* HttpAbuse::serve_ = nullptr;

TEST_F(HttpAbuse, OversizedBodiesAndHeaders) {
  WhileServingOthers([&] {
    // Announced too large: 413 before the body is sent, connection closed.
    Connection big(port());
    ASSERT_TRUE(big.Send("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"));
    Response r = big.Read();
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(Code(r), "payload_too_large");
    EXPECT_TRUE(r.closed);
    // Chunked, growing past the limit while being sent.
    Connection chunked(port());
    const std::string chunk(16000, ' ');
    std::string raw = "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 6; ++i) raw += "3e80\r\n" + chunk + "\r\n";
    chunked.Send(raw);
    r = chunked.Read();
    EXPECT_TRUE(r.status == 413 || (r.status == -1 && r.closed)) << r.status;
    // Too many events in a body under the byte limit.
    std::string body = "[";
    for (int i = 0; i < 101; ++i) body += std::string(i ? "," : "") + R"({"type":"purchase","user":"x","product":"y"})";
    body += "]";
    r = Send(Request("POST", "/v1/events", "", body));
    EXPECT_EQ(r.status, 413) << r.body;
    // One huge header, many small ones, a huge request line.
    r = Send(Request("GET", "/healthz", "X-Filler: " + std::string(20000, 'a') + "\r\n"));
    EXPECT_EQ(r.status, 431);
    std::string many;
    for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    r = Send(Request("GET", "/healthz", many));
    EXPECT_EQ(r.status, 431);
    r = Send(Request("GET", "/v1/users/" + std::string(30000, 'u') + "/recommendations"));
    EXPECT_TRUE(r.status == 431 || r.status == 414 || r.status == 400) << r.status;
  });
}

TEST_F(HttpAbuse, SlowClientsAreCutAtTheDeadline) {
  WhileServingOthers([&] {
    // 200 clients that send half a request line and stop (slowloris).
    std::vector<std::unique_ptr<Connection>> slow;
    for (int i = 0; i < 200; ++i) {
      slow.push_back(std::make_unique<Connection>(port()));
      slow.back()->Send("GET /v1/users/u1/recomm");
    }
    // A body that stops halfway.
    Connection half_body(port());
    half_body.Send("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[{\"type\":");
    // A trickle of one byte every 100 ms: cut at the request deadline, not per byte.
    Connection trickle(port());
    const auto t0 = std::chrono::steady_clock::now();
    for (char ch : Request("GET", "/healthz")) {
      if (!trickle.Send(std::string(1, ch))) break;
      std::this_thread::sleep_for(milliseconds(100));
      if (std::chrono::steady_clock::now() - t0 > milliseconds(2500)) break;
    }
    Response r = trickle.Read(milliseconds(3000));
    EXPECT_TRUE(r.status == 408 || r.closed) << r.status;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(4500));
    r = half_body.Read(milliseconds(3000));
    EXPECT_EQ(r.status, 408);
    int closed = 0;
    for (auto& c : slow) closed += c->WaitClosed(milliseconds(3000));
    EXPECT_EQ(closed, 200);
  });
}

TEST_F(HttpAbuse, ThousandsOfIdleConnections) {
  WhileServingOthers([&] {
    // 2000 connections that never send a byte, below the cap (2500): the server keeps them
    // until the first-request deadline and serves others meanwhile.
    std::vector<std::unique_ptr<Connection>> idle;
    for (int i = 0; i < 2000; ++i) idle.push_back(std::make_unique<Connection>(port()));
    int connected = 0;
    for (auto& c : idle) connected += c->connected();
    EXPECT_EQ(connected, 2000);
    Response r = Send(Request("GET", "/v1/products/p1/similar?k=5"));
    EXPECT_EQ(r.status, 200);
    int closed = 0;
    for (auto& c : idle) closed += c->WaitClosed(milliseconds(4000));
    EXPECT_EQ(closed, 2000) << "idle connections are closed at the first-request deadline";
  });
  // Beyond the cap: the excess is closed at once, the rest is held; after the deadline all is well.
  std::vector<std::unique_ptr<Connection>> idle;
  for (int i = 0; i < 3000; ++i) idle.push_back(std::make_unique<Connection>(port()));
  const auto t0 = std::chrono::steady_clock::now();
  int closed_at_once = 0;
  for (size_t i = 2600; i < idle.size(); ++i) closed_at_once += idle[i]->WaitClosed(milliseconds(300));
  EXPECT_EQ(closed_at_once, 400) << "connections beyond max_connections are closed at once";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(1400));
  for (auto& c : idle) c->WaitClosed(milliseconds(4000));
  idle.clear();
  Response r;
  for (int i = 0; i < 100 && r.status != 200; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    r = Send(Request("GET", "/v1/users/u3/recommendations?k=3"));
  }
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(serve_->Metric("vasgd_http_connections_rejected_total"), 0);
}

TEST_F(HttpAbuse, BadParametersGetAPrecise400) {
  WhileServingOthers([&] {
    const std::vector<std::pair<std::string, int>> cases = {
        {"/v1/users/u1/recommendations?k=1000000", 400},
        {"/v1/users/u1/recommendations?k=99999999999999999999999", 400},
        {"/v1/users/u1/recommendations?k=0", 400},
        {"/v1/users/u1/recommendations?k=-5", 400},
        {"/v1/users/u1/recommendations?k=1e3", 400},
        {"/v1/users/u1/recommendations?k=", 400},
        {"/v1/users/u1/recommendations?offset=-1", 400},
        {"/v1/users/u1/recommendations?offset=-9223372036854775808", 400},
        {"/v1/users/u1/recommendations?k=600&offset=600", 400},
        {"/v1/products/p1/similar?offset=abc", 400},
        {"/v1/users/u1/recommendations?include_purchased=maybe", 400},
        {"/v1/users/u1/recommendations?nope=1", 400},
        {"/v1/users/u%zz/recommendations", 400},
        {"/v1/users/" + std::string(300, 'u') + "/recommendations", 400},
        {"/v1/users/u1/recommendations?exclude=" + std::string(300, 'p'), 400},
        {"/v1/users/%FF%FE/recommendations", 400},              // invalid UTF-8 in an id
        {"/v1/users/u1/recommendations?category=%C3%28", 400},  // invalid UTF-8 in a category
        {"/v1/users/u1/recommendations?exclude=ok,%ED%A0%80", 400},  // a UTF-16 surrogate
        {"/v1/users/u1/recommendations?k=1000", 200},
        {"/v1/users/u1/recommendations?k=1&offset=999", 200},
    };
    for (const auto& [target, status] : cases) {
      const Response r = Send(Request("GET", target));
      EXPECT_EQ(r.status, status) << target << " -> " << r.body;
      if (status == 400) {
        EXPECT_EQ(Code(r), "invalid_argument") << target;
      }
      EXPECT_TRUE(json::accept(r.body)) << target << ": the answer is valid JSON (UTF-8)";
    }
  });
}

TEST_F(HttpAbuse, BadBodiesGetAPrecise400) {
  WhileServingOthers([&] {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"/v1/events", "{["},
        {"/v1/events", "[{\"type\":\"purchase\",\"user\":\"\xff\xfe\",\"product\":\"p\"}]"},
        {"/v1/events", "[\"\xc3\x28\"]"},
        {"/v1/events", std::string(30000, '[')},
        {"/v1/events", std::string(20000, '[') + std::string(20000, ']')},
        {"/v1/events", "17"},
        {"/v1/events", ""},
        {"/v1/analogy", "{\"positive\":[\"p:\xff\"]}"},
        {"/v1/analogy", "{\"positive\":[],\"k\":5}"},
        {"/v1/analogy", "{\"positive\":[\"p:p1\"],\"k\":100000}"},
        {"/v1/analogy", "{\"positive\":[\"p:p1\"],\"offset\":-1}"},
        {"/v1/analogy", "{\"positive\":[\"x:p1\"]}"},
        {"/v1/analogy", std::string(30000, '{')},
        {"/v1/analogy", "not json"},
    };
    for (const auto& [target, body] : cases) {
      const Response r = Send(Request("POST", target, "Content-Type: application/json\r\n", body));
      EXPECT_EQ(r.status, 400) << target << " " << body.substr(0, 60) << " -> " << r.body;
      EXPECT_EQ(Code(r), "invalid_argument") << target << " " << body.substr(0, 60);
    }
    // A batch with one bad event: per-event answers, the good ones accepted.
    const Response r = Send(Request("POST", "/v1/events", "",
                                    R"([{"type":"purchase","user":"abuse-1","product":"p1"},{"type":"purchase","user":"abuse-2","product":"p1","weight":"x"}])"));
    EXPECT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j["accepted"], 1) << r.body;
    EXPECT_EQ(j["rejected"], 1) << r.body;
  });
}

TEST_F(HttpAbuse, MalformedFramingIsRefusedOrClosed) {
  WhileServingOthers([&] {
    const std::vector<std::string> raws = {
        "GET /healthz HTTP/1.1\r\nHost x-no-colon\r\n\r\n",
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n[]",
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]",
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n",
        "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "G\x01T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        std::string("GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n", sizeof("GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n") - 1),
        "\r\n\r\n\r\n",
        std::string(5000, '\xff'),
    };
    for (const std::string& raw : raws) {
      const Response r = Send(raw, milliseconds(3000));
      const bool refused = r.status >= 400 && r.status < 500;
      EXPECT_TRUE(refused || r.closed) << "'" << raw.substr(0, 40) << "' -> " << r.status;
      EXPECT_NE(r.status, 200) << raw.substr(0, 40);
    }
    // Unknown methods and paths.
    EXPECT_EQ(Send(Request("BREW", "/v1/events")).status, 405);
    EXPECT_EQ(Send(Request("GET", "/v1/nothing")).status, 404);
  });
}

// --- auth ---

TEST_F(HttpAbuse, TokensAreRequiredAndNeverShown) {
  const std::string wrong_admin = std::string(kAdminToken).substr(0, sizeof(kAdminToken) - 2) + "X";
  struct Try {
    std::string method, target, authorization;
    int status;
  };
  const std::vector<Try> tries = {
      {"POST", "/v1/admin/retrain", "", 401},
      {"POST", "/v1/admin/retrain", "Bearer " + wrong_admin, 401},
      {"POST", "/v1/admin/retrain", "Bearer " + std::string(kAdminToken) + "X", 401},
      {"POST", "/v1/admin/retrain", "Bearer " + std::string(kAdminToken).substr(0, 4), 401},
      {"POST", "/v1/admin/retrain", "Basic " + std::string(kAdminToken), 401},
      {"POST", "/v1/admin/retrain", "Bearer " + std::string(kReadToken), 401},
      {"POST", "/v1/admin/rollback", "", 401},
      {"GET", "/v1/admin/status", "Bearer " + wrong_admin, 401},
      {"GET", "/v1/admin/status", "Bearer " + std::string(kAdminToken), 200},
      {"GET", "/v1/users/u1/recommendations", "", 401},
      {"GET", "/v1/users/u1/recommendations", "Bearer " + std::string(kReadToken) + "0", 401},
      {"GET", "/v1/users/u1/recommendations", "Bearer " + std::string(kReadToken), 200},
      {"GET", "/v1/users/u1/recommendations", "Bearer " + std::string(kAdminToken), 200},
      {"POST", "/v1/events", "", 401},
      {"GET", "/healthz", "", 200},
      {"GET", "/metrics", "Bearer " + wrong_admin, 200},
  };
  std::string bodies;
  for (const Try& t : tries) {
    const std::string auth = t.authorization.empty() ? "" : "Authorization: " + t.authorization + "\r\n";
    Connection c(port());
    std::string raw = t.method + " " + t.target + " HTTP/1.1\r\nHost: x\r\n" + auth;
    if (t.method == "POST") raw += "Content-Length: 0\r\n";
    ASSERT_TRUE(c.Send(raw + "\r\n"));
    const Response r = c.Read();
    EXPECT_EQ(r.status, t.status) << t.method << " " << t.target << " with '" << t.authorization << "'";
    if (r.status == 401) {
      EXPECT_EQ(r.headers.count("www-authenticate"), 1u);
    }
    bodies += r.body;
    for (const auto& [name, value] : r.headers) bodies += name + ": " + value + "\n";
  }
  // A retraining writes the child's config file (tokens redacted) and logs a lot.
  ASSERT_FALSE(serve_->Retrain(180).empty());
  bodies += serve_->GetJson("/v1/admin/status", kAdminToken).dump();
  bodies += serve_->Get("/metrics").body;
  const std::string log = serve_->Log();
  ASSERT_FALSE(log.empty());
  for (const std::string& secret : {std::string(kAdminToken), std::string(kReadToken), wrong_admin}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "a token in the log";
    EXPECT_EQ(bodies.find(secret), std::string::npos) << "a token in an answer";
  }
  // Nor in any file the daemon wrote (models, the store's own logs, leftovers of the job).
  for (const auto& e : std::filesystem::recursive_directory_iterator(data_)) {
    if (!e.is_regular_file() || e.file_size() > (64 << 20)) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content.find(kAdminToken), std::string::npos) << e.path();
    EXPECT_EQ(content.find(kReadToken), std::string::npos) << e.path();
  }
}

// The first non-loopback IPv4 address of this machine ("" when none).
std::string ExternalAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string out;
  for (ifaddrs* a = list; a && out.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof(buf));
    if (std::string(buf).rfind("127.", 0) != 0) out = buf;
  }
  freeifaddrs(list);
  return out;
}

bool CanConnect(const std::string& address, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

TEST(DefaultBind, IsLoopbackOnly) {
  EXPECT_EQ(HttpOptions().listen, "127.0.0.1:8080");
  std::ifstream in(std::string(VASGD_SOURCE_DIR) + "/config/vasgd.toml");
  const std::string shipped((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(shipped.find("listen = \"127.0.0.1:8080\""), std::string::npos);
  // A daemon whose config says nothing about the address binds 127.0.0.1:8080.
  TempDir dir;
  ConfigMap c = testing_daemon::TestConfig(dir.path() + "/data");
  c["http"].erase("listen");
  const std::string path = testing_daemon::WriteConfig(dir.path() + "/vasgd.toml", c);
  auto serve = ServeProcess::Start(path, dir.path() + "/serve.log");
  if (!serve) {
    std::ifstream log(dir.path() + "/serve.log");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("in use") != std::string::npos) VASGD_CANNOT_RUN_HERE("port 8080 is taken on this machine: " << text);
    FAIL() << text;
  }
  EXPECT_EQ(serve->port(), 8080);
  EXPECT_TRUE(CanConnect("127.0.0.1", 8080));
  const std::string external = ExternalAddress();
  if (!external.empty()) {
    EXPECT_FALSE(CanConnect(external, 8080)) << "reachable on " << external;
  }
  EXPECT_EQ(serve->Stop(), 0);
}

}  // namespace
}  // namespace vasgd::testing_reliability

// A small W3C WebDriver client for the browser tests: chromedriver (Debian's chromium-driver)
// started as a child process, driving a real headless Chromium (Debian's chromium). WebDriver is
// plain HTTP + JSON, spoken here over the tests' own HTTP client (tests/http/http_client.h).
// Only what the dashboard test needs: navigate, find, click, type, run a script, read the
// browser's console log, resize, screenshot.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/http/http_client.h"

namespace vasgd::testing_browser {

using json = nlohmann::json;

// The path of an executable: $env_var when set, else the first of `candidates` that exists; ""
// when none does.
inline std::string FindExecutable(const char* env_var, std::initializer_list<const char*> candidates) {
  if (const char* v = std::getenv(env_var); v && *v) return ::access(v, X_OK) == 0 ? v : "";
  for (const char* c : candidates) {
    if (::access(c, X_OK) == 0) return c;
  }
  return "";
}

// A loopback port nobody listens on now (bound and released: another process could take it in
// between, which the caller sees as a failure to start).
inline uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Decodes standard base64 (screenshots).
inline std::string DecodeBase64(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, buffer = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) continue;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

// Keys for SendKeys (WebDriver's code points).
constexpr const char* kEnter = "\xee\x80\x87";       // U+E007
constexpr const char* kArrowRight = "\xee\x80\x94";  // U+E014
constexpr const char* kArrowLeft = "\xee\x80\x92";   // U+E012

class WebDriver {
 public:
  // Starts chromedriver on a free port and a headless Chromium session with a window of
  // width × height. Null (with *error set) when either does not start.
  static std::unique_ptr<WebDriver> Start(const std::string& chromedriver, const std::string& chromium, int width,
                                          int height, const std::string& log_path, std::string* error) {
    std::unique_ptr<WebDriver> d(new WebDriver());
    d->port_ = FreePort();
    d->pid_ = ::fork();
    if (d->pid_ == 0) {
      const std::string port = "--port=" + std::to_string(d->port_);
      const std::string log = "--log-path=" + log_path;
      ::execl(chromedriver.c_str(), chromedriver.c_str(), port.c_str(), log.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (true) {
      testing_http::Response r = d->Raw("GET", "/status", "");
      const json status = json::parse(r.body, nullptr, false);
      if (r.status == 200 && status.is_object() && status.contains("value") && status["value"].value("ready", false)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        *error = "chromedriver did not answer on port " + std::to_string(d->port_) + " within 30 s";
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    json caps = {{"browserName", "chrome"},
                 {"goog:chromeOptions",
                  {{"binary", chromium},
                   {"args",
                    {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--force-device-scale-factor=1",
                     "--window-size=" + std::to_string(width) + "," + std::to_string(height)}}}},
                 {"goog:loggingPrefs", {{"browser", "ALL"}}}};
    testing_http::Response r = d->Raw("POST", "/session", json{{"capabilities", {{"alwaysMatch", caps}}}}.dump(),
                                      std::chrono::seconds(60));
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.contains("value") || !j["value"].contains("sessionId")) {
      *error = "chromedriver could not start Chromium (" + chromium + "): HTTP " + std::to_string(r.status) + " " +
               r.body.substr(0, 500);
      return nullptr;
    }
    d->session_ = j["value"]["sessionId"].get<std::string>();
    return d;
  }

  ~WebDriver() {
    if (!session_.empty()) Raw("DELETE", "/session/" + session_, "", std::chrono::seconds(20));
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // One command of this session; its "value". Throws std::runtime_error with WebDriver's error.
  json Command(const std::string& method, const std::string& path, const json& body = json::object(),
               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    testing_http::Response r = Raw(method, "/session/" + session_ + path, method == "GET" ? "" : body.dump(), timeout);
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded()) {
      throw std::runtime_error("WebDriver " + method + " " + path + ": HTTP " + std::to_string(r.status) + " " +
                               r.body.substr(0, 400));
    }
    return j["value"];
  }

  void Navigate(const std::string& url) { Command("POST", "/url", {{"url", url}}, std::chrono::seconds(60)); }

  // The element's WebDriver id for a CSS selector; "" when there is none.
  std::string Find(const std::string& css) {
    testing_http::Response r = Raw("POST", "/session/" + session_ + "/element",
                                   json{{"using", "css selector"}, {"value", css}}.dump());
    if (r.status != 200) return "";
    json j = json::parse(r.body, nullptr, false);
    return j["value"].begin().value().get<std::string>();
  }
  // Like Find, but throws when there is no such element.
  std::string Need(const std::string& css) {
    std::string id = Find(css);
    if (id.empty()) throw std::runtime_error("no element matches " + css);
    return id;
  }
  void Click(const std::string& css) { Command("POST", "/element/" + Need(css) + "/click"); }
  void Type(const std::string& css, const std::string& text) {
    Command("POST", "/element/" + Need(css) + "/value", {{"text", text}});
  }
  void Clear(const std::string& css) { Command("POST", "/element/" + Need(css) + "/clear"); }
  std::string Text(const std::string& css) { return Command("GET", "/element/" + Need(css) + "/text").get<std::string>(); }

  // Runs `script` (a function body; `arguments` holds `args`) in the page; its return value.
  json Script(const std::string& script, const json& args = json::array()) {
    return Command("POST", "/execute/sync", {{"script", script}, {"args", args}});
  }

  // The browser's console entries since the last call: [{"level","message","source"}].
  json ConsoleLog() { return Command("POST", "/se/log", {{"type", "browser"}}); }

  void SetWindowSize(int width, int height) { Command("POST", "/window/rect", {{"width", width}, {"height", height}}); }

  // A PNG of the viewport.
  std::string Screenshot() { return DecodeBase64(Command("GET", "/screenshot").get<std::string>()); }

 private:
  WebDriver() = default;

  testing_http::Response Raw(const std::string& method, const std::string& path, const std::string& body,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    testing_http::Connection c(port_);
    if (!c.connected()) return {};
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (method != "GET") req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    if (!c.Send(req)) return {};
    return c.Read(timeout);
  }

  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string session_;
};

}  // namespace vasgd::testing_browser

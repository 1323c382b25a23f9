// Fuzz harness: request routing (http/router.h) — path and method matching, bearer tokens,
// query parameter validation, JSON bodies of /v1/analogy and /v1/events, rendering. The input is
//   <METHOD> <TARGET>\n<Authorization header value>\n<body>
// and goes to a Router over an Api that answers every valid request (echoing what it was given,
// so the renderer sees hostile ids). Invariants: only the statuses DESIGN.md names; never a 500
// (this Api never fails); every JSON answer is valid JSON; and no answer depends on the tokens'
// text: a second router with other secrets, given the same request with the first router's
// tokens swapped for its own in the Authorization header, answers byte for byte the same (an
// answer that echoed a token, or a message that quoted it, would differ).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "http/router.h"

namespace {

using namespace vasgd;

// Two pairs of secrets of equal lengths.
constexpr std::string_view kAdminToken[2] = {"adm1n-s3cret-token-A", "adm1n-s3cret-token-B"};
constexpr std::string_view kReadToken[2] = {"r3ad-s3cret-token-A", "r3ad-s3cret-token-B"};

// Answers every request that passed the router's validation, echoing its ids.
class EchoApi : public Api {
 public:
  Result<Recommendations> Recommend(const RecommendRequest& r) override {
    Recommendations out{r.user, "v1", "model", {}};
    for (int i = 0; i < r.k && i < 3; ++i) out.items.push_back({r.category + std::to_string(i), 0.5f});
    for (const std::string& e : r.exclude) out.items.push_back({e, -1.0f});
    return out;
  }
  Result<SimilarItems> Similar(const SimilarRequest& r) override {
    SimilarItems out{r.product, "v1", {}};
    for (const std::string& e : r.exclude) out.items.push_back({e, 0.25f});
    return out;
  }
  Result<AnalogyResult> Analogy(const AnalogyRequest& r) override {
    AnalogyResult out{"v1", {}};
    for (const EntityRef& e : r.positive) out.items.push_back({e.id, 1.0f});
    for (const EntityRef& e : r.negative) out.items.push_back({e.id, -1.0f});
    return out;
  }
  Result<std::vector<EventOutcome>> Ingest(const std::vector<std::string>& events) override {
    std::vector<EventOutcome> out;
    for (const std::string& e : events) out.push_back({e.size() % 2 == 0, e.size() % 2 ? e.substr(0, 40) : ""});
    return out;
  }
  Result<RetrainJob> StartRetrain() override { return RetrainJob{"job-1"}; }
  Result<std::string> Rollback() override { return std::string("v0"); }
  AdminStatus GetStatus() override { return AdminStatus{}; }
  Readiness Ready() override {
    Readiness r;
    r.ready = true;
    return r;
  }
};

bool Allowed(int status) {
  switch (status) {
    case 200: case 202: case 400: case 401: case 403: case 404: case 405: case 409: case 413: case 429:
      return true;
    default:
      return false;
  }
}

Router MakeRouter(EchoApi* api, int secrets) {
  HttpOptions o;
  o.admin_token = std::string(kAdminToken[secrets]);
  o.read_token = std::string(kReadToken[secrets]);
  o.max_k = 50;
  o.max_events_per_request = 20;
  return Router(o, api, nullptr);
}

// Swaps the first pair of secrets for the second and the second for the first, in one pass.
std::string SwapSecrets(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool swapped = false;
    for (const std::string_view* pair : {kAdminToken, kReadToken}) {
      for (int k = 0; k < 2 && !swapped; ++k) {
        if (s.substr(i, pair[k].size()) == pair[k]) {
          out += pair[1 - k];
          i += pair[k].size();
          swapped = true;
        }
      }
      if (swapped) break;
    }
    if (!swapped) out += s[i++];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static EchoApi api;
  static const Router router = MakeRouter(&api, 0);
  static const Router other = MakeRouter(&api, 1);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t line1 = text.find('\n');
  const std::string_view first = text.substr(0, line1);
  const std::string_view rest = line1 == std::string_view::npos ? std::string_view() : text.substr(line1 + 1);
  const size_t line2 = rest.find('\n');
  HttpRequestView request;
  const size_t space = first.find(' ');
  request.method = first.substr(0, space);
  request.target = space == std::string_view::npos ? std::string_view() : first.substr(space + 1);
  request.authorization = rest.substr(0, line2);
  request.body = line2 == std::string_view::npos ? std::string_view() : rest.substr(line2 + 1);

  Route route;
  const HttpReply reply = router.Handle(request, &route);
  FUZZ_CHECK(Allowed(reply.status), std::to_string(reply.status).c_str());
  if (reply.content_type == "application/json") {
    FUZZ_CHECK(nlohmann::json::accept(reply.body), reply.body.c_str());
  }
  const std::string swapped = SwapSecrets(request.authorization);
  HttpRequestView same = request;
  same.authorization = swapped;
  Route other_route;
  const HttpReply other_reply = other.Handle(same, &other_route);
  FUZZ_CHECK(other_reply.status == reply.status && other_reply.body == reply.body, "the answer depends on the token text");
  FUZZ_CHECK(reply.status != 405 || !reply.allow.empty(), "405 names the allowed methods");
  FUZZ_CHECK(reply.status != 401 || reply.bearer_challenge, "401 carries the Bearer challenge");
  return 0;
}

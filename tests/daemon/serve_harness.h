// What the daemon tests share: a temporary data directory, a test config (small, fast training),
// the real `vasgd serve` started as a child process (its stdout on a pipe, its structured log in
// a file), JSON over real HTTP (tests/http/http_client.h), the synthetic shop as JSON events, and
// the exact ranking computed from a model version's files, which answers over HTTP must match.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/options.h"
#include "model/model_version.h"
#include "model/synthetic.h"
#include "rank/hybrid.h"
#include "tests/http/http_client.h"
#include "tests/test_support.h"

#ifndef VASGD_BINARY
#error "VASGD_BINARY must name the vasgd executable"
#endif

namespace vasgd::testing_daemon {

using json = nlohmann::json;
using testing_http::Response;

constexpr char kAdminToken[] = "test-admin-token";

using testing_support::DeadlineIn;
using testing_support::TempDir;
using testing_support::WaitFor;

// Base of a fixture whose SetUpTestSuite can fail (a daemon started and trained once per suite):
// it calls SetUpFailed(why) and returns, and every test of the suite then fails in SetUp(). An
// ASSERT in SetUpTestSuite would make gtest report the suite's tests as SKIPPED, which ctest
// counts as skipped, not failed. Suite: the fixture itself, so that each suite keeps its own record.
template <typename Suite>
class SuiteSetUpChecked : public ::testing::Test {
 protected:
  static void SetUpFailed(const std::string& why) { setup_error_ = why; }
  static bool SetUpOk() { return setup_error_.empty(); }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << "suite set-up failed: " << setup_error_; }

 private:
  static inline std::string setup_error_;
};

// Section -> key -> TOML value text. Defaults keep training to a second or two.
using ConfigMap = std::map<std::string, std::map<std::string, std::string>>;

// The small configuration most daemon tests run: training shrunk to seconds (dim, walks, epochs,
// encoder epochs), the score fixed to cosine (the serving oracles of serve_api_test and the
// TikTok end-to-end test check that branch; the shipped "auto" -> dot branch is what demo_test
// and EndToEnd.SyntheticShopThroughKafkaWithTheShippedConfig run, from config/vasgd.toml as
// shipped), no scheduled retraining (tests trigger it), a low holdout bar, port 0.

inline ConfigMap TestConfig(const std::string& data_dir) {
  return {
      {"store", {{"data_dir", "\"" + data_dir + "\""}, {"sync_writes", "false"}}},
      {"train",
       {{"dim", "16"}, {"walks_per_node", "4"}, {"walk_length", "10"}, {"window", "5"}, {"epochs", "2"},
        {"encoder_epochs", "10"}, {"threads", "2"}, {"batch_size", "512"}, {"score", "\"cosine\""},
        {"embedding_learning_rate", "0.025"}}},  // tiny corpora need a larger step than the shipped one
      {"index", {{"exact_below", "20000"}}},
      {"http", {{"listen", "\"127.0.0.1:0\""}, {"threads", "2"}, {"max_body_bytes", "65536"}}},
      {"retrain", {{"interval_s", "0"}, {"after_events", "0"}, {"keep_versions", "3"}, {"min_holdout_auc", "0.5"},
                   {"holdout_fraction", "0.05"}}},
      {"kafka", {{"batch_max_wait_ms", "5"}}},
      {"log", {{"level", "\"info\""}}},
  };
}

// The configuration file exactly as shipped (config/vasgd.toml, read at run time: what
// scripts/demo.sh runs), and the only overrides a test adds to it, on the command line: its own
// data directory and a free loopback port.
inline std::string ShippedConfig() { return std::string(VASGD_SOURCE_DIR) + "/config/vasgd.toml"; }
inline std::vector<std::string> ShippedConfigOverrides(const std::string& data_dir) {
  return {"--data-dir", data_dir, "--listen", "127.0.0.1:0"};
}

inline std::string WriteConfig(const std::string& path, const ConfigMap& config) {
  std::ofstream out(path);
  for (const auto& [section, keys] : config) {
    out << "[" << section << "]\n";
    for (const auto& [key, value] : keys) out << key << " = " << value << "\n";
  }
  return path;
}

// `vasgd serve` as a child process. Its stdout comes back on a pipe (the "listening on" line,
// demo output); its stderr (the structured log) goes to `log_path`.
class ServeProcess {
 public:
  // Starts it and waits (up to 60 s) until it listens. Null if it exits or never listens.
  // `env` entries are set in the child; an empty value unsets the variable.
  static std::unique_ptr<ServeProcess> Start(const std::string& config_path, const std::string& log_path,
                                             const std::vector<std::string>& extra_args = {},
                                             const std::map<std::string, std::string>& env = {
                                                 {"VASGD_ADMIN_TOKEN", kAdminToken}}) {
    std::unique_ptr<ServeProcess> p(new ServeProcess());
    p->log_path_ = log_path;
    std::vector<std::string> args = {VASGD_BINARY, "serve", "--config", config_path};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    int fds[2];
    if (::pipe(fds) != 0) return nullptr;
    p->pid_ = ::fork();
    if (p->pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
      ::close(fds[0]);
      for (const auto& [k, v] : env) {
        if (v.empty()) {
          ::unsetenv(k.c_str());
        } else {
          ::setenv(k.c_str(), v.c_str(), 1);
        }
      }
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    p->out_fd_ = fds[0];
    const std::string marker = "listening on http://127.0.0.1:";
    if (!p->WaitForOutput(marker, 60)) return nullptr;
    const size_t at = p->stdout_.find(marker) + marker.size();
    p->port_ = static_cast<uint16_t>(std::stoi(p->stdout_.substr(at)));
    return p;
  }

  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Sends `sig` and waits (up to 60 s) for the exit; the exit status, or -signal when killed, or
  // -1000 on timeout.
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1000;
    ::kill(pid_, sig);
    int status = 0;
    const auto deadline = DeadlineIn(60);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) return -1000;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  // Reads stdout until it contains `text` (true) or `seconds` pass / the pipe closes (false).
  bool WaitForOutput(const std::string& text, double seconds) {
    const auto deadline = DeadlineIn(seconds);
    while (stdout_.find(text) == std::string::npos) {
      const int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) return false;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) return false;
      char buf[4096];
      const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      stdout_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  const std::string& stdout_text() const { return stdout_; }

  std::string Log() const { return ReadLog(log_path_); }
  // The log a daemon wrote to `log_path` (also when Start returned null: why it did not start).
  static std::string ReadLog(const std::string& log_path) {
    std::ifstream in(log_path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The pids of this process's children (the training child while one runs).
  std::vector<pid_t> Children() const {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
      std::ifstream in(task.path() / "children");
      pid_t child;
      while (in >> child) out.push_back(child);
    }
    return out;
  }

  // --- HTTP ---
  Response Get(const std::string& target, const std::string& token = "") const {
    return testing_http::Fetch(port_, "GET", target, "", Auth(token));
  }
  Response Post(const std::string& target, const std::string& body, const std::string& token = "") const {
    return testing_http::Fetch(port_, "POST", target, body, Auth(token) + "Content-Type: application/json\r\n");
  }
  json GetJson(const std::string& target, const std::string& token = "") const { return Parse(Get(target, token)); }
  json PostJson(const std::string& target, const std::string& body, const std::string& token = "") const {
    return Parse(Post(target, body, token));
  }
  json StatusJson() const { return GetJson("/v1/admin/status", kAdminToken); }

  // Starts a retraining and waits (up to `seconds`) until it finished; the job id ("" if the
  // request was refused). Success or failure shows in Status().
  std::string Retrain(double seconds = 120) const {
    const int64_t before = FinishedJobs();
    Response r = Post("/v1/admin/retrain", "", kAdminToken);
    if (r.status != 202) return "";
    const std::string job = json::parse(r.body)["job_id"].get<std::string>();
    WaitFor([&] { return FinishedJobs() > before; }, seconds);
    return job;
  }

  // vasgd_retrain_total summed over results; -1 if /metrics does not show it (daemon gone), so
  // a wait for more finished jobs fails instead of converting NaN to an integer (undefined).
  int64_t FinishedJobs() const {
    const double n = Metric("vasgd_retrain_total{result=\"ok\"}") + Metric("vasgd_retrain_total{result=\"failed\"}");
    return std::isnan(n) ? -1 : static_cast<int64_t>(n);
  }

  // A sample's value from /metrics (the exact series text before the value); NaN if absent.
  double Metric(const std::string& series) const {
    Response r = Get("/metrics");
    std::istringstream in(r.body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return std::nan("");
  }

 private:
  ServeProcess() = default;
  static std::string Auth(const std::string& token) {
    return token.empty() ? "" : "Authorization: Bearer " + token + "\r\n";
  }
  static json Parse(const Response& r) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) j = json::object();
    j["__status"] = r.status;
    return j;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  uint16_t port_ = 0;
  std::string stdout_;
  std::string log_path_;
};

// The status page's last_error: null or "" when the last retraining succeeded.
inline std::string LastError(const json& status) {
  return status["last_error"].is_string() ? status["last_error"].get<std::string>() : "";
}

// --- data ---

inline std::string FeaturesJson(const float* row, int32_t dim) {
  json a = json::array();
  for (int32_t j = 0; j < dim; ++j) a.push_back(row[j]);
  return a.dump();
}

inline std::string ProductEvent(const std::string& id, const float* features, int32_t dim,
                                const std::string& category = "") {
  json e = {{"type", "product"}, {"product", id}};
  if (features) e["features"] = json::parse(FeaturesJson(features, dim));
  if (!category.empty()) e["categories"] = {category};
  return e.dump();
}

inline std::string PurchaseEvent(const std::string& user, const std::string& product, float weight = 1.0f) {
  return json{{"type", "purchase"}, {"user", user}, {"product", product}, {"weight", weight}}.dump();
}

// Every product (features, category "c<cluster>") then every training purchase of the shop.
inline std::vector<std::string> ShopEvents(const SyntheticShop& shop) {
  std::vector<std::string> out;
  const TrainingData& d = shop.train;
  for (int32_t p = 0; p < d.graph.num_products; ++p) {
    const bool has = d.features.dim > 0 && d.features.present[p];
    out.push_back(ProductEvent(d.product_ids[p], has ? d.features.row(p) : nullptr, d.features.dim,
                               "c" + std::to_string(shop.product_cluster[p])));
  }
  for (int32_t u = 0; u < d.graph.num_users; ++u) {
    for (int64_t e = d.graph.user_offsets[u]; e < d.graph.user_offsets[u + 1]; ++e) {
      out.push_back(PurchaseEvent(d.user_ids[u], d.product_ids[d.graph.product_index[e]], d.graph.weight[e]));
    }
  }
  return out;
}

inline SyntheticShop SmallShop(int32_t feature_dim = 8) {
  SyntheticShopOptions o;
  o.num_users = 300;
  o.num_products = 200;
  o.num_clusters = 5;
  o.feature_dim = feature_dim;  // 0: a shop without any product features
  o.purchases_per_user = 6;
  o.cold_fraction = 0.1;
  o.seed = 7;
  return MakeSyntheticShop(o);
}

// POSTs events in batches of `batch`; false if any request fails or any event is rejected.
inline bool PostEvents(const ServeProcess& serve, const std::vector<std::string>& events, size_t batch = 500) {
  for (size_t i = 0; i < events.size(); i += batch) {
    std::string body = "[";
    for (size_t j = i; j < std::min(events.size(), i + batch); ++j) body += (j > i ? "," : "") + events[j];
    body += "]";
    json r = serve.PostJson("/v1/events", body);
    if (r["__status"] != 200 || r["rejected"] != 0) return false;
  }
  return true;
}

// --- the exact ranking from a model's files ---

struct Ranked {
  std::string product;
  float score;
};

inline double Dot(const float* a, const float* b, int32_t dim) {
  double s = 0;
  for (int32_t i = 0; i < dim; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// The score the manifest names between a query vector and a product vector.
inline float Score(const ModelVersion& m, const float* q, const float* p) {
  const double dot = Dot(q, p, m.dim);
  if (m.score == "dot") return static_cast<float>(dot);
  const double nq = std::sqrt(Dot(q, q, m.dim)), np = std::sqrt(Dot(p, p, m.dim));
  return nq > 0 && np > 0 ? static_cast<float>(dot / (nq * np)) : 0.0f;
}

// Every product with a vector (the model's, plus `extra` products) except `excluded`, best first
// (ties by id order of the model), the top `k`. `terms` are added to their products' scores.
inline std::vector<Ranked> ExactTopK(const ModelVersion& m, const float* query, const std::set<std::string>& excluded,
                                     size_t k, const std::map<std::string, std::vector<float>>& extra = {},
                                     const std::map<std::string, float>& terms = {}) {
  auto term = [&](const std::string& id) {
    auto it = terms.find(id);
    return it == terms.end() ? 0.0f : it->second;
  };
  std::vector<Ranked> all;
  for (size_t p = 0; p < m.product_ids.size(); ++p) {
    if (m.product_kind[p] == static_cast<uint8_t>(ProductKind::kNone) || excluded.count(m.product_ids[p])) continue;
    all.push_back({m.product_ids[p], Score(m, query, m.product(static_cast<int32_t>(p))) + term(m.product_ids[p])});
  }
  for (const auto& [id, v] : extra) {
    if (!excluded.count(id)) all.push_back({id, Score(m, query, v.data()) + term(id)});
  }
  std::stable_sort(all.begin(), all.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
  if (all.size() > k) all.resize(k);
  return all;
}

// A product the daemon embedded live (not in the model's files): its id, encoder vector and raw
// features (null for none).
struct LiveProduct {
  std::string id;
  std::vector<float> vector;
  const float* features = nullptr;
};

// The hybrid ranking of rank/hybrid.h computed here from the model version's files, with the
// weights its manifest recorded (changed by `tweak` when given): the lists, popularity and visual
// terms and the cold order through rank/'s scorer (the code the evaluation ranks with), V as a
// cosine in double precision written here. Built once per model; TopK may be called many times.
class HybridOracle {
 public:
  explicit HybridOracle(const ModelVersion& m, const std::function<void(HybridWeights*)>& tweak = nullptr)
      : model_(std::make_shared<ModelVersion>(m)) {
    Result<std::unique_ptr<HybridTables>> tables = HybridTables::FromModel(model_);
    EXPECT_TRUE(tables.ok()) << tables.status().ToString();
    if (!tables.ok()) return;
    tables_ = std::move(tables.value());
    if (tweak) {
      HybridWeights w = tables_->weights();
      tweak(&w);
      tables_->set_weights(w);
    }
    cosine_ = m;
    cosine_.score = "cosine";
  }

  // `query` (null = none): the user's vector; `purchases`: the user's purchases as the store holds
  // them; products in `excluded` and without a vector are left out; `live` products follow the
  // model's (labels after its rows, in order). Best first, ties by label; the top `k`.
  std::vector<Ranked> TopK(const float* query, const std::set<std::string>& purchases,
                           const std::set<std::string>& excluded, size_t k, const std::vector<LiveProduct>& live = {}) {
    if (!tables_) return {};
    const ModelVersion& m = *model_;
    const int32_t n = static_cast<int32_t>(m.product_ids.size());
    for (size_t i = 0; i < live.size(); ++i) tables_->AddProduct(n + static_cast<int32_t>(i), live[i].features);
    std::vector<int32_t> bought;
    for (int32_t p = 0; p < n; ++p)
      if (purchases.count(m.product_ids[p])) bought.push_back(p);
    HybridScorer scorer(tables_.get());
    scorer.Prepare({bought.data(), static_cast<int64_t>(bought.size()), query});
    auto v = [&](const float* product) { return query ? Score(cosine_, query, product) : 0.0f; };
    struct Labeled {
      Ranked r;
      int32_t label;
      float v;
    };
    std::vector<Labeled> all;
    for (int32_t p = 0; p < n; ++p) {
      if (m.product_kind[p] == static_cast<uint8_t>(ProductKind::kNone) || excluded.count(m.product_ids[p])) continue;
      const float vp = v(m.product(p));
      all.push_back({{m.product_ids[p], scorer.Score(p, vp)}, p, vp});
    }
    for (size_t i = 0; i < live.size(); ++i) {
      const int32_t label = n + static_cast<int32_t>(i);
      const float vp = v(live[i].vector.data());
      if (!excluded.count(live[i].id)) all.push_back({{live[i].id, scorer.Score(label, vp)}, label, vp});
    }
    // The cold order (when the weights turn it on) over every eligible product, as served.
    std::vector<int32_t> labels;
    std::vector<float> vs, scores;
    for (const Labeled& x : all) labels.push_back(x.label), vs.push_back(x.v), scores.push_back(x.r.score);
    scorer.ReorderCold(labels.data(), vs.data(), static_cast<int64_t>(all.size()), scores.data());
    for (size_t i = 0; i < all.size(); ++i) all[i].r.score = scores[i];
    std::sort(all.begin(), all.end(), [](const Labeled& a, const Labeled& b) {
      return a.r.score > b.r.score || (a.r.score == b.r.score && a.label < b.label);
    });
    std::vector<Ranked> out;
    for (size_t i = 0; i < all.size() && i < k; ++i) out.push_back(all[i].r);
    return out;
  }

 private:
  std::shared_ptr<ModelVersion> model_;
  std::unique_ptr<HybridTables> tables_;
  ModelVersion cosine_;
};

// One-off HybridOracle(m, tweak).TopK(...).
inline std::vector<Ranked> HybridTopK(const ModelVersion& m, const float* query, const std::set<std::string>& purchases,
                                      const std::set<std::string>& excluded, size_t k,
                                      const std::vector<LiveProduct>& live = {},
                                      const std::function<void(HybridWeights*)>& tweak = nullptr) {
  return HybridOracle(m, tweak).TopK(query, purchases, excluded, k, live);
}

// Whether an answer's items equal the exact ranking: the same scores rank by rank (1e-4), and
// the same products wherever the exact scores are not tied within that tolerance.
inline ::testing::AssertionResult MatchesRanking(const json& items, const std::vector<Ranked>& expected) {
  if (items.size() != expected.size()) {
    return ::testing::AssertionFailure() << "got " << items.size() << " items, expected " << expected.size();
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const float got = items[i]["score"].get<float>();
    if (std::fabs(got - expected[i].score) > 1e-4f) {
      return ::testing::AssertionFailure() << "rank " << i << ": score " << got << " (" << items[i]["product"]
                                           << "), expected " << expected[i].score << " (" << expected[i].product << ")";
    }
    const bool tied = (i > 0 && std::fabs(expected[i - 1].score - expected[i].score) < 1e-4f) ||
                      (i + 1 < expected.size() && std::fabs(expected[i + 1].score - expected[i].score) < 1e-4f);
    if (!tied && items[i]["product"].get<std::string>() != expected[i].product) {
      return ::testing::AssertionFailure() << "rank " << i << ": " << items[i]["product"] << ", expected "
                                           << expected[i].product;
    }
  }
  return ::testing::AssertionSuccess();
}

// The model version `current` names in data_dir/models.
inline ModelVersion CurrentModel(const std::string& data_dir) {
  Result<ModelVersion> m = ReadModelVersion(data_dir + "/models/current");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m.value()) : ModelVersion();
}

}  // namespace vasgd::testing_daemon

// One trainer and three replicas on loopback (issue 14 part B; docs/SCALE.md): four real
// `vasgd serve` child processes, each with its own RocksDB store in a temporary directory and its
// own consumer group on librdkafka's mock cluster (in this process, so it outlives every kill),
// sharing one model directory (cluster.shared_models), over real HTTP. In one run:
//   1. after the shop's events and one retraining on the trainer, every replica serves the
//      trainer's version and the same top 20 as the trainer for a sample of users; a replica
//      refuses retrain and rollback; an unavailable product, a purchase and a new product reach
//      every replica within a second, without a retraining;
//   2. kill -9 of one replica leaves the others serving; events and a second retraining happen
//      while it is down; restarted, it serves at once, then catches up (store and version) and
//      answers as the others do;
//   3. with the trainer stopped, the replicas keep serving the last version and report its age
//      (/readyz model_age_seconds and vasgd_model_age_seconds), growing;
//   4. a half-published version is never loaded: `current` naming a directory without a
//      manifest, or one whose file fails its checksum (refused, logged, counted), or a complete
//      directory behind a symlink that was never renamed over `current` (ignored);
//   5. `current` moved back to the first version (a rollback on the trainer): every replica
//      serves it again; one whose own copy was damaged drops it and copies the shared one.
#include <sys/stat.h>

#include <array>
#include <filesystem>

#include "stream/kafka_producer.h"
#include "stream/mock_cluster.h"
#include "tests/daemon/serve_harness.h"

namespace vasgd::testing_daemon {
namespace {

namespace fs = std::filesystem;

constexpr char kTopic[] = "vasgd-events";
constexpr int kPartitions = 3;
constexpr int kReplicas = 3;
constexpr int kPollMs = 200;  // cluster.poll_interval_ms of every node

std::string KeyOf(const std::string& event) {
  json e = json::parse(event);
  return e["type"] == "purchase" ? e["user"].get<std::string>() : e["product"].get<std::string>();
}

// One `vasgd serve` of the cluster: its role, its own data directory and consumer group.
struct Node {
  std::string name;
  std::string role;
  std::string config;
  std::string log;
  std::unique_ptr<ServeProcess> process;

  bool Start() {
    process = ServeProcess::Start(config, log);
    return process != nullptr;
  }
  const ServeProcess& p() const { return *process; }
  json Ready() const { return p().GetJson("/readyz"); }
  std::string Version() const {
    json r = Ready();
    return r["__status"] == 200 && r["model_version"].is_string() ? r["model_version"].get<std::string>() : "";
  }
  int64_t Edges() const {
    json s = p().StatusJson();
    return s["graph"]["edges"].is_number() ? s["graph"]["edges"].get<int64_t>() : -1;
  }
  bool CaughtUp(int64_t edges) const {
    json s = p().StatusJson();
    return s["graph"]["edges"] == edges && s["consumer_lag"] == 0;
  }
  json Recommend(const std::string& user) const { return p().GetJson("/v1/users/" + user + "/recommendations?k=20"); }
  double Counter(const std::string& series) const { return p().Metric(series); }
};

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.KeepIfFailed();
    shared_ = dir_.path() + "/shared-models";
    auto cluster = MockCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    kafka_ = std::move(cluster).value();
    ASSERT_TRUE(kafka_->CreateTopic(kTopic, kPartitions).ok());
    ASSERT_TRUE(kafka_->CreateTopic("vasgd-dead-letter", 1).ok());
    auto producer = KafkaProducer::Create(kafka_->bootstrap(), {{"linger.ms", "1"}});
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(producer).value();
  }

  Node MakeNode(const std::string& name, const std::string& role) {
    const std::string data = dir_.path() + "/" + name;
    ConfigMap c = TestConfig(data);
    c["kafka"]["brokers"] = "\"" + kafka_->bootstrap() + "\"";
    c["kafka"]["group"] = "\"" + name + "\"";  // its own group: every node reads every event
    c["kafka"]["topics"] = std::string("[\"") + kTopic + "\"]";
    c["kafka"]["session_timeout_ms"] = "6000";
    c["retrain"]["min_holdout_auc"] = "0";  // this test is about distribution, not the quality gate
    c["cluster"]["role"] = "\"" + role + "\"";
    c["cluster"]["shared_models"] = "\"" + shared_ + "\"";
    c["cluster"]["poll_interval_ms"] = std::to_string(kPollMs);
    Node n;
    n.name = name;
    n.role = role;
    n.config = WriteConfig(dir_.path() + "/" + name + ".toml", c);
    n.log = dir_.path() + "/" + name + ".log";
    return n;
  }

  void Produce(const std::vector<std::string>& events) {
    for (const std::string& e : events) ASSERT_TRUE(producer_->Produce(kTopic, -1, KeyOf(e), e).ok());
    ASSERT_TRUE(producer_->Flush(30000).ok());
  }

  std::string SharedCurrent() const {
    std::error_code ec;
    return fs::read_symlink(shared_ + "/current", ec).filename().string();
  }

  // Points shared_models/current at `version` the way the publisher does (a new symlink renamed
  // over it), or only creates the new symlink when `rename` is false (a publish cut short).
  void PointCurrent(const std::string& version, bool rename = true) {
    const std::string tmp = shared_ + "/.current.tmp";
    ::unlink(tmp.c_str());
    ASSERT_EQ(::symlink(version.c_str(), tmp.c_str()), 0);
    if (rename) {
      ASSERT_EQ(::rename(tmp.c_str(), (shared_ + "/current").c_str()), 0);
    }
  }

  TempDir dir_{"vasgd-cluster"};
  std::string shared_;
  std::unique_ptr<MockCluster> kafka_;
  std::unique_ptr<KafkaProducer> producer_;
};

// Every replica answers every sampled user as `reference` does: the same products in the same
// order (where scores are not tied within 1e-4) and the same scores (1e-4).
::testing::AssertionResult SameTop20(const Node& reference, const std::vector<Node*>& replicas,
                                     const std::vector<std::string>& users) {
  for (const std::string& user : users) {
    json want = reference.Recommend(user);
    if (want["__status"] != 200 || want["items"].size() != 20) {
      return ::testing::AssertionFailure() << reference.name << " for " << user << ": " << want.dump();
    }
    std::vector<Ranked> expected;
    for (const json& item : want["items"]) expected.push_back({item["product"].get<std::string>(), item["score"].get<float>()});
    for (const Node* r : replicas) {
      json got = r->Recommend(user);
      if (got["__status"] != 200) return ::testing::AssertionFailure() << r->name << " for " << user << ": " << got.dump();
      if (got["model_version"] != want["model_version"]) {
        return ::testing::AssertionFailure() << r->name << " serves " << got["model_version"] << ", "
                                             << reference.name << " " << want["model_version"];
      }
      ::testing::AssertionResult same = MatchesRanking(got["items"], expected);
      if (!same) return same << " (" << r->name << " against " << reference.name << ", user " << user << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

bool Contains(const json& items, const std::string& product) {
  for (const json& item : items)
    if (item["product"] == product) return true;
  return false;
}

// Flips one byte in the middle of `file` (after its checksum was recorded).
void FlipAByte(const std::string& file) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << file;
  f.seekg(0, std::ios::end);
  const std::streamoff middle = f.tellg() / 2;
  char byte = 0;
  f.seekg(middle);
  f.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5a);
  f.seekp(middle);
  f.write(&byte, 1);
  ASSERT_TRUE(f.good()) << file;
}

// A copy of the version directory `from` named `to` in the same parent.
void CopyVersion(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << ec.message();
}

TEST_F(Cluster, OneTrainerThreeReplicas) {
  const SyntheticShop shop = SmallShop();
  const std::vector<std::string> events = ShopEvents(shop);
  int64_t edges = shop.train.graph.num_edges();
  ASSERT_NO_FATAL_FAILURE(Produce(events));

  Node trainer = MakeNode("trainer", "trainer");
  std::array<Node, kReplicas> replicas = {MakeNode("replica-0", "replica"), MakeNode("replica-1", "replica"),
                                          MakeNode("replica-2", "replica")};
  ASSERT_TRUE(trainer.Start()) << ServeProcess::ReadLog(trainer.log);
  for (Node& r : replicas) ASSERT_TRUE(r.Start()) << ServeProcess::ReadLog(r.log);
  std::vector<Node*> all_replicas = {&replicas[0], &replicas[1], &replicas[2]};

  // Before any version: not ready, and a replica never trains.
  for (Node& r : replicas) {
    EXPECT_EQ(r.Ready()["__status"], 503) << r.name;
    json refused = r.p().PostJson("/v1/admin/retrain", "", kAdminToken);
    EXPECT_EQ(refused["__status"], 409) << r.name;
    EXPECT_NE(refused.dump().find("replica"), std::string::npos) << refused.dump();
    EXPECT_EQ(r.p().PostJson("/v1/admin/rollback", "", kAdminToken)["__status"], 409) << r.name;
    // Events come from the topics: one posted to a replica would reach it alone.
    json posted = r.p().PostJson("/v1/events", "[" + PurchaseEvent("u0", "p0") + "]");
    EXPECT_EQ(posted["__status"], 409) << r.name << " " << posted.dump();
  }
  ASSERT_TRUE(WaitFor([&] { return trainer.CaughtUp(edges); }, 60)) << trainer.p().StatusJson().dump();
  for (Node& r : replicas) ASSERT_TRUE(WaitFor([&] { return r.CaughtUp(edges); }, 60)) << r.p().StatusJson().dump();

  // --- 1. one retraining on the trainer reaches every replica ---
  ASSERT_FALSE(trainer.p().Retrain(120).empty());
  ASSERT_EQ(LastError(trainer.p().StatusJson()), "") << trainer.p().Log();
  const std::string v1 = trainer.Version();
  ASSERT_FALSE(v1.empty());
  ASSERT_TRUE(WaitFor([&] { return SharedCurrent() == v1; }, 10)) << trainer.p().Log();
  for (Node& r : replicas) {
    ASSERT_TRUE(WaitFor([&] { return r.Version() == v1; }, 30)) << r.name << ": " << r.p().Log();
    EXPECT_EQ(r.Ready()["role"], "replica");
    EXPECT_EQ(r.Counter("vasgd_shared_models_loaded_total"), 1) << r.name;
  }
  EXPECT_EQ(trainer.Ready()["role"], "trainer");
  EXPECT_EQ(trainer.Counter("vasgd_shared_models_published_total{result=\"ok\"}"), 1);
  std::vector<std::string> sample;
  for (size_t u = 0; u < shop.train.user_ids.size(); u += 15) sample.push_back(shop.train.user_ids[u]);
  EXPECT_TRUE(SameTop20(trainer, all_replicas, sample));
  json first = replicas[0].Recommend(sample[0]);
  EXPECT_EQ(first["strategy"], "model");

  // Live events reach every replica within a second: the user's top product becomes
  // unavailable, they buy their second, and a new product (features) can be asked for.
  const std::string user = sample[0];
  const std::string hidden = first["items"][0]["product"].get<std::string>();
  const std::string bought = first["items"][1]["product"].get<std::string>();
  const std::string fresh = "p-new-live";
  std::vector<float> features(shop.train.features.row(0), shop.train.features.row(0) + shop.train.features.dim);
  ASSERT_NO_FATAL_FAILURE(Produce({json{{"type", "product"}, {"product", hidden}, {"available", false}}.dump(),
                                   PurchaseEvent(user, bought),
                                   ProductEvent(fresh, features.data(), shop.train.features.dim, "c0")}));
  ++edges;
  const auto t0 = std::chrono::steady_clock::now();
  for (Node& r : replicas) {
    ASSERT_TRUE(WaitFor(
        [&] {
          json items = r.Recommend(user)["items"];
          return !Contains(items, hidden) && !Contains(items, bought) &&
                 r.p().Get("/v1/products/" + fresh + "/similar?k=5").status == 200;
        },
        10))
        << r.name << ": " << r.Recommend(user).dump();
  }
  const double live_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("cluster: three events took effect on all %d replicas %.3f s after the producer's flush\n", kReplicas,
              live_seconds);
  EXPECT_LT(live_seconds, 1.0 * testing_support::WaitScale());

  // --- 2. kill -9 of one replica; the others go on; it catches up after its restart ---
  Node& victim = replicas[1];
  ASSERT_EQ(victim.process->Stop(SIGKILL), -SIGKILL);
  for (Node* r : {&replicas[0], &replicas[2]}) EXPECT_EQ(r->Recommend(user)["__status"], 200) << r->name;
  std::vector<std::string> more;
  for (size_t u = 0; u < shop.train.user_ids.size(); u += 7) {
    more.push_back(PurchaseEvent(shop.train.user_ids[u], fresh));  // none of them bought it yet
    ++edges;
  }
  ASSERT_NO_FATAL_FAILURE(Produce(more));
  ASSERT_TRUE(WaitFor([&] { return trainer.CaughtUp(edges); }, 30)) << trainer.p().StatusJson().dump();
  ASSERT_FALSE(trainer.p().Retrain(120).empty());
  ASSERT_EQ(LastError(trainer.p().StatusJson()), "") << trainer.p().Log();
  const std::string v2 = trainer.Version();
  ASSERT_NE(v2, v1);
  for (Node* r : {&replicas[0], &replicas[2]}) {
    ASSERT_TRUE(WaitFor([&] { return r->Version() == v2; }, 30)) << r->name << ": " << r->p().Log();
  }
  ASSERT_TRUE(victim.Start()) << ServeProcess::ReadLog(victim.log);
  // Serves at once what it had (its own copy of v1, or v2 if it was already fetched) ...
  const std::string at_restart = victim.Version();
  EXPECT_TRUE(at_restart == v1 || at_restart == v2) << at_restart;
  // ... then the events it missed and the version it missed.
  ASSERT_TRUE(WaitFor([&] { return victim.CaughtUp(edges) && victim.Version() == v2; }, 60))
      << victim.p().StatusJson().dump() << victim.p().Log();
  for (Node* r : {&replicas[0], &replicas[2]}) ASSERT_TRUE(WaitFor([&] { return r->CaughtUp(edges); }, 30)) << r->name;
  EXPECT_TRUE(SameTop20(trainer, all_replicas, sample));

  // --- 3. the trainer stops: the replicas keep serving v2 and say how old it is ---
  ASSERT_EQ(trainer.process->Stop(SIGTERM), 0);
  std::vector<double> ages;
  for (Node& r : replicas) {
    json ready = r.Ready();
    ASSERT_EQ(ready["__status"], 200) << r.name;
    EXPECT_EQ(ready["model_version"], v2);
    ASSERT_TRUE(ready["model_age_seconds"].is_number()) << ready.dump();
    ages.push_back(ready["model_age_seconds"].get<double>());
    EXPECT_GE(ages.back(), 0);
    json status = r.p().StatusJson();  // the operator's view says the same
    EXPECT_EQ(status["role"], "replica");
    EXPECT_EQ(status["model_version"], v2);
    ASSERT_TRUE(status["model_age_seconds"].is_number()) << status.dump();
    EXPECT_GE(status["model_age_seconds"].get<double>(), ages.back());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  for (size_t i = 0; i < replicas.size(); ++i) {
    json ready = replicas[i].Ready();
    EXPECT_GE(ready["model_age_seconds"].get<double>(), ages[i] + 2.0) << replicas[i].name;
    // The gauge follows once a second.
    EXPECT_GE(replicas[i].Counter("vasgd_model_age_seconds"), ages[i] + 1.0) << replicas[i].name;
    EXPECT_EQ(replicas[i].Recommend(user)["__status"], 200);
  }

  // --- 4. half-published versions are never loaded ---
  auto loaded = [&](const Node& r) { return r.Counter("vasgd_shared_models_loaded_total"); };
  std::vector<double> loaded_before;
  for (Node& r : replicas) loaded_before.push_back(loaded(r));
  // (a) `current` names a directory without its manifest.
  const std::string no_manifest = "29991231T000000Z";
  ASSERT_NO_FATAL_FAILURE(CopyVersion(shared_ + "/" + v2, shared_ + "/" + no_manifest));
  ASSERT_TRUE(fs::remove(shared_ + "/" + no_manifest + "/manifest.json"));
  ASSERT_NO_FATAL_FAILURE(PointCurrent(no_manifest));
  for (Node& r : replicas) {
    EXPECT_TRUE(WaitFor([&] { return r.Counter("vasgd_shared_models_refused_total{reason=\"no_manifest\"}") == 1; }, 10))
        << r.name;
  }
  // (b) `current` names a directory whose product vectors were damaged after the manifest.
  const std::string damaged = "29991231T000001Z";
  ASSERT_NO_FATAL_FAILURE(CopyVersion(shared_ + "/" + v2, shared_ + "/" + damaged));
  ASSERT_NO_FATAL_FAILURE(FlipAByte(shared_ + "/" + damaged + "/products.f32"));
  ASSERT_NO_FATAL_FAILURE(PointCurrent(damaged));
  for (Node& r : replicas) {
    EXPECT_TRUE(WaitFor([&] { return r.Counter("vasgd_shared_models_refused_total{reason=\"checksum\"}") == 1; }, 10))
        << r.name;
  }
  // (c) a complete directory whose symlink was never renamed over `current` (now back on v2).
  const std::string unswitched = "29991231T000002Z";
  ASSERT_NO_FATAL_FAILURE(PointCurrent(v2));
  ASSERT_NO_FATAL_FAILURE(CopyVersion(shared_ + "/" + v2, shared_ + "/" + unswitched));
  ASSERT_NO_FATAL_FAILURE(PointCurrent(unswitched, /*rename=*/false));
  std::this_thread::sleep_for(std::chrono::milliseconds(5 * kPollMs));
  for (size_t i = 0; i < replicas.size(); ++i) {
    Node& r = replicas[i];
    EXPECT_EQ(r.Version(), v2) << r.name;
    EXPECT_EQ(loaded(r), loaded_before[i]) << r.name << " loaded a half-published version";
    EXPECT_EQ(r.Counter("vasgd_shared_models_refused_total{reason=\"no_manifest\"}"), 1) << r.name;
    EXPECT_EQ(r.Counter("vasgd_shared_models_refused_total{reason=\"checksum\"}"), 1) << r.name;
    for (const std::string& v : {no_manifest, damaged, unswitched}) {
      EXPECT_FALSE(fs::exists(dir_.path() + "/" + r.name + "/models/" + v)) << r.name << " kept " << v;
    }
    EXPECT_NE(r.p().Log().find("\"shared.refused\""), std::string::npos) << r.name;
    EXPECT_EQ(r.Recommend(user)["__status"], 200) << r.name;
  }

  // --- 5. `current` back on v1 (what a rollback on the trainer publishes): every replica serves
  // v1 again from its own copy; one whose copy was damaged on its own disk drops it and copies
  // the shared one (a failed fetch, not a refusal of the version). ---
  ASSERT_NO_FATAL_FAILURE(FlipAByte(dir_.path() + "/replica-0/models/" + v1 + "/products.f32"));
  ASSERT_NO_FATAL_FAILURE(PointCurrent(v1));
  for (Node& r : replicas) {
    EXPECT_TRUE(WaitFor([&] { return r.Version() == v1; }, 15)) << r.name << ": " << r.p().Log();
  }
  EXPECT_EQ(replicas[0].Counter("vasgd_shared_models_fetch_failures_total"), 1);
  EXPECT_EQ(replicas[0].Counter("vasgd_shared_models_refused_total{reason=\"checksum\"}"), 1);
  EXPECT_NE(replicas[0].p().Log().find("\"shared.local_copy_dropped\""), std::string::npos);
  EXPECT_EQ(replicas[2].Counter("vasgd_shared_models_fetch_failures_total"), 0);
  EXPECT_TRUE(SameTop20(replicas[2], {&replicas[0], &replicas[1]}, sample));
  for (Node& r : replicas) EXPECT_EQ(r.process->Stop(SIGTERM), 0) << r.name;
}

}  // namespace
}  // namespace vasgd::testing_daemon

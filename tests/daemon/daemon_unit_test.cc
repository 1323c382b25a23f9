// The daemon's pieces on their own: the model registry's switching and pruning on a real
// directory, publishing versions into a shared model directory, the holdout split, the training child's process plumbing, and the config the
// daemon hands to its training child.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/config_file.h"
#include "daemon/child_process.h"
#include "common/metrics.h"
#include "daemon/model_registry.h"
#include "daemon/shared_model_publisher.h"
#include "daemon/version_files.h"
#include "daemon/train_job.h"
#include "model/synthetic.h"
#include "model/tsv.h"
#include "tests/test_support.h"

namespace vasgd {
namespace {

namespace fs = std::filesystem;

using testing_support::TempDir;

// A staging directory that looks like a written version (the registry only checks the manifest).
std::string Staged(ModelRegistry* registry, const std::string& job) {
  const std::string dir = registry->StagingDir(job);
  fs::create_directories(dir);
  std::ofstream(dir + "/manifest.json") << "{}";
  return dir;
}

TEST(ModelRegistry, PublishSwitchesCurrentAndPrevious) {
  TempDir tmp;
  ModelRegistry registry(tmp.path() + "/models", 5);
  ASSERT_TRUE(registry.Init().ok());
  EXPECT_EQ(registry.Current(), "");
  EXPECT_EQ(registry.Previous(), "");
  ASSERT_TRUE(registry.Publish(Staged(&registry, "a"), "v1").ok());
  EXPECT_EQ(registry.Current(), "v1");
  EXPECT_EQ(registry.Previous(), "");
  ASSERT_TRUE(registry.Publish(Staged(&registry, "b"), "v2").ok());
  EXPECT_EQ(registry.Current(), "v2");
  EXPECT_EQ(registry.Previous(), "v1");
  EXPECT_TRUE(fs::is_symlink(tmp.path() + "/models/current"));
  EXPECT_EQ(fs::read_symlink(tmp.path() + "/models/current").string(), "v2");  // relative: the tree can move
  EXPECT_FALSE(fs::exists(tmp.path() + "/models/.staging/b"));
  // A taken name is refused and nothing switches.
  EXPECT_EQ(registry.Publish(Staged(&registry, "c"), "v2").code(), Code::kAlreadyExists);
  EXPECT_EQ(registry.Current(), "v2");
  EXPECT_EQ(registry.Publish(Staged(&registry, "d"), "../evil").code(), Code::kInvalidArgument);
}

TEST(ModelRegistry, SetCurrentWalksBackAndPruneKeepsTheNewestAndThePinned) {
  TempDir tmp;
  ModelRegistry registry(tmp.path() + "/models", 2);
  ASSERT_TRUE(registry.Init().ok());
  for (const char* v : {"v1", "v2", "v3"}) ASSERT_TRUE(registry.Publish(Staged(&registry, v), v).ok());
  // keep 2: v1 is pruned (neither current nor previous).
  EXPECT_EQ(registry.Versions(), (std::vector<std::string>{"v2", "v3"}));
  ASSERT_TRUE(registry.SetCurrent("v2").ok());  // a rollback
  EXPECT_EQ(registry.Current(), "v2");
  EXPECT_EQ(registry.Previous(), "");  // nothing older is left
  EXPECT_EQ(registry.SetCurrent("v9").code(), Code::kNotFound);
  // v4 makes v2 previous; with current and previous pinned, nothing else fits in 2.
  ASSERT_TRUE(registry.Publish(Staged(&registry, "v4"), "v4").ok());
  EXPECT_EQ(registry.Current(), "v4");
  EXPECT_EQ(registry.Previous(), "v2");
  EXPECT_EQ(registry.Versions(), (std::vector<std::string>{"v2", "v4"}));
}

TEST(ModelRegistry, InitRemovesLeftoverStagingAndNamesAreOrdered) {
  TempDir tmp;
  ModelRegistry registry(tmp.path() + "/models", 3);
  ASSERT_TRUE(registry.Init().ok());
  Staged(&registry, "crashed-job");
  ASSERT_TRUE(registry.Init().ok());
  EXPECT_FALSE(fs::exists(tmp.path() + "/models/.staging/crashed-job"));
  const std::string a = registry.NewVersionName();
  ASSERT_TRUE(registry.Publish(Staged(&registry, "x"), a).ok());
  const std::string b = registry.NewVersionName();  // same second: a suffix keeps it unique
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
  EXPECT_TRUE(registry.Versions() == std::vector<std::string>{a});
}

TEST(SplitHoldout, HoldsOutOnePurchaseOfEnoughUsersAndKeepsTheRest) {
  SyntheticShopOptions o;
  o.num_users = 2000;
  o.num_products = 100;
  o.feature_dim = 0;
  const TrainingData data = MakeSyntheticShop(o).train;
  const InteractionGraph& g = data.graph;
  const HoldoutSplit split = SplitHoldout(data, 0.1, 42);
  ASSERT_EQ(split.test_user.size(), split.test_product.size());
  // About 10% of the eligible users (hash-selected, so not exactly).
  int64_t eligible = 0;
  for (int32_t u = 0; u < g.num_users; ++u) eligible += g.user_offsets[u + 1] - g.user_offsets[u] >= 2;
  EXPECT_NEAR(static_cast<double>(split.test_user.size()), 0.1 * eligible, 0.03 * eligible);
  EXPECT_EQ(split.train.num_edges() + static_cast<int64_t>(split.test_user.size()), g.num_edges());
  std::set<int32_t> users(split.test_user.begin(), split.test_user.end());
  EXPECT_EQ(users.size(), split.test_user.size()) << "one pair per user";
  for (size_t i = 0; i < split.test_user.size(); ++i) {
    const int32_t u = split.test_user[i];
    EXPECT_GE(g.user_offsets[u + 1] - g.user_offsets[u], 2);
    // Held out of the training graph, still there in the original.
    const auto* begin = split.train.product_index.data() + split.train.user_offsets[u];
    const auto* end = split.train.product_index.data() + split.train.user_offsets[u + 1];
    EXPECT_EQ(std::count(begin, end, split.test_product[i]), 0);
    EXPECT_EQ(end - begin, g.user_offsets[u + 1] - g.user_offsets[u] - 1);
  }
  // Deterministic for a seed; another seed picks other pairs; fraction 0 holds nothing out;
  // a tiny fraction still holds out 20 users, enough for a measurement.
  EXPECT_EQ(SplitHoldout(data, 0.1, 42).test_product, split.test_product);
  EXPECT_NE(SplitHoldout(data, 0.1, 43).test_user, split.test_user);
  EXPECT_TRUE(SplitHoldout(data, 0.0, 42).test_user.empty());
  EXPECT_EQ(SplitHoldout(data, 1e-9, 42).test_user.size(), 20u);
}

TEST(SplitHoldout, EachPickHoldsOutItsPurchase) {
  SyntheticShopOptions o;
  o.num_users = 500;
  o.num_products = 100;
  o.feature_dim = 0;
  const TrainingData data = MakeSyntheticShop(o).train;
  const InteractionGraph& g = data.graph;
  ASSERT_EQ(g.sequence.size(), g.product_index.size()) << "the shop's purchases carry their order";
  const HoldoutSplit last = SplitHoldout(data, 0.2, 42);  // the default pick
  const HoldoutSplit newest = SplitHoldout(data, 0.2, 42, INT64_MAX, HoldoutPick::kNewest);
  const HoldoutSplit random = SplitHoldout(data, 0.2, 42, INT64_MAX, HoldoutPick::kRandom);
  ASSERT_FALSE(last.test_user.empty());
  EXPECT_EQ(newest.test_user, last.test_user) << "the pick changes the purchase, not the users";
  EXPECT_EQ(random.test_user, last.test_user);
  int64_t last_not_newest = 0, random_not_newest = 0;
  for (size_t i = 0; i < last.test_user.size(); ++i) {
    const int32_t u = last.test_user[i];
    const int64_t b = g.user_offsets[u], e = g.user_offsets[u + 1];
    const int32_t newest_product = *std::max_element(g.product_index.begin() + b, g.product_index.begin() + e);
    const int64_t latest = std::max_element(g.sequence.begin() + b, g.sequence.begin() + e) - g.sequence.begin();
    EXPECT_EQ(newest.test_product[i], newest_product) << "user " << u;
    EXPECT_EQ(last.test_product[i], g.product_index[latest]) << "user " << u;
    last_not_newest += last.test_product[i] != newest_product;
    random_not_newest += random.test_product[i] != newest_product;
  }
  EXPECT_GT(last_not_newest, 0) << "the latest purchase was always of the newest product: the test checks nothing";
  EXPECT_GT(random_not_newest, 0) << "the random pick always chose the newest product: the test checks nothing";
  // The held-out edge leaves the training graph together with its sequence.
  EXPECT_EQ(last.train.sequence.size(), last.train.product_index.size());
  EXPECT_EQ(ParseHoldoutPick("last").value(), HoldoutPick::kLast);
  EXPECT_EQ(ParseHoldoutPick("newest").value(), HoldoutPick::kNewest);
  EXPECT_EQ(ParseHoldoutPick("random").value(), HoldoutPick::kRandom);
  EXPECT_EQ(ParseHoldoutPick("latest").status().code(), Code::kInvalidArgument);
}

TEST(SplitHoldout, LastFallsBackToTheNewestProductWithoutOrder) {
  SyntheticShopOptions o;
  o.num_users = 300;
  o.num_products = 80;
  o.feature_dim = 0;
  TrainingData data = MakeSyntheticShop(o).train;
  data.graph.sequence.clear();  // a graph from a source that kept no order
  const HoldoutSplit last = SplitHoldout(data, 0.3, 5, INT64_MAX, HoldoutPick::kLast);
  const HoldoutSplit newest = SplitHoldout(data, 0.3, 5, INT64_MAX, HoldoutPick::kNewest);
  ASSERT_FALSE(last.test_user.empty());
  EXPECT_EQ(last.test_product, newest.test_product);
  EXPECT_TRUE(last.train.sequence.empty());
}

class SplitHoldoutGrowth : public ::testing::TestWithParam<HoldoutPick> {};

TEST_P(SplitHoldoutGrowth, KeepsTheSamePairsWhenTheGraphGrows) {
  // The same shop with more purchases per user and more users: a grown graph, same ids.
  SyntheticShopOptions o;
  o.num_users = 1000;
  o.num_products = 100;
  o.feature_dim = 0;
  const TrainingData before = MakeSyntheticShop(o).train;
  // Grown: every user also bought one product more (one the held-out hash does not favour or
  // does), and 200 new users arrived.
  TrainingData after;
  after.user_ids = before.user_ids;
  after.product_ids = before.product_ids;
  std::vector<int32_t> us, ps;
  std::vector<float> ws;
  for (int32_t u = 0; u < before.graph.num_users; ++u) {
    for (int64_t e = before.graph.user_offsets[u]; e < before.graph.user_offsets[u + 1]; ++e) {
      us.push_back(u);
      ps.push_back(before.graph.product_index[e]);
      ws.push_back(1);
    }
    us.push_back(u);
    ps.push_back((u * 37) % 100);
    ws.push_back(1);
  }
  for (int32_t u = 0; u < 200; ++u) {
    after.user_ids.push_back("new-" + std::to_string(u));
    us.push_back(before.graph.num_users + u);
    ps.push_back(u % 100);
    ws.push_back(1);
    us.push_back(before.graph.num_users + u);
    ps.push_back((u + 1) % 100);
    ws.push_back(1);
  }
  after.graph = BuildInteractionGraph(before.graph.num_users + 200, 100, us, ps, ws);
  const HoldoutSplit a = SplitHoldout(before, 0.1, 7, INT64_MAX, GetParam());
  const HoldoutSplit b = SplitHoldout(after, 0.1, 7, INT64_MAX, GetParam());
  std::map<int32_t, int32_t> held_before, held_after;
  for (size_t i = 0; i < a.test_user.size(); ++i) held_before[a.test_user[i]] = a.test_product[i];
  for (size_t i = 0; i < b.test_user.size(); ++i) held_after[b.test_user[i]] = b.test_product[i];
  int64_t same_user = 0, same_pair = 0;
  for (const auto& [u, p] : held_before) {
    if (!held_after.count(u)) continue;
    ++same_user;
    same_pair += held_after[u] == p;
  }
  // Every old user held out before is held out again (users whose degree went 1 -> 2 may join).
  EXPECT_EQ(same_user, static_cast<int64_t>(held_before.size()));
  if (GetParam() == HoldoutPick::kLast) {
    // Every old user's new purchase came last, so it is what each of them holds out now.
    for (const auto& [u, p] : held_before) EXPECT_EQ(held_after[u], (u * 37) % 100) << "user " << u;
  } else if (GetParam() == HoldoutPick::kNewest) {
    // The pair changes exactly where the new purchase is of a newer product.
    for (const auto& [u, p] : held_before) EXPECT_EQ(held_after[u], std::max(p, (u * 37) % 100)) << "user " << u;
  } else {
    // The pair changes only where the new purchase hashes higher: for most users it stays.
    EXPECT_GT(same_pair, static_cast<int64_t>(0.5 * held_before.size()));
  }
  // A previously trained pair (not held out before) that is held out now must be the new
  // purchase: never an edge the earlier model trained on unless the user bought it again.
  for (const auto& [u, p] : held_after) {
    if (u >= before.graph.num_users || !held_before.count(u) || held_before[u] == p) continue;
    EXPECT_EQ(p, (u * 37) % 100) << "user " << u << " now holds out an edge an earlier model trained on";
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPick, SplitHoldoutGrowth,
                         ::testing::Values(HoldoutPick::kLast, HoldoutPick::kNewest, HoldoutPick::kRandom),
                         [](const ::testing::TestParamInfo<HoldoutPick>& i) {
                           return std::string(i.param == HoldoutPick::kLast     ? "Last"
                                              : i.param == HoldoutPick::kNewest ? "Newest"
                                                                                : "Random");
                         });

// A local version as a retraining leaves it: a few files and the manifest.
void PublishLocal(ModelRegistry* local, const std::string& version) {
  const std::string dir = local->StagingDir("job-" + version);
  fs::create_directories(dir);
  std::ofstream(dir + "/products.f32") << "vectors of " << version;
  std::ofstream(dir + "/hnsw.bin") << "index of " << version;
  std::ofstream(dir + "/manifest.json") << "{\"version\":\"" << version << "\"}";
  ASSERT_TRUE(local->Publish(dir, version).ok());
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(VersionFiles, CopiesEveryFileAndRefusesADirectoryWithoutManifest) {
  TempDir tmp;
  fs::create_directories(tmp.file("from"));
  std::ofstream(tmp.file("from/a.bin")) << "aaa";
  EXPECT_EQ(CopyVersionFiles(tmp.file("from"), tmp.file("to")).code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(tmp.file("to")));
  std::ofstream(tmp.file("from/manifest.json")) << "{}";
  ASSERT_TRUE(CopyVersionFiles(tmp.file("from"), tmp.file("to")).ok());
  EXPECT_EQ(ReadAll(tmp.file("to/a.bin")), "aaa");
  EXPECT_EQ(ReadAll(tmp.file("to/manifest.json")), "{}");
  // The target must not exist: a copy never mixes into another version.
  EXPECT_EQ(CopyVersionFiles(tmp.file("from"), tmp.file("to")).code(), Code::kIoError);
}

TEST(SharedModelPublisher, PublishesTheLocalCurrentFollowsRollbackAndPrunes) {
  TempDir tmp;
  ModelRegistry local(tmp.file("data/models"), 5);
  ASSERT_TRUE(local.Init().ok());
  ClusterOptions options;
  options.role = "trainer";
  options.shared_models = tmp.file("shared");
  options.shared_keep_versions = 2;
  MetricsRegistry metrics;
  SharedModelPublisher publisher(options, &local, &metrics);
  ASSERT_TRUE(publisher.Init().ok());
  ModelRegistry shared(options.shared_models, 2);  // read only, as a replica reads it
  ASSERT_TRUE(publisher.PublishCurrent().ok());    // nothing local yet: nothing to do
  EXPECT_EQ(shared.Current(), "");

  ASSERT_NO_FATAL_FAILURE(PublishLocal(&local, "v1"));
  ASSERT_TRUE(publisher.PublishCurrent().ok());
  EXPECT_EQ(shared.Current(), "v1");
  EXPECT_EQ(ReadAll(options.shared_models + "/v1/products.f32"), "vectors of v1");
  EXPECT_EQ(ReadAll(options.shared_models + "/v1/hnsw.bin"), "index of v1");
  EXPECT_TRUE(fs::is_empty(options.shared_models + "/.staging"));
  for (const char* v : {"v2", "v3"}) {
    ASSERT_NO_FATAL_FAILURE(PublishLocal(&local, v));
    ASSERT_TRUE(publisher.PublishCurrent().ok());
  }
  EXPECT_EQ(shared.Current(), "v3");
  EXPECT_EQ(shared.Previous(), "v2");
  EXPECT_EQ(shared.Versions(), (std::vector<std::string>{"v2", "v3"}));  // shared_keep_versions = 2
  // A rollback on the trainer: the version is there already and is only pointed to.
  ASSERT_TRUE(local.SetCurrent("v2").ok());
  ASSERT_TRUE(publisher.PublishCurrent().ok());
  EXPECT_EQ(shared.Current(), "v2");
  EXPECT_NE(metrics.RenderText().find("vasgd_shared_models_published_total{result=\"ok\"} 4"), std::string::npos)
      << metrics.RenderText();
  // A local version that lost its manifest is not published; the shared current stays.
  ASSERT_NO_FATAL_FAILURE(PublishLocal(&local, "v4"));
  fs::remove(local.VersionDir("v4") + "/manifest.json");
  EXPECT_FALSE(publisher.PublishCurrent().ok());
  EXPECT_EQ(shared.Current(), "v2");
  EXPECT_FALSE(fs::exists(options.shared_models + "/v4"));
  EXPECT_NE(metrics.RenderText().find("vasgd_shared_models_published_total{result=\"failed\"} 1"), std::string::npos);
}

TEST(ChildProcess, PipesLinesAndReportsHowItEnded) {
  Result<ChildProcess> child = SpawnWithPipe(
      {"/bin/sh", "-c", "echo one >&3; printf 'two\\nthree' >&3; exit 3"}, 3);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  std::string buffer, line;
  std::vector<std::string> lines;
  while (ReadLine(child->read_fd, &buffer, &line)) lines.push_back(line);
  close(child->read_fd);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(WaitChild(child->pid), "exited with status 3");

  Result<ChildProcess> killed = SpawnWithPipe({"/bin/sh", "-c", "kill -9 $$"}, 3);
  ASSERT_TRUE(killed.ok());
  while (ReadLine(killed->read_fd, &buffer, &line)) {
  }
  close(killed->read_fd);
  EXPECT_EQ(WaitChild(killed->pid), "killed by signal 9 (SIGKILL)");

  Result<ChildProcess> missing = SpawnWithPipe({"/no/such/binary"}, 3);
  ASSERT_TRUE(missing.ok());
  close(missing->read_fd);
  EXPECT_EQ(WaitChild(missing->pid), "exited with status 127");
}

TEST(ChildProcess, RunsAtTheGivenNiceValue) {
  errno = 0;
  const int ours = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  Result<ChildProcess> child = SpawnWithPipe({"/bin/sh", "-c", "cut -d' ' -f19 /proc/self/stat >&3"}, 3, 7);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  std::string buffer, line;
  ASSERT_TRUE(ReadLine(child->read_fd, &buffer, &line));
  close(child->read_fd);
  EXPECT_EQ(WaitChild(child->pid), "");
  EXPECT_EQ(line, std::to_string(std::max(ours, 7)));
}

TEST(ChildProcess, InheritsNoOtherDescriptorAndNoBlockedSignals) {
  // A descriptor without O_CLOEXEC, as a library might leave one, well above the pipe's.
  const int opened = open("/dev/null", O_RDONLY);
  const int leaked = fcntl(opened, F_DUPFD, 50);
  close(opened);
  ASSERT_GE(leaked, 50);
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);  // as `vasgd serve` does for sigwait
  Result<ChildProcess> child = SpawnWithPipe(
      {"/bin/sh", "-c", "ls /proc/self/fd >&3; grep SigBlk /proc/self/status >&3"}, 3);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(leaked);
  ASSERT_TRUE(child.ok());
  std::string buffer, line, all;
  while (ReadLine(child->read_fd, &buffer, &line)) all += line + "\n";
  close(child->read_fd);
  EXPECT_EQ(WaitChild(child->pid), "");
  EXPECT_EQ(all.find("\n" + std::to_string(leaked) + "\n"), std::string::npos) << all;
  EXPECT_NE(all.find("SigBlk:\t0000000000000000"), std::string::npos) << all;
}

TEST(TrainingChildConfig, DescribedConfigLoadsBackTheSameAndWithoutSecrets) {
  Config config;
  config.store.data_dir = "/tmp/some where";
  config.train.dim = 24;
  config.train.learning_rate = 0.0025;
  config.train.decoder_widths = {64, 128};
  config.train.seed = 1234567;
  config.train.device = "cpu";
  config.index.ef_search = 77;
  config.retrain.min_holdout_auc = 0.625;
  config.retrain.holdout_fraction = 0.03;
  config.http.admin_token = "do-not-write-me";
  const std::string text = DescribeConfig(config);
  EXPECT_EQ(text.find("do-not-write-me"), std::string::npos);
  Config loaded;
  ASSERT_TRUE(LoadConfigText(text, &loaded).ok()) << text;
  EXPECT_EQ(loaded.store.data_dir, config.store.data_dir);
  EXPECT_EQ(loaded.train.dim, 24);
  EXPECT_DOUBLE_EQ(loaded.train.learning_rate, 0.0025);
  EXPECT_EQ(loaded.train.decoder_widths, config.train.decoder_widths);
  EXPECT_EQ(loaded.train.seed, 1234567u);
  EXPECT_EQ(loaded.train.device, "cpu");
  EXPECT_EQ(loaded.index.ef_search, 77);
  EXPECT_DOUBLE_EQ(loaded.retrain.min_holdout_auc, 0.625);
  EXPECT_DOUBLE_EQ(loaded.retrain.holdout_fraction, 0.03);
}

}  // namespace
}  // namespace vasgd

// A full filesystem under the store: the daemon's data directory lives on a small tmpfs that
// this test mounts (a real filesystem with a real size limit; needs root — skipped, saying so,
// without it) and fills with a ballast file while events arrive from the mock cluster and over
// HTTP. While it is full: RocksDB writes fail, Kafka offsets stop advancing (nothing is
// committed past what is stored), the failures show in /metrics and in the log, POST
// /v1/events answers an error instead of acknowledging, and queries are still answered. When
// the ballast is deleted the ingester recovers by itself, and at the end the store equals the
// reference graph of every message plus every acknowledged HTTP event: nothing lost, nothing
// doubled.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "tests/reliability/drill_harness.h"

namespace vasgd::testing_reliability {
namespace {

constexpr int kPartitions = 4;

// Mounts a tmpfs of `mib` MiB at `path` (created); unmounts it at the end.
class Tmpfs {
 public:
  Tmpfs(const std::string& path, int mib) : path_(path) {
    std::filesystem::create_directories(path);
    const std::string opts = "size=" + std::to_string(mib) + "m";
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  int64_t free_bytes() const {
    struct statvfs s;
    return ::statvfs(path_.c_str(), &s) == 0 ? static_cast<int64_t>(s.f_bavail) * s.f_frsize : -1;
  }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// Keeps the filesystem full: appends zeros to `path` until the filesystem refuses (ENOSPC), and
// goes on taking whatever space appears (RocksDB frees some when it deletes an old log), the way
// another process filling the disk would. Stop() ends it; the ballast stays until removed.
class Filler {
 public:
  explicit Filler(const std::string& path) : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)) {
    if (fd_ < 0) return;
    Fill();  // full before the constructor returns
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        Fill();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  ~Filler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int64_t bytes() const { return bytes_.load(); }

 private:
  void Fill() {
    static const std::vector<char> block(1 << 16, 0);
    for (size_t chunk = block.size(); chunk > 0;) {
      const ssize_t n = ::write(fd_, block.data(), chunk);
      if (n > 0) {
        bytes_ += n;
      } else {
        chunk /= 2;  // the last partial pages too
      }
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> bytes_{0};
  std::thread thread_;
};

class DiskFullDrill : public ::testing::Test {
 protected:
  int64_t StoredMessages() const { return testing_reliability::StoredMessages(data_, kPartitions); }

  TempDir dir_;
  std::string data_;
};

TEST_F(DiskFullDrill, IngestionStopsAdvancingAndRecoversWhenSpaceReturns) {
  Tmpfs fs(dir_.path() + "/mnt", 48);
  if (!fs.mounted()) VASGD_CANNOT_RUN_HERE("cannot mount a tmpfs here (" << fs.error() << "); the drill needs root");
  data_ = dir_.path() + "/mnt/data";
  auto cluster = StartCluster(1, kPartitions);
  ASSERT_NE(cluster, nullptr);
  ConfigMap config = DrillConfig(data_, cluster->bootstrap());
  config["store"]["sync_writes"] = "true";
  config["store"]["write_buffer_mb"] = "1";  // flushes and compactions happen at this size too
  const std::string config_path = testing_daemon::WriteConfig(dir_.path() + "/vasgd.toml", config);

  RefGraph ref;
  const std::vector<Message> messages =
      testing_stream::GenerateStream(30000, 300, 400, kDim, 11, &ref, kMaxMessageBytes);
  Feeder first(cluster->bootstrap(), &messages, 0, 10000, 0);
  ASSERT_EQ(first.Join(), 0);

  auto serve = ServeProcess::Start(config_path, dir_.path() + "/serve.log");
  ASSERT_NE(serve, nullptr);
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == 10000; }, 120)) << serve->Log();
  ASSERT_FALSE(serve->Retrain(180).empty());
  ASSERT_EQ(testing_daemon::LastError(serve->StatusJson()), "") << serve->Log();

  // Fill the filesystem and keep it full, then keep events coming from both sides.
  Filler filler(dir_.path() + "/mnt/ballast");
  ASSERT_GT(filler.bytes(), 0);
  std::printf("tmpfs full: %lld bytes of ballast, %lld bytes free\n", static_cast<long long>(filler.bytes()),
              static_cast<long long>(fs.free_bytes()));
  const int64_t stored_when_full = StoredMessages();
  Feeder second(cluster->bootstrap(), &messages, 10000, messages.size(), 4000);

  // HTTP events while full: each either refused with an error, or acknowledged (then stored).
  int refused = 0, acknowledged_while_full = 0;
  std::vector<std::string> refused_users;
  for (int i = 0; i < 20; ++i) {
    const std::string user = "http-full-" + std::to_string(i);
    testing_http::Response r = serve->Post("/v1/events", "[" + testing_daemon::PurchaseEvent(user, "p1") + "]");
    if (r.status == 200) {
      ++acknowledged_while_full;
      ref.edges[user]["p1"] += 1.0f;
      ref.users.insert(user);
      ref.products["p1"];
    } else {
      ++refused;
      refused_users.push_back(user);
      EXPECT_EQ(r.status, 503) << r.body;  // the server cannot store now: retry later
      EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(WaitFor([&] { return serve->Metric("vasgd_store_write_failures_total") > 0; }, 30))
      << "failed writes are counted";
  // Offsets stand still while writes fail, though messages keep arriving.
  const int64_t stalled = StoredMessages();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(StoredMessages(), stalled) << "no offset advances while the store cannot write";
  EXPECT_LT(stalled, 30000);
  EXPECT_GT(Lag(*serve), 0) << "the backlog shows as consumer lag";
  EXPECT_EQ(serve->Get("/v1/users/u1/recommendations?k=5").status, 200) << "queries are still answered";
  EXPECT_NE(serve->Log().find("store.write_failed"), std::string::npos);
  EXPECT_GT(refused, 0) << "HTTP ingestion reports the failure";
  std::printf("while full: stored messages %lld -> %lld, %d HTTP batches refused, %d acknowledged, %g write failures\n",
              static_cast<long long>(stored_when_full), static_cast<long long>(stalled), refused,
              acknowledged_while_full, serve->Metric("vasgd_store_write_failures_total"));

  // Space returns: everything goes in without a restart.
  filler.Stop();
  std::filesystem::remove(dir_.path() + "/mnt/ballast");
  ASSERT_EQ(second.Join(), 0);
  ASSERT_TRUE(WaitFor([&] { return StoredMessages() == 30000; }, 180))
      << "stored " << StoredMessages() << "\n" << serve->Log();
  ASSERT_TRUE(WaitFor([&] { return Lag(*serve) == 0; }, 30));
  for (int i = 0; i < 5; ++i) {
    const std::string user = "http-after-" + std::to_string(i);
    ASSERT_EQ(serve->Post("/v1/events", "[" + testing_daemon::PurchaseEvent(user, "p2") + "]").status, 200);
    ref.edges[user]["p2"] += 1.0f;
    ref.users.insert(user);
    ref.products["p2"];
  }
  ASSERT_EQ(serve->Stop(SIGTERM), 0);

  StoreOptions o;
  o.data_dir = data_;
  o.feature_dim = kDim;
  auto store = GraphStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (const std::string& user : refused_users) {
    int32_t id;
    EXPECT_FALSE((*store)->FindUser(user, &id)) << user << " was refused yet stored";
  }
  testing_stream::ExpectStoreEquals(**store, ref);
  EXPECT_EQ((*store)->counters().events_applied,
            testing_stream::CountValid(messages) + acknowledged_while_full + 5);
}

}  // namespace
}  // namespace vasgd::testing_reliability

// Crash test: a child process ingests 200,000 events (valid ones of every kind and bad ones)
// from a mock cluster that this test keeps alive, and is killed with SIGKILL at random moments,
// at least 20 times while events remain; each time it is restarted on the same store. At the
// end the store must hold exactly the reference graph: no event lost, none applied twice.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "store/graph_store.h"
#include "stream/kafka_producer.h"
#include "stream/mock_cluster.h"
#include "tests/stream/event_stream.h"
#include "tests/test_support.h"

#ifndef VASGD_CRASH_CHILD
#error "VASGD_CRASH_CHILD must name the ingest_crash_child binary"
#endif

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kEvents = 200000;
// librdkafka's mock cluster keeps at most 5 MiB per partition (older data is deleted, as by
// retention): 200,000 events of ~120 bytes need 8 partitions to stay whole.
constexpr int kPartitions = 8;
constexpr int kMinKillsMidStream = 20;

// A running child with its stdout on a pipe.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& stderr_path) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) dup2(err, STDERR_FILENO);
      close(fds[0]);
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0 && fd_ >= 0; }

  // Reads status lines until `until(stored)` holds or the deadline passes; returns the last
  // "S" value seen (or -1). A line starting with "E" fails the test.
  int64_t ReadUntil(const std::function<bool(int64_t)>& until, Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      std::string line;
      while (NextLine(&line)) {
        if (line[0] == 'E') ADD_FAILURE() << "child: " << line;
        if (line[0] == 'S' || line[0] == 'D') {
          std::istringstream in(line.substr(2));
          int assigned = 0;
          int64_t stored = -1;
          if (line[0] == 'S') in >> assigned;
          in >> stored;
          last_ = stored;
          if (first_ < 0) first_ = stored;
          if (until(stored)) return stored;
        }
      }
      struct pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, 20) > 0 && (p.revents & (POLLIN | POLLHUP))) {
        char buf[4096];
        ssize_t n = read(fd_, buf, sizeof(buf));
        if (n <= 0) return last_;  // the child is gone
        buffer_.append(buf, static_cast<size_t>(n));
      }
    }
    return last_;
  }

  void Kill() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGTERM and wait; the exit status.
  int Terminate() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  int64_t first() const { return first_; }

 private:
  bool NextLine(std::string* line) {
    size_t eol = buffer_.find('\n');
    if (eol == std::string::npos) return false;
    *line = buffer_.substr(0, eol);
    buffer_.erase(0, eol + 1);
    return !line->empty();
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
  int64_t first_ = -1, last_ = -1;
};

// Sum of the partitions' log start offsets (0 when nothing was deleted).
int64_t LogStartOffsets(const std::string& brokers, const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = -1, high = -1;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000)) return -1;
    total += low;
  }
  rd_kafka_destroy(rk);
  return total;
}

TEST(CrashTest, KillNineDuringIngestionLosesAndDuplicatesNothing) {
  testing_support::TempDir tmp("vasgd-crash");
  tmp.KeepIfFailed();
  const std::string dir = tmp.path();
  const std::string log = dir + "/child.log";

  auto cluster = MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok());
  ASSERT_TRUE((*cluster)->CreateTopic("events", kPartitions).ok());
  ASSERT_TRUE((*cluster)->CreateTopic("dead", 1).ok());

  testing_stream::RefGraph ref;
  auto messages = testing_stream::GenerateStream(kEvents, 20000, 20000, 4, 42, &ref, 4096);
  {
    auto producer = KafkaProducer::Create((*cluster)->bootstrap(), {{"linger.ms", "20"}});
    ASSERT_TRUE(producer.ok());
    for (const auto& m : messages) ASSERT_TRUE((*producer)->Produce("events", -1, m.key, m.value).ok());
    ASSERT_TRUE((*producer)->Flush(60000).ok());
    ASSERT_EQ((*producer)->failed(), 0);
  }
  ASSERT_EQ(LogStartOffsets((*cluster)->bootstrap(), "events", kPartitions), 0)
      << "the mock cluster dropped events before the test began: use more partitions";

  const std::vector<std::string> args = {VASGD_CRASH_CHILD, (*cluster)->bootstrap(), dir, "events",
                                         std::to_string(kPartitions), "crash-group"};
  std::mt19937 rng(20261125);
  int kills_mid_stream = 0, rounds = 0;
  int64_t before_kill = 0;
  auto test_deadline = Clock::now() + std::chrono::seconds(240);
  while (kills_mid_stream < kMinKillsMidStream && Clock::now() < test_deadline) {
    Child child(args, log);
    ASSERT_TRUE(child.started());
    // The child's first line is the store's state after the previous kill.
    child.ReadUntil([](int64_t) { return true; }, Clock::now() + std::chrono::seconds(30));
    ASSERT_GE(child.first(), before_kill) << "committed messages went backwards";
    if (rounds > 0 && child.first() < kEvents) ++kills_mid_stream;
    if (child.first() >= kEvents) {
      ADD_FAILURE() << "all events consumed after " << kills_mid_stream << " kills mid-stream; "
                    << "make the kill window shorter";
      break;
    }
    // Wait for some progress, then kill at a random moment within the next 120 ms, or sooner
    // (a few ms after the stored count passes a cap): on a fast machine 120 ms can drain the
    // topic, and the cap leaves events for every kill still to come.
    const int64_t start = child.first();
    int64_t seen = child.ReadUntil([&](int64_t s) { return s > start; }, Clock::now() + std::chrono::seconds(60));
    ASSERT_GT(seen, start) << "no progress in round " << rounds;
    const int64_t kills_left = kMinKillsMidStream - kills_mid_stream + 1;
    const int64_t cap = seen + std::max<int64_t>(1, (kEvents - seen) / (kills_left + 1));
    const auto kill_at = Clock::now() + std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 120)(rng));
    child.ReadUntil([&](int64_t s) { return s >= cap; }, kill_at);
    const auto jitter = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 5)(rng));
    child.ReadUntil([](int64_t) { return false; }, std::min(kill_at, Clock::now() + jitter));
    child.Kill();
    before_kill = seen;
    ++rounds;
  }
  EXPECT_GE(kills_mid_stream, kMinKillsMidStream);

  // The last run consumes the rest and stops cleanly.
  {
    Child child(args, log);
    ASSERT_TRUE(child.started());
    int64_t done = child.ReadUntil([](int64_t s) { return s >= kEvents; }, Clock::now() + std::chrono::seconds(120));
    ASSERT_EQ(done, kEvents);
    ASSERT_EQ(child.Terminate(), 0);
  }

  StoreOptions so;
  so.data_dir = dir;
  auto store = GraphStore::Open(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing_stream::ExpectStoreEquals(**store, ref);
  EXPECT_EQ((*store)->counters().events_applied, testing_stream::CountValid(messages));
  std::printf("crash test: %d rounds, %d kills mid-stream\n", rounds, kills_mid_stream);
  if (HasFailure()) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::printf("child log tail:\n%s\n", text.substr(text.size() > 4000 ? text.size() - 4000 : 0).c_str());
  }
  store->reset();
}

}  // namespace
}  // namespace vasgd

// What every test binary shares: a temporary directory, waits that sanitized builds can stretch,
// where the shared datasets are, and what a test does when this machine cannot run it.
//
// Datasets are found relative to the repository (../shared beside the clone) or through an
// environment variable, never at a fixed path. A test that cannot run here (no dataset, no root,
// a missing tool, a port taken) is skipped on a developer's machine, but under CI (CI=true) it
// FAILS, saying what is missing: a skip must never keep CI green.
#pragma once

#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <thread>

#ifndef VASGD_SOURCE_DIR
#error "VASGD_SOURCE_DIR must name the repository root (tests/CMakeLists.txt's vasgd_test defines it)"
#endif

namespace vasgd::testing_support {

// A fresh directory under the system's temporary directory, removed with everything in it when
// the object goes (kept when VASGD_TEST_KEEP is set, for a post-mortem of logs and data).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "vasgd-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    path_ = tmpl;
  }
  ~TempDir() {
    if (std::getenv("VASGD_TEST_KEEP") || (keep_if_failed_ && ::testing::Test::HasFailure())) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Keeps the directory when the current test has failed (its logs and data, for a post-mortem).
  void KeepIfFailed() { keep_if_failed_ = true; }

 private:
  std::string path_;
  bool keep_if_failed_ = false;
};

// VASGD_TEST_WAIT_SCALE (default 1, never below 1): sanitized builds run the daemon and its
// training child several times slower, and scripts/sanitize.sh sets it. A wait is only a
// deadline, so a longer one never lets a wrong result pass.
inline double WaitScale() {
  static const double scale = [] {
    const char* s = std::getenv("VASGD_TEST_WAIT_SCALE");
    const double v = s ? std::atof(s) : 1.0;
    return v >= 1.0 ? v : 1.0;
  }();
  return scale;
}

// The deadline of a wait of `seconds`, stretched by WaitScale().
inline std::chrono::steady_clock::time_point DeadlineIn(double seconds) {
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(seconds * WaitScale()));
}

// Polls `done` every 20 ms until it returns true (true) or `seconds` (stretched by WaitScale())
// pass; then one last call decides.
template <typename Fn>
bool WaitFor(Fn done, double seconds) {
  const auto deadline = DeadlineIn(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// Whether this run is CI's: the environment variable CI is set to anything but "", "0" or "false"
// (CI services set CI=true; .ci/run runs scripts/test.sh).
inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::strcmp(ci, "0") != 0 && std::strcmp(ci, "false") != 0;
}

// The shared directory: $VASGD_SHARED_DIR, else ../shared beside the repository.
inline std::string SharedDir() {
  if (const char* env = std::getenv("VASGD_SHARED_DIR"); env && *env) return env;
  return (std::filesystem::path(VASGD_SOURCE_DIR) / ".." / "shared").lexically_normal().string();
}

// The TikTok split (train.tsv, image_feat.npy, ...): $VASGD_TIKTOK_DIR, else SharedDir()/data/tiktok.
inline std::string TikTokDir() {
  if (const char* env = std::getenv("VASGD_TIKTOK_DIR"); env && *env) return env;
  return SharedDir() + "/data/tiktok";
}

// "" when every one of `files` exists in `dir`; otherwise what is missing and how to provide it.
inline std::string MissingData(const std::string& dir, std::initializer_list<const char*> files) {
  for (const char* f : files) {
    std::error_code ec;
    if (!std::filesystem::exists(dir + "/" + f, ec)) {
      return "dataset file " + dir + "/" + f + " not found: put the shared directory beside the clone (../shared) " +
             "or set VASGD_SHARED_DIR (or VASGD_TIKTOK_DIR)";
    }
  }
  return "";
}

}  // namespace vasgd::testing_support

// Ends the current test because this machine cannot run it; `what` (a stream expression) says
// what is missing. Under CI the test fails, elsewhere it is skipped. Use in a void function.
#define VASGD_CANNOT_RUN_HERE(what)                                                       \
  do {                                                                                    \
    if (::vasgd::testing_support::InCi()) {                                               \
      GTEST_FAIL() << "CI=true, and this machine cannot run this test: " << what;         \
    } else {                                                                              \
      GTEST_SKIP() << what << " (under CI=true this is a failure)";                       \
    }                                                                                     \
  } while (0)

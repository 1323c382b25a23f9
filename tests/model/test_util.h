// Helpers shared by the model tests: a fresh temporary directory per test.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace vasgd::testing {

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = (std::filesystem::temp_directory_path() /
             ("vasgd-model-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
              std::to_string(::getpid())))
                .string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// TikTok data directory ($VASGD_TIKTOK_DIR or the shared copy), or "" when absent.
inline std::string TikTokDir() {
  const char* env = std::getenv("VASGD_TIKTOK_DIR");
  std::string dir = env ? env : "/work/shared/data/tiktok";
  return std::filesystem::exists(dir + "/train.tsv") ? dir : "";
}

}  // namespace vasgd::testing

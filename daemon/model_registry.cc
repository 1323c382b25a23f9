#include "daemon/model_registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/log.h"

namespace vasgd {
namespace fs = std::filesystem;

namespace {

constexpr char kStaging[] = ".staging";

std::string UtcStamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Makes a rename or symlink switch inside `dir` durable.
void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool IsVersionName(const std::string& name) {
  return !name.empty() && name[0] != '.' && name != "current" && name != "previous";
}

}  // namespace

ModelRegistry::ModelRegistry(std::string models_dir, int keep_versions)
    : dir_(std::move(models_dir)), keep_(std::max(1, keep_versions)) {}

Status ModelRegistry::Init() {
  std::error_code ec;
  fs::remove_all(fs::path(dir_) / kStaging, ec);
  fs::create_directories(fs::path(dir_) / kStaging, ec);
  if (ec) return Status::IoError("models: cannot create " + dir_ + "/" + kStaging + ": " + ec.message());
  return Status::Ok();
}

std::string ModelRegistry::NewVersionName() const {
  const std::string base = UtcStamp();
  std::error_code ec;
  std::string name = base;
  for (int i = 2; fs::exists(fs::path(dir_) / name, ec); ++i) name = base + "-" + std::to_string(i);
  return name;
}

std::string ModelRegistry::StagingDir(const std::string& job) const {
  const fs::path p = fs::path(dir_) / kStaging / job;
  std::error_code ec;
  fs::remove_all(p, ec);
  return p.string();
}

std::string ModelRegistry::ReadLink(const std::string& name) const {
  std::error_code ec;
  const fs::path link = fs::path(dir_) / name;
  if (!fs::is_symlink(link, ec)) return "";
  const std::string target = fs::read_symlink(link, ec).filename().string();
  if (ec || !fs::is_directory(fs::path(dir_) / target, ec)) return "";
  return target;
}

std::string ModelRegistry::Current() const { return ReadLink("current"); }
std::string ModelRegistry::Previous() const { return ReadLink("previous"); }

std::vector<std::string> ModelRegistry::Versions() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!IsVersionName(name) || it->is_symlink(ec) || !it->is_directory(ec)) continue;
    if (fs::exists(it->path() / "manifest.json", ec)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status ModelRegistry::SwitchLink(const std::string& name, const std::string& version) {
  const fs::path link = fs::path(dir_) / name;
  if (version.empty()) {
    std::error_code ec;
    fs::remove(link, ec);
    SyncDir(dir_);
    return Status::Ok();
  }
  // rename(2) of a new symlink over the old one: readers see the old or the new, never neither.
  const fs::path tmp = fs::path(dir_) / ("." + name + ".tmp");
  ::unlink(tmp.c_str());
  if (::symlink(version.c_str(), tmp.c_str()) != 0) {
    return Status::IoError("models: symlink " + tmp.string() + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::IoError("models: rename " + tmp.string() + ": " + std::strerror(err));
  }
  SyncDir(dir_);
  return Status::Ok();
}

Status ModelRegistry::Publish(const std::string& staging_dir, const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!IsVersionName(version) || version.find('/') != std::string::npos) {
    return Status::InvalidArgument("models: bad version name '" + version + "'");
  }
  const fs::path target = fs::path(dir_) / version;
  std::error_code ec;
  if (fs::exists(target, ec)) return Status::AlreadyExists("models: version " + version + " exists");
  if (::rename(staging_dir.c_str(), target.c_str()) != 0) {
    return Status::IoError("models: rename " + staging_dir + " -> " + target.string() + ": " + std::strerror(errno));
  }
  SyncDir(dir_);
  const std::string old = Current();
  if (!old.empty() && old != version) VASGD_RETURN_IF_ERROR(SwitchLink("previous", old));
  VASGD_RETURN_IF_ERROR(SwitchLink("current", version));
  Log(LogLevel::kInfo, "models.published", {{"version", version}, {"previous", old}});
  return PruneLocked();
}

Status ModelRegistry::SetCurrent(const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<std::string> versions = Versions();
  auto it = std::find(versions.begin(), versions.end(), version);
  if (it == versions.end()) return Status::NotFound("models: no version " + version);
  const std::string older = it == versions.begin() ? "" : *(it - 1);
  VASGD_RETURN_IF_ERROR(SwitchLink("current", version));
  return SwitchLink("previous", older);
}

Status ModelRegistry::Prune() {
  std::lock_guard<std::mutex> lock(mu_);
  return PruneLocked();
}

Status ModelRegistry::PruneLocked() {
  const std::vector<std::string> versions = Versions();
  const std::string current = Current();
  const std::string previous = Previous();
  // current and previous are always kept and count first; the newest others fill up to keep_.
  int kept = 0;
  for (const std::string& v : versions) kept += (v == current || v == previous) ? 1 : 0;
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (*it == current || *it == previous) continue;
    if (kept < keep_) {
      ++kept;
      continue;
    }
    // Out of sight first (one rename), then deleted: a crash mid-delete leaves the remains in
    // staging, which Init clears, never a half-deleted directory under a version name.
    std::error_code ec;
    const fs::path doomed = fs::path(dir_) / kStaging / ("pruned-" + *it);
    fs::remove_all(doomed, ec);
    fs::rename(fs::path(dir_) / *it, doomed, ec);
    if (ec) return Status::IoError("models: cannot prune " + *it + ": " + ec.message());
    fs::remove_all(doomed, ec);
    if (ec) return Status::IoError("models: cannot delete pruned " + *it + ": " + ec.message());
    Log(LogLevel::kInfo, "models.pruned", {{"version", *it}});
  }
  return Status::Ok();
}

}  // namespace vasgd

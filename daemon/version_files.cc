#include "daemon/version_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace vasgd {
namespace fs = std::filesystem;

namespace {

constexpr char kManifest[] = "manifest.json";
constexpr size_t kCopyChunk = 1 << 20;

Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError("copy: " + what + " " + path + ": " + std::strerror(errno));
}

// Copies one file, fsyncs the copy. The copy must not exist yet.
Status CopyFile(const std::string& from, const std::string& to, std::vector<char>* buffer) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("open", from);
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    Status s = Errno("create", to);
    ::close(in);
    return s;
  }
  Status s = Status::Ok();
  while (s.ok()) {
    const ssize_t n = ::read(in, buffer->data(), buffer->size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s = Errno("read", from);
    if (n <= 0) break;
    for (ssize_t done = 0; done < n && s.ok();) {
      const ssize_t w = ::write(out, buffer->data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) s = Errno("write", to);
      else done += w;
    }
  }
  if (s.ok() && ::fsync(out) != 0) s = Errno("fsync", to);
  if (::close(out) != 0 && s.ok()) s = Errno("close", to);
  ::close(in);
  return s;
}

}  // namespace

void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

Status CopyVersionFiles(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(from) / kManifest, ec)) {
    return Status::NotFound("copy: " + from + " has no " + kManifest);
  }
  std::vector<std::string> files;
  for (fs::directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == kManifest) continue;
    if (!it->is_regular_file(ec)) return Status::InvalidArgument("copy: " + it->path().string() + " is not a file");
    files.push_back(name);
  }
  if (ec) return Status::IoError("copy: cannot list " + from + ": " + ec.message());
  if (!fs::create_directory(to, ec) || ec) {
    return Status::IoError("copy: cannot create " + to + (ec ? ": " + ec.message() : ": it exists"));
  }
  files.push_back(kManifest);  // last: its presence vouches for every file before it
  std::vector<char> buffer(kCopyChunk);
  for (const std::string& name : files) {
    VASGD_RETURN_IF_ERROR(CopyFile(from + "/" + name, to + "/" + name, &buffer));
  }
  SyncDirectory(to);
  return Status::Ok();
}

}  // namespace vasgd

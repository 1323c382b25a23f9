#include "stream/line_reader.h"

#include <cerrno>
#include <cstring>

namespace vasgd {
namespace {
constexpr size_t kChunk = 1 << 20;
}

LineReader::~LineReader() {
  if (file_) std::fclose(file_);
}

Status LineReader::Open(const std::string& path) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  buffer_.resize(kChunk);
  return Status::Ok();
}

// Moves the unread tail to the front and reads more after it; false when nothing was added.
bool LineReader::Fill() {
  if (eof_ || !file_) return false;
  const size_t tail = end_ - begin_;
  if (begin_ > 0) std::memmove(&buffer_[0], &buffer_[begin_], tail);
  begin_ = 0;
  end_ = tail;
  if (buffer_.size() - end_ < kChunk / 2) buffer_.resize(buffer_.size() * 2);  // a very long line
  size_t n = std::fread(&buffer_[end_], 1, buffer_.size() - end_, file_);
  if (n == 0) {
    if (std::ferror(file_)) status_ = Status::IoError("read error in " + path_);
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

bool LineReader::Next(std::string_view* line) {
  if (!file_) return false;
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    if (nl) {
      size_t len = static_cast<const char*>(nl) - start;
      begin_ += len + 1;
      if (len > 0 && start[len - 1] == '\r') --len;
      *line = std::string_view(start, len);
      ++line_number_;
      return true;
    }
    if (!Fill()) {
      if (end_ > begin_ && status_.ok()) {  // last line without '\n'
        size_t len = end_ - begin_;
        const char* s = buffer_.data() + begin_;
        begin_ = end_;
        if (len > 0 && s[len - 1] == '\r') --len;
        *line = std::string_view(s, len);
        ++line_number_;
        return true;
      }
      return false;
    }
  }
}

}  // namespace vasgd

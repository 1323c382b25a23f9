// LineReader: streams a text file line by line through one reusable buffer (bulk import reads
// files far larger than memory this way). Lines are returned without '\n' (and without '\r').
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vasgd {

class LineReader {
 public:
  LineReader() = default;
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // IoError naming the path when it cannot be opened.
  Status Open(const std::string& path);

  // Sets *line to the next line (valid until the next call) and returns true; false at the end
  // of the file or on a read error (then status() is not OK).
  bool Next(std::string_view* line);

  int64_t line_number() const { return line_number_; }  // 1-based number of the last line
  const Status& status() const { return status_; }

 private:
  bool Fill();

  std::FILE* file_ = nullptr;
  std::string path_;
  std::string buffer_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  int64_t line_number_ = 0;
  Status status_;
};

}  // namespace vasgd

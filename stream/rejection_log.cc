#include "stream/rejection_log.h"

#include <chrono>

namespace vasgd {
namespace {

// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::string_view CutAtCharacter(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  // Step back over continuation bytes (10xxxxxx) to the lead byte, which starts the cut-off char.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

void RejectionLog::Add(std::string_view source, std::string_view reason, std::string_view message,
                       std::string_view payload) {
  std::lock_guard<std::mutex> lock(mu_);
  ++total_;
  if (keep_ == 0) return;
  if (recent_.size() == keep_) recent_.pop_front();
  recent_.push_back({NowSeconds(), std::string(source), std::string(reason), std::string(message),
                     std::string(CutAtCharacter(payload, kExcerptBytes))});
}

std::vector<RejectedEvent> RejectionLog::Recent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<RejectedEvent>(recent_.rbegin(), recent_.rend());
}

int64_t RejectionLog::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace vasgd

#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>

#include "common/utf8.h"

namespace vasgd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{true};
std::mutex g_once_mu;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string NowIso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

LogField::LogField(std::string_view k, double v) : key(k), quoted(false) {
  if (std::isfinite(v)) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    value = buf;
  } else {
    value = "null";
  }
}

void AppendJsonEscaped(std::string* out, std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s.substr(i));
      if (n == 0) {
        *out += "\\ufffd";
      } else {
        out->append(s.data() + i, n);
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
}

void ConfigureLogging(const LogOptions& options) {
  LogLevel level = LogLevel::kInfo;
  if (options.level == "debug") level = LogLevel::kDebug;
  if (options.level == "warn") level = LogLevel::kWarn;
  if (options.level == "error") level = LogLevel::kError;
  g_level = static_cast<int>(level);
  g_json = options.json;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line;
  line.reserve(128);
  if (g_json) {
    line += "{\"ts\":\"" + NowIso8601() + "\",\"level\":\"" + LevelName(level) + "\",\"event\":\"";
    AppendJsonEscaped(&line, event);
    line += '"';
    for (const LogField& f : fields) {
      line += ",\"";
      AppendJsonEscaped(&line, f.key);
      line += "\":";
      if (f.quoted) {
        line += '"';
        AppendJsonEscaped(&line, f.value);
        line += '"';
      } else {
        line += f.value;
      }
    }
    line += "}\n";
  } else {
    line += NowIso8601() + " " + LevelName(level) + " " + std::string(event);
    for (const LogField& f : fields) line += " " + std::string(f.key) + "=" + f.value;
    line += "\n";
  }
  // One fwrite per record keeps lines from different threads whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void LogOncePerKind(LogLevel level, std::string_view kind, std::string_view event,
                    std::initializer_list<LogField> fields) {
  static std::set<std::string, std::less<>> seen;
  {
    std::lock_guard<std::mutex> lock(g_once_mu);
    if (seen.find(kind) != seen.end()) return;
    seen.emplace(kind);
  }
  Log(level, event, fields);
}

}  // namespace vasgd

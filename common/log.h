// Structured logging: one line per record on stderr, JSON by default:
//   {"ts":"2026-11-25T18:00:00.123Z","level":"info","event":"retrain.done","version":"v3"}
// Callers never pass secrets; tokens are redacted by the config layer before they get here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <initializer_list>

#include "common/options.h"

namespace vasgd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// A key and its value; numbers are written unquoted.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  LogField(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  LogField(std::string_view k, double v);
  LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  std::string_view key;
  std::string value;
  bool quoted;
};

// Process-wide: level and format. Safe to call before any thread starts.
void ConfigureLogging(const LogOptions& options);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

// Logs only the first time `kind` is seen (per process), e.g. one line per kind of bad event.
void LogOncePerKind(LogLevel level, std::string_view kind, std::string_view event,
                    std::initializer_list<LogField> fields = {});

// JSON string escaping shared by the logger and hand-written JSON answers. Bytes that are not
// well-formed UTF-8 become U+FFFD, so the output is valid JSON whatever `s` holds.
void AppendJsonEscaped(std::string* out, std::string_view s);

}  // namespace vasgd

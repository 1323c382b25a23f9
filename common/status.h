// Status and Result: errors are values, as in LevelDB. A function that can fail returns a
// Status (or a Result<T> holding either a value or the Status that explains its absence).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace vasgd {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong (bad event, bad flag, bad k)
  kNotFound,            // an id or file that does not exist
  kAlreadyExists,       // e.g. a retraining is already running
  kFailedPrecondition,  // the system is not in a state to do this (no model loaded)
  kResourceExhausted,   // a limit was reached (body too large, disk full)
  kCorruption,          // stored data fails its checksum or its format
  kIoError,             // the operating system or a library refused
  kUnavailable,         // a dependency (broker, device) cannot be reached now
  kInternal,            // a bug: an invariant does not hold
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or the non-OK Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be OK

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace vasgd

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define VASGD_RETURN_IF_ERROR(expr)            \
  do {                                         \
    ::vasgd::Status _st = (expr);              \
    if (!_st.ok()) return _st;                 \
  } while (0)

// Status and Result<T>: the one error model at every module boundary.
//
// A Status is a code plus a message a person can act on ("what, where, how to fix"). The codes follow
// abseil's guidance on retrying: kUnavailable means the same call may succeed later (a busy database, a
// server away), kAborted means retry at a higher level (a lost race), kFailedPrecondition means do not retry
// until the state is fixed, kInvalidArgument means the input is wrong. Result<T> holds either a T or a non-OK
// Status. Both are plain values: copy them freely, any thread.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace hyperion {

enum class StatusCode {
  kOk,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,
  kAborted,
  kCancelled,
  kDeadlineExceeded,
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message", for adding where an error happened on its way up.
  Status WithContext(const std::string& context) const;
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExistsError(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status AbortedError(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(data_); }
  // The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(data_); }

  // Precondition for the accessors: ok().
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace hyperion

#define HYP_CONCAT_INNER(a, b) a##b
#define HYP_CONCAT(a, b) HYP_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is not OK.
#define HYP_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::hyperion::Status hyp_status_ = (expr);   \
    if (!hyp_status_.ok()) return hyp_status_; \
  } while (false)

// `lhs` = the value of `expr` (a Result<T>), or returns its Status from the enclosing function.
#define HYP_ASSIGN_OR_RETURN(lhs, expr) \
  HYP_ASSIGN_OR_RETURN_IMPL(HYP_CONCAT(hyp_result_, __LINE__), lhs, expr)
#define HYP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

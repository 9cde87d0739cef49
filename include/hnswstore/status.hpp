// Status, Error and Result<T>: how every hnswstore call reports failure.
//
// No exception crosses the API except Result<T>::value() on an error, by the caller's choice.
// The codes and what a caller should do about each are listed in docs/errors.md.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "hnswstore/detail/export.hpp"

namespace hnswstore {

/// What went wrong. Stable: the numeric values never change (they may be logged or stored).
enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument = 1,    ///< The caller passed something the contract forbids; nothing changed.
  kNotFound = 2,           ///< The id, namespace or file does not exist (or was dropped).
  kAlreadyExists = 3,      ///< create_namespace() on a name that is taken.
  kCorruption = 4,         ///< Stored data failed a checksum or structural check.
  kIOError = 5,            ///< The operating system refused a file operation.
  kNotSupported = 6,       ///< A newer format, or an operation this build cannot do.
  kResourceExhausted = 7,  ///< A quota or the memory allocator said no; nothing changed.
  kBusy = 8,               ///< Another process holds the store's writer lock.
  kInternal = 9,           ///< A bug in hnswstore or hnswlib; please report it.
};

/// The name of a code without its `k` prefix ("InvalidArgument"). Never null.
HNSWSTORE_API const char* status_code_name(StatusCode code) noexcept;

/// The outcome of an operation: `ok()`, or a code plus a message that names the offending field
/// (for example `records[3].vector[17]: NaN is not allowed`).
///
/// Thread safety: a Status is a value; distinct objects may be used from any thread.
class [[nodiscard]] HNSWSTORE_API Status {
 public:
  /// An ok status. Complexity: O(1), never allocates.
  Status() noexcept = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() noexcept { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status NotSupported(std::string m) { return {StatusCode::kNotSupported, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const noexcept { return code_ == StatusCode::kOk; }
  explicit operator bool() const noexcept { return ok(); }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  /// "OK", or "<CodeName>: <message>".
  std::string to_string() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

/// Thrown only by Result<T>::value() when the result holds an error.
class HNSWSTORE_API Error : public std::runtime_error {
 public:
  explicit Error(Status status) : std::runtime_error(status.to_string()), status_(std::move(status)) {}
  const Status& status() const noexcept { return status_; }

 private:
  Status status_;
};

/// A value of type T or the Status that explains why there is none, with the member names of
/// std::expected<T, Status>. T may be move-only:
/// `VectorStore s = VectorStore::in_memory(); auto ns = s.create_namespace("a", o).value();`
///
/// Constructing a Result from an ok Status is a bug in the caller; it becomes kInternal.
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T> && !std::is_same_v<std::remove_cv_t<T>, Status>,
                "Result<T> holds a value type other than Status");

 public:
  using value_type = T;
  using error_type = Status;

  template <class U = T,
            std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                 !std::is_same_v<std::decay_t<U>, Result> &&
                                 !std::is_same_v<std::decay_t<U>, Status>,
                             int> = 0>
  Result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {    // NOLINT
    if (std::get<1>(v_).ok()) {
      std::get<1>(v_) = Status::Internal("Result constructed from an ok Status without a value");
    }
  }

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  /// On an rvalue the value is moved out and returned by value (std::expected returns T&&),
  /// so that `for (const Hit& h : ns.search(q).value())` does not dangle.
  T value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  T value() const&& {
    check();
    return std::get<0>(v_);
  }

  /// The error. Calling it on a Result that holds a value returns an ok Status.
  const Status& error() const& noexcept {
    static const Status kOkStatus;
    return has_value() ? kOkStatus : std::get<1>(v_);
  }
  /// Same as error(), named as leveldb/rocksdb callers expect.
  const Status& status() const& noexcept { return error(); }

  /// Unchecked access, as std::expected: undefined if !has_value().
  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T operator*() && { return std::move(*std::get_if<0>(&v_)); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_value() ? std::get<0>(std::move(v_)) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void check() const {
    if (!has_value()) throw Error(std::get<1>(v_));
  }
  std::variant<T, Status> v_;
};

}  // namespace hnswstore

// Expected<T, E>: a value or the reason there is none, in the manner of osquery's
// Expected and C++23's std::expected (this is C++20). It replaces "returns "" or an
// error string" and "returns bool, fills an out-parameter": the result is [[nodiscard]],
// so a caller cannot drop a failure without saying so, and success is not spelt "".
//
//   Expected<int> parse(std::string_view text);
//   if (auto n = parse(t)) use(*n); else report(n.error());
//   Status save();  // Expected<void>: success, or why not
//   return unexpected("the file is read-only");
//
// Reading value() of a failure (or error() of a success) is a programming error and
// throws std::logic_error rather than reading garbage.
#pragma once
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace kiln {

// The error side, wrapped so that Expected<std::string, std::string> stays unambiguous.
template <typename E>
struct Unexpected {
  E error;
};

template <typename E>
Unexpected<std::decay_t<E>> unexpected(E&& error) {
  return {std::forward<E>(error)};
}
inline Unexpected<std::string> unexpected(const char* error) { return {std::string(error)}; }

template <typename T, typename E = std::string>
class [[nodiscard]] Expected {
 public:
  Expected(const T& value) : state_(std::in_place_index<0>, value) {}  // NOLINT: implicit by design
  Expected(T&& value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  template <typename G>
  Expected(Unexpected<G> failure) : state_(std::in_place_index<1>, std::move(failure.error)) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(checked(true)); }
  const T& value() const& { return std::get<0>(checked(true)); }
  T&& value() && { return std::get<0>(std::move(checked(true))); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback));
  }

  const E& error() const { return std::get<1>(checked(false)); }

 private:
  std::variant<T, E>& checked(bool want_value) {
    if (has_value() != want_value) throw std::logic_error(want_value ? "Expected: no value" : "Expected: no error");
    return state_;
  }
  const std::variant<T, E>& checked(bool want_value) const {
    if (has_value() != want_value) throw std::logic_error(want_value ? "Expected: no value" : "Expected: no error");
    return state_;
  }

  std::variant<T, E> state_;
};

// Success carrying nothing, or an error.
template <typename E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;  // success
  template <typename G>
  Expected(Unexpected<G> failure) : error_(std::move(failure.error)), failed_(true) {}  // NOLINT

  bool has_value() const { return !failed_; }
  explicit operator bool() const { return has_value(); }
  const E& error() const {
    if (!failed_) throw std::logic_error("Expected: no error");
    return error_;
  }

 private:
  E error_{};
  bool failed_ = false;
};

// A function that succeeds or says why not.
using Status = Expected<void, std::string>;

}  // namespace kiln

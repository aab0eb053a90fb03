// Errors users can act on: a primary message, the call that failed, and a hint chosen by errno.
#pragma once

#include <string>
#include <system_error>

namespace tilefork {

// A failed system call. what() is "primary: strerror"; detail() names the call and its
// arguments; hint() says what the user can do about it (may be empty).
class SystemError : public std::system_error {
 public:
  SystemError(int err, std::string primary, std::string detail, std::string hint = {});

  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }
  // Primary message, detail and hint on separate lines, for printing to a user.
  std::string describe() const;

 private:
  std::string detail_;
  std::string hint_;
};

// A mistake in what the user asked for (pipeline text, parameter, path). Message names the culprit.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws SystemError for errno `err` (callers save errno before any cleanup that may change it).
[[noreturn]] void throw_system_error(int err, std::string primary, std::string detail,
                                     std::string hint = {});

}  // namespace tilefork

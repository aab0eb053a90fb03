// SystemError and throw_system_error: what a user reads when a system call fails.
#include "tilefork/errors.hpp"

#include <utility>

namespace tilefork {

// generic_category: the values are errno numbers, so code() compares equal to std::errc
// constants and what() ends in the same strerror text the C library would print.
SystemError::SystemError(int err, std::string primary, std::string detail, std::string hint)
    : std::system_error(err, std::generic_category(), primary),
      detail_(std::move(detail)),
      hint_(std::move(hint)) {}

std::string SystemError::describe() const {
  std::string text = what();
  if (!detail_.empty()) {
    text += "\n  detail: ";
    text += detail_;
  }
  if (!hint_.empty()) {
    text += "\n  hint: ";
    text += hint_;
  }
  return text;
}

void throw_system_error(int err, std::string primary, std::string detail, std::string hint) {
  throw SystemError(err, std::move(primary), std::move(detail), std::move(hint));
}

}  // namespace tilefork

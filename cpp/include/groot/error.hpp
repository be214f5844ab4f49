// Errors raised by the core: every bad input becomes a groot::InvalidArgument whose message names
// the offending argument, never a crash.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace groot {

class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {
template <class... Parts>
[[noreturn]] void throw_invalid(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw InvalidArgument(message.str());
}
}  // namespace detail

}  // namespace groot

// Throws groot::InvalidArgument built from the message parts when `condition` is false.
#define GROOT_CHECK(condition, ...)                  \
  do {                                               \
    if (!(condition)) {                              \
      ::groot::detail::throw_invalid(__VA_ARGS__);   \
    }                                                \
  } while (false)

// Errors as values, shared by every airlock module.
//
// A failing function returns an Error carrying one of a handful of stable codes
// and a one-line message a user can act on (what, where, expected vs actual).
// Programs map codes to exit codes in one place (see exit_code()).
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace airlock {

enum class Code {
  not_found,      // the thing asked for does not exist
  corrupt,        // stored or received bytes do not match what they claim to be
  refused,        // input is well-formed but policy says no (signature, sequence, expiry)
  invalid_input,  // malformed input or bad arguments
  io,             // the operating system failed (disk full, permissions, network)
  limit,          // a size, count or time limit was exceeded
  conflict,       // the request clashes with the current state: the thing exists already,
                  // it was done already, or there is nothing to undo (not a verification)
};

std::string_view code_name(Code code);

struct Error {
  Code code;
  std::string message;

  // Prefixes the message with context ("importing X: <message>"), keeping the code.
  Error context(std::string_view what) const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

// Shorthand for returning a failure from a function returning Result<T>.
inline std::unexpected<Error> fail(Code code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}
inline std::unexpected<Error> fail(Error error) { return std::unexpected<Error>(std::move(error)); }

// Builds an io error from errno: "<what>: <strerror(errno)>".
std::unexpected<Error> fail_errno(std::string_view what);
std::unexpected<Error> fail_errno(std::string_view what, int err);

// Process exit codes (DESIGN.md): 0 success, 1 operational error (not_found,
// io, conflict), 2 usage (invalid_input), 3 refused by verification (refused,
// corrupt, limit) and nothing else.
int exit_code(const Error& error);

}  // namespace airlock

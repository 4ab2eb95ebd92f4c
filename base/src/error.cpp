#include "airlock/base/error.h"

#include <cerrno>
#include <cstring>

namespace airlock {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::not_found:
      return "not_found";
    case Code::corrupt:
      return "corrupt";
    case Code::refused:
      return "refused";
    case Code::invalid_input:
      return "invalid_input";
    case Code::io:
      return "io";
    case Code::limit:
      return "limit";
    case Code::conflict:
      return "conflict";
  }
  return "unknown";
}

Error Error::context(std::string_view what) const {
  return Error{code, std::string(what) + ": " + message};
}

std::unexpected<Error> fail_errno(std::string_view what, int err) {
  Code code = err == ENOENT ? Code::not_found : Code::io;
  return fail(code, std::string(what) + ": " + std::strerror(err));
}

std::unexpected<Error> fail_errno(std::string_view what) { return fail_errno(what, errno); }

int exit_code(const Error& error) {
  switch (error.code) {
    case Code::corrupt:
    case Code::refused:
    case Code::limit:
      return 3;
    case Code::invalid_input:
      return 2;
    case Code::not_found:
    case Code::io:
    case Code::conflict:
      return 1;
  }
  return 1;
}

}  // namespace airlock

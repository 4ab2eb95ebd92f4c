#include "syslog.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "airlock/base/time.h"

namespace airlock::repo {

Result<SyslogForwarder> SyslogForwarder::open(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return fail(Code::invalid_input, "syslog socket path '" + path + "' is empty or too long");
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail_errno("syslog socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return fail_errno("connect to the syslog socket " + path);
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !host[0]) std::strcpy(host, "-");
  for (char* c = host; *c; ++c) {  // RFC 5424 HOSTNAME: printable US-ASCII, no spaces
    if (*c <= ' ' || *c > '~') *c = '-';
  }
  return SyslogForwarder(std::move(fd), host);
}

std::string record_event(std::string_view line) {
  constexpr std::string_view key = ",\"event\":\"";
  const auto at = line.find(key);
  if (at == std::string_view::npos) return "-";
  const auto start = at + key.size();
  const auto end = line.find('"', start);
  if (end == std::string_view::npos || end == start || end - start > 32) return "-";
  std::string event(line.substr(start, end - start));
  for (char c : event) {
    if (c <= ' ' || c > '~') return "-";
  }
  return event;
}

void SyslogForwarder::send(std::string_view line) {
  const std::string message = "<134>1 " + format_time(system_now()) + " " + host_ +
                              " airlock-repo " + std::to_string(::getpid()) + " " +
                              record_event(line) + " - " + std::string(line);
  if (::send(fd_.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) ++failed_;
}

}  // namespace airlock::repo

// Forwarding transfer-log records to the local syslog socket as RFC 5424
// messages, so a SIEM sees transfers as they happen; the log file stays the
// record of truth (a message that cannot be sent is counted, not retried).
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/base/file.h"

namespace airlock::repo {

class SyslogForwarder {
 public:
  // Connects a datagram socket to the syslog socket at path (/dev/log).
  static Result<SyslogForwarder> open(const std::string& path);

  // Sends one record line: "<134>1 TIME HOST airlock-repo PID EVENT - LINE"
  // (facility local0, severity info; EVENT is the record's event).
  void send(std::string_view line);
  std::uint64_t failed() const { return failed_; }

 private:
  SyslogForwarder(UniqueFd fd, std::string host) : fd_(std::move(fd)), host_(std::move(host)) {}
  UniqueFd fd_;
  std::string host_;
  std::uint64_t failed_ = 0;
};

// The event of a record line ("pull" for {"n":..,"time":..,"event":"pull",..}),
// "-" when there is none.
std::string record_event(std::string_view line);

}  // namespace airlock::repo

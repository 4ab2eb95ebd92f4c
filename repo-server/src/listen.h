// The addresses serve listens on, as --listen, --listen-tls and repo.toml
// give them.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "airlock/base/error.h"

namespace airlock::repo {

// "HOST:PORT" with HOST an IP address ("[::1]:8080" for IPv6). invalid_input
// naming option ("--listen") and the text for anything else.
Result<boost::asio::ip::tcp::endpoint> parse_listen(const std::string& option,
                                                     const std::string& listen);

}  // namespace airlock::repo

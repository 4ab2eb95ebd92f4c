#include "airlock/repo/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/sendfile.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "airlock/base/text.h"
#include "airlock/repo/home.h"
#include "listen.h"
#include "pull_logger.h"
#include "syslog.h"
#include "tls.h"
#include "tls_stream.h"

namespace airlock::repo {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr std::uint64_t kInlineBody = 64 * 1024;
// Bytes of a request line (kept for requests refused while parsing) and of a
// User-Agent header kept in a pull record.
constexpr std::size_t kMaxRequestLine = 1024;
constexpr std::size_t kMaxUserAgent = 256;
// How long a connection beyond max_connections may take to send its request.
constexpr std::chrono::seconds kOverCapacityWait{2};
// How long accepting pauses when the process is out of descriptors.
constexpr std::chrono::milliseconds kAcceptPause{100};
// How long a TLS handshake, or the close_notify exchange, may take.
constexpr std::chrono::seconds kHandshakeWait{10};
// HTTPS: bytes of a file read and encrypted at a time. Small enough that
// OpenSSL copies them from cache into its records, and that many downloads
// at once cost little memory; large enough that a few writes send a file.
constexpr std::uint64_t kTlsChunk = 64 * 1024;

// A connection, whichever its transport.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Called on stop: an idle connection closes now, a busy one after its response.
  virtual void drain() = 0;
};

struct Shared {
  RequestHandler* handler = nullptr;
  PullLogger* logger = nullptr;
  const ServeOptions* options = nullptr;
  std::mutex mu;
  std::set<std::weak_ptr<SessionBase>, std::owner_less<std::weak_ptr<SessionBase>>> sessions;
  // HTTPS: the context new connections take (replaced on SIGHUP); under mu.
  std::shared_ptr<net::ssl::context> tls;
  std::atomic<bool> draining{false};
  std::size_t max_connections = 0;
  std::atomic<std::size_t> connections{0};  // sessions within max_connections
};

// Plain HTTP runs on a tcp_stream and sends files with sendfile; HTTPS on
// OpenSSL over the socket, after a handshake, sending files in chunks.
using PlainStream = beast::tcp_stream;
using TlsStream = tls::SocketStream;

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  // An over-capacity session answers its one request 503.
  Session(Stream stream, Shared& shared, bool over_capacity)
      : stream_(std::move(stream)),
        shared_(shared),
        timer_(lowest().get_executor()),
        over_capacity_(over_capacity) {
    beast::error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    client_ = ec ? "unknown" : ep.address().to_string();
    if (!over_capacity_) ++shared_.connections;
  }
  ~Session() {
    if (!over_capacity_) --shared_.connections;
  }

  void start() {
    {
      std::lock_guard lk(shared_.mu);
      if (shared_.sessions.size() > 4096)
        std::erase_if(shared_.sessions, [](auto& w) { return w.expired(); });
      shared_.sessions.insert(std::weak_ptr<SessionBase>(shared_from_this()));
    }
    net::dispatch(lowest().get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

  void drain() override {
    net::post(lowest().get_executor(), [self = shared_from_this()] {
      if (self->reading_) {
        beast::error_code ec;
        self->lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
        self->lowest().socket().close(ec);
      }
    });
  }

 private:
  // The tcp_stream, or the TLS stream itself: a socket with a deadline.
  auto& lowest() { return beast::get_lowest_layer(stream_); }

  // Who asks, for the access policy: the address, and the certificate when
  // the handshake verified one.
  const ClientIdentity& identity() {
    if (identity_.address.empty()) {
      identity_.address = client_;
      if (peer_) {
        identity_.subject = peer_->subject;
        identity_.common_name = peer_->common_name;
        identity_.units = peer_->units;
        identity_.fingerprint = peer_->fingerprint;
        identity_.issuer_fingerprint = peer_->issuer_fingerprint;
      }
    }
    return identity_;
  }

  // HTTPS: the TLS handshake, which checks the client's certificate when the
  // server asks for one. A refused handshake is a pull record of its own.
  void handshake() {
    if constexpr (kTls) {
      lowest().expires_after(
          std::min<std::chrono::seconds>(shared_.options->idle_timeout, kHandshakeWait));
      reading_ = true;
      stream_.async_handshake([self = shared_from_this()](beast::error_code ec) {
        self->reading_ = false;
        self->peer_ = tls::peer_certificate(self->stream_.native_handle());
        const bool refused_again = self->peer_ && !self->peer_->refused.empty();
        if (!ec && !refused_again) return self->read();
        auto refused = ec ? tls::refusal(self->stream_.native_handle(), ec)
                          : tls::Refusal{495, self->peer_->refused};
        if (!refused) return self->close_now();
        self->started_ = SteadyClock::now();
        self->method_.clear();
        self->target_.clear();
        self->user_agent_.clear();
        self->response_.status = refused->status;
        self->response_.reason = std::move(refused->reason);
        self->keep_alive_ = false;
        self->handshake_refused_ = true;
        self->done(false);
      });
    } else {
      read();
    }
  }

  void read() {
    if (shared_.draining) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options->max_header_bytes));
    parser_->body_limit(0);
    lowest().expires_after(over_capacity_ ? std::min<std::chrono::seconds>(
                                                shared_.options->idle_timeout, kOverCapacityWait)
                                          : shared_.options->idle_timeout);
    reading_ = true;
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::bad_descriptor || ec == net::ssl::error::stream_truncated ||
        ec.category() == net::error::get_ssl_category()) {
      return close();
    }
    started_ = SteadyClock::now();
    ++requests_;
    if (ec) {
      // Oversized headers or a body on a GET: answer and close.
      int status =
          ec == http::error::header_limit ? 431 : (ec == http::error::body_limit ? 413 : 400);
      HttpResponse r;
      r.status = status;
      r.body = status == 431 ? "request header too large\n" : "bad request\n";
      r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      keep_alive_ = false;
      refused_while_parsing();
      return respond(std::move(r), 11);
    }
    auto& req = parser_->get();
    const auto assign = [](std::string& to, beast::string_view from, std::size_t max = SIZE_MAX) {
      to.assign(from.data(), std::min(from.size(), max));
    };
    assign(method_, req.method_string());
    assign(target_, req.target());
    assign(user_agent_, req[http::field::user_agent], kMaxUserAgent);
    keep_alive_ = req.keep_alive() && requests_ < shared_.options->max_requests_per_connection &&
                  !shared_.draining;
    HttpResponse r;
    if (over_capacity_) {
      keep_alive_ = false;
      r.status = 503;
      r.body = "too many connections\n";
      r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      r.headers.emplace_back("Retry-After", "1");
    } else if (!shared_.logger->healthy()) {
      r.status = 503;
      r.body = "the transfer log cannot be written; not serving unlogged\n";
      r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      r.headers.emplace_back("Retry-After", "60");
    } else {
      HttpRequest hr;
      hr.client = identity();
      hr.method = method_;
      hr.target = target_;
      hr.range = std::string(req[http::field::range]);
      hr.if_none_match = std::string(req[http::field::if_none_match]);
      hr.if_modified_since = std::string(req[http::field::if_modified_since]);
      r = shared_.handler->handle(hr);
    }
    respond(std::move(r), req.version());
  }

  // What a request that could not be parsed said: its request line, and
  // method, target and User-Agent as far as the parser read them (a header
  // too large is not parsed at all; then method and target come from the
  // request line when it has three parts).
  void refused_while_parsing() {
    auto& req = parser_->get();
    method_ = "?";
    target_.clear();
    user_agent_.clear();
    if (!req.target().empty()) {  // the parser read the request line and consumed it
      method_ = std::string(req.method_string());
      target_ = std::string(req.target());
      user_agent_ = std::string(req[http::field::user_agent]).substr(0, kMaxUserAgent);
      request_line_ = (method_ + " " + target_).substr(0, kMaxRequestLine - 9) + " HTTP/" +
                      std::to_string(req.version() / 10) + "." + std::to_string(req.version() % 10);
      return;
    }
    const auto data = buffer_.data();  // nothing of it consumed
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    request_line_ = std::string(bytes.substr(0, std::min(bytes.find('\n'), kMaxRequestLine)));
    if (request_line_.ends_with('\r')) request_line_.pop_back();
    const auto sp1 = request_line_.find(' ');
    const auto sp2 = sp1 == std::string::npos ? sp1 : request_line_.find(' ', sp1 + 1);
    if (sp2 != std::string::npos && request_line_.find(' ', sp2 + 1) == std::string::npos) {
      method_ = request_line_.substr(0, std::min<std::size_t>(sp1, 32));
      target_ = request_line_.substr(sp1 + 1, sp2 - sp1 - 1);
    }
  }

  void respond(HttpResponse r, unsigned version) {
    response_ = std::move(r);
    sent_ = 0;
    // Small bodies go out with their header in one write; large ones by sendfile.
    if (response_.file && !response_.head && response_.length <= kInlineBody) {
      std::string body(response_.length, '\0');
      ssize_t got = ::pread(response_.file->fd.get(), body.data(), body.size(),
                            static_cast<off_t>(response_.file->offset + response_.offset));
      if (got == static_cast<ssize_t>(body.size())) {
        response_.body = std::move(body);
        response_.file.reset();
      }
    }
    if (response_.file) {
      header_.emplace(static_cast<http::status>(response_.status), version);
      for (auto& [k, v] : response_.headers) header_->set(k, v);
      header_->set(http::field::server, "airlock-repo");
      header_->content_length(response_.length);
      header_->keep_alive(keep_alive_);
      file_serializer_.emplace(*header_);
      // The header waits for the body's first bytes, to leave in one segment.
      if constexpr (!kTls) cork(true);
      lowest().expires_after(shared_.options->idle_timeout);
      http::async_write_header(stream_, *file_serializer_,
                               [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 if (ec) return self->done(false);
                                 if (self->response_.head || self->response_.length == 0)
                                   return self->done(true);
                                 self->file_offset_ = static_cast<off_t>(
                                     self->response_.file->offset + self->response_.offset);
                                 self->send_file();
                               });
      return;
    }
    // The body is sent from where it is: the response or the object cache.
    const std::string_view content = response_.content();
    const bool empty = response_.head || response_.status == 304;
    text_.emplace(static_cast<http::status>(response_.status), version);
    for (auto& [k, v] : response_.headers) text_->set(k, v);
    text_->set(http::field::server, "airlock-repo");
    text_->keep_alive(keep_alive_);
    if (!empty) text_->body() = {content.data(), content.size()};
    text_->prepare_payload();
    if (response_.head) text_->content_length(content.size());
    sent_ = empty ? 0 : content.size();
    lowest().expires_after(shared_.options->idle_timeout);
    http::async_write(
        stream_, *text_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->done(!ec); });
  }

  // Plain HTTP: the body goes from the object file to the socket without
  // passing through user space. HTTPS: it is read and encrypted a chunk at a
  // time.
  void send_file() {
    if constexpr (kTls) {
      const std::uint64_t end = response_.file->offset + response_.offset + response_.length;
      if (static_cast<std::uint64_t>(file_offset_) >= end) return done(true);
      chunk_.resize(static_cast<std::size_t>(
          std::min<std::uint64_t>(end - static_cast<std::uint64_t>(file_offset_), kTlsChunk)));
      ssize_t got = ::pread(response_.file->fd.get(), chunk_.data(), chunk_.size(), file_offset_);
      if (got <= 0) {
        response_.reason = "object unreadable while it was sent";
        return done(false);
      }
      chunk_.resize(static_cast<std::size_t>(got));
      lowest().expires_after(shared_.options->idle_timeout);
      net::async_write(stream_, net::buffer(chunk_),
                       [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                         self->sent_ += n;
                         self->file_offset_ += static_cast<off_t>(n);
                         if (ec) return self->done(false);
                         self->send_file();
                       });
      return;
    }
    auto& sock = lowest().socket();
    if (!sock.non_blocking()) {
      beast::error_code ec;
      sock.non_blocking(true, ec);
    }
    const std::uint64_t end = response_.file->offset + response_.offset + response_.length;
    while (static_cast<std::uint64_t>(file_offset_) < end) {
      auto chunk = static_cast<std::size_t>(
          std::min<std::uint64_t>(end - static_cast<std::uint64_t>(file_offset_), 1 << 20));
      ssize_t n = ::sendfile(sock.native_handle(), response_.file->fd.get(), &file_offset_, chunk);
      if (n > 0) {
        sent_ += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        timer_.expires_after(shared_.options->idle_timeout);
        timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
          if (!ec) {  // the client stopped reading
            beast::error_code ignore;
            self->lowest().socket().cancel(ignore);
          }
        });
        sock.async_wait(tcp::socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
          self->timer_.cancel();
          if (ec) return self->done(false);
          self->send_file();
        });
        return;
      }
      return done(false);  // the client went away: log what was sent
    }
    done(true);
  }

  void cork(bool on) {
    if constexpr (kTls) return;
    const int value = on ? 1 : 0;
    ::setsockopt(lowest().socket().native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
    corked_ = on;
  }

  void done(bool ok) {
    if (corked_) cork(false);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started_)
                  .count();
    // Built by hand: this runs once per request. Strings go through JSON
    // escaping; the client's address and User-Agent once for all the
    // connection's requests that repeat them.
    std::string rec;
    rec.reserve(384);
    if (client_json_.empty()) client_json_ = json(client_).dump();
    rec += "\"client\":";
    rec += client_json_;
    if (peer_) {
      if (peer_json_.empty()) {
        peer_json_ = ",\"client_subject\":" + json(peer_->subject).dump() +
                     ",\"client_fingerprint\":\"" + peer_->fingerprint + "\",\"client_serial\":\"" +
                     peer_->serial + "\"";
      }
      rec += peer_json_;
    }
    rec += ",\"method\":";
    rec += method_ == "GET" ? "\"GET\"" : json(escape_invalid_utf8(method_)).dump();
    // The path decoded once, as the server routed it, so that it can be searched
    // for; the raw target too when it differs (which also marks the path decoded).
    const std::string raw = escape_invalid_utf8(std::string_view(target_).substr(0, 2048));
    const std::string path =
        escape_invalid_utf8(percent_decode(std::string_view(target_).substr(0, 2048)));
    rec += ",\"path\":";
    rec += json(path).dump();
    if (path != raw) rec += ",\"target\":" + json(raw).dump();
    rec += ",\"object\":";
    rec += response_.object ? "\"" + response_.object->hex() + "\"" : std::string("null");
    rec += ",\"status\":" + std::to_string(response_.status);
    rec += ",\"bytes\":" + std::to_string(sent_);
    // Milliseconds with three decimals.
    rec += ",\"duration_ms\":" + std::to_string(us / 1000) + ".";
    const auto micros = std::to_string(1000 + us % 1000);
    rec.append(micros, 1, 3);
    if (!ok && !handshake_refused_) rec += ",\"incomplete\":true";
    if (!response_.reason.empty()) rec += ",\"reason\":" + json(response_.reason).dump();
    if (user_agent_json_.empty() || user_agent_ != json_user_agent_) {
      json_user_agent_ = user_agent_;
      user_agent_json_ = json(escape_invalid_utf8(user_agent_)).dump();
    }
    rec += ",\"user_agent\":";
    rec += user_agent_json_;
    if (!request_line_.empty())
      rec += ",\"request\":" + json(escape_invalid_utf8(request_line_)).dump();
    shared_.logger->record(std::move(rec));
    response_ = HttpResponse();
    request_line_.clear();
    file_serializer_.reset();
    header_.reset();
    text_.reset();
    if (!ok || !keep_alive_) return close();
    read();
  }

  // HTTPS says close_notify first, for a few seconds at most.
  void close() {
    if constexpr (kTls) {
      if (!handshake_refused_ && lowest().socket().is_open()) {
        lowest().expires_after(kHandshakeWait);
        stream_.async_shutdown(
            [self = shared_from_this()](beast::error_code) { self->close_now(); });
        return;
      }
    }
    close_now();
  }

  void close_now() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest().socket().close(ec);
  }

  Stream stream_;
  Shared& shared_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_{16384};
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::empty_body>> header_;
  std::optional<http::response_serializer<http::empty_body>> file_serializer_;
  std::optional<http::response<http::span_body<const char>>> text_;
  HttpResponse response_;
  std::string client_, method_, target_, user_agent_;
  std::string request_line_;  // only for a request refused while parsing
  // The client address and the User-Agent json_user_agent_ as JSON strings.
  std::string client_json_, json_user_agent_, user_agent_json_;
  // HTTPS: the client's certificate, and its fields for the pull records.
  std::optional<tls::PeerCertificate> peer_;
  ClientIdentity identity_;
  std::string peer_json_;
  bool handshake_refused_ = false;
  std::vector<char> chunk_;  // HTTPS: the piece of a file being sent
  off_t file_offset_ = 0;
  std::uint64_t sent_ = 0;
  std::size_t requests_ = 0;
  bool keep_alive_ = false;
  bool reading_ = false;
  bool corked_ = false;
  const bool over_capacity_;
  SteadyClock::time_point started_;
};

}  // namespace

Result<tcp::endpoint> parse_listen(const std::string& option, const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return fail(Code::invalid_input, option + " must be HOST:PORT, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return fail(Code::invalid_input, option + ": '" + host + "' is not an IP address");
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535)
    return fail(Code::invalid_input, option + ": bad port in '" + listen + "'");
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

namespace {

// Out of descriptors or memory: accepting again at once would fail again.
bool exhausted(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
         ec == net::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system;
}

// A listening socket of a worker thread: a duplicate of the one bound
// socket, so that each thread takes in connections itself and never waits
// for another. Each keeps several accepts outstanding (pauses are their
// timers), so that a burst of connections is taken in at one wake-up.
struct Listener {
  Listener(net::io_context& ioc, int listening_fd, const tcp::endpoint& endpoint, bool tls)
      : acceptor(ioc, endpoint.protocol(), ::dup(listening_fd)), tls(tls) {}
  tcp::acceptor acceptor;
  const bool tls;
  std::vector<std::unique_ptr<net::steady_timer>> pauses;
};

// A worker thread's own event loop and its listeners.
struct Worker {
  net::io_context ioc{1};
  std::vector<std::unique_ptr<Listener>> listeners;
};

void accept(Listener& listener, Shared& shared, net::steady_timer& pause) {
  listener.acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !listener.acceptor.is_open()) return;
      if (exhausted(ec)) {  // until connections close; the backlog keeps waiting clients
        pause.expires_after(kAcceptPause);
        pause.async_wait([&](beast::error_code e) {
          if (!e) accept(listener, shared, pause);
        });
        return;
      }
    } else {
      beast::error_code ignore;
      socket.set_option(tcp::no_delay(true),
                        ignore);  // header and body must not wait on each other
      const bool over = shared.connections >= shared.max_connections;
      if (listener.tls) {
        std::shared_ptr<net::ssl::context> context;
        {
          std::lock_guard lk(shared.mu);
          context = shared.tls;
        }
        std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), *context), shared, over)
            ->start();
      } else {
        std::make_shared<Session<PlainStream>>(PlainStream(std::move(socket)), shared, over)
            ->start();
      }
    }
    accept(listener, shared, pause);
  });
}

// A socket bound to listen (an --listen or --listen-tls value), listening.
Result<tcp::acceptor> bind_listener(net::io_context& ioc, const std::string& option,
                                    const std::string& listen) {
  auto endpoint = parse_listen(option, listen);
  if (!endpoint) return fail(endpoint.error());
  tcp::acceptor acceptor(ioc);
  beast::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(Code::io, "cannot listen on " + listen + ": " + ec.message());
  return acceptor;
}

std::string address_of(const tcp::endpoint& e) {
  const auto a = e.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
}

// (RLIMIT_NOFILE - 64) / 2: a socket and an object file each, and room for
// the log, the index and the listening socket.
std::size_t default_max_connections() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 1 << 16;
  return lim.rlim_cur > 66 ? static_cast<std::size_t>(lim.rlim_cur - 64) / 2 : 1;
}

}  // namespace

Status Home::serve(const ServeOptions& options) {
  // sendfile to a client that went away must fail with EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  // A log that hits a file size limit must fail with EFBIG, not kill us.
  ::signal(SIGXFSZ, SIG_IGN);
  if (options.listen.empty() && options.listen_tls.empty())
    return fail(Code::invalid_input, "nothing to listen on: give --listen or --listen-tls");
  // HTTPS: the context is made before anything is logged or bound, so that a
  // bad certificate or key stops the server at once.
  const tls::ContextFiles tls_files{
      options.tls_cert, options.tls_key, options.client_ca,
      options.crl.empty() ? std::vector<std::filesystem::path>{} : std::vector{options.crl},
      options.client_ca.empty() ? std::vector<std::filesystem::path>{}
                                : std::vector{site_crl_file()}};
  std::shared_ptr<net::ssl::context> tls_context;
  if (!options.listen_tls.empty()) {
    auto made = tls::server_context(tls_files);
    if (!made) return fail(made.error());
    tls_context = std::move(*made);
  }
  auto policy = access();
  if (!policy) return fail(policy.error());
  std::optional<SyslogForwarder> syslog;
  if (!options.syslog_socket.empty()) {
    auto opened = SyslogForwarder::open(options.syslog_socket);
    if (!opened) return fail(opened.error());
    syslog.emplace(std::move(*opened));
    log().forward_to([&syslog](std::string_view line) { syslog->send(line); });
  }
  struct StopForwarding {
    TransferLog& log;
    ~StopForwarding() { log.forward_to({}); }
  } stop_forwarding{log()};
  RequestHandler handler(store());
  handler.set_access(std::make_shared<const AccessPolicy>(std::move(*policy)));
  PullLogger logger(log(), log_key(), options.checkpoint_every, options.checkpoint_interval,
                    options.flush_interval);
  TransferLog* log_ptr = &log();
  handler.health = [&logger, log_ptr] {
    return json{{"status", logger.healthy() ? "ok" : "log-unwritable"},
                {"log", {{"size", log_ptr->size()}, {"root", log_ptr->root().hex()}}}}
               .dump() +
           "\n";
  };
  Shared shared;
  shared.handler = &handler;
  shared.logger = &logger;
  shared.options = &options;
  shared.max_connections =
      options.max_connections ? options.max_connections : default_max_connections();

  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  shared.tls = tls_context;
  // The bound sockets; each worker listens on duplicates of them.
  net::io_context listening_ioc{1};
  struct Bound {
    tcp::acceptor acceptor;
    bool tls;
    std::string address;
  };
  std::vector<Bound> bound;
  for (const auto& [option, listen, tls] : {std::tuple{"--listen", options.listen, false},
                                            {"--listen-tls", options.listen_tls, true}}) {
    if (listen.empty()) continue;
    auto acceptor = bind_listener(listening_ioc, option, listen);
    if (!acceptor) return fail(acceptor.error());
    auto address = address_of(acceptor->local_endpoint());
    bound.push_back({std::move(*acceptor), tls, std::move(address)});
  }
  std::vector<std::unique_ptr<Worker>> workers;
  try {
    for (int i = 0; i < threads; ++i) {
      auto w = std::make_unique<Worker>();
      for (auto& b : bound) {
        w->listeners.push_back(std::make_unique<Listener>(w->ioc, b.acceptor.native_handle(),
                                                          b.acceptor.local_endpoint(), b.tls));
      }
      workers.push_back(std::move(w));
    }
  } catch (const boost::system::system_error& e) {
    return fail(Code::io, "cannot listen: " + e.code().message());
  }
  for (auto& b : bound) {
    beast::error_code ignore;
    b.acceptor.close(ignore);
  }

  {
    json rec{{"action", "serve"}};
    for (const auto& b : bound) rec[b.tls ? "listen_tls" : "listen"] = b.address;
    if (!options.client_ca.empty()) rec["client_ca"] = options.client_ca.string();
    if (auto s = ledger().record({{"serve", std::move(rec)}}); !s) return s;
  }
  net::signal_set reload(workers.front()->ioc, SIGHUP);
  // Each worker's acceptors and pauses are closed on its own thread.
  net::signal_set signals(workers.front()->ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    if (options.on_stopping) options.on_stopping();
    shared.draining = true;
    reload.cancel();
    for (auto& w : workers) {
      net::post(w->ioc, [&worker = *w] {
        beast::error_code ignore;
        for (auto& l : worker.listeners) {
          l->acceptor.close(ignore);
          for (auto& p : l->pauses) p->cancel();
        }
      });
    }
    std::lock_guard lk(shared.mu);
    for (auto& weak : shared.sessions) {
      if (auto s = weak.lock()) s->drain();
    }
  });
  // SIGHUP: the certificate, key, client CA and revocation lists are read
  // again; connections open keep what they were made with. A file that no
  // longer reads keeps the server on what it had.
  std::function<void()> on_reload = [&] {
    reload.async_wait([&](beast::error_code ec, int) {
      if (ec || shared.draining) return;
      if (options.on_reloading) options.on_reloading();
      // Applied only when every file reads, so that the server never runs
      // on half of a reload.
      Status reloaded;
      std::shared_ptr<net::ssl::context> made_tls;
      if (tls_context) {
        auto made = tls::server_context(tls_files);
        if (made) {
          made_tls = std::move(*made);
        } else {
          reloaded = fail(made.error());
        }
      }
      auto again = access();
      if (reloaded && !again) reloaded = fail(again.error());
      if (reloaded) {
        if (made_tls) {
          std::lock_guard lk(shared.mu);
          shared.tls = std::move(made_tls);
        }
        handler.set_access(std::make_shared<const AccessPolicy>(std::move(*again)));
      }
      if (options.on_reload) options.on_reload(reloaded);
      on_reload();
    });
  };
  on_reload();
  for (auto& w : workers) {
    for (auto& l : w->listeners) {
      for (int i = 0; i < 8; ++i) {
        l->pauses.push_back(std::make_unique<net::steady_timer>(w->ioc));
        accept(*l, shared, *l->pauses.back());
      }
    }
  }
  if (options.on_ready) {
    for (const auto& b : bound) options.on_ready(b.address, b.tls);
  }

  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    pool.emplace_back([&w = *workers[i]] { w.ioc.run(); });
  }
  workers.front()->ioc.run();
  for (auto& t : pool) t.join();

  auto stopped = logger.stop();
  if (auto s = ledger().record({{"serve", {{"action", "stop"}, {"pulls", logger.written()}}}}); !s)
    return s;
  return stopped;
}

}  // namespace airlock::repo

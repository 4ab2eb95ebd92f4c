#include "airlock/repo/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/sendfile.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "airlock/base/text.h"
#include "airlock/repo/home.h"
#include "pull_logger.h"
#include "syslog.h"

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

struct Shared {
  RequestHandler* handler = nullptr;
  PullLogger* logger = nullptr;
  const ServeOptions* options = nullptr;
  std::mutex mu;
  std::set<std::weak_ptr<void>, std::owner_less<std::weak_ptr<void>>> sessions;
  std::atomic<bool> draining{false};
  std::size_t max_connections = 0;
  std::atomic<std::size_t> connections{0};  // sessions within max_connections
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // An over-capacity session answers its one request 503.
  Session(tcp::socket socket, Shared& shared, bool over_capacity)
      : stream_(std::move(socket)),
        shared_(shared),
        timer_(stream_.get_executor()),
        over_capacity_(over_capacity) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
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
      shared_.sessions.insert(std::weak_ptr<void>(shared_from_this()));
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  // Called on stop: an idle connection closes now, a busy one after its response.
  void drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->reading_) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.socket().close(ec);
      }
    });
  }

 private:
  void read() {
    if (shared_.draining) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options->max_header_bytes));
    parser_->body_limit(0);
    stream_.expires_after(over_capacity_ ? std::min<std::chrono::seconds>(
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
        ec == net::error::bad_descriptor) {
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
      cork(true);
      stream_.expires_after(shared_.options->idle_timeout);
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
    stream_.expires_after(shared_.options->idle_timeout);
    http::async_write(
        stream_, *text_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->done(!ec); });
  }

  // The body goes from the object file to the socket without passing through
  // user space.
  void send_file() {
    auto& sock = stream_.socket();
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
            self->stream_.socket().cancel(ignore);
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
    const int value = on ? 1 : 0;
    ::setsockopt(stream_.socket().native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
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
    if (!ok) rec += ",\"incomplete\":true";
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

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
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
  off_t file_offset_ = 0;
  std::uint64_t sent_ = 0;
  std::size_t requests_ = 0;
  bool keep_alive_ = false;
  bool reading_ = false;
  bool corked_ = false;
  const bool over_capacity_;
  SteadyClock::time_point started_;
};

Result<tcp::endpoint> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return fail(Code::invalid_input, "--listen must be HOST:PORT, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return fail(Code::invalid_input, "--listen: '" + host + "' is not an IP address");
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535)
    return fail(Code::invalid_input, "--listen: bad port in '" + listen + "'");
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

// Out of descriptors or memory: accepting again at once would fail again.
bool exhausted(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
         ec == net::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system;
}

// A worker thread's own event loop and acceptor. Every acceptor holds a
// duplicate of the one listening socket, so that each thread takes in
// connections itself and never waits for another; each keeps several accepts
// outstanding, so that a burst of connections is taken in at one wake-up.
// pauses are the accept loops' own timers.
struct Worker {
  explicit Worker(int listening_fd, const tcp::endpoint& endpoint)
      : acceptor(ioc, endpoint.protocol(), ::dup(listening_fd)) {}
  net::io_context ioc{1};
  tcp::acceptor acceptor;
  std::vector<std::unique_ptr<net::steady_timer>> pauses;
};

void accept(Worker& worker, Shared& shared, net::steady_timer& pause) {
  worker.acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !worker.acceptor.is_open()) return;
      if (exhausted(ec)) {  // until connections close; the backlog keeps waiting clients
        pause.expires_after(kAcceptPause);
        pause.async_wait([&](beast::error_code e) {
          if (!e) accept(worker, shared, pause);
        });
        return;
      }
    } else {
      beast::error_code ignore;
      socket.set_option(tcp::no_delay(true),
                        ignore);  // header and body must not wait on each other
      const bool over = shared.connections >= shared.max_connections;
      std::make_shared<Session>(std::move(socket), shared, over)->start();
    }
    accept(worker, shared, pause);
  });
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
  auto endpoint = parse_listen(options.listen);
  if (!endpoint) return fail(endpoint.error());
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
  net::io_context listening_ioc{1};
  tcp::acceptor listening(listening_ioc);
  beast::error_code ec;
  listening.open(endpoint->protocol(), ec);
  if (!ec) listening.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) listening.bind(*endpoint, ec);
  if (!ec) listening.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(Code::io, "cannot listen on " + options.listen + ": " + ec.message());
  auto bound = listening.local_endpoint();
  std::vector<std::unique_ptr<Worker>> workers;
  try {
    for (int i = 0; i < threads; ++i) {
      workers.push_back(std::make_unique<Worker>(listening.native_handle(), bound));
    }
  } catch (const boost::system::system_error& e) {
    return fail(Code::io, "cannot listen on " + options.listen + ": " + e.code().message());
  }
  listening.close(ec);

  {
    json rec{{"action", "serve"},
             {"listen", bound.address().to_string() + ":" + std::to_string(bound.port())}};
    if (auto s = ledger().record({{"serve", std::move(rec)}}); !s) return s;
  }
  // Each worker's acceptor and pauses are closed on its own thread.
  net::signal_set signals(workers.front()->ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    shared.draining = true;
    for (auto& w : workers) {
      net::post(w->ioc, [&worker = *w] {
        beast::error_code ignore;
        worker.acceptor.close(ignore);
        for (auto& p : worker.pauses) p->cancel();
      });
    }
    std::lock_guard lk(shared.mu);
    for (auto& weak : shared.sessions) {
      if (auto s = weak.lock()) std::static_pointer_cast<Session>(s)->drain();
    }
  });
  for (auto& w : workers) {
    for (int i = 0; i < 8; ++i) {
      w->pauses.push_back(std::make_unique<net::steady_timer>(w->ioc));
      accept(*w, shared, *w->pauses.back());
    }
  }
  if (options.on_ready)
    options.on_ready(bound.address().to_string() + ":" + std::to_string(bound.port()));

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

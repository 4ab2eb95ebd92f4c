#include "tls_stream.h"

#include <openssl/err.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <cerrno>

namespace airlock::repo::tls {

namespace net = boost::asio;
using boost::system::error_code;

SocketStream::State::State(tcp::socket s, SSL* handle)
    : socket(std::move(s)), ssl(handle), timer(socket.get_executor()) {}

SocketStream::SocketStream(tcp::socket socket, net::ssl::context& ctx) {
  error_code ec;
  socket.non_blocking(true, ec);
  SSL* ssl = ec ? nullptr : SSL_new(ctx.native_handle());
  // A write that waits for the socket is called again with the same bytes,
  // perhaps from another address (the staging buffer grows); the buffers
  // stay allocated between requests, as a busy connection needs them.
  if (ssl) SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (ssl && SSL_set_fd(ssl, socket.native_handle()) != 1) {
    SSL_free(ssl);
    ssl = nullptr;
  }
  ERR_clear_error();
  if (ssl) SSL_set_accept_state(ssl);
  state_ = std::make_shared<State>(std::move(socket), ssl);
  if (!ssl) state_->failure = ec ? ec : make_error_code(boost::system::errc::not_enough_memory);
}

void SocketStream::expires_after(Clock::duration d) {
  state_->deadline = Clock::now() + d;
  state_->timed_out = false;
}

void SocketStream::expires_never() {
  state_->deadline = Clock::time_point::max();
  state_->timed_out = false;
}

template <class Call>
Step SocketStream::State::attempt(Call call) {
  if (failure) return {Want::nothing, failure, 0};
  ERR_clear_error();
  errno = 0;
  std::size_t n = 0;
  const int r = call(n);
  Step s = outcome(r, errno);
  s.bytes = n;
  return s;
}

Step SocketStream::State::handshake() {
  return attempt([&](std::size_t&) { return SSL_do_handshake(ssl.get()); });
}

// As Asio's ssl::stream does: close_notify, then the client's.
Step SocketStream::State::shutdown() {
  return attempt([&](std::size_t&) {
    const int r = SSL_shutdown(ssl.get());
    return r == 0 ? SSL_shutdown(ssl.get()) : r;
  });
}

Step SocketStream::State::read(void* data, std::size_t size) {
  if (size == 0) return {};
  return attempt([&](std::size_t& n) { return SSL_read_ex(ssl.get(), data, size, &n); });
}

Step SocketStream::State::write(const void* data, std::size_t size) {
  if (size == 0) return {};
  return attempt([&](std::size_t& n) { return SSL_write_ex(ssl.get(), data, size, &n); });
}

Step SocketStream::State::outcome(int result, int saved_errno) {
  switch (SSL_get_error(ssl.get(), result)) {
    case SSL_ERROR_NONE:
      return {};
    case SSL_ERROR_WANT_READ:
      return {Want::read, {}, 0};
    case SSL_ERROR_WANT_WRITE:
      return {Want::write, {}, 0};
    case SSL_ERROR_ZERO_RETURN:  // close_notify: the connection may still say its own
      return {Want::nothing, net::error::eof, 0};
    case SSL_ERROR_SYSCALL: {
      const unsigned long e = ERR_get_error();
      if (e != 0) {
        failure = error_code(static_cast<int>(e), net::error::get_ssl_category());
      } else if (saved_errno != 0) {
        failure = error_code(saved_errno, boost::system::system_category());
      } else {
        failure = net::ssl::error::stream_truncated;
      }
      break;
    }
    case SSL_ERROR_SSL: {
      // OpenSSL 3 says the transport's end without close_notify this way;
      // Asio's stream, reading the socket itself, calls it truncation.
      const unsigned long e = ERR_get_error();
      failure = ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING
                    ? error_code(net::ssl::error::stream_truncated)
                    : error_code(static_cast<int>(e), net::error::get_ssl_category());
      break;
    }
    default:
      failure = net::ssl::error::unexpected_result;
  }
  ERR_clear_error();
  return {Want::nothing, failure, 0};
}

error_code SocketStream::State::waited(error_code ec) {
  if (ec == net::error::operation_aborted && timed_out) return boost::beast::error::timeout;
  return ec;
}

void SocketStream::State::arm(const std::shared_ptr<State>& self) {
  if (deadline == Clock::time_point::max() || armed_for <= deadline) return;
  armed_for = deadline;
  timer.expires_at(deadline);
  // Holds no reference: the stream may be gone when the timer ends.
  timer.async_wait([weak = std::weak_ptr<State>(self)](error_code ec) {
    if (ec) return;  // cancelled: armed again, or the stream is gone
    auto s = weak.lock();
    if (!s) return;
    s->armed_for = Clock::time_point::max();
    if (s->deadline == Clock::time_point::max()) return;
    if (Clock::now() < s->deadline) {
      if (s->waiting) s->arm(s);
      return;
    }
    s->timed_out = true;
    if (s->waiting) {
      error_code ignore;
      s->socket.cancel(ignore);
    }
  });
}

}  // namespace airlock::repo::tls

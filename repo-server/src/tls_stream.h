// HTTPS connections with OpenSSL reading and writing the socket itself: the
// ciphertext goes from OpenSSL to the kernel and back without a memory BIO
// in between, and Asio only says when the socket is ready.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace airlock::repo::tls {

// What one OpenSSL call left to do: nothing (done, with ec and the bytes it
// moved), or wait until the socket can be read or written and call again.
enum class Want { nothing, read, write };
struct Step {
  Want want = Want::nothing;
  boost::system::error_code ec;
  std::size_t bytes = 0;
};

// A server-side TLS connection over a TCP socket, for Beast's HTTP reads
// and writes (AsyncReadStream and AsyncWriteStream) and for the session's
// handshake and close_notify.
//
// Errors are those Asio's ssl::stream gives, so that tls::refusal reads
// them alike: an OpenSSL failure in Asio's SSL category with the queued
// error as its value; the transport's end without close_notify as
// ssl::error::stream_truncated; close_notify received as error::eof; a
// socket error as itself; a passed deadline as beast::error::timeout.
//
// Timeouts are Beast's tcp_stream's: expires_after sets a deadline for the
// operations that follow; when it passes, the one waiting completes with
// timeout. Not thread-safe: one operation of each direction at a time, on
// the socket's executor. After a failure other than a timeout the
// connection is finished: shutdown completes at once without writing.
class SocketStream {
  using tcp = boost::asio::ip::tcp;
  using Clock = std::chrono::steady_clock;

 public:
  using executor_type = tcp::socket::executor_type;

  // socket becomes non-blocking; the connection takes a reference to ctx's
  // SSL_CTX, so ctx may be replaced (a reload) while it lasts.
  SocketStream(tcp::socket socket, boost::asio::ssl::context& ctx);

  executor_type get_executor() { return state_->socket.get_executor(); }
  tcp::socket& socket() { return state_->socket; }
  SSL* native_handle() { return state_->ssl.get(); }

  void expires_after(Clock::duration d);
  void expires_never();

  // void(error_code): the server's side of the handshake.
  template <class Token>
  auto async_handshake(Token&& token) {
    return run<void(boost::system::error_code)>([s = state_.get()] { return s->handshake(); },
                                                std::forward<Token>(token));
  }

  // void(error_code): sends close_notify and waits for the client's.
  template <class Token>
  auto async_shutdown(Token&& token) {
    return run<void(boost::system::error_code)>([s = state_.get()] { return s->shutdown(); },
                                                std::forward<Token>(token));
  }

  // void(error_code, std::size_t): plaintext into the first non-empty buffer.
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && first.size() == 0; ++it)
      first = *it;
    return run<void(boost::system::error_code, std::size_t)>(
        [s = state_.get(), first] { return s->read(first.data(), first.size()); },
        std::forward<Token>(token));
  }

  // void(error_code, std::size_t): writes all of the first non-empty
  // buffer, or of all the buffers when together they fit one TLS record
  // (an HTTP header and a small body leave in one record and one write).
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    boost::asio::const_buffer first;
    std::size_t total = 0, count = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::const_buffer b = *it;
      if (b.size() == 0) continue;
      if (count++ == 0) first = b;
      total += b.size();
    }
    if (count > 1 && total <= kRecord) {
      auto& staging = state_->staging;
      staging.resize(total);
      boost::asio::buffer_copy(boost::asio::buffer(staging), buffers);
      first = boost::asio::buffer(staging);
    }
    return run<void(boost::system::error_code, std::size_t)>(
        [s = state_.get(), first] { return s->write(first.data(), first.size()); },
        std::forward<Token>(token));
  }

 private:
  static constexpr std::size_t kRecord = 16384;

  struct FreeSsl {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  // Shared with the deadline timer's handler, which may run after the
  // stream is gone.
  struct State {
    State(tcp::socket s, SSL* ssl);
    Step handshake();
    Step shutdown();
    Step read(void* data, std::size_t size);
    Step write(const void* data, std::size_t size);
    // Calls call(bytes) (an OpenSSL call that returns its result and sets
    // bytes), unless the connection already failed.
    template <class Call>
    Step attempt(Call call);
    // Step's outcome of an OpenSSL call that returned result.
    Step outcome(int result, int saved_errno);
    // The error a readiness wait that completed with ec means.
    boost::system::error_code waited(boost::system::error_code ec);
    void arm(const std::shared_ptr<State>& self);

    tcp::socket socket;
    std::unique_ptr<SSL, FreeSsl> ssl;
    boost::asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    // When the timer's pending wait ends (max: none pending). A wait that
    // ends before deadline leaves the timer to be armed again, so that a
    // deadline moved later does not cost a timer operation.
    Clock::time_point armed_for = Clock::time_point::max();
    bool waiting = false;  // a readiness wait is pending
    bool timed_out = false;
    boost::system::error_code failure;  // once set, every call ends with it
    std::vector<char> staging;          // small buffers gathered into one record
  };

  // Calls step until it is done, waiting for readiness in between; the
  // handler runs as if posted when step was done at once.
  template <class Signature, class StepFn, class Token>
  auto run(StepFn step, Token&& token) {
    constexpr bool kBytes = std::is_same_v<Signature, void(boost::system::error_code, std::size_t)>;
    return boost::asio::async_compose<Token, Signature>(Op<StepFn, kBytes>{state_, std::move(step)},
                                                        token, state_->socket);
  }

  template <class StepFn, bool kBytes>
  struct Op {
    std::shared_ptr<State> state;
    StepFn step;
    Step result{};
    bool waited = false;
    bool done = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code wait_ec = {}) {
      if (!done) {
        if (waited) {
          State& s = *state;
          s.waiting = false;
          wait_ec = s.waited(wait_ec);
          result = wait_ec ? Step{Want::nothing, wait_ec, 0} : step();
        } else {
          result = step();
        }
        if (result.want != Want::nothing) return wait(self);
        done = true;
        if (!waited) {
          auto ex = state->socket.get_executor();
          return boost::asio::post(ex, std::move(self));
        }
      }
      finish(self, result);
    }

    template <class Self>
    void wait(Self& self) {
      State& s = *state;
      waited = true;
      if (s.timed_out || !s.socket.is_open()) {
        result = {Want::nothing,
                  s.timed_out ? s.waited(boost::asio::error::operation_aborted)
                              : make_error_code(boost::asio::error::bad_descriptor),
                  0};
        done = true;
        auto ex = s.socket.get_executor();
        return boost::asio::post(ex, std::move(self));
      }
      s.arm(state);
      s.waiting = true;
      s.socket.async_wait(
          result.want == Want::read ? tcp::socket::wait_read : tcp::socket::wait_write,
          std::move(self));
    }

    template <class Self>
    static void finish(Self& self, const Step& r) {
      if constexpr (kBytes) {
        self.complete(r.ec, r.bytes);
      } else {
        self.complete(r.ec);
      }
    }
  };

  std::shared_ptr<State> state_;
};

}  // namespace airlock::repo::tls

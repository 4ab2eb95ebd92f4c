// The curl fetcher against a real loopback HTTP server, with its writes
// going through a fault-injecting Env: a local write failure (a full disk)
// is reported as such, with the file's path, and never retried.
#include "airlock/mirror/fetcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <thread>

#include "test_support.h"

namespace airlock::mirror {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// Answers every GET on 127.0.0.1 with 200 and body, counting the requests.
class OneBodyServer {
 public:
  explicit OneBodyServer(std::string body)
      : body_(std::move(body)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~OneBodyServer() {
    io_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }
  int requests() const { return requests_.load(); }

 private:
  struct Exchange {
    explicit Exchange(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
    http::request<http::empty_body> request;
    http::response<http::string_body> response;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto x = std::make_shared<Exchange>(std::move(socket));
      http::async_read(x->socket, x->buffer, x->request,
                       [this, x](boost::system::error_code read_ec, std::size_t) {
                         if (read_ec) return;
                         ++requests_;
                         x->response.result(http::status::ok);
                         x->response.keep_alive(false);
                         x->response.body() = body_;
                         x->response.prepare_payload();
                         http::async_write(x->socket, x->response,
                                           [x](boost::system::error_code, std::size_t) {});
                       });
      accept();
    });
  }

  std::string body_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> requests_{0};
};

// A fetch of 64 KiB from a loopback server into a temporary directory, its
// writes going through env.
class CurlFetcherTest : public ::testing::Test {
 protected:
  const std::string body = std::string(64 * 1024, 'x');
  airlock::testing::TempDir dir;
  airlock::testing::FaultEnv env;
  OneBodyServer server{body};
  FetchJob job{
      server.url("/pool/big.deb"), dir / "big.deb", sha256(body), body.size(), body.size(), {}, {}};

  FetchResult fetch() {
    FetchOptions options;
    options.backoff = std::chrono::milliseconds(1);
    auto results = make_curl_fetcher(env)->fetch({job}, options);
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? FetchResult{} : results[0];
  }
};

TEST_F(CurlFetcherTest, AFullDiskIsReportedWithThePathAndNotRetried) {
  env.write_budget = 1000;  // then ENOSPC
  auto r = fetch();
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, Code::io);
  EXPECT_EQ(r.error->message, job.dest.string() + ": write: No space left on device");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_FALSE(std::filesystem::exists(job.dest));  // its space is given back
}

TEST_F(CurlFetcherTest, WritesGoThroughTheEnvWhenThereIsRoom) {
  auto r = fetch();
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(airlock::testing::read_text(job.dest), body);
  EXPECT_GE(env.counts().at("write"), 1);
  EXPECT_EQ(server.requests(), 1);
}

}  // namespace
}  // namespace airlock::mirror

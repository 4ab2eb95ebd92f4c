// Fuzz target: the server's request handling without sockets — path
// decoding (decode_path) and the whole RequestHandler over a small store
// with one channel. The input is the request, one field a line: method,
// target, Range, If-None-Match, If-Modified-Since.
// Invariants: never crash; every answer has a status from 200 to 599; an
// object is answered (200/206) with a byte range inside the object and, when
// from memory, exactly that range's bytes; a decoded path has no NUL.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "airlock/repo/server.h"

namespace {

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<airlock::Store> store;
  std::unique_ptr<airlock::repo::RequestHandler> handler;

  Fixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fuzz-http-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    store = airlock::Store::open(dir / "store").value();
    auto batch = store->begin_batch().value();
    airlock::Snapshot snap;
    snap.repo = "debian";
    snap.kind = "apt";
    snap.upstream = "http://upstream.invalid/debian";
    const std::string packages = "Package: hello\nVersion: 1\n";
    const std::string release = "Origin: x\nSHA256:\n " + airlock::sha256(packages).hex() + " " +
                                std::to_string(packages.size()) + " main/binary-amd64/Packages\n";
    for (auto [path, bytes] :
         {std::pair<std::string, std::string>{"dists/bookworm/InRelease", release},
          {"dists/bookworm/main/binary-amd64/Packages", packages},
          {"pool/main/h/hello.deb", std::string(100000, 'h')}}) {
      snap.entries.push_back({path, batch.put_bytes(bytes).value(), bytes.size()});
    }
    auto id = batch.add_snapshot(snap).value();
    batch.set_ref("channel/prod/debian", id, "{}");
    if (!batch.commit()) std::abort();
    handler = std::make_unique<airlock::repo::RequestHandler>(*store);
  }
  ~Fixture() {
    handler.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The next line of input, consumed.
std::string line(std::string_view& in) {
  auto nl = in.find('\n');
  std::string out(in.substr(0, nl));
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  airlock::repo::HttpRequest req;
  req.method = line(in);
  req.target = line(in);
  req.range = line(in);
  req.if_none_match = line(in);
  req.if_modified_since = line(in);
  if (auto path = airlock::repo::decode_path(req.target);
      path && path->find('\0') != std::string::npos) {
    std::abort();
  }
  auto r = fixture().handler->handle(req);
  if (r.status < 200 || r.status > 599) std::abort();
  if (r.status == 200 || r.status == 206) {
    if (r.object) {
      auto object = fixture().store->open_object(*r.object);
      if (!object || r.offset > object->size || r.length > object->size - r.offset) std::abort();
      if (!r.file && r.content().size() != r.length) std::abort();
    }
  }
  return 0;
}

// Fuzz target: InRelease splitting and Release parsing (formats/).
// Invariants: never crash; what splits as a clearsigned message has a
// signature block from BEGIN to END line; every by-hash address a parsed
// Release implies maps to a file it lists, under the Release's directory.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "airlock/formats/clearsign.h"
#include "airlock/formats/release.h"

namespace {

void parse(std::string_view text) {
  auto release = airlock::apt::parse_release(text);
  if (!release) return;
  for (const auto& f : release->files) {
    if (release->find(f.path) == nullptr) std::abort();
  }
  for (const auto& [address, path] : airlock::apt::by_hash_paths(*release, "dists/fuzz")) {
    if (!address.starts_with("dists/fuzz/") || !path.starts_with("dists/fuzz/")) std::abort();
  }
  for (const char* field : {"Date", "Valid-Until"}) {
    if (auto it = release->fields.find(field); it != release->fields.end()) {
      (void)airlock::apt::parse_rfc2822(it->second);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  parse(bytes);
  auto signed_message = airlock::formats::split_clearsigned(bytes);
  if (!signed_message) return 0;
  if (!signed_message->signature.starts_with("-----BEGIN PGP SIGNATURE-----\n") ||
      !signed_message->signature.ends_with("-----END PGP SIGNATURE-----\n")) {
    std::abort();
  }
  parse(signed_message->text);
  return 0;
}

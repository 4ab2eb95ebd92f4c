// Fuzz target: signed checkpoint notes (verify/checkpoint.h).
// Invariants: never crash; a note that verifies names a key it was given,
// and signing its checkpoint again under the same name gives a note that
// verifies to the same checkpoint.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "airlock/verify/checkpoint.h"
#include "fuzz_key.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view note(reinterpret_cast<const char*>(data), size);
  const airlock::PrivateKey& key = airlock::fuzz::corpus_key();
  const airlock::PublicKey keys[] = {key.public_key()};
  auto v = airlock::verify_checkpoint(note, keys);
  if (!v) return 0;
  if (v->key != key.public_key().id()) std::abort();
  auto again = airlock::sign_checkpoint(v->checkpoint, key, v->signer);
  if (!again) std::abort();
  auto w = airlock::verify_checkpoint(*again, keys);
  if (!w || w->checkpoint != v->checkpoint || w->signer != v->signer) std::abort();
  return 0;
}

// Fuzz target: transfer-log inclusion proofs (verify_proof in transfer/log.h).
// Invariants: never crash; a proof that verifies is for a record inside the
// tree its checkpoint signs, and a checkpoint bound to the key that signed it.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "airlock/transfer/log.h"
#include "fuzz_key.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view proof(reinterpret_cast<const char*>(data), size);
  const airlock::PublicKey keys[] = {airlock::fuzz::corpus_key().public_key()};
  auto v = airlock::verify_proof(proof, keys);
  if (!v) return 0;
  if (v->n >= v->checkpoint.size || v->checkpoint.origin != airlock::log_origin(keys[0])) {
    std::abort();
  }
  return 0;
}

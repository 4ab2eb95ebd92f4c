// The key the fuzz targets that check signatures trust: tests/fuzz/make-corpus
// signs the corpus with the Ed25519 key of the same seed (32 bytes of 7).
#pragma once

#include <cstdint>
#include <vector>

#include "airlock/verify/ed25519.h"

namespace airlock::fuzz {

inline const PrivateKey& corpus_key() {
  static const PrivateKey k = PrivateKey::from_seed(std::vector<std::uint8_t>(32, 7)).value();
  return k;
}

}  // namespace airlock::fuzz

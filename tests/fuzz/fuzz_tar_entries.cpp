// Fuzz target: the entry checks a bundle's tar stream passes.
// Invariants: never crash; when the checks pass, the sink received exactly
// the manifest's objects, each once, in order, with bytes that hash to its
// name — no unlisted, misnamed or altered bytes ever reach a sink.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "airlock/transfer/bundle.h"

namespace {

const std::string kObjects[] = {"hello", "world!", std::string(700, 'x')};

const airlock::Manifest& manifest() {
  static const airlock::Manifest m = [] {
    airlock::Manifest out;
    for (const auto& o : kObjects) out.objects.push_back({airlock::sha256(o), o.size()});
    std::sort(out.objects.begin(), out.objects.end(),
              [](const auto& a, const auto& b) { return a.sha256 < b.sha256; });
    out.archive_size = airlock::tar_size_for(out.objects);
    return out;
  }();
  return m;
}

class CheckingSink : public airlock::BundleSink {
 public:
  airlock::Status begin(const airlock::BundleObject& object) override {
    current_ = object;
    bytes_.clear();
    return {};
  }
  airlock::Status write(std::span<const std::uint8_t> bytes) override {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return {};
  }
  airlock::Status end() override {
    if (airlock::sha256(std::span(bytes_)) != current_.sha256 || bytes_.size() != current_.size) {
      std::abort();  // the reader let bytes through that do not match their name
    }
    received.push_back(current_);
    return {};
  }
  std::vector<airlock::BundleObject> received;

 private:
  airlock::BundleObject current_;
  std::vector<std::uint8_t> bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  CheckingSink sink;
  auto s = airlock::check_tar_entries(manifest(), std::span(data, size), sink);
  if (s && sink.received != manifest().objects) std::abort();
  return 0;
}

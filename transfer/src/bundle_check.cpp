#include "airlock/transfer/bundle_check.h"

#include "airlock/base/file.h"

namespace airlock {

Result<BundleCheck> check_bundle(const std::filesystem::path& dir, const TrustPolicy& trust,
                                 TimePoint now, const BundleCheckOptions& options) {
  auto manifest = read_manifest(dir, trust, now);
  if (!manifest) return fail(manifest.error());
  BundleCheck out{std::move(*manifest), 0, options.volumes_only.empty(), {}};
  const Manifest& m = out.manifest.manifest;
  for (const auto& v : m.volumes) out.volume_bytes += v.size;
  if (!options.volumes_only.empty()) {
    auto missing = check_present_volumes(m, options.volumes_only);
    if (!missing) return fail(missing.error());
    out.missing_volumes = std::move(*missing);
    return out;
  }
  std::vector<std::filesystem::path> dirs{dir};
  dirs.insert(dirs.end(), options.volume_dirs.begin(), options.volume_dirs.end());
  DiscardSink sink;
  if (auto s = extract_bundle(m, dirs, sink, options.objects_progress, options.volumes_progress);
      !s)
    return fail(s.error());
  return out;
}

Result<BundleReview> review_bundle(const std::filesystem::path& dir,
                                   const std::vector<TrustedKey>& known, TimePoint now,
                                   const BundleCheckOptions& options) {
  auto raw = read_file(dir / "manifest.json", kMaxManifestBytes);
  if (!raw) return fail(raw.error());
  auto sig_text = read_file(dir / "manifest.sig.json", kMaxSignaturesBytes);
  if (!sig_text) return fail(sig_text.error());
  auto sigs = parse_signatures(*sig_text);
  if (!sigs) return fail(sigs.error());
  BundleReview out;
  for (const auto& s : *sigs) {
    SignerStatus st{s.keyid, {}, SignerStatus::unknown};
    for (const auto& k : known) {
      if (k.key.id() != s.keyid) continue;
      st.name = k.name;
      auto v = k.key.verify(*raw, s.sig);
      if (!v) return fail(v.error());
      st.state = *v == Verdict::valid ? SignerStatus::valid : SignerStatus::invalid;
    }
    if (st.state == SignerStatus::invalid) {
      return fail(Code::refused,
                  "the signature by " + st.name + " (key " + st.keyid.hex() +
                      ") does not verify: manifest.json changed after it was signed");
    }
    out.signers.push_back(std::move(st));
  }
  TrustPolicy any;
  any.threshold = 0;  // every check but the threshold
  auto check = check_bundle(dir, any, now, options);
  if (!check) return fail(check.error());
  out.check = std::move(*check);
  return out;
}

}  // namespace airlock

#include "airlock/transfer/bundle_check.h"

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
  if (auto s = check_volumes(m, dirs, options.volumes_progress); !s) return fail(s.error());
  DiscardSink sink;
  if (auto s = extract_bundle(m, dirs, sink, options.objects_progress); !s) return fail(s.error());
  return out;
}

}  // namespace airlock

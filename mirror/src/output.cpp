#include "airlock/mirror/output.h"

#include "airlock/base/cli.h"
#include "airlock/base/text.h"
#include "airlock/transfer/changes.h"

namespace airlock::mirror {
using json = nlohmann::json;

namespace {

// "name" padded to width, then the value escaped for a terminal.
void line(std::ostream& out, std::string_view name, std::size_t width, std::string_view value) {
  out << name << std::string(name.size() < width ? width - name.size() : 1, ' ')
      << escape_for_terminal(value) << "\n";
}

std::string short_id(const Digest& d) { return d.hex().substr(0, 12); }

// "  filter: 1 matched, 6 added as dependencies", for a filtered repository.
void print_filter(std::ostream& out, const SyncReport& r) {
  if (!r.filtered) return;
  out << "  filter: " << r.packages_selected << " matched, " << r.added.size()
      << " added as dependencies";
  if (!r.unsatisfied.empty()) out << ", " << r.unsatisfied.size() << " not satisfiable";
  out << "\n";
}

// "  skipped 1 index file the Release lists but the upstream does not serve:
// dists/bookworm/main/binary-amd64/Packages.gz".
void print_skipped(std::ostream& out, const SyncReport& r) {
  if (r.skipped.empty()) return;
  std::string paths;
  for (const auto& p : r.skipped) paths += (paths.empty() ? "" : ", ") + p;
  out << "  skipped " << cli::count(r.skipped.size(), "index file")
      << " the Release lists but the upstream does not serve: " << escape_for_terminal(paths)
      << "\n";
}

void print_one_sync(std::ostream& out, const SyncReport& r) {
  const std::string id = r.snapshot ? r.snapshot->hex() : "none";
  const std::string why = r.selection_changed ? "; the selection changed" : "";
  if (r.dry_run) {
    out << escape_for_terminal(r.repo) << ": would fetch " << r.pool_missing << " pool files ("
        << cli::human_bytes(r.bytes_missing) << ") of " << r.pool_files << " selected ("
        << cli::human_bytes(r.pool_bytes) << "); " << r.metadata_fetched
        << " metadata files checked" << (r.unchanged ? "; upstream unchanged" : why) << "\n";
  } else if (r.unchanged) {
    out << escape_for_terminal(r.repo) << ": unchanged, snapshot " << id << "\n";
  } else {
    out << escape_for_terminal(r.repo) << ": snapshot " << id << why << "\n"
        << "  " << cli::count(r.pool_files, "package") << " (" << cli::human_bytes(r.pool_bytes)
        << "), fetched " << cli::count(r.metadata_fetched + r.pool_fetched, "file") << " ("
        << cli::human_bytes(r.bytes_fetched) << ")\n";
  }
  print_filter(out, r);
  print_skipped(out, r);
}

// "sample: airlock-orphan 1.0-1 (amd64) Depends: airlock-gone (>= 1): nothing
// in the indices satisfies it"; "(all, for amd64)" names the architecture an
// arch all package was resolved for.
std::string describe(const std::string& repo, const apt::UnsatisfiedDependency& u) {
  std::string arch = u.architecture;
  if (u.context != u.architecture) arch += ", for " + u.context;
  return repo + ": " + u.package + " " + u.version + " (" + arch + ") " + u.field + ": " +
         u.relation + ": nothing in the indices satisfies it";
}

json package_json(const PackageVersion& p) {
  return {{"name", p.package}, {"architecture", p.architecture}, {"version", p.version}};
}

json unsatisfied_json(const apt::UnsatisfiedDependency& u) {
  return {{"package", u.package}, {"version", u.version}, {"architecture", u.architecture},
          {"context", u.context}, {"field", u.field},     {"relation", u.relation}};
}

}  // namespace

json to_json(const InitReport& r) {
  return {{"home", r.home.string()},
          {"config", r.config.string()},
          {"new_config", r.new_config},
          {"log_key", r.log_pub.string()},
          {"new_key", r.new_key}};
}

void print_init(std::ostream& out, const InitReport& r) {
  line(out, "home", 9, r.home.string());
  line(out, "config", 9,
       r.config.string() + (r.new_config ? " (template: add your [[repo]] tables)" : " (kept)"));
  line(out, "log key", 9, r.log_pub.string() + (r.new_key ? " (new)" : " (kept)"));
}

json to_json(const KeyReport& r) {
  return {{"name", r.name},
          {"key", r.key_file.string()},
          {"public", r.public_file.string()},
          {"keyid", r.keyid.hex()}};
}

void print_key(std::ostream& out, const KeyReport& r) {
  line(out, "key", 9, r.key_file.string());
  line(out, "public", 9, r.public_file.string());
  line(out, "key id", 9, r.keyid.hex());
}

json to_json(const std::vector<RepoSync>& results) {
  json out = json::array();
  for (const auto& [repo, report] : results) {
    if (!report) continue;
    const auto& r = *report;
    out.push_back({{"repo", r.repo},
                   {"unchanged", r.unchanged},
                   {"snapshot", r.snapshot ? json(r.snapshot->hex()) : json(nullptr)},
                   {"pool_files", r.pool_files},
                   {"pool_bytes", r.pool_bytes},
                   {"fetched_files", r.metadata_fetched + r.pool_fetched},
                   {"fetched_bytes", r.bytes_fetched},
                   {"dry_run", r.dry_run},
                   {"would_fetch_files", r.pool_missing},
                   {"would_fetch_bytes", r.bytes_missing},
                   {"selection_changed", r.selection_changed},
                   {"filtered", r.filtered},
                   {"packages", r.packages},
                   {"packages_selected", r.packages_selected},
                   {"packages_added", r.added.size()}});
    auto& one = out.back();
    one["added"] = json::array();
    for (const auto& p : r.added) one["added"].push_back(package_json(p));
    one["unsatisfied"] = json::array();
    for (const auto& u : r.unsatisfied) one["unsatisfied"].push_back(unsatisfied_json(u));
    one["skipped"] = r.skipped;
  }
  return out;
}

void print_sync(std::ostream& out, const std::vector<RepoSync>& results) {
  for (const auto& [repo, report] : results) {
    if (report) print_one_sync(out, *report);
  }
}

int print_sync_problems(std::ostream& err, std::string_view program,
                        const std::vector<RepoSync>& results) {
  int rc = 0;
  for (const auto& [repo, report] : results) {
    if (report) {
      for (const auto& u : report->unsatisfied) {
        err << program << ": warning: " << escape_for_terminal(describe(repo, u)) << "\n";
      }
      continue;
    }
    err << program << ": " << escape_for_terminal(report.error().message) << "\n";
    rc = exit_code(report.error());
  }
  return rc;
}

json to_json(const std::vector<SnapshotInfo>& snapshots) {
  json out = json::array();
  for (const auto& s : snapshots) {
    json one;
    one["id"] = s.id.hex();
    one["repo"] = s.repo;
    one["kind"] = s.kind;
    one["synced_at"] = format_time(s.synced_at);
    one["files"] = s.entries;
    one["bytes"] = s.bytes;
    out.push_back(std::move(one));
  }
  return out;
}

json to_json(const SnapshotView& view) { return snapshot_view_json(view); }

void print_snapshots(std::ostream& out, const std::vector<SnapshotInfo>& snapshots) {
  for (const auto& s : snapshots) {
    out << s.id.hex() << "  " << format_time(s.synced_at) << "  " << escape_for_terminal(s.repo)
        << "  " << s.entries << " files  " << cli::human_bytes(s.bytes) << "\n";
  }
}

json to_json(const DiffReport& report) {
  return {{"from", report.from.hex()},
          {"to", report.to.hex()},
          {"changes", changes_json({report.changes})}};
}

void print_diff(std::ostream& out, const DiffReport& report) {
  print_changes(out, {report.changes});
}

json to_json(const ExportSummary& s) {
  const auto& b = s.bundle;
  const auto& m = b.manifest;
  return {{"bundle", b.dir.string()},
          {"stream", m.stream},
          {"sequence", m.sequence},
          {"kind", m.kind},
          {"manifest_sha256", b.manifest_sha256.hex()},
          {"volumes", m.volumes.size()},
          {"volume_bytes", b.bytes},
          {"objects", m.objects.size()},
          {"bytes", m.payload_size()},
          {"changes", changes_json(s.changes)}};
}

void print_export(std::ostream& out, const ExportSummary& s) {
  const auto& b = s.bundle;
  const auto& m = b.manifest;
  line(out, "bundle", 11, b.dir.string());
  line(out, "sequence", 11,
       std::to_string(m.sequence) + " (" + m.kind +
           (m.previous ? ", previous " + short_id(*m.previous) : std::string()) + ")");
  line(out, "manifest", 11, "sha256 " + b.manifest_sha256.hex());
  line(out, "volumes", 11,
       std::to_string(m.volumes.size()) + " (" + cli::human_bytes(b.bytes) + ")");
  line(out, "objects", 11,
       std::to_string(m.objects.size()) + " (" + cli::human_bytes(m.payload_size()) + ")");
  for (const auto& snap : m.snapshots) line(out, "snapshot", 11, snap.repo + " " + snap.id.hex());
  line(out, "expires", 11, format_time(m.expires));
  out << (m.kind == "full" || s.first ? "packages it carries (against nothing before it):\n"
                                      : "changes since the previous bundle of the stream:\n");
  print_changes(out, s.changes);
}

namespace {

const char* state_name(SignerStatus::State s) {
  switch (s) {
    case SignerStatus::valid:
      return "verified";
    case SignerStatus::invalid:
      return "does not verify";
    case SignerStatus::unknown:
      return "unknown key";
  }
  return "unknown key";
}

}  // namespace

json to_json(const SignReport& r) {
  json before = json::array();
  for (const auto& k : r.signers_before) before.push_back(k.hex());
  json signers = json::array();
  for (const auto& s : r.review.signers) {
    signers.push_back({{"keyid", s.keyid.hex()}, {"name", s.name}, {"state", state_name(s.state)}});
  }
  return {{"bundle", r.bundle.string()},
          {"keyid", r.keyid.hex()},
          {"manifest_sha256", r.manifest_sha256.hex()},
          {"signers_before", before},
          {"signers", signers},
          {"changes", changes_json(r.review.check.manifest.manifest.changes)},
          {"logged", r.logged}};
}

void print_review(std::ostream& out, const BundleReview& r) {
  const auto& m = r.check.manifest.manifest;
  line(out, "bundle", 11,
       bundle_dir_name(m.stream, m.sequence) + " (sequence " + std::to_string(m.sequence) + ", " +
           m.kind + (m.previous ? ", previous " + short_id(*m.previous) : std::string()) + ")");
  line(out, "manifest", 11, "sha256 " + r.check.manifest.sha256.hex());
  line(out, "checked", 11,
       std::to_string(m.objects.size()) + " objects (" + cli::human_bytes(m.payload_size()) +
           ") in " + std::to_string(m.volumes.size()) +
           " volume(s): every byte matches the manifest");
  line(out, "expires", 11, format_time(m.expires));
  for (const auto& s : r.signers) {
    line(out, "signed by", 11,
         (s.name.empty() ? std::string("key ") : s.name + ", key ") + s.keyid.hex().substr(0, 16) +
             " (" + state_name(s.state) + ")");
  }
  if (r.signers.empty()) line(out, "signed by", 11, "nobody yet");
  out << (m.kind == "full" || !m.previous ? "packages it carries:\n"
                                          : "changes since the previous bundle of the stream:\n");
  print_changes(out, m.changes);
}

void print_sign(std::ostream& out, const SignReport& r) {
  out << "signed " << escape_for_terminal(r.bundle.string()) << " with key " << r.keyid.hex()
      << "\n";
}

}  // namespace airlock::mirror

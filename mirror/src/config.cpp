#include "airlock/mirror/config.h"

#include <toml++/toml.h>

#include <set>

#include "airlock/base/file.h"

namespace airlock::mirror {
namespace {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return s != "." && s != ".." && s.front() != '-';
}

bool valid_word(std::string_view s) {
  if (s.empty() || s.size() > 128 || s.find("..") != std::string_view::npos || s.front() == '/')
    return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '/' || c == '+';
    if (!ok) return false;
  }
  return true;
}

// Reads one [[repo]] table. Every refusal is invalid_input naming the file,
// the repository (once its name is read; '?' before) and the field.
class RepoReader {
 public:
  RepoReader(const toml::table& t, const std::string& origin) : t_(t), origin_(origin) {}

  // names: the repositories read so far, to which this one's name is added.
  Result<RepoConfig> read(std::set<std::string>& names) {
    if (auto s = check_keys(); !s) return fail(s.error());
    if (auto s = read_identity(names); !s) return fail(s.error());
    if (auto s = read_lists(); !s) return fail(s.error());
    if (auto s = read_trust(); !s) return fail(s.error());
    if (auto s = read_limits(); !s) return fail(s.error());
    return std::move(r_);
  }

 private:
  std::unexpected<Error> bad(const std::string& what) const {
    return fail(Code::invalid_input,
                origin_ + ": repo '" + (r_.name.empty() ? "?" : r_.name) + "': " + what);
  }

  std::optional<std::string> str(const char* key) const {
    if (auto v = t_[key].value<std::string>()) return *v;
    return std::nullopt;
  }

  // An absent list leaves out as it is.
  Status list(const char* key, std::vector<std::string>& out) const {
    auto* node = t_[key].node();
    if (!node) return {};
    auto* arr = node->as_array();
    if (!arr) return bad(std::string(key) + " must be a list of strings");
    for (auto& item : *arr) {
      auto v = item.value<std::string>();
      if (!v) return bad(std::string(key) + " must be a list of strings");
      out.push_back(*v);
    }
    return {};
  }

  // An absent flag leaves out at its default.
  Status flag(const char* key, bool& out) const {
    if (auto v = t_[key].node()) {
      auto b = v->value_exact<bool>();
      if (!b) return bad(std::string(key) + " must be true or false");
      out = *b;
    }
    return {};
  }

  Status check_keys() const {
    static const std::set<std::string> known = {"name",
                                                "kind",
                                                "url",
                                                "suites",
                                                "components",
                                                "architectures",
                                                "keyring",
                                                "packages",
                                                "translations",
                                                "check_valid_until",
                                                "with_dependencies",
                                                "min_rate",
                                                "stall_timeout",
                                                "check_signature"};
    for (auto&& [key, _] : t_) {
      const std::string name(key.str());
      if (!known.contains(name)) return bad("unknown key '" + name + "'");
    }
    return {};
  }

  // An absent number leaves out at its default; a present one must be a
  // whole number from 1 to max.
  Status number(const char* key, std::int64_t max, std::int64_t& out) const {
    auto* node = t_[key].node();
    if (!node) return {};
    auto v = node->value_exact<std::int64_t>();
    if (!v || *v < 1 || *v > max) {
      return bad(std::string(key) + " must be a whole number from 1 to " + std::to_string(max));
    }
    out = *v;
    return {};
  }

  // min_rate and stall_timeout: when a download is too slow to go on.
  Status read_limits() {
    auto rate = static_cast<std::int64_t>(r_.min_rate);
    if (auto s = number("min_rate", 1ll << 30, rate); !s) return s;
    r_.min_rate = static_cast<std::uint64_t>(rate);
    return number("stall_timeout", 86400, r_.stall_timeout);
  }

  // name, kind and url: which repository, and where it is.
  Status read_identity(std::set<std::string>& names) {
    r_.name = str("name").value_or("");
    if (!valid_name(r_.name)) return bad("name must be 1-64 characters of a-z 0-9 - _ .");
    if (!names.insert(r_.name).second) return bad("a repo of this name is already configured");
    r_.kind = str("kind").value_or("");
    if (r_.kind != "apt" && r_.kind != "rpm" && r_.kind != "files") {
      return bad("kind must be \"apt\", \"rpm\" or \"files\"");
    }
    r_.url = str("url").value_or("");
    if (!(r_.url.starts_with("http://") || r_.url.starts_with("https://")) || r_.url.size() < 10) {
      return bad("url must be an http:// or https:// address");
    }
    while (r_.url.ends_with('/')) r_.url.pop_back();
    return {};
  }

  // The keys that only mean something for another kind of repository.
  Status check_kind_keys() const {
    static const std::set<std::string> apt_only = {"suites", "components", "architectures",
                                                   "translations", "check_valid_until"};
    static const std::set<std::string> filters = {"packages", "with_dependencies"};
    for (auto&& [key, _] : t_) {
      const std::string name(key.str());
      bool applies = r_.kind == "apt" ? name != "check_signature"
                                      : !apt_only.contains(name) &&
                                            (r_.kind != "files" || !filters.contains(name));
      if (!applies) return bad("key '" + name + "' does not apply to kind \"" + r_.kind + "\"");
    }
    return {};
  }

  // suites, components, architectures, packages and with_dependencies:
  // what to mirror.
  Status read_lists() {
    if (auto s = check_kind_keys(); !s) return s;
    if (r_.kind != "apt") {
      if (auto s = list("packages", r_.packages); !s) return s;
      return flag("with_dependencies", r_.with_dependencies);
    }
    for (auto [key, out] :
         {std::pair{"suites", &r_.suites}, std::pair{"components", &r_.components},
          std::pair{"architectures", &r_.architectures}, std::pair{"packages", &r_.packages}}) {
      if (auto s = list(key, *out); !s) return s;
    }
    if (r_.suites.empty()) return bad("suites must list at least one suite");
    if (r_.components.empty()) return bad("components must list at least one component");
    if (r_.architectures.empty()) return bad("architectures must list at least one architecture");
    for (const auto* l : {&r_.suites, &r_.components, &r_.architectures}) {
      for (const auto& w : *l) {
        if (!valid_word(w)) {
          return bad("'" + w + "' is not a valid suite, component or architecture");
        }
      }
    }
    return flag("with_dependencies", r_.with_dependencies);
  }

  // keyring, check_valid_until and translations: how the upstream is checked.
  Status read_trust() {
    if (auto s = flag("check_signature", r_.check_signature); !s) return s;
    auto keyring = str("keyring");
    if ((!keyring || keyring->empty()) && r_.check_signature) {
      return bad("keyring (the upstream's OpenPGP keyring) is required");
    }
    if (!keyring) return {};
    r_.keyring = *keyring;
    if (auto s = flag("check_valid_until", r_.check_valid_until); !s) return s;
    return flag("translations", r_.translations);
  }

  const toml::table& t_;
  const std::string& origin_;
  RepoConfig r_;
};

}  // namespace

const RepoConfig* MirrorConfig::find(std::string_view name) const {
  for (const auto& r : repos) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

Result<MirrorConfig> MirrorConfig::parse(std::string_view text, const std::string& origin) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return fail(Code::invalid_input,
                origin + ":" + std::to_string(where.line) + ": " + std::string(e.description()));
  }
  MirrorConfig config;
  for (auto&& [key, _] : doc) {
    if (key.str() != "repo") {
      return fail(Code::invalid_input,
                  origin + ": unknown top-level key '" + std::string(key.str()) + "'");
    }
  }
  auto* repos = doc["repo"].as_array();
  if (!repos) {
    if (doc.contains("repo"))
      return fail(Code::invalid_input, origin + ": 'repo' must be [[repo]] tables");
    return config;
  }
  std::set<std::string> names;
  for (auto& node : *repos) {
    auto* t = node.as_table();
    if (!t) return fail(Code::invalid_input, origin + ": each [[repo]] must be a table");
    auto r = RepoReader(*t, origin).read(names);
    if (!r) return fail(r.error());
    config.repos.push_back(std::move(*r));
  }
  return config;
}

Result<MirrorConfig> MirrorConfig::load(const std::filesystem::path& path) {
  auto text = read_file(path, 1 << 20);
  if (!text) return fail(text.error());
  return parse(*text, path.string());
}

std::string config_template() {
  return R"(# airlock-mirror configuration: the upstream repositories this home mirrors.
# One [[repo]] table per repository. After editing, run:
#   airlock-mirror --home DIR sync
#
# [[repo]]
# name = "debian-security"          # your name for it: channel paths and bundles use it
# kind = "apt"                      # apt | rpm | files
# url = "http://deb.debian.org/debian-security"
# suites = ["bookworm-security"]
# components = ["main"]
# architectures = ["amd64"]
# keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"   # checked with gpgv, as apt's Signed-By
# packages = ["openssl", "curl*"]  # optional globs: these and what they depend on; indices stay whole
# with_dependencies = true          # false: carry only the packages the globs match
# check_valid_until = true          # refuse metadata past its Valid-Until
# translations = true               # also fetch i18n/Translation-en when listed
# min_rate = 1024                   # bytes/s: a download slower than this for stall_timeout
# stall_timeout = 30                #   seconds is cut off, and each must end within
#                                   #   stall_timeout + its size / min_rate seconds
#
# [[repo]]
# name = "rocky-baseos"
# kind = "rpm"                      # repodata/repomd.xml + repomd.xml.asc checked with gpgv
# url = "https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os"
# keyring = "/etc/airlock/keys/rocky.gpg"
# check_signature = true            # false: accept an unsigned repomd.xml (recorded in each snapshot)
#
# [[repo]]
# name = "firmware"
# kind = "files"                    # SHA256SUMS + SHA256SUMS.gpg, or a clearsigned SHA256SUMS
# url = "https://vendor.example/firmware"
# keyring = "/etc/airlock/keys/vendor-files.gpg"
)";
}

}  // namespace airlock::mirror

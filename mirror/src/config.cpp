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
  if (s.empty() || s.size() > 128 || s.find("..") != std::string_view::npos || s.front() == '/') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '/' || c == '+';
    if (!ok) return false;
  }
  return true;
}

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
    return fail(Code::invalid_input, origin + ":" + std::to_string(where.line) + ": " +
                                         std::string(e.description()));
  }
  MirrorConfig config;
  for (auto&& [key, _] : doc) {
    if (key.str() != "repo") {
      return fail(Code::invalid_input, origin + ": unknown top-level key '" + std::string(key.str()) + "'");
    }
  }
  auto* repos = doc["repo"].as_array();
  if (!repos) {
    if (doc.contains("repo")) return fail(Code::invalid_input, origin + ": 'repo' must be [[repo]] tables");
    return config;
  }
  std::set<std::string> names;
  for (auto& node : *repos) {
    auto* t = node.as_table();
    if (!t) return fail(Code::invalid_input, origin + ": each [[repo]] must be a table");
    RepoConfig r;
    auto bad = [&](const std::string& what) {
      return fail(Code::invalid_input,
                  origin + ": repo '" + (r.name.empty() ? "?" : r.name) + "': " + what);
    };
    static const std::set<std::string> known = {
        "name", "kind", "url", "suites", "components", "architectures", "keyring", "packages",
        "check_valid_until", "translations"};
    for (auto&& [key, _] : *t) {
      if (!known.contains(std::string(key.str()))) return bad("unknown key '" + std::string(key.str()) + "'");
    }
    auto str = [&](const char* key) -> std::optional<std::string> {
      if (auto v = (*t)[key].value<std::string>()) return *v;
      return std::nullopt;
    };
    auto list = [&](const char* key, std::vector<std::string>& out) -> Status {
      auto* node = (*t)[key].node();
      if (!node) return {};
      auto* arr = node->as_array();
      if (!arr) return bad(std::string(key) + " must be a list of strings");
      for (auto& item : *arr) {
        auto v = item.value<std::string>();
        if (!v) return bad(std::string(key) + " must be a list of strings");
        out.push_back(*v);
      }
      return {};
    };
    r.name = str("name").value_or("");
    if (!valid_name(r.name)) return bad("name must be 1-64 characters of a-z 0-9 - _ .");
    if (!names.insert(r.name).second) return bad("a repo of this name is already configured");
    r.kind = str("kind").value_or("");
    if (r.kind != "apt") {
      if (r.kind == "rpm" || r.kind == "files") return bad("kind '" + r.kind + "' is not supported yet");
      return bad("kind must be \"apt\"");
    }
    r.url = str("url").value_or("");
    if (!(r.url.starts_with("http://") || r.url.starts_with("https://")) || r.url.size() < 10) {
      return bad("url must be an http:// or https:// address");
    }
    while (r.url.ends_with('/')) r.url.pop_back();
    for (auto [key, out] : {std::pair{"suites", &r.suites}, std::pair{"components", &r.components},
                            std::pair{"architectures", &r.architectures}, std::pair{"packages", &r.packages}}) {
      if (auto s = list(key, *out); !s) return fail(s.error());
    }
    if (r.suites.empty()) return bad("suites must list at least one suite");
    if (r.components.empty()) return bad("components must list at least one component");
    if (r.architectures.empty()) return bad("architectures must list at least one architecture");
    for (const auto* l : {&r.suites, &r.components, &r.architectures}) {
      for (const auto& w : *l) {
        if (!valid_word(w)) return bad("'" + w + "' is not a valid suite, component or architecture");
      }
    }
    auto keyring = str("keyring");
    if (!keyring || keyring->empty()) return bad("keyring (the upstream's OpenPGP keyring) is required");
    r.keyring = *keyring;
    if (auto v = (*t)["check_valid_until"].node()) {
      auto b = v->value<bool>();
      if (!b) return bad("check_valid_until must be true or false");
      r.check_valid_until = *b;
    }
    if (auto v = (*t)["translations"].node()) {
      auto b = v->value<bool>();
      if (!b) return bad("translations must be true or false");
      r.translations = *b;
    }
    config.repos.push_back(std::move(r));
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
# kind = "apt"                      # apt (rpm and files are planned)
# url = "http://deb.debian.org/debian-security"
# suites = ["bookworm-security"]
# components = ["main"]
# architectures = ["amd64"]
# keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"   # checked with gpgv, as apt's Signed-By
# packages = ["openssl", "libssl3", "curl*"]   # optional globs; indices stay whole and signed
# check_valid_until = true          # refuse metadata past its Valid-Until
# translations = true               # also fetch i18n/Translation-en when listed
)";
}

}  // namespace airlock::mirror

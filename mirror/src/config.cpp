#include "airlock/mirror/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "airlock/base/file.h"
#include "airlock/base/text.h"

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

// Each key of a [[repo]], in the order the template shows them, and the
// kinds of repository it applies to.
struct KeyRule {
  const char* key;
  bool apt, rpm, files;
};
constexpr KeyRule kKeys[] = {
    {"name", true, true, true},
    {"kind", true, true, true},
    {"url", true, true, true},
    {"suites", true, false, false},
    {"components", true, false, false},
    {"architectures", true, false, false},
    {"keyring", true, true, true},
    {"packages", true, true, false},
    {"with_dependencies", true, true, false},
    {"check_valid_until", true, false, false},
    {"translations", true, false, false},
    {"check_signature", false, true, true},
    {"min_rate", true, true, true},
    {"stall_timeout", true, true, true},
};

// The keys kind takes; every key for an unknown kind.
std::vector<std::string> kind_keys(std::string_view kind) {
  std::vector<std::string> out;
  for (const auto& k : kKeys) {
    const bool applies = kind == "apt"     ? k.apt
                         : kind == "rpm"   ? k.rpm
                         : kind == "files" ? k.files
                                           : true;
    if (applies) out.emplace_back(k.key);
  }
  return out;
}

// "(did you mean 'suites'?)" and "suites" for a near key (at most two
// edits, and fewer than half the word); else the keys there are.
std::pair<std::string, std::string> expected_keys(std::string_view key,
                                                  const std::vector<std::string>& keys,
                                                  std::string_view kind) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& k : keys) {
    const std::size_t d = edit_distance(key, k);
    if (d < best_distance && 2 * d < key.size()) best = k, best_distance = d;
  }
  if (!best.empty()) return {"(did you mean '" + best + "'?)", best};
  std::string list;
  for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
  if (kind.empty()) return {"(the keys are: " + list + ")", {}};
  return {"(" + std::string(kind == "apt" ? "an " : "a ") + std::string(kind) +
              " repo takes: " + list + ")",
          {}};
}

// toml++'s description of a syntax error, in plain words where it is terse
// ("Error while parsing string: unescaped control characters ...").
std::string plain_words(std::string_view description) {
  constexpr std::string_view kPrefix = "Error while parsing ";
  std::string_view what = "value", rest = description;
  if (description.starts_with(kPrefix)) {
    auto colon = description.find(": ");
    if (colon != std::string_view::npos) {
      what = description.substr(kPrefix.size(), colon - kPrefix.size());
      rest = description.substr(colon + 2);
    }
  }
  if (rest.find("control character") != std::string_view::npos) {
    return "a string holds a control character (such as a line break) that TOML does not allow "
           "as it is: write \\n for a line break and \\t for a tab, or use ''' for a multi-line "
           "string";
  }
  if (rest.starts_with("unknown escape sequence")) {
    return "a string holds an " + std::string(rest) +
           ": in \"...\" a backslash starts an escape such as \\n, \\t or \\\\ (write \\\\ for "
           "a backslash), or use '...' for text without escapes";
  }
  if (rest.starts_with("could not determine value type")) {
    return "not a value: put text in quotes (name = \"debian\"), lists in brackets "
           "(suites = [\"bookworm\"])";
  }
  if (rest.starts_with("encountered end-of-file")) {
    return "the file ends inside a " + std::string(what == "array" ? "list" : what) +
           " that is not closed";
  }
  return std::string(description);
}

// The line of the key's value in t; the table's own line when it is absent.
int line_in(const toml::table& t, std::string_view key) {
  const toml::node* n = t.get(key);
  return static_cast<int>((n ? n->source() : t.source()).begin.line);
}

// Reads one [[repo]] table, recording every problem it finds; the steps
// that need the kind are skipped when it is not known.
class RepoReader {
 public:
  RepoReader(const toml::table& t, const std::string& origin, int entry,
             std::vector<ConfigProblem>& problems)
      : t_(t), origin_(origin), entry_(entry), problems_(problems) {}

  // names: the line of each repository name read so far, to which this
  // one's is added. nullopt when the table has a problem.
  std::optional<RepoConfig> read(std::map<std::string, int>& names) {
    const std::size_t before = problems_.size();
    r_.line = static_cast<int>(t_.source().begin.line);
    for (auto&& [key, node] : t_)
      r_.key_lines.emplace(std::string(key.str()), static_cast<int>(node.source().begin.line));
    read_name(names);
    const bool kind_known = read_kind();
    check_keys(kind_known);
    read_url();
    if (kind_known) {
      read_lists();
      read_trust();
    }
    read_limits();
    if (problems_.size() > before) return std::nullopt;
    return std::move(r_);
  }

 private:
  // A key reported missing that an unknown key was taken for is said once,
  // at the unknown key.
  void bad(std::string_view key, std::string message) {
    if (message.starts_with("missing") && suggested_.contains(key)) return;
    problems_.push_back({origin_, r_.line_of(key), 0, r_.name, entry_, r_.line, std::string(key),
                         std::move(message), false});
  }

  void read_name(std::map<std::string, int>& names) {
    const std::string expected = "1-64 characters of a-z 0-9 - _ ., not starting with '-'";
    const toml::node* n = t_.get("name");
    if (!n) return bad("name", "missing (expected " + expected + ")");
    auto v = n->value_exact<std::string>();
    if (!v || !valid_name(*v)) return bad("name", "expected " + expected);
    r_.name = *v;
    auto [it, added] = names.emplace(*v, r_.line_of("name"));
    if (!added) bad("name", "already names the repo at line " + std::to_string(it->second));
  }

  bool read_kind() {
    const std::string expected = "\"apt\", \"rpm\" or \"files\"";
    const toml::node* n = t_.get("kind");
    if (!n) {
      bad("kind", "missing (expected " + expected + ")");
      return false;
    }
    r_.kind = n->value_exact<std::string>().value_or("");
    if (r_.kind == "apt" || r_.kind == "rpm" || r_.kind == "files") return true;
    r_.kind.clear();
    bad("kind", "expected " + expected);
    return false;
  }

  // Unknown keys, and keys that only mean something for another kind.
  void check_keys(bool kind_known) {
    const auto all = kind_keys("");
    const auto mine = kind_keys(r_.kind);
    for (auto&& [k, _] : t_) {
      const std::string key(k.str());
      if (std::find(all.begin(), all.end(), key) == all.end()) {
        auto [expected, near] = expected_keys(key, mine, r_.kind);
        if (!near.empty()) suggested_.insert(near);
        bad(key, "unknown key " + expected);
      } else if (kind_known && std::find(mine.begin(), mine.end(), key) == mine.end()) {
        bad(key, "does not apply to kind \"" + r_.kind + "\"");
      }
    }
  }

  void read_url() {
    const std::string expected = "an http:// or https:// address";
    const toml::node* n = t_.get("url");
    if (!n) return bad("url", "missing (expected " + expected + ")");
    r_.url = n->value_exact<std::string>().value_or("");
    if (!(r_.url.starts_with("http://") || r_.url.starts_with("https://")) || r_.url.size() < 10)
      return bad("url", "expected " + expected);
    while (r_.url.ends_with('/')) r_.url.pop_back();
  }

  // An absent list leaves out as it is; false after a problem.
  bool list(const char* key, std::vector<std::string>& out) {
    const toml::node* n = t_.get(key);
    if (!n) return true;
    const auto* arr = n->as_array();
    bool ok = arr != nullptr;
    for (std::size_t i = 0; ok && i < arr->size(); ++i) {
      auto v = arr->get(i)->value_exact<std::string>();
      ok = v.has_value();
      if (ok) out.push_back(*v);
    }
    if (!ok) bad(key, "expected a list of strings, e.g. [\"a\", \"b\"]");
    return ok;
  }

  // An absent flag leaves out at its default.
  void flag(const char* key, bool& out) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    auto b = n->value_exact<bool>();
    if (!b) return bad(key, "expected true or false");
    out = *b;
  }

  // An apt repository's suites, components or architectures: at least one,
  // each a plain word.
  void read_words(const char* key, std::vector<std::string>& out) {
    if (!list(key, out)) return;
    const std::string one(key, std::strlen(key) - 1);
    if (out.empty()) {
      return bad(key, t_.get(key) ? "expected at least one " + one
                                  : "missing (expected a list of at least one " + one + ")");
    }
    for (const auto& w : out) {
      if (!valid_word(w)) {
        return bad(key, "'" + w + "' is not a valid " + one +
                            " (expected letters, digits and - _ . / +, without '..')");
      }
    }
  }

  // suites, components, architectures, packages and with_dependencies:
  // what to mirror.
  void read_lists() {
    if (r_.kind == "apt") {
      read_words("suites", r_.suites);
      read_words("components", r_.components);
      read_words("architectures", r_.architectures);
    }
    if (r_.kind == "files") return;
    list("packages", r_.packages);
    flag("with_dependencies", r_.with_dependencies);
  }

  // keyring, check_signature, check_valid_until and translations: how the
  // upstream is checked.
  void read_trust() {
    if (r_.kind == "apt") {
      flag("check_valid_until", r_.check_valid_until);
      flag("translations", r_.translations);
    } else {
      flag("check_signature", r_.check_signature);
    }
    const std::string expected =
        std::string("the path of the upstream's OpenPGP keyring") +
        (r_.kind == "apt" ? "" : ", or check_signature = false for an unsigned upstream");
    const toml::node* n = t_.get("keyring");
    if (!n) {
      if (r_.check_signature) bad("keyring", "missing (expected " + expected + ")");
      return;
    }
    auto v = n->value_exact<std::string>();
    if (!v || v->empty()) return bad("keyring", "expected " + expected);
    r_.keyring = *v;
  }

  // An absent number leaves out at its default; a present one must be a
  // whole number from 1 to max.
  void number(const char* key, std::int64_t max, std::int64_t& out) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    auto v = n->value_exact<std::int64_t>();
    if (!v || *v < 1 || *v > max)
      return bad(key, "expected a whole number from 1 to " + std::to_string(max));
    out = *v;
  }

  // min_rate and stall_timeout: when a download is too slow to go on.
  void read_limits() {
    auto rate = static_cast<std::int64_t>(r_.min_rate);
    number("min_rate", 1ll << 30, rate);
    r_.min_rate = static_cast<std::uint64_t>(rate);
    number("stall_timeout", 86400, r_.stall_timeout);
  }

  const toml::table& t_;
  const std::string& origin_;
  const int entry_;
  std::vector<ConfigProblem>& problems_;
  std::set<std::string, std::less<>> suggested_;  // keys an unknown key was taken for
  RepoConfig r_;
};

// The document's top level: [[repo]] tables and nothing else.
void read_top(const toml::table& doc, const std::string& origin, MirrorConfig::Reading& out) {
  auto top = [&](std::string key, std::string message) {
    const int line = line_in(doc, key);
    out.problems.push_back({origin, line, 0, {}, 0, 0, std::move(key), std::move(message), false});
  };
  for (auto&& [key, _] : doc) {
    if (key.str() != "repo")
      top(std::string(key.str()), "unknown top-level key (expected [[repo]] tables)");
  }
  const toml::node* repos = doc.get("repo");
  if (!repos) return;
  const auto* list = repos->as_array();
  if (!list || !list->is_array_of_tables())
    return top("repo", "expected [[repo]] tables, each begun by a line [[repo]]");
  std::map<std::string, int> names;
  int entry = 0;
  for (const auto& node : *list) {
    auto r = RepoReader(*node.as_table(), origin, ++entry, out.problems).read(names);
    if (r) out.config.repos.push_back(std::move(*r));
  }
}

}  // namespace

int RepoConfig::line_of(std::string_view key) const {
  auto it = key_lines.find(key);
  return it == key_lines.end() ? line : it->second;
}

std::string ConfigProblem::text() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (column > 0) out += ":" + std::to_string(column);
  out += warning ? ": warning: " : ": ";
  if (!repo.empty()) {
    out += "repo '" + repo + "': ";
  } else if (entry > 0) {
    out += "[[repo]] #" + std::to_string(entry) + " (line " + std::to_string(entry_line) + "): ";
  }
  if (!key.empty()) out += "key '" + key + "': ";
  return out + message;
}

const RepoConfig* MirrorConfig::find(std::string_view name) const {
  for (const auto& r : repos) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

MirrorConfig::Reading MirrorConfig::read(std::string_view text, const std::string& origin) {
  Reading out;
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    out.problems.push_back({origin,
                            static_cast<int>(where.line),
                            static_cast<int>(where.column),
                            {},
                            0,
                            0,
                            {},
                            plain_words(e.description()),
                            false});
    return out;
  }
  read_top(doc, origin, out);
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
  return out;
}

Result<MirrorConfig> MirrorConfig::parse(std::string_view text, const std::string& origin) {
  auto reading = read(text, origin);
  if (!reading.problems.empty()) return fail(Code::invalid_input, reading.problems.front().text());
  return std::move(reading.config);
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

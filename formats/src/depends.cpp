#include "airlock/formats/depends.h"

#include <algorithm>
#include <array>
#include <utility>

#include "airlock/formats/version.h"

namespace airlock::apt {
namespace {

using Op = Relation::Op;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_name_char(char c) { return is_lower_alnum(c) || c == '+' || c == '-' || c == '.'; }
bool is_version_char(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-' ||
         c == '~' || c == ':';
}

// How each operator is written, the obsolete one-character forms last.
constexpr std::array<std::pair<std::string_view, Op>, 7> kOperators{{{"<<", Op::earlier},
                                                                     {"<=", Op::earlier_or_equal},
                                                                     {">=", Op::later_or_equal},
                                                                     {">>", Op::later},
                                                                     {"=", Op::equal},
                                                                     {"<", Op::earlier_or_equal},
                                                                     {">", Op::later_or_equal}}};

std::string_view op_text(Op op) {
  for (const auto& [text, o] : kOperators) {
    if (o == op) return text;
  }
  return "";
}

// A cursor over one field's value; every refusal names the character.
class RelationParser {
 public:
  explicit RelationParser(std::string_view text) : s_(text) {}

  Result<std::vector<Alternatives>> parse() {
    std::vector<Alternatives> out;
    blanks();
    while (!at_end()) {
      Alternatives group;
      for (;;) {
        auto r = relation();
        if (!r) return fail(r.error());
        group.push_back(std::move(*r));
        blanks();
        if (!take('|')) break;
        blanks();
      }
      out.push_back(std::move(group));
      if (at_end()) break;
      if (!take(',')) return bad("expected ',' or '|' after a relation");
      blanks();
      if (!at_end() && peek() == ',') return bad("empty relationship between ','");
    }
    return out;
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void blanks() {
    while (!at_end() && is_blank(s_[i_])) ++i_;
  }
  std::string word(bool (*accept)(char)) {
    const std::size_t start = i_;
    while (!at_end() && accept(s_[i_])) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  std::unexpected<Error> bad(const std::string& what) const {
    return fail(Code::invalid_input, "character " + std::to_string(i_ + 1) + ": " + what);
  }

  Result<Relation> relation() {
    Relation r;
    if (!is_lower_alnum(peek())) return bad("expected a package name");
    r.name = word(is_name_char);
    if (take(':')) {
      r.arch = word(is_name_char);
      if (r.arch.empty()) return bad("expected an architecture after ':'");
    }
    blanks();
    if (take('(')) {
      if (auto c = constraint(r); !c) return fail(c.error());
      blanks();
    }
    if (peek() == '[') return bad("architecture restrictions ('[...]') belong to source packages");
    if (peek() == '<') return bad("build profiles ('<...>') belong to source packages");
    return r;
  }

  // After '(': "op version)".
  Status constraint(Relation& r) {
    blanks();
    const std::size_t start = i_;
    while (!at_end() && (peek() == '<' || peek() == '=' || peek() == '>')) ++i_;
    const auto written = s_.substr(start, i_ - start);
    auto it = std::find_if(kOperators.begin(), kOperators.end(),
                           [&](const auto& o) { return o.first == written; });
    if (it == kOperators.end()) {
      i_ = start;
      return bad("expected one of << <= = >= >> before the version");
    }
    r.op = it->second;
    blanks();
    r.version = word(is_version_char);
    if (r.version.empty()) return bad("expected a version");
    blanks();
    if (!take(')')) return bad("expected ')' after the version");
    return {};
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

Result<std::vector<Alternatives>> parse_relationships(std::string_view text) {
  return RelationParser(text).parse();
}

std::string format_relation(const Relation& r) {
  std::string out = r.name;
  if (!r.arch.empty()) out += ":" + r.arch;
  if (r.op != Op::none) out += " (" + std::string(op_text(r.op)) + " " + r.version + ")";
  return out;
}

std::string format_alternatives(const Alternatives& alternatives) {
  std::string out;
  for (const auto& r : alternatives) {
    if (!out.empty()) out += " | ";
    out += format_relation(r);
  }
  return out;
}

bool satisfies(const Relation& r, std::string_view version) {
  if (r.op == Op::none) return true;
  const int c = compare_versions(version, r.version);
  switch (r.op) {
    case Op::earlier:
      return c < 0;
    case Op::earlier_or_equal:
      return c <= 0;
    case Op::equal:
      return c == 0;
    case Op::later_or_equal:
      return c >= 0;
    case Op::later:
      return c > 0;
    case Op::none:
      break;
  }
  return true;
}

}  // namespace airlock::apt

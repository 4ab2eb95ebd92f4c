// Reading fields of JSON that may be malformed (a tampered log line, a
// damaged index value) without exceptions: nlohmann's value() and get()
// throw on a type mismatch, these answer "not there" instead.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"

namespace airlock {

// The string at key, or "" when doc is not an object or key holds no string.
inline std::string json_string(const nlohmann::json& doc, std::string_view key) {
  if (!doc.is_object()) return {};
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The unsigned number at key, or fallback.
inline std::uint64_t json_u64(const nlohmann::json& doc, std::string_view key,
                              std::uint64_t fallback = 0) {
  if (!doc.is_object()) return fallback;
  auto it = doc.find(key);
  return it != doc.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : fallback;
}

// Parses a document whose exact meaning matters (signed or trusted: a bundle
// manifest, its signatures, a trust policy, a snapshot) as one JSON value,
// refusing any object that has two members of the same name: nlohmann keeps
// the last, another reader (a reviewer's tool) may take the first.
// invalid_input 'duplicate key "K"' (K quoted and escaped as JSON) for the
// first repeated name; text that is not JSON gives a discarded value, as
// json::parse without exceptions does, so callers word that as before.
Result<nlohmann::json> parse_json_strict(std::string_view text);

// 'duplicate key "K"', the words for a repeated name: K (at most its first
// 200 bytes) quoted and escaped as JSON, invalid UTF-8 replaced.
std::string duplicate_key_message(std::string_view key);

// Reads chosen top-level members of a JSON object without building a
// document, for lines read by the million (the transfer log). parse() checks
// that the whole text is one valid JSON object and keeps, for each key asked
// for, the last member of that name: a string as its unescaped text, an
// unsigned integer as a number, any other value as present only.
class JsonMembers {
 public:
  explicit JsonMembers(std::initializer_list<std::string_view> keys);
  // False when text is not one JSON object; the members are then unspecified.
  bool parse(std::string_view text);
  // Member i of the keys given to the constructor.
  bool has(std::size_t i) const { return found_[i].present; }
  // The string, or nullptr when the member is missing or not a string.
  const std::string* string(std::size_t i) const {
    return found_[i].kind == Kind::string ? &found_[i].text : nullptr;
  }
  std::optional<std::uint64_t> number(std::size_t i) const {
    if (found_[i].kind != Kind::number) return std::nullopt;
    return found_[i].number;
  }
  // The string, or "" when the member is missing or not a string.
  std::string_view text(std::size_t i) const {
    return found_[i].kind == Kind::string ? std::string_view(found_[i].text) : std::string_view();
  }

 private:
  enum class Kind { other, string, number };
  struct Found {
    bool present = false;
    Kind kind = Kind::other;
    std::string text;
    std::uint64_t number = 0;
  };
  struct Handler;
  std::vector<std::string_view> keys_;
  std::vector<Found> found_;
};

}  // namespace airlock

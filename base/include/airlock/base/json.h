// Reading fields of JSON that may be malformed (a tampered log line, a
// damaged index value) without exceptions: nlohmann's value() and get()
// throw on a type mismatch, these answer "not there" instead.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

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

}  // namespace airlock

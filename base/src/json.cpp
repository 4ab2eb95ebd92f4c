#include "airlock/base/json.h"

#include <algorithm>
#include <unordered_set>

namespace airlock {
using json = nlohmann::json;

// Tracks depth; at depth 1 remembers which wanted key the next value belongs to.
struct JsonMembers::Handler : nlohmann::json_sax<json> {
  JsonMembers& m;
  int depth = 0;
  bool top_is_object = false;
  Found* current = nullptr;  // the wanted member the next top-level value fills

  explicit Handler(JsonMembers& members) : m(members) {}

  // A value at depth 1 (a member of the top object); nested values are skipped.
  Found* take() {
    if (depth != 1) return nullptr;
    Found* f = std::exchange(current, nullptr);
    if (f) {
      f->present = true;
      f->kind = Kind::other;
    }
    return f;
  }
  bool scalar() {
    take();
    return depth > 0;  // a bare scalar at the top is not an object
  }
  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool number_unsigned(number_unsigned_t v) override {
    if (Found* f = take()) {
      f->kind = Kind::number;
      f->number = v;
    }
    return depth > 0;
  }
  bool string(string_t& v) override {
    if (Found* f = take()) {
      f->kind = Kind::string;
      f->text = std::move(v);
    }
    return depth > 0;
  }
  bool start_object(std::size_t) override {
    if (depth == 0) top_is_object = true;
    take();
    ++depth;
    return true;
  }
  bool key(string_t& k) override {
    if (depth != 1) return true;
    auto it = std::find(m.keys_.begin(), m.keys_.end(), std::string_view(k));
    current = it == m.keys_.end() ? nullptr : &m.found_[it - m.keys_.begin()];
    return true;
  }
  bool end_object() override {
    --depth;
    return true;
  }
  bool start_array(std::size_t) override {
    take();
    ++depth;
    return depth > 1;
  }
  bool end_array() override {
    --depth;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
};

namespace {

// nlohmann's own document builder, with a set of the member names seen in
// each open object (one set per depth, reused) to catch a repeated one.
struct StrictHandler {
  using dom = nlohmann::detail::json_sax_dom_parser<json>;
  json result;
  dom builder{result, false};
  std::vector<std::unordered_set<std::string>> names;
  std::size_t depth = 0;  // open objects
  std::optional<std::string> duplicate;

  bool null() { return builder.null(); }
  bool boolean(bool v) { return builder.boolean(v); }
  bool number_integer(json::number_integer_t v) { return builder.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return builder.number_unsigned(v); }
  bool number_float(json::number_float_t v, const std::string& s) {
    return builder.number_float(v, s);
  }
  bool string(std::string& v) { return builder.string(v); }
  bool binary(json::binary_t& v) { return builder.binary(v); }
  bool start_object(std::size_t n) {
    if (names.size() <= depth) names.emplace_back();
    names[depth++].clear();
    return builder.start_object(n);
  }
  bool key(std::string& k) {
    if (!names[depth - 1].insert(k).second) {
      duplicate = k;
      return false;
    }
    return builder.key(k);
  }
  bool end_object() {
    --depth;
    return builder.end_object();
  }
  bool start_array(std::size_t n) { return builder.start_array(n); }
  bool end_array() { return builder.end_array(); }
  bool parse_error(std::size_t p, const std::string& t, const nlohmann::detail::exception& e) {
    return builder.parse_error(p, t, e);
  }
};

}  // namespace

Result<json> parse_json_strict(std::string_view text) {
  StrictHandler h;
  if (json::sax_parse(text, &h)) return std::move(h.result);
  if (h.duplicate) return fail(Code::invalid_input, duplicate_key_message(*h.duplicate));
  return json(json::value_t::discarded);
}

std::string duplicate_key_message(std::string_view key) {
  return "duplicate key " +
         json(std::string(key.substr(0, 200))).dump(-1, ' ', false, json::error_handler_t::replace);
}

JsonMembers::JsonMembers(std::initializer_list<std::string_view> keys)
    : keys_(keys), found_(keys.size()) {}

bool JsonMembers::parse(std::string_view text) {
  for (auto& f : found_) f.present = false, f.kind = Kind::other;
  Handler h(*this);
  return json::sax_parse(text, &h) && h.top_is_object;
}

}  // namespace airlock

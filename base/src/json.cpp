#include "airlock/base/json.h"

#include <algorithm>

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

JsonMembers::JsonMembers(std::initializer_list<std::string_view> keys)
    : keys_(keys), found_(keys.size()) {}

bool JsonMembers::parse(std::string_view text) {
  for (auto& f : found_) f.present = false, f.kind = Kind::other;
  Handler h(*this);
  return json::sax_parse(text, &h) && h.top_is_object;
}

}  // namespace airlock

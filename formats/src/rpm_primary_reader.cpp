// primary.xml read in order: one RpmPackage per <package>, never the whole
// document in memory.
#include "rpm_primary_reader.h"

#include <algorithm>

#include "rpm_xml.h"

namespace airlock::rpm {
namespace {

using formats::detail::kNsCommon;
using formats::detail::kNsRpm;
using formats::detail::quote;
using formats::detail::XmlName;

constexpr std::string_view kFlags[] = {"EQ", "LT", "LE", "GT", "GE"};

}  // namespace

void Reader::on_start(XmlName name, const char** attrs) {
  if (in_package_ && event_begin() - package_begin_ > kMaxPackageElement) {
    return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxPackageElement) +
                                 " bytes in <package>, found more");
  }
  switch (at_.back()) {
    case At::top:
      return start_root(name, attrs);
    case At::metadata:
      if (name.is(kNsCommon, "package")) return start_package();
      return skip();
    case At::package:
      return start_in_package(name, attrs);
    case At::format:
      return start_in_format(name);
    case At::relations:
      if (name.is(kNsRpm, "entry")) return start_entry(attrs);
      return skip();
    case At::text:
    case At::leaf:
      return skip();
  }
}

void Reader::start_root(XmlName name, const char** attrs) {
  if (!name.is(kNsCommon, "metadata")) {
    return stop(Code::invalid_input, wrong_root(name, kNsCommon, "metadata"));
  }
  if (const char* n = attr(attrs, "packages")) {
    auto value = formats::detail::to_u64(n);
    if (!value) {
      return stop(Code::invalid_input,
                  "expected a number in <metadata packages>, found " + quote(n));
    }
    declared = *value;
  }
  at_.push_back(At::metadata);
}

void Reader::start_package() {
  if (count >= options_.max_packages) {
    return stop(Code::limit, "expected at most " + std::to_string(options_.max_packages) +
                                 " packages, found more");
  }
  pkg_ = {};
  seen_.reset();
  in_package_ = true;
  package_begin_ = event_begin();
  at_.push_back(At::package);
}

bool Reader::once(Once which, std::string_view element) {
  if (!seen_[which]) {
    seen_[which] = true;
    return true;
  }
  stop(Code::invalid_input,
       who() + ": expected one <" + std::string(element) + ">, found a second");
  return false;
}

void Reader::start_text(Text which) {
  text_ = which;
  at_.push_back(At::text);
  collect_text();
}

void Reader::start_in_package(XmlName name, const char** attrs) {
  if (name.ns != kNsCommon) return skip();
  const auto local = name.local;
  if (local == "name") {
    if (once(kName, local)) start_text(Text::name);
  } else if (local == "arch") {
    if (once(kArch, local)) start_text(Text::arch);
  } else if (local == "version") {
    if (once(kVersion, local)) start_version(attrs);
  } else if (local == "checksum") {
    if (!once(kChecksum, local)) return;
    if (auto s = check_sha256_type(attr(attrs, "type"), [this] { return who(); }); !s) {
      return stop(Code::invalid_input, s.error().message);
    }
    start_text(Text::checksum);
  } else if (local == "size") {
    if (!once(kSize, local)) return;
    const char* size = attr(attrs, "package");
    auto n = size ? formats::detail::to_u64(size) : std::nullopt;
    if (!n) {
      return stop(Code::invalid_input, who() + ": expected a number in <size package>, found " +
                                           (size ? quote(size) : std::string("none")));
    }
    pkg_.size = *n;
    at_.push_back(At::leaf);
  } else if (local == "location") {
    if (!once(kLocation, local)) return;
    auto href = location_href(attrs, [this] { return who(); });
    if (!href) return stop(Code::invalid_input, href.error().message);
    pkg_.location = std::move(*href);
    at_.push_back(At::leaf);
  } else if (local == "format") {
    if (once(kFormat, local)) at_.push_back(At::format);
  } else {
    skip();
  }
}

void Reader::start_version(const char** attrs) {
  const char* ver = attr(attrs, "ver");
  const char* rel = attr(attrs, "rel");
  if (!ver || !*ver || !rel || !*rel) {
    return stop(Code::invalid_input, who() +
                                         ": expected <version ver=\"...\" rel=\"...\">, found " +
                                         (!ver || !*ver ? "no ver" : "no rel"));
  }
  const char* epoch = attr(attrs, "epoch");
  pkg_.epoch = epoch && *epoch ? epoch : "0";
  pkg_.version = ver;
  pkg_.release = rel;
  at_.push_back(At::leaf);
}

void Reader::start_in_format(XmlName name) {
  if (name.is(kNsCommon, "file")) {
    if (pkg_.files.size() >= kMaxFiles) {
      return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxFiles) +
                                   " <file> entries, found more");
    }
    return start_text(Text::file);
  }
  if (name.is(kNsRpm, "sourcerpm")) {
    if (once(kSourcerpm, "rpm:sourcerpm")) start_text(Text::sourcerpm);
    return;
  }
  if (name.is(kNsRpm, "provides") || name.is(kNsRpm, "requires")) {
    relations_ = name.local == "provides" ? &pkg_.provides : &pkg_.requirements;
    at_.push_back(At::relations);
    return;
  }
  skip();
}

void Reader::start_entry(const char** attrs) {
  if (relations_->size() >= kMaxRelations) {
    return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxRelations) +
                                 " <rpm:entry> in a list, found more");
  }
  // One pass over the tag's attributes, names compared as they are: an
  // attribute of rpm:entry has no namespace (one that has is not these).
  const char *name = nullptr, *flags = nullptr, *epoch = nullptr, *ver = nullptr, *rel = nullptr;
  const char* pre = nullptr;
  for (std::size_t i = 0; attrs[i]; i += 2) {
    const std::string_view a = attrs[i];
    const char* v = attrs[i + 1];
    if (a == "name")
      name = v;
    else if (a == "flags")
      flags = v;
    else if (a == "epoch")
      epoch = v;
    else if (a == "ver")
      ver = v;
    else if (a == "rel")
      rel = v;
    else if (a == "pre")
      pre = v;
  }
  if (!name || !*name) {
    return stop(Code::invalid_input, who() + ": expected <rpm:entry name=\"...\">, found none");
  }
  if (flags && std::find(std::begin(kFlags), std::end(kFlags), flags) == std::end(kFlags)) {
    return stop(Code::invalid_input,
                who() + ": expected flags EQ, LT, LE, GT or GE, found " + quote(flags));
  }
  // Most packages hold a few dozen relations: grow past the first few at once.
  if (relations_->empty()) relations_->reserve(16);
  Relation& r = relations_->emplace_back();
  r.name = name;
  if (flags) r.flags = flags;
  if (epoch) r.epoch = epoch;
  if (ver) r.version = ver;
  if (rel) r.release = rel;
  r.pre = pre && std::string_view(pre) == "1";
  at_.push_back(At::leaf);
}

void Reader::on_end() {
  const At ending = at_.back();
  at_.pop_back();
  if (ending == At::text) return end_text();
  if (ending == At::package) return end_package();
}

void Reader::end_text() {
  std::string text = take_text();
  const Text which = text_;
  text_ = Text::none;
  switch (which) {
    case Text::name:
      pkg_.name = std::move(text);
      return;
    case Text::arch:
      pkg_.arch = std::move(text);
      return;
    case Text::checksum: {
      auto d = parse_sha256_text(text, [this] { return who(); });
      if (!d) return stop(Code::invalid_input, d.error().message);
      pkg_.sha256 = *d;
      return;
    }
    case Text::sourcerpm:
      pkg_.sourcerpm = std::move(text);
      return;
    case Text::file:
      pkg_.files.push_back(std::move(text));
      return;
    case Text::none:
      return;
  }
}

void Reader::end_package() {
  in_package_ = false;
  constexpr std::pair<Once, std::string_view> kRequired[] = {
      {kName, "<name>"},
      {kArch, "<arch>"},
      {kVersion, "<version>"},
      {kChecksum, "<checksum type=\"sha256\">"},
      {kSize, "<size package=\"...\">"},
      {kLocation, "<location href=\"...\">"}};
  for (const auto& [which, element] : kRequired) {
    if (!seen_[which] || (which == kName && pkg_.name.empty()) ||
        (which == kArch && pkg_.arch.empty())) {
      return stop(Code::invalid_input,
                  who() + ": expected " + std::string(element) + ", found none");
    }
  }
  if (options_.keep_elements) {
    pkg_.element = window_.substr(package_begin_ - window_begin_, event_end() - package_begin_);
  }
  ++count;
  if (auto s = on_package_(std::move(pkg_)); !s) stop_with(s.error());
}

void Reader::before_piece(std::string_view piece) {
  if (options_.keep_elements) window_.append(piece);
}

void Reader::after_piece() {
  if (at_boundary() && in_package_ && fed() - package_begin_ > kMaxPackageElement) {
    return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxPackageElement) +
                                 " bytes in <package>, found more");
  }
  if (!options_.keep_elements) return;
  // Nothing before the open package, or before the last event, is needed again.
  const std::uint64_t keep_from = in_package_ ? package_begin_ : last_event_end();
  if (keep_from > window_begin_) {
    window_.erase(0, keep_from - window_begin_);
    window_begin_ = keep_from;
  }
}

}  // namespace airlock::rpm

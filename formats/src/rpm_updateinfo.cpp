// updateinfo.xml (advisories), streamed: one Advisory per <update>.
#include "airlock/formats/rpm.h"
#include "rpm_xml.h"
#include "xml.h"

namespace airlock::rpm {
namespace {

using formats::detail::quote;
using formats::detail::XmlName;

}  // namespace

class UpdateinfoParser::Impl : public formats::detail::XmlStream {
 public:
  Impl(std::function<Status(Advisory&&)> on_advisory, Options options)
      : XmlStream("updateinfo.xml", "updates"),
        on_advisory_(std::move(on_advisory)),
        options_(options) {}

  std::uint64_t count = 0;

 private:
  enum class At { top, updates, update, references, pkglist, collection, package, text, leaf };
  enum class Text { none, id, title, severity, filename };

  void on_start(XmlName name, const char** attrs) override;
  void on_end() override;
  void start_update(const char** attrs);
  void start_in_update(XmlName name, const char** attrs);
  void start_reference(const char** attrs);
  void start_package(const char** attrs);
  void start_text(Text which);
  void end_text();
  void end_update();
  std::string who() const {
    return advisory_.id.empty() ? "an update" : "update " + quote(advisory_.id);
  }

  std::function<Status(Advisory&&)> on_advisory_;
  Options options_;
  std::vector<At> at_{At::top};
  Text text_ = Text::none;
  Advisory advisory_;
  bool has_id_ = false;
};

void UpdateinfoParser::Impl::on_start(XmlName name, const char** attrs) {
  const bool plain = name.ns.empty();
  switch (at_.back()) {
    case At::top:
      if (!name.is("", "updates"))
        return stop(Code::invalid_input, wrong_root(name, "", "updates"));
      at_.push_back(At::updates);
      return;
    case At::updates:
      if (name.is("", "update")) return start_update(attrs);
      return skip();
    case At::update:
      return start_in_update(name, attrs);
    case At::references:
      if (name.is("", "reference")) return start_reference(attrs);
      return skip();
    case At::pkglist:
      if (!name.is("", "collection")) return skip();
      at_.push_back(At::collection);
      return;
    case At::collection:
      if (name.is("", "package")) return start_package(attrs);
      return skip();
    case At::package:
      if (plain && name.local == "filename") return start_text(Text::filename);
      return skip();
    case At::text:
    case At::leaf:
      return skip();
  }
}

void UpdateinfoParser::Impl::start_update(const char** attrs) {
  if (count >= options_.max_advisories) {
    return stop(Code::limit, "expected at most " + std::to_string(options_.max_advisories) +
                                 " updates, found more");
  }
  advisory_ = {};
  has_id_ = false;
  if (const char* type = attr(attrs, "type")) advisory_.type = type;
  at_.push_back(At::update);
}

void UpdateinfoParser::Impl::start_text(Text which) {
  text_ = which;
  at_.push_back(At::text);
  collect_text();
}

void UpdateinfoParser::Impl::start_in_update(XmlName name, const char** attrs) {
  if (!name.ns.empty()) return skip();
  const auto local = name.local;
  if (local == "id") {
    if (has_id_) return stop(Code::invalid_input, who() + ": expected one <id>, found a second");
    has_id_ = true;
    return start_text(Text::id);
  }
  if (local == "title") return start_text(Text::title);
  if (local == "severity") return start_text(Text::severity);
  if (local == "issued") {
    if (const char* date = attr(attrs, "date")) advisory_.issued = date;
    at_.push_back(At::leaf);
    return;
  }
  if (local == "references") {
    at_.push_back(At::references);
    return;
  }
  if (local == "pkglist") {
    at_.push_back(At::pkglist);
    return;
  }
  skip();
}

void UpdateinfoParser::Impl::start_reference(const char** attrs) {
  at_.push_back(At::leaf);
  const char* id = attr(attrs, "id");
  if (!id || !*id) return;
  if (advisory_.references.size() >= kMaxAdvisoryReferences) {
    return stop(Code::limit, who() + ": expected at most " +
                                 std::to_string(kMaxAdvisoryReferences) +
                                 " references, found more");
  }
  advisory_.references.emplace_back(id);
}

void UpdateinfoParser::Impl::start_package(const char** attrs) {
  if (advisory_.packages.size() >= kMaxAdvisoryPackages) {
    return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxAdvisoryPackages) +
                                 " packages, found more");
  }
  AdvisoryPackage p;
  for (auto [field, key] : {std::pair{&p.name, "name"}, std::pair{&p.version, "version"},
                            std::pair{&p.release, "release"}}) {
    const char* value = attr(attrs, key);
    if (!value || !*value) {
      return stop(Code::invalid_input,
                  who() +
                      ": expected <package name=\"...\" version=\"...\" release=\"...\">, "
                      "found no " +
                      std::string(key));
    }
    *field = value;
  }
  const char* epoch = attr(attrs, "epoch");
  p.epoch = epoch && *epoch ? epoch : "0";
  if (const char* arch = attr(attrs, "arch")) p.arch = arch;
  advisory_.packages.push_back(std::move(p));
  at_.push_back(At::package);
}

void UpdateinfoParser::Impl::on_end() {
  const At ending = at_.back();
  at_.pop_back();
  if (ending == At::text) return end_text();
  if (ending == At::update) return end_update();
}

void UpdateinfoParser::Impl::end_text() {
  std::string text = take_text();
  const Text which = text_;
  text_ = Text::none;
  switch (which) {
    case Text::id:
      advisory_.id = std::move(text);
      return;
    case Text::title:
      advisory_.title = std::move(text);
      return;
    case Text::severity:
      advisory_.severity = std::move(text);
      return;
    case Text::filename:
      advisory_.packages.back().filename = std::move(text);
      return;
    case Text::none:
      return;
  }
}

void UpdateinfoParser::Impl::end_update() {
  if (advisory_.id.empty()) return stop(Code::invalid_input, who() + ": expected <id>, found none");
  ++count;
  if (auto s = on_advisory_(std::move(advisory_)); !s) stop_with(s.error());
}

UpdateinfoParser::UpdateinfoParser(std::function<Status(Advisory&&)> on_advisory, Options options)
    : impl_(std::make_unique<Impl>(std::move(on_advisory), options)) {}
UpdateinfoParser::~UpdateinfoParser() = default;
UpdateinfoParser::UpdateinfoParser(UpdateinfoParser&&) noexcept = default;
UpdateinfoParser& UpdateinfoParser::operator=(UpdateinfoParser&&) noexcept = default;

Status UpdateinfoParser::feed(std::string_view piece) { return impl_->feed(piece); }
Status UpdateinfoParser::finish() { return impl_->finish(); }
std::uint64_t UpdateinfoParser::advisories() const { return impl_->count; }

}  // namespace airlock::rpm

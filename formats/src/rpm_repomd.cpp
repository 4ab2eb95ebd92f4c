// repomd.xml: the signed list of a repository's metadata files.
#include <set>

#include "airlock/formats/rpm.h"
#include "rpm_xml.h"
#include "xml.h"

namespace airlock::rpm {
namespace {

using formats::detail::kNsRepo;
using formats::detail::quote;
using formats::detail::trim_blanks;
using formats::detail::XmlName;

class RepomdReader : public formats::detail::XmlStream {
 public:
  explicit RepomdReader(std::string_view xml) : XmlStream("repomd.xml", "repomd"), xml_(xml) {}
  Repomd take() { return std::move(repomd_); }

 private:
  enum class At { top, repomd, data, text, leaf };
  enum class Text { none, revision, checksum, size, timestamp };

  void on_start(XmlName name, const char** attrs) override;
  void on_end() override;
  void start_data(const char** attrs);
  void start_in_data(XmlName name, const char** attrs);
  void end_text();
  void end_data();
  std::string data_name() const { return "data " + quote(data_.type); }

  std::string_view xml_;  // the whole document, for the bytes of each <data>
  std::uint64_t data_begin_ = 0;
  Repomd repomd_;
  std::vector<At> at_{At::top};
  Text text_ = Text::none;
  RepomdData data_;
  bool has_checksum_ = false, has_location_ = false;
  std::set<std::string, std::less<>> types_, locations_;
};

void RepomdReader::on_start(XmlName name, const char** attrs) {
  switch (at_.back()) {
    case At::top:
      if (!name.is(kNsRepo, "repomd"))
        return stop(Code::invalid_input, wrong_root(name, kNsRepo, "repomd"));
      at_.push_back(At::repomd);
      return;
    case At::repomd:
      if (name.is(kNsRepo, "data")) return start_data(attrs);
      if (name.is(kNsRepo, "revision")) {
        text_ = Text::revision;
        at_.push_back(At::text);
        return collect_text();
      }
      return skip();
    case At::data:
      return start_in_data(name, attrs);
    case At::text:
    case At::leaf:
      return skip();
  }
}

void RepomdReader::start_data(const char** attrs) {
  data_ = {};
  data_begin_ = event_begin();
  has_checksum_ = has_location_ = false;
  const char* type = attr(attrs, "type");
  if (!type || !*type) return stop(Code::invalid_input, "expected <data type=\"...\">, found none");
  data_.type = type;
  if (!types_.insert(data_.type).second) {
    return stop(Code::invalid_input,
                "expected one <data type=" + quote(data_.type) + ">, found a second");
  }
  at_.push_back(At::data);
}

void RepomdReader::start_in_data(XmlName name, const char** attrs) {
  if (name.is(kNsRepo, "checksum")) {
    if (has_checksum_)
      return stop(Code::invalid_input, data_name() + ": expected one <checksum>, found a second");
    has_checksum_ = true;
    if (auto s = check_sha256_type(attr(attrs, "type"), [this] { return data_name(); }); !s) {
      return stop(Code::invalid_input, s.error().message);
    }
    text_ = Text::checksum;
  } else if (name.is(kNsRepo, "location")) {
    if (has_location_)
      return stop(Code::invalid_input, data_name() + ": expected one <location>, found a second");
    has_location_ = true;
    auto href = location_href(attrs, [this] { return data_name(); });
    if (!href) return stop(Code::invalid_input, href.error().message);
    data_.location = std::move(*href);
    at_.push_back(At::leaf);
    return;
  } else if (name.is(kNsRepo, "size")) {
    text_ = Text::size;
  } else if (name.is(kNsRepo, "timestamp")) {
    text_ = Text::timestamp;
  } else {
    return skip();
  }
  at_.push_back(At::text);
  collect_text();
}

void RepomdReader::on_end() {
  const At ending = at_.back();
  at_.pop_back();
  if (ending == At::text) return end_text();
  if (ending == At::data) return end_data();
}

void RepomdReader::end_text() {
  std::string text = take_text();
  const Text which = text_;
  text_ = Text::none;
  switch (which) {
    case Text::revision:
      repomd_.revision = std::string(trim_blanks(text));
      return;
    case Text::checksum: {
      auto d = parse_sha256_text(text, [this] { return data_name(); });
      if (!d) return stop(Code::invalid_input, d.error().message);
      data_.sha256 = *d;
      return;
    }
    case Text::size: {
      auto n = formats::detail::to_u64(text);
      if (!n)
        return stop(Code::invalid_input,
                    data_name() + ": expected a number in <size>, found " + quote(text));
      data_.size = *n;
      return;
    }
    case Text::timestamp: {
      auto n = parse_timestamp(text);
      if (!n)
        return stop(Code::invalid_input,
                    data_name() + ": expected a number in <timestamp>, found " + quote(text));
      data_.timestamp = *n;
      return;
    }
    case Text::none:
      return;
  }
}

void RepomdReader::end_data() {
  if (!has_checksum_)
    return stop(Code::invalid_input,
                data_name() + ": expected <checksum type=\"sha256\">, found none");
  if (!has_location_)
    return stop(Code::invalid_input,
                data_name() + ": expected <location href=\"...\">, found none");
  if (!locations_.insert(data_.location).second) {
    return stop(Code::invalid_input, data_name() +
                                         ": expected a location no other data has, found " +
                                         quote(data_.location) + " a second time");
  }
  data_.element = std::string(xml_.substr(data_begin_, event_end() - data_begin_));
  repomd_.timestamp = std::max(repomd_.timestamp, data_.timestamp);
  repomd_.data.push_back(std::move(data_));
}

}  // namespace

Result<Repomd> parse_repomd(std::string_view xml) {
  RepomdReader reader(xml);
  if (auto s = reader.feed(xml); !s) return fail(s.error());
  if (auto s = reader.finish(); !s) return fail(s.error());
  return reader.take();
}

}  // namespace airlock::rpm

// The in-order reader of primary.xml (private): what PrimaryParser runs on
// the whole document, or on each part of it with resume().
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/formats/rpm.h"
#include "xml.h"

namespace airlock::rpm {

// The document read in order, a package at a time.
class Reader : public formats::detail::XmlStream {
 public:
  // count: packages before the part this reader reads (resume()).
  Reader(std::function<Status(RpmPackage&&)> on_package, PrimaryOptions options,
         std::uint64_t count = 0)
      : XmlStream("primary.xml", "metadata"),
        count(count),
        on_package_(std::move(on_package)),
        options_(options) {}

  // XmlStream::resume(), the window of kept bytes starting there.
  Status resume(std::string_view prolog, std::uint64_t offset, std::uint64_t lines) {
    auto s = XmlStream::resume(prolog, offset, lines);
    window_.clear();
    window_begin_ = offset;
    return s;
  }

  std::uint64_t declared = 0;
  std::uint64_t count = 0;

 private:
  enum class At { top, metadata, package, format, relations, text, leaf };
  enum class Text { none, name, arch, checksum, sourcerpm, file };
  // Elements a package may hold once.
  enum Once { kName, kArch, kVersion, kChecksum, kSize, kLocation, kFormat, kSourcerpm, kOnce };

  void on_start(formats::detail::XmlName name, const char** attrs) override;
  void on_end() override;
  void before_piece(std::string_view piece) override;
  void after_piece() override;
  void start_root(formats::detail::XmlName name, const char** attrs);
  void start_package();
  void start_in_package(formats::detail::XmlName name, const char** attrs);
  void start_in_format(formats::detail::XmlName name);
  void start_entry(const char** attrs);
  void start_version(const char** attrs);
  void start_text(Text which);
  bool once(Once which, std::string_view element);
  void end_text();
  void end_package();
  std::string who() const {
    return pkg_.name.empty() ? "a package" : "package " + formats::detail::quote(pkg_.name);
  }

  std::function<Status(RpmPackage&&)> on_package_;
  PrimaryOptions options_;
  std::vector<At> at_{At::top};
  Text text_ = Text::none;
  RpmPackage pkg_;
  std::vector<Relation>* relations_ = nullptr;
  std::bitset<kOnce> seen_;
  bool in_package_ = false;
  std::uint64_t package_begin_ = 0;
  // With keep_elements: the document's bytes from window_begin_ on.
  std::string window_;
  std::uint64_t window_begin_ = 0;
};

}  // namespace airlock::rpm

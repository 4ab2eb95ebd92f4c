// The report as JSON, written item by item so that the largest sections
// never sit in memory whole: the document Report::document() holds,
// indented by two spaces a level.
#include <ostream>
#include <string>
#include <string_view>

#include "airlock/repo/report.h"

namespace airlock::repo {
using ojson = nlohmann::ordered_json;

namespace {
// value as dump(2) writes it, each line after the first indented by indent more.
void indented(std::ostream& out, const ojson& value, std::string_view indent) {
  const std::string text = value.dump(2);
  std::string_view rest = text;
  for (auto nl = rest.find('\n'); nl != std::string_view::npos; nl = rest.find('\n')) {
    out << rest.substr(0, nl + 1) << indent;
    rest.remove_prefix(nl + 1);
  }
  out << rest;
}
}  // namespace

void write_report_json(std::ostream& out, const Report& report) {
  const ojson& head = report.head();
  auto key = [&](const char* name, bool first = false) {
    out << (first ? "{\n" : ",\n") << "  \"" << name << "\": ";
  };
  auto list = [&](std::size_t count, auto item) {
    out << "[";
    for (std::size_t i = 0; i < count; ++i) {
      out << (i ? ",\n    " : "\n    ");
      indented(out, item(i), "    ");
    }
    out << (count ? "\n  ]" : "]");
  };
  bool first = true;
  for (const char* name : {"format", "generated_at", "period", "integrity", "imports", "refusals",
                           "channel_changes"}) {
    key(name, first);
    first = false;
    indented(out, head[name], "  ");
  }
  key("hosts");
  list(report.host_count(), [&](std::size_t i) { return report.host(i); });
  key("stale_hosts");
  indented(out, head["stale_hosts"], "  ");
  key("packages");
  list(report.package_count(), [&](std::size_t i) { return report.package(i); });
  key("days");
  indented(out, head["days"], "  ");
  out << "\n}\n";
}

}  // namespace airlock::repo

// The report as one HTML page: tables for each section, charts drawn as
// inline SVG, one inline style sheet allowed by its hash, nothing loaded.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "airlock/base/cli.h"
#include "airlock/base/text.h"
#include "airlock/repo/report.h"
#include "airlock/verify/digest.h"
#include "airlock/verify/encoding.h"

namespace airlock::repo {
using ojson = nlohmann::ordered_json;

namespace {

constexpr std::string_view kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1b1b;max-width:1400px}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;width:100%}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.9em;word-break:break-all}.muted{color:#666}
.verdict{padding:1em;border:2px solid;font-size:1.1em}.ok{border-color:#2a7a2a;background:#eef8ee}
.fail{border-color:#b00;background:#fdeaea}.stale{color:#b00;font-weight:bold}
.current{color:#2a7a2a}nav a{margin-right:1em}svg{display:block;margin:.5em 0}
svg text{font:11px sans-serif}.bar{fill:#4a78b5}.bytes{fill:#7a5ab5}.imp{fill:#2a7a2a}
.chg{fill:#c77c00}.ref{fill:#b00}.stalebar{fill:#b00}.okbar{fill:#2a7a2a}.axis{stroke:#888}
)";

// Untrusted text for HTML: control and bidirectional characters made
// visible (as for a terminal), then &, <, >, " and ' as entities.
std::string esc(std::string_view text) {
  std::string out;
  for (char c : escape_for_terminal(text)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A value of the report as cell text.
std::string text(const ojson& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}
std::string cell(const ojson& v) { return esc(text(v)); }
std::string cell(const ojson& item, const char* key) {
  return item.contains(key) ? cell(item[key]) : std::string();
}
std::uint64_t u64(const ojson& item, const char* key) {
  return item.contains(key) && item[key].is_number_unsigned() ? item[key].get<std::uint64_t>() : 0;
}
// A hash in a table: its first 12 digits, the whole in a tooltip.
std::string hash_cell(const ojson& item, const char* key) {
  if (!item.contains(key) || !item[key].is_string()) return "";
  const std::string h = item[key].get<std::string>();
  return "<code title=\"" + esc(h) + "\">" + esc(h.substr(0, 12)) + "</code>";
}

void table_head(std::ostream& out, std::initializer_list<const char*> columns) {
  out << "<table><thead><tr>";
  for (const char* c : columns) out << "<th>" << c << "</th>";
  out << "</tr></thead><tbody>\n";
}

// One repository's changes: counts first, each package in a <details>.
void changes_cell(std::ostream& out, const ojson& changes) {
  if (!changes.is_array() || changes.empty()) return;
  for (const auto& rc : changes) {
    out << "<div><b>" << cell(rc, "repo") << "</b>: " << u64(rc, "added") << " added, "
        << u64(rc, "upgraded") << " upgraded, " << u64(rc, "downgraded") << " downgraded, "
        << u64(rc, "removed") << " removed";
    const auto& pkgs = rc.contains("packages") ? rc["packages"] : ojson::array();
    if (!pkgs.empty()) {
      out << "<details><summary>" << pkgs.size() << " package" << (pkgs.size() == 1 ? "" : "s")
          << "</summary><ul>";
      for (const auto& p : pkgs) {
        out << "<li>" << cell(p, "change") << " " << cell(p, "name") << " ("
            << cell(p, "architecture") << ") " << cell(p, "old");
        if (p.contains("old") && !text(p["old"]).empty() && !text(p["new"]).empty()) out << " → ";
        out << cell(p, "new") << "</li>";
      }
      out << "</ul></details>";
    }
    out << "</div>";
  }
}

void integrity(std::ostream& out, const ojson& r) {
  const ojson& i = r["integrity"];
  const bool ok = i.value("verified", false);
  out << "<section id=\"integrity\"><h2>1. Integrity of the log</h2>\n<p class=\"verdict "
      << (ok ? "ok" : "fail") << "\"><b>" << (ok ? "VERIFIED" : "NOT VERIFIED") << "</b> — "
      << cell(i, "statement") << "</p>\n";
  if (ok) {
    out << "<table><tbody><tr><th>records</th><td class=\"num\">" << u64(i, "records")
        << "</td></tr><tr><th>root</th><td><code>" << cell(i, "root")
        << "</code></td></tr><tr><th>signed checkpoints</th><td class=\"num\">"
        << u64(i, "checkpoints") << "</td></tr>";
    if (i.contains("latest_checkpoint") && i["latest_checkpoint"].is_object()) {
      const ojson& cp = i["latest_checkpoint"];
      out << "<tr><th>newest checkpoint</th><td>record " << u64(cp, "n") << ", " << cell(cp, "time")
          << ", tree size " << u64(cp, "tree_size") << ", root <code>" << cell(cp, "root")
          << "</code>, origin " << cell(cp, "origin") << "</td></tr>";
    }
    out << "<tr><th>records not yet covered</th><td class=\"num\">" << u64(i, "uncovered")
        << "</td></tr>";
  } else {
    out << "<table><tbody>";
  }
  out << "<tr><th>log key</th><td><code>" << cell(i, "log_key") << "</code></td></tr>"
      << "</tbody></table></section>\n";
}

void imports(std::ostream& out, const ojson& r) {
  out << "<section id=\"imports\"><h2>2. What crossed</h2>\n<h3>Imports</h3>\n";
  if (r["imports"].empty())
    out << "<p class=\"muted\">No import in this period.</p>\n";
  else {
    table_head(out, {"time", "record", "stream", "sequence", "kind", "bundle", "manifest",
                     "signers", "operator", "media", "reason", "change ref", "packages"});
    for (const auto& i : r["imports"]) {
      out << "<tr class=\"import\"><td>" << cell(i, "time") << "</td><td class=\"num\">"
          << cell(i, "n") << "</td><td>" << cell(i, "stream") << "</td><td class=\"num\">"
          << cell(i, "sequence") << "</td><td>" << cell(i, "kind") << "</td><td>"
          << cell(i, "bundle") << "</td><td>" << hash_cell(i, "manifest") << "</td><td>";
      for (const auto& s : i["signers"]) {
        out << "<div>" << cell(s, "name");
        if (s.contains("keyid") && s["keyid"].is_string()) out << " " << hash_cell(s, "keyid");
        out << "</div>";
      }
      out << "</td><td>" << cell(i, "operator") << "</td><td>" << cell(i, "media_label")
          << "</td><td>" << cell(i, "reason") << "</td><td>" << cell(i, "change_ref")
          << "</td><td>";
      changes_cell(out, i["changes"]);
      out << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
  }
  out << "<h3 id=\"refusals\">Refused imports</h3>\n";
  if (r["refusals"].empty()) {
    out << "<p class=\"muted\">No import was refused in this period.</p>\n";
  } else {
    table_head(out,
               {"time", "record", "result", "bundle", "manifest", "operator", "media", "reason"});
    for (const auto& i : r["refusals"]) {
      out << "<tr class=\"refusal\"><td>" << cell(i, "time") << "</td><td class=\"num\">"
          << cell(i, "n") << "</td><td>" << cell(i, "result") << "</td><td>" << cell(i, "bundle")
          << "</td><td>" << hash_cell(i, "manifest") << "</td><td>" << cell(i, "operator")
          << "</td><td>" << cell(i, "media_label") << "</td><td>" << cell(i, "reason")
          << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
  }
  out << "</section>\n";
}

void channels(std::ostream& out, const ojson& r) {
  out << "<section id=\"channels\"><h2>3. Channel history</h2>\n";
  if (r["channel_changes"].empty()) {
    out << "<p class=\"muted\">No channel changed in this period.</p></section>\n";
    return;
  }
  table_head(out, {"time", "record", "action", "channel", "repository", "snapshot", "previous",
                   "from", "operator", "reason", "change ref", "packages"});
  for (const auto& c : r["channel_changes"]) {
    out << "<tr class=\"channel-change\"><td>" << cell(c, "time") << "</td><td class=\"num\">"
        << cell(c, "n") << "</td><td>" << cell(c, "action") << "</td><td>" << cell(c, "channel")
        << "</td><td>" << cell(c, "repo") << "</td><td>" << hash_cell(c, "snapshot") << "</td><td>"
        << hash_cell(c, "previous") << "</td><td>" << cell(c, "from") << "</td><td>"
        << cell(c, "operator") << "</td><td>" << cell(c, "reason") << "</td><td>"
        << cell(c, "change_ref") << "</td><td>";
    changes_cell(out, c["changes"]);
    out << "</td></tr>\n";
  }
  out << "</tbody></table></section>\n";
}

void hosts(std::ostream& out, const Report& report) {
  const ojson& r = report.head();
  out << "<section id=\"hosts\"><h2>4. Hosts</h2>\n<h3 id=\"stale-hosts\">Stale hosts</h3>\n";
  if (r["stale_hosts"].empty()) {
    out << "<p class=\"current\">Every host has fetched each channel index it uses since the "
           "channel last changed.</p>\n";
  } else {
    const std::size_t n = r["stale_hosts"].size();
    out << "<p class=\"stale\">" << n << (n == 1 ? " host has" : " host/channel pairs have")
        << " not fetched the channel's index since it last changed (as of "
        << cell(r["period"], "state_at") << ").</p>\n";
    table_head(out, {"host", "channel", "repository", "last index fetch", "last change"});
    for (const auto& s : r["stale_hosts"]) {
      out << "<tr class=\"stale-host\"><td>" << cell(s, "host") << "</td><td>" << cell(s, "channel")
          << "</td><td>" << cell(s, "repo") << "</td><td>" << cell(s, "last_fetch") << "</td><td>"
          << cell(s, "last_change") << " (record " << cell(s, "last_change_n") << ")</td></tr>\n";
    }
    out << "</tbody></table>\n";
  }
  out << "<h3>Every host</h3>\n";
  table_head(out, {"host", "first seen", "last seen", "requests", "errors", "bytes",
                   "channel indices", "packages downloaded", "failed requests"});
  for (std::size_t i = 0; i < report.host_count(); ++i) {
    const ojson h = report.host(i);
    out << "<tr class=\"host\"><td>" << cell(h, "host") << "</td><td>" << cell(h, "first_seen")
        << "</td><td>" << cell(h, "last_seen") << "</td><td class=\"num\">" << u64(h, "requests")
        << "</td><td class=\"num\">" << u64(h, "errors") << "</td><td class=\"num\">"
        << esc(cli::human_bytes(u64(h, "bytes"))) << "</td><td>";
    for (const auto& c : h["channels"]) {
      const bool stale = c.value("stale", false);
      out << "<div>" << cell(c, "channel") << "/" << cell(c, "repo") << ": "
          << cell(c, "last_fetch") << " <span class=\""
          << (stale ? "stale\">STALE" : "current\">current") << "</span></div>";
    }
    out << "</td><td>";
    const ojson& pkgs = h["packages"];
    if (!pkgs.empty()) {
      out << "<details><summary>" << pkgs.size() << " package version"
          << (pkgs.size() == 1 ? "" : "s") << "</summary><ul>";
      for (const auto& p : pkgs) {
        out << "<li>" << cell(p, "name") << " " << cell(p, "version") << " ("
            << cell(p, "architecture") << "), " << cell(p, "last") << "</li>";
      }
      out << "</ul></details>";
    }
    out << "</td><td>";
    const ojson& failures = h["failures"];
    if (!failures.empty()) {
      out << "<details><summary>" << failures.size() << " path" << (failures.size() == 1 ? "" : "s")
          << "</summary><ul>";
      for (const auto& f : failures) {
        out << "<li class=\"failure\">" << cell(f, "status") << " " << cell(f, "path") << " ("
            << u64(f, "count") << "×, last " << cell(f, "last") << ")</li>";
      }
      out << "</ul></details>";
    }
    out << "</td></tr>\n";
  }
  out << "</tbody></table></section>\n";
}

void packages(std::ostream& out, const Report& report) {
  out << "<section id=\"packages\"><h2>5. Packages served</h2>\n";
  if (report.package_count() == 0) {
    out << "<p class=\"muted\">No package was downloaded in this period.</p></section>\n";
    return;
  }
  table_head(out, {"package", "version", "architecture", "sha256", "pulls", "hosts"});
  for (std::size_t i = 0; i < report.package_count(); ++i) {
    const ojson p = report.package(i);
    out << "<tr class=\"package\"><td>" << cell(p, "name") << "</td><td>" << cell(p, "version")
        << "</td><td>" << cell(p, "architecture") << "</td><td>" << hash_cell(p, "sha256")
        << "</td><td class=\"num\">" << u64(p, "pulls") << "</td><td>";
    for (const auto& h : p["hosts"]) {
      out << "<div>" << cell(h, "host") << ": " << cell(h, "first");
      if (text(h["last"]) != text(h["first"])) out << " … " << cell(h, "last");
      out << " (" << u64(h, "pulls") << "×)</div>";
    }
    out << "</td></tr>\n";
  }
  out << "</tbody></table></section>\n";
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// A bar chart of one number per day.
void day_bars(std::ostream& out, const ojson& days, const char* key, const char* title,
              const char* css, bool bytes) {
  const double w = 900, h = 160, left = 70, bottom = 20;
  std::uint64_t max = 1;
  for (const auto& d : days) max = std::max(max, u64(d, key));
  const double slot = days.empty() ? w : (w - left) / static_cast<double>(days.size());
  out << "<figure><figcaption>" << title << "</figcaption><svg class=\"chart\" width=\"" << w
      << "\" height=\"" << h + bottom << "\" viewBox=\"0 0 " << w << " " << h + bottom
      << "\" role=\"img\" aria-label=\"" << title << "\">"
      << "<line class=\"axis\" x1=\"" << left << "\" y1=\"" << h << "\" x2=\"" << w << "\" y2=\""
      << h << "\"/><text x=\"0\" y=\"12\">"
      << esc(bytes ? cli::human_bytes(max) : std::to_string(max)) << "</text><text x=\"0\" y=\""
      << h << "\">0</text>";
  std::size_t i = 0;
  for (const auto& d : days) {
    const double bar = (h - 10) * static_cast<double>(u64(d, key)) / static_cast<double>(max);
    const double x = left + slot * static_cast<double>(i);
    const double width = std::min(40.0, std::max(1.0, slot - 2));
    const std::string label = text(d["date"]) + ": " +
                              (bytes ? cli::human_bytes(u64(d, key)) : std::to_string(u64(d, key)));
    out << "<rect class=\"" << css << "\" x=\"" << fmt(x + 1) << "\" y=\"" << fmt(h - bar)
        << "\" width=\"" << fmt(width) << "\" height=\"" << fmt(bar) << "\"><title>" << esc(label)
        << "</title></rect>";
    if (i == 0 || i + 1 == days.size())
      out << "<text x=\"" << fmt(x) << "\" y=\"" << h + 14 << "\">" << cell(d, "date") << "</text>";
    ++i;
  }
  out << "</svg></figure>\n";
}

// Imports, refusals and channel changes placed on a time axis from the
// period's first record to its last.
void timeline(std::ostream& out, const ojson& r) {
  const double w = 900, left = 70, right = 20, row = 26;
  const auto first = parse_time(text(r["period"]["first_record"]));
  const auto last = parse_time(text(r["period"]["last_record"]));
  auto x_of = [&](const ojson& item) {
    auto t = parse_time(text(item["time"]));
    if (!first || !last || !t || *last <= *first) return left + (w - left - right) / 2;
    return left + (w - left - right) * static_cast<double>((*t - *first).count()) /
                      static_cast<double>((*last - *first).count());
  };
  out << "<figure><figcaption>Imports, refusals and channel changes, "
      << cell(r["period"], "first_record") << " to " << cell(r["period"], "last_record")
      << "</figcaption><svg class=\"chart\" width=\"" << w << "\" height=\"" << row * 3 + 10
      << "\" role=\"img\" aria-label=\"timeline\">";
  const struct {
    const char* key;
    const char* label;
    const char* css;
  } rows[] = {{"imports", "imports", "imp"},
              {"refusals", "refusals", "ref"},
              {"channel_changes", "channels", "chg"}};
  double y = row / 2 + 4;
  for (const auto& rw : rows) {
    out << "<text x=\"0\" y=\"" << y + 4 << "\">" << rw.label << "</text><line class=\"axis\" x1=\""
        << left << "\" y1=\"" << y << "\" x2=\"" << w - right << "\" y2=\"" << y << "\"/>";
    for (const auto& item : r[rw.key]) {
      std::string label = text(item["time"]) + " record " + text(item["n"]);
      if (item.contains("bundle")) label += " " + text(item["bundle"]);
      if (item.contains("action"))
        label +=
            " " + text(item["action"]) + " " + text(item["channel"]) + "/" + text(item["repo"]);
      out << "<circle class=\"" << rw.css << "\" cx=\"" << fmt(x_of(item)) << "\" cy=\"" << y
          << "\" r=\"5\"><title>" << esc(label) << "</title></circle>";
    }
    y += row;
  }
  out << "</svg></figure>\n";
}

// One bar per host and channel index: hours since the host last fetched it,
// red when the channel changed after that fetch.
void staleness(std::ostream& out, const Report& report) {
  const auto end = parse_time(text(report.head()["period"]["state_at"]));
  struct Bar {
    std::string label;
    double hours;
    bool stale;
  };
  std::vector<Bar> bars;
  for (std::size_t i = 0; i < report.host_count(); ++i) {
    const ojson h = report.host(i);
    for (const auto& c : h["channels"]) {
      auto fetched = parse_time(text(c["last_fetch"]));
      if (!end || !fetched) continue;
      const double hours = std::max(0.0, static_cast<double>((*end - *fetched).count()) / 3600.0);
      bars.push_back({text(h["host"]) + " " + text(c["channel"]) + "/" + text(c["repo"]), hours,
                      c.value("stale", false)});
    }
  }
  std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
    return std::tie(b.stale, b.hours) < std::tie(a.stale, a.hours);
  });
  constexpr std::size_t kShown = 60;
  const std::size_t shown = std::min(bars.size(), kShown);
  double max = 1;
  for (std::size_t i = 0; i < shown; ++i) max = std::max(max, bars[i].hours);
  const double w = 900, left = 300, row = 18;
  out << "<figure><figcaption>Hosts by staleness: hours since each host last fetched a channel "
         "index (red: the channel changed since)</figcaption><svg class=\"chart\" width=\""
      << w << "\" height=\"" << row * static_cast<double>(shown) + 10
      << "\" role=\"img\" aria-label=\"hosts by staleness\">";
  for (std::size_t i = 0; i < shown; ++i) {
    const Bar& b = bars[i];
    const double y = row * static_cast<double>(i);
    const double len = (w - left - 80) * b.hours / max;
    out << "<text x=\"0\" y=\"" << y + 13 << "\">" << esc(b.label) << "</text><rect class=\""
        << (b.stale ? "stalebar" : "okbar") << "\" x=\"" << left << "\" y=\"" << y + 3
        << "\" width=\"" << fmt(std::max(1.0, len)) << "\" height=\"" << row - 4 << "\"/><text x=\""
        << fmt(left + std::max(1.0, len) + 4) << "\" y=\"" << y + 13 << "\">" << fmt(b.hours)
        << " h" << (b.stale ? " STALE" : "") << "</text>";
  }
  out << "</svg>";
  if (bars.size() > shown)
    out << "<p class=\"muted\">… and " << bars.size() - shown << " more (see the hosts table).</p>";
  out << "</figure>\n";
}

void charts(std::ostream& out, const Report& report) {
  const ojson& r = report.head();
  out << "<section id=\"charts\"><h2>6. Charts</h2>\n";
  day_bars(out, r["days"], "pulls", "Pulls per day", "bar", false);
  day_bars(out, r["days"], "bytes", "Bytes served per day", "bytes", true);
  timeline(out, r);
  staleness(out, report);
  out << "</section>\n";
}

std::string period_text(const ojson& p) {
  std::string since = text(p["since"]), until = text(p["until"]);
  return (since.empty() ? "the first record" : since) + " to " +
         (until.empty() ? "the last record" : until);
}

}  // namespace

void write_report_html(std::ostream& out, const Report& report) {
  const ojson& r = report.head();
  const Digest style_hash = sha256(kStyle);
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
         "'sha256-"
      << base64_encode(style_hash.span())
      << "'; img-src 'none'; base-uri 'none'; form-action 'none'\">\n"
      << "<meta name=\"generator\" content=\"airlock-repo report\">\n"
      << "<title>airlock compliance report, " << esc(period_text(r["period"])) << "</title>\n"
      << "<style>" << kStyle << "</style></head><body>\n"
      << "<h1>airlock compliance report</h1>\n<p>Period: " << esc(period_text(r["period"]))
      << " (records from " << cell(r["period"], "first_record") << " to "
      << cell(r["period"], "last_record") << "). Generated " << cell(r, "generated_at")
      << "; channel states and staleness as of " << cell(r["period"], "state_at") << ".</p>\n"
      << "<nav><a href=\"#integrity\">Integrity</a><a href=\"#imports\">What crossed</a>"
         "<a href=\"#channels\">Channels</a><a href=\"#hosts\">Hosts</a>"
         "<a href=\"#packages\">Packages</a><a href=\"#charts\">Charts</a></nav>\n";
  integrity(out, r);
  imports(out, r);
  channels(out, r);
  hosts(out, report);
  packages(out, report);
  charts(out, report);
  out << "</body></html>\n";
}

}  // namespace airlock::repo

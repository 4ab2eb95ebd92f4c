#include "airlock/base/time.h"

#include <ctime>

namespace airlock {

namespace {

constexpr const char* kHttpDate = "%a, %d %b %Y %H:%M:%S GMT";

std::string format_utc(TimePoint t, const char* format) {
  std::time_t tt = t.time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string format_time(TimePoint t) { return format_utc(t, "%Y-%m-%dT%H:%M:%SZ"); }

std::string format_http_date(TimePoint t) { return format_utc(t, kHttpDate); }

std::optional<TimePoint> parse_http_date(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), kHttpDate, &tm);
  if (!end || *end) return std::nullopt;
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

Result<TimePoint> parse_time(std::string_view text) {
  auto bad = [&] {
    return fail(Code::invalid_input,
                "'" + std::string(text) + "' is not an RFC 3339 time (2026-01-31T12:00:00Z)");
  };
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > text.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  if (text.size() < 20 || !digits(0, 4, y) || text[4] != '-' || !digits(5, 2, mo) ||
      text[7] != '-' || !digits(8, 2, d) || (text[10] != 'T' && text[10] != 't') ||
      !digits(11, 2, h) || text[13] != ':' || !digits(14, 2, mi) || text[16] != ':' ||
      !digits(17, 2, s)) {
    return bad();
  }
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return bad();
  }
  long offset = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !digits(pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = (oh * 3600L + om * 60L) * (text[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return bad();
  auto tp = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) - seconds(offset);
  return time_point_cast<seconds>(tp);
}

TimePoint system_now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

Result<TimePoint> parse_bound(std::string_view text, DayEdge edge) {
  if (text.size() != 10) return parse_time(text);
  auto day = parse_time(std::string(text) + "T00:00:00Z");
  if (!day) {
    return fail(Code::invalid_input,
                "'" + std::string(text) + "' is not a date (2026-01-31) or an RFC 3339 time");
  }
  return edge == DayEdge::start ? *day : *day + std::chrono::seconds(86399);
}

}  // namespace airlock

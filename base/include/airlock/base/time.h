// Wall-clock time in the one text form airlock writes: RFC 3339 UTC,
// whole seconds, "2026-11-22T10:51:33Z".
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/base/error.h"

namespace airlock {

using TimePoint = std::chrono::sys_seconds;

std::string format_time(TimePoint t);
// HTTP's IMF-fixdate: "Sun, 22 Nov 2026 10:51:33 GMT"; parsing accepts only that form.
std::string format_http_date(TimePoint t);
std::optional<TimePoint> parse_http_date(const std::string& text);
// Accepts "YYYY-MM-DDTHH:MM:SSZ" and numeric offsets ("+02:00"), optional
// fractional seconds (truncated). Anything else is invalid_input.
Result<TimePoint> parse_time(std::string_view text);

// A bound of a period: parse_time's forms, or a date "YYYY-MM-DD" meaning
// that UTC day's first second (a start) or its last second (an end).
enum class DayEdge { start, end };
Result<TimePoint> parse_bound(std::string_view text, DayEdge edge);

// The clock, injectable where tests need to move time.
using Clock = std::function<TimePoint()>;
TimePoint system_now();

}  // namespace airlock

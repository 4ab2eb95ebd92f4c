// How airlock-repo's results read: each result as JSON (--json) and as text
// for a terminal (untrusted strings escaped). One place for both, so that
// the program stays an argument adapter and tests can check the output
// without starting a process.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "airlock/repo/home.h"

namespace airlock::repo {

nlohmann::json to_json(const TrustPolicy& policy);
nlohmann::json to_json(const TrustReport& report);
nlohmann::json to_json(const AccessPolicy& policy);
nlohmann::json to_json(const AccessReport& report);
nlohmann::json to_json(const ImportReport& report);
nlohmann::json to_json(const std::vector<SnapshotInfo>& snapshots);
nlohmann::json to_json(const SnapshotView& view);
nlohmann::json to_json(const SnapshotDiff& diff);
nlohmann::json to_json(const std::vector<ChannelChange>& history);
nlohmann::json to_json(const ChannelEntry& entry);
nlohmann::json to_json(const std::vector<ChannelEntry>& entries);
nlohmann::json to_json(const ScrubReport& report);
nlohmann::json to_json(const StatusReport& report);
nlohmann::json to_json(const Trace& trace);

void print_trust(std::ostream& out, const TrustPolicy& policy);
// The change, and a note on stderr when the threshold cannot be met.
void print_trust_change(std::ostream& out, const TrustReport& report);
// One line a rule: name, what it grants, its conditions.
void print_access(std::ostream& out, const AccessPolicy& policy);
void print_access_change(std::ostream& out, const AccessReport& report);
void print_import(std::ostream& out, const ImportReport& report);
void print_snapshots(std::ostream& out, const std::vector<SnapshotInfo>& snapshots);
// The snapshot's facts, then its packages as a table.
void print_snapshot(std::ostream& out, const SnapshotView& view);
void print_diff(std::ostream& out, const SnapshotDiff& diff);
// Each change: when, what, who and why, the snapshots before and after, and
// the packages it changed.
void print_channel_history(std::ostream& out, const std::vector<ChannelChange>& history);
void print_channel(std::ostream& out, const ChannelEntry& entry);
void print_channels(std::ostream& out, const std::vector<ChannelEntry>& entries);
// What a channel delete removed.
void print_deleted(std::ostream& out, const std::vector<ChannelEntry>& entries);
void print_scrub(std::ostream& out, const ScrubReport& report);
void print_status(std::ostream& out, const StatusReport& report);
// The file, then one line a link: its record number, kind and facts.
void print_trace(std::ostream& out, const Trace& trace);

// What a report written to file holds, in a few lines: the period, the
// log's verdict, imports, refusals, channel changes, hosts (stale ones)
// and package versions pulled.
void print_report_summary(std::ostream& out, const Report& report, const std::string& file,
                          const std::string& format);

}  // namespace airlock::repo

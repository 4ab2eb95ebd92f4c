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
nlohmann::json to_json(const ImportReport& report);
nlohmann::json to_json(const std::vector<SnapshotInfo>& snapshots);
nlohmann::json to_json(const ChannelEntry& entry);
nlohmann::json to_json(const std::vector<ChannelEntry>& entries);
nlohmann::json to_json(const ScrubReport& report);
nlohmann::json to_json(const StatusReport& report);

void print_trust(std::ostream& out, const TrustPolicy& policy);
// The change, and a note on stderr when the threshold cannot be met.
void print_trust_change(std::ostream& out, const TrustReport& report);
void print_import(std::ostream& out, const ImportReport& report);
void print_snapshots(std::ostream& out, const std::vector<SnapshotInfo>& snapshots);
void print_channel(std::ostream& out, const ChannelEntry& entry);
void print_channels(std::ostream& out, const std::vector<ChannelEntry>& entries);
void print_scrub(std::ostream& out, const ScrubReport& report);
void print_status(std::ostream& out, const StatusReport& report);

}  // namespace airlock::repo

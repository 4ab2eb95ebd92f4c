// Channels: a name (test, prod, ...) mapping each repository to one
// snapshot, with history so that rollback is one step back. Stored as refs
// "channel/<channel>/<repo>"; every change is logged with who, when and why.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "airlock/repo/home.h"

namespace airlock::repo {

struct ChangeInfo {
  std::string operator_name;
  std::string reason;
  std::string change_ref;
};

struct ChannelEntry {
  std::string channel;
  std::string repo;
  Digest snapshot;
};

bool valid_channel_name(std::string_view name);

Result<std::vector<ChannelEntry>> list_channels(const Store& store);
Result<Digest> channel_snapshot(const Store& store, std::string_view channel, std::string_view repo);

// Points channel/repo at snapshot (which must be a snapshot of repo).
Status publish(const RepoHome& home, Store& store, TransferLog& log, const std::string& repo,
               const Digest& snapshot, const std::string& channel, const ChangeInfo& who);
// Copies from's snapshots (all repositories, or only repos) to `to`.
Result<std::vector<ChannelEntry>> promote(const RepoHome& home, Store& store, TransferLog& log,
                                          const std::string& from, const std::string& to,
                                          const std::vector<std::string>& repos, const ChangeInfo& who);
// Moves each repository of channel (or only repos) one step back in its history.
Result<std::vector<ChannelEntry>> rollback(const RepoHome& home, Store& store, TransferLog& log,
                                           const std::string& channel, const std::vector<std::string>& repos,
                                           const ChangeInfo& who);

}  // namespace airlock::repo

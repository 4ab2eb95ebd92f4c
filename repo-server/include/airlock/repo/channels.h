// Channels: a name (test, prod, ...) mapping each repository to one
// snapshot, with history so that rollback is one step back. Stored as refs
// "channel/<channel>/<repo>"; changes are made by repo::Home and logged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "airlock/store/store.h"

namespace airlock::repo {

struct ChannelEntry {
  std::string channel;
  std::string repo;
  Digest snapshot;
};

// 1-32 characters of a-z 0-9 - _, starting with a letter.
bool valid_channel_name(std::string_view name);

Result<std::vector<ChannelEntry>> list_channels(const Store& store);
Result<Digest> channel_snapshot(const Store& store, std::string_view channel,
                                std::string_view repo);

}  // namespace airlock::repo

// How channels live in the store, for the code that changes and shows them:
// the ref "channel/<channel>/<repo>" holds what a channel serves, with its
// history; a channel exists while one of its refs is set. Deleting a channel
// removes its refs (their history stays) and leaves the meta value
// "channel-deleted/<channel>/<repo>", so that its history can still be found.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/store/store.h"

namespace airlock::repo {

std::string channel_ref(std::string_view channel, std::string_view repo);
std::string deleted_channel_key(std::string_view channel, std::string_view repo);

// invalid_input, naming the rule, unless valid_channel_name(name).
Status check_channel_name(std::string_view name);

// The channels that serve something now, sorted.
Result<std::vector<std::string>> channel_names(const Store& store);

// Every (channel, repo) that has a history, served now or deleted, sorted;
// only those of `channel` unless it is empty.
Result<std::vector<std::pair<std::string, std::string>>> channel_repos_ever(
    const Store& store, std::string_view channel);

// Succeeds when channel serves something now. Otherwise not_found:
// "no channel 'X'", a "did you mean 'Y'?" for a near name, the existing
// channels and, with offer_create, how to make a new one.
Status require_channel(const Store& store, std::string_view channel, bool offer_create = false);

}  // namespace airlock::repo

#include "airlock/repo/channels.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "airlock/base/json.h"
#include "airlock/base/text.h"
#include "airlock/repo/home.h"
#include "channel_refs.h"

namespace airlock::repo {
namespace {

using json = nlohmann::json;

constexpr std::string_view kRefPrefix = "channel/";
constexpr std::string_view kDeletedPrefix = "channel-deleted/";

// "<channel>/<repo>" after a prefix, split at the first slash.
std::optional<std::pair<std::string, std::string>> split_name(std::string_view rest) {
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return std::pair{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
}

std::optional<Digest> current(const Store& store, const std::string& ref) {
  auto d = store.get_ref(ref);
  return d ? std::optional<Digest>(*d) : std::nullopt;
}

// The note kept in a channel's history: who did what, and why.
std::string note(const char* action, const ChangeInfo& who, const json& extra) {
  json n = who.fields();
  n["action"] = action;
  n.update(extra);
  return n.dump(-1, ' ', false, json::error_handler_t::replace);
}

// One change of channel refs, logged with one record per entry: each ref is
// pointed at the entry's snapshot or, for a delete, removed (and remembered
// as deleted, so that its history can be found). extra goes into the notes
// and the records.
Status move_channels(Ledger& ledger, const std::vector<ChannelEntry>& entries, const char* action,
                     const ChangeInfo& who, const json& extra = json::object()) {
  const bool remove = std::string_view(action) == "delete";
  auto change = ledger.begin();
  if (!change) return fail(change.error());
  auto batch = change->batch();
  if (!batch) return fail(batch.error());
  std::vector<LogEntry> records;
  for (const auto& e : entries) {
    const auto ref = channel_ref(e.channel, e.repo);
    auto before = current(ledger.store(), ref);
    (*batch)->set_ref(ref, remove ? std::nullopt : std::optional<Digest>(e.snapshot),
                      note(action, who, extra));
    if (remove) (*batch)->set_meta(deleted_channel_key(e.channel, e.repo), e.snapshot.hex());
    json rec = who.fields();
    rec.update({{"channel", e.channel},
                {"repo", e.repo},
                {"snapshot", remove ? json(nullptr) : json(e.snapshot.hex())},
                {"previous", before ? json(before->hex()) : json(nullptr)}});
    rec.update(extra);
    records.push_back({action, std::move(rec)});
  }
  return change->commit(std::move(records));
}

bool selected(const std::vector<std::string>& repos, const std::string& repo) {
  return repos.empty() || std::find(repos.begin(), repos.end(), repo) != repos.end();
}

// What channel serves (only repos, when any are named): not_found when the
// channel does not exist or does not serve a repository named.
Result<std::vector<ChannelEntry>> channel_entries(const Store& store, const std::string& channel,
                                                  const std::vector<std::string>& repos) {
  if (auto s = check_channel_name(channel); !s) return fail(s.error());
  if (auto s = require_channel(store, channel); !s) return fail(s.error());
  auto all = list_channels(store);
  if (!all) return fail(all.error());
  std::vector<ChannelEntry> out;
  for (const auto& e : *all) {
    if (e.channel == channel && selected(repos, e.repo)) out.push_back(e);
  }
  for (const auto& r : repos) {
    if (std::none_of(out.begin(), out.end(), [&](const auto& e) { return e.repo == r; }))
      return fail(Code::not_found, "channel '" + channel + "' has no repository '" + r + "'");
  }
  return out;
}

// A channel about to receive snapshots: a valid name, and one that exists
// unless create.
Status check_target(const Store& store, const std::string& channel, bool create) {
  if (auto s = check_channel_name(channel); !s) return s;
  return create ? Status{} : require_channel(store, channel, true);
}

// The existing name nearest to name, when it is near enough to be a typo.
std::optional<std::string> nearest(std::string_view name, const std::vector<std::string>& names) {
  const std::size_t allowed = name.size() >= 4 ? 2 : 1;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const auto& n : names) {
    if (auto d = edit_distance(name, n); d < best_distance) {
      best = n;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace

std::string channel_ref(std::string_view channel, std::string_view repo) {
  return std::string(kRefPrefix) + std::string(channel) + "/" + std::string(repo);
}

std::string deleted_channel_key(std::string_view channel, std::string_view repo) {
  return std::string(kDeletedPrefix) + std::string(channel) + "/" + std::string(repo);
}

Status check_channel_name(std::string_view name) {
  if (!valid_channel_name(name)) {
    return fail(Code::invalid_input,
                "channel name '" + std::string(name) +
                    "' must be 1-32 characters of a-z 0-9 - _, starting with a letter");
  }
  return {};
}

bool valid_channel_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

Result<std::vector<ChannelEntry>> list_channels(const Store& store) {
  auto refs = store.list_refs(kRefPrefix);
  if (!refs) return fail(refs.error());
  std::vector<ChannelEntry> out;
  for (const auto& [name, id] : *refs) {
    if (auto parts = split_name(std::string_view(name).substr(kRefPrefix.size())))
      out.push_back({parts->first, parts->second, id});
  }
  return out;
}

Result<std::vector<std::string>> channel_names(const Store& store) {
  auto entries = list_channels(store);
  if (!entries) return fail(entries.error());
  std::set<std::string> names;
  for (const auto& e : *entries) names.insert(e.channel);
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::pair<std::string, std::string>>> channel_repos_ever(
    const Store& store, std::string_view channel) {
  const std::string scope = channel.empty() ? std::string() : std::string(channel) + "/";
  auto live = list_channels(store);
  if (!live) return fail(live.error());
  auto deleted = store.list_meta(std::string(kDeletedPrefix) + scope);
  if (!deleted) return fail(deleted.error());
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& e : *live) {
    if (channel.empty() || e.channel == channel) out.emplace(e.channel, e.repo);
  }
  for (const auto& [key, value] : *deleted) {
    if (auto parts = split_name(std::string_view(key).substr(kDeletedPrefix.size())))
      out.insert(std::move(*parts));
  }
  return std::vector<std::pair<std::string, std::string>>(out.begin(), out.end());
}

Status require_channel(const Store& store, std::string_view channel, bool offer_create) {
  auto names = channel_names(store);
  if (!names) return fail(names.error());
  if (std::binary_search(names->begin(), names->end(), channel)) return {};
  std::string line = "no channel '" + std::string(channel) + "'";
  if (auto near = nearest(channel, *names)) line += "; did you mean '" + *near + "'?";
  if (names->empty()) {
    line += " (there are no channels yet";
  } else {
    line += " (channels:";
    for (const auto& n : *names) line += (&n == &names->front() ? " " : ", ") + n;
  }
  line += offer_create ? "; pass --create to make a new one)" : ")";
  return fail(Code::not_found, line);
}

Result<Digest> channel_snapshot(const Store& store, std::string_view channel,
                                std::string_view repo) {
  return store.get_ref(channel_ref(channel, repo));
}

Result<ChannelEntry> Home::publish(const std::string& repo, const Digest& snapshot,
                                   const std::string& channel, const ChangeInfo& who, bool create) {
  if (auto s = check_target(store(), channel, create); !s) return fail(s.error());
  auto snap = store().get_snapshot(snapshot);
  if (!snap) return fail(snap.error());
  if (snap->repo != repo) {
    return fail(Code::invalid_input, "snapshot " + snapshot.hex() + " is of repository '" +
                                         snap->repo + "', not '" + repo + "'");
  }
  ChannelEntry e{channel, repo, snapshot};
  if (auto s = move_channels(ledger(), {e}, "publish", who); !s) return fail(s.error());
  return e;
}

Result<std::vector<ChannelEntry>> Home::promote(const std::string& from, const std::string& to,
                                                const std::vector<std::string>& repos,
                                                const ChangeInfo& who, bool create) {
  auto moved = channel_entries(store(), from, repos);
  if (!moved) return fail(moved.error());
  if (auto s = check_target(store(), to, create); !s) return fail(s.error());
  for (auto& e : *moved) e.channel = to;
  auto s = move_channels(ledger(), *moved, "promote", who, {{"from", from}});
  if (!s) return fail(s.error());
  return moved;
}

namespace {

// One step back in a channel's history: replayed as a stack where publish
// and promote push, rollback pops and a delete empties it; the answer is the
// state below the top.
Result<std::optional<Digest>> previous_snapshot(const Store& store, const std::string& ref) {
  auto history = store.ref_history(ref);
  if (!history) return fail(history.error());
  std::vector<Digest> stack;
  for (const auto& u : *history) {
    json n = json::parse(u.note, nullptr, false);
    if (!u.target) {
      stack.clear();
    } else if (json_string(n, "action") == "rollback") {
      if (!stack.empty()) stack.pop_back();
    } else {
      stack.push_back(*u.target);
    }
  }
  if (stack.size() < 2) return std::optional<Digest>{};
  return std::optional<Digest>(stack[stack.size() - 2]);
}

}  // namespace

Result<std::vector<ChannelEntry>> Home::rollback(const std::string& channel,
                                                 const std::vector<std::string>& repos,
                                                 const ChangeInfo& who) {
  auto back = channel_entries(store(), channel, repos);
  if (!back) return fail(back.error());
  for (auto& e : *back) {
    auto prev = previous_snapshot(store(), channel_ref(channel, e.repo));
    if (!prev) return fail(prev.error());
    if (!*prev) {
      return fail(Code::conflict, "channel '" + channel + "' has no earlier snapshot of '" +
                                      e.repo + "' to roll back to");
    }
    e.snapshot = **prev;
  }
  if (auto s = move_channels(ledger(), *back, "rollback", who); !s) return fail(s.error());
  return back;
}

Result<std::vector<ChannelEntry>> Home::delete_channel(const std::string& channel,
                                                       const ChangeInfo& who) {
  auto gone = channel_entries(store(), channel, {});
  if (!gone) return fail(gone.error());
  if (auto s = move_channels(ledger(), *gone, "delete", who); !s) return fail(s.error());
  return gone;
}

Result<std::vector<ChannelEntry>> Home::channels() const { return list_channels(store()); }

}  // namespace airlock::repo

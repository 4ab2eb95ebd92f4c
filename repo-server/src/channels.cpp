#include "airlock/repo/channels.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "airlock/base/json.h"
#include "airlock/repo/home.h"

namespace airlock::repo {
namespace {

using json = nlohmann::json;

std::string ref_name(std::string_view channel, std::string_view repo) {
  return "channel/" + std::string(channel) + "/" + std::string(repo);
}

std::optional<Digest> current(const Store& store, const std::string& ref) {
  auto d = store.get_ref(ref);
  return d ? std::optional<Digest>(*d) : std::nullopt;
}

// The note kept in a channel's history: who did what, and why.
std::string note(const char* action, const ChangeInfo& who) {
  json n = who.fields();
  n["action"] = action;
  return n.dump(-1, ' ', false, json::error_handler_t::replace);
}

json record(const ChannelEntry& e, const ChangeInfo& who, const std::optional<Digest>& before) {
  json r = who.fields();
  r.update({{"channel", e.channel},
            {"repo", e.repo},
            {"snapshot", e.snapshot.hex()},
            {"previous", before ? json(before->hex()) : json(nullptr)}});
  return r;
}

// Sets the refs of entries in one change, logged with one record each.
Status move_channels(Ledger& ledger, const std::vector<ChannelEntry>& entries, const char* action,
                     const ChangeInfo& who, const std::function<void(json&)>& extra = {}) {
  auto change = ledger.begin();
  if (!change) return fail(change.error());
  auto batch = change->batch();
  if (!batch) return fail(batch.error());
  std::vector<LogEntry> records;
  for (const auto& e : entries) {
    auto before = current(ledger.store(), ref_name(e.channel, e.repo));
    (*batch)->set_ref(ref_name(e.channel, e.repo), e.snapshot, note(action, who));
    auto rec = record(e, who, before);
    if (extra) extra(rec);
    records.push_back({action, std::move(rec)});
  }
  return change->commit(std::move(records));
}

bool selected(const std::vector<std::string>& repos, const std::string& repo) {
  return repos.empty() || std::find(repos.begin(), repos.end(), repo) != repos.end();
}

Status check_channel(std::string_view name) {
  if (!valid_channel_name(name)) {
    return fail(Code::invalid_input,
                "channel name '" + std::string(name) +
                    "' must be 1-32 characters of a-z 0-9 - _, starting with a letter");
  }
  return {};
}

}  // namespace

bool valid_channel_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

Result<std::vector<ChannelEntry>> list_channels(const Store& store) {
  auto refs = store.list_refs("channel/");
  if (!refs) return fail(refs.error());
  std::vector<ChannelEntry> out;
  for (const auto& [name, id] : *refs) {
    auto rest = name.substr(8);
    auto slash = rest.find('/');
    if (slash == std::string::npos) continue;
    out.push_back({rest.substr(0, slash), rest.substr(slash + 1), id});
  }
  return out;
}

Result<Digest> channel_snapshot(const Store& store, std::string_view channel,
                                std::string_view repo) {
  return store.get_ref(ref_name(channel, repo));
}

Result<ChannelEntry> Home::publish(const std::string& repo, const Digest& snapshot,
                                   const std::string& channel, const ChangeInfo& who) {
  if (auto s = check_channel(channel); !s) return fail(s.error());
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
                                                const ChangeInfo& who) {
  if (auto s = check_channel(from); !s) return fail(s.error());
  if (auto s = check_channel(to); !s) return fail(s.error());
  auto all = list_channels(store());
  if (!all) return fail(all.error());
  std::vector<ChannelEntry> moved;
  for (const auto& e : *all) {
    if (e.channel == from && selected(repos, e.repo)) moved.push_back({to, e.repo, e.snapshot});
  }
  for (const auto& r : repos) {
    bool found = std::any_of(moved.begin(), moved.end(), [&](auto& e) { return e.repo == r; });
    if (!found)
      return fail(Code::not_found, "channel '" + from + "' has no repository '" + r + "'");
  }
  if (moved.empty()) return fail(Code::not_found, "channel '" + from + "' is empty");
  auto s = move_channels(ledger(), moved, "promote", who, [&](json& rec) { rec["from"] = from; });
  if (!s) return fail(s.error());
  return moved;
}

namespace {

// One step back in a channel's history: replayed as a stack where publish
// and promote push and rollback pops; the answer is the state below the top.
Result<std::optional<Digest>> previous_snapshot(const Store& store, const std::string& ref) {
  auto history = store.ref_history(ref);
  if (!history) return fail(history.error());
  std::vector<Digest> stack;
  for (const auto& u : *history) {
    json n = json::parse(u.note, nullptr, false);
    if (n.is_object() && json_string(n, "action") == "rollback") {
      if (!stack.empty()) stack.pop_back();
    } else if (u.target) {
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
  if (auto s = check_channel(channel); !s) return fail(s.error());
  auto all = list_channels(store());
  if (!all) return fail(all.error());
  std::vector<ChannelEntry> back;
  for (const auto& e : *all) {
    if (e.channel != channel || !selected(repos, e.repo)) continue;
    auto prev = previous_snapshot(store(), ref_name(channel, e.repo));
    if (!prev) return fail(prev.error());
    if (!*prev) {
      return fail(Code::refused, "channel '" + channel + "' has no earlier snapshot of '" + e.repo +
                                     "' to roll back to");
    }
    back.push_back({channel, e.repo, **prev});
  }
  if (back.empty())
    return fail(Code::not_found, "channel '" + channel + "' has nothing to roll back");
  if (auto s = move_channels(ledger(), back, "rollback", who); !s) return fail(s.error());
  return back;
}

Result<std::vector<ChannelEntry>> Home::channels() const { return list_channels(store()); }

}  // namespace airlock::repo

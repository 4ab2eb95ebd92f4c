#include "airlock/repo/channels.h"

#include <nlohmann/json.hpp>

#include "airlock/repo/import.h"

namespace airlock::repo {
namespace {

using json = nlohmann::json;

std::string ref_name(std::string_view channel, std::string_view repo) {
  return "channel/" + std::string(channel) + "/" + std::string(repo);
}

std::string note(const char* action, const ChangeInfo& who) {
  return json{{"action", action}, {"operator", who.operator_name}, {"reason", who.reason},
              {"change_ref", who.change_ref}}
      .dump();
}

json record(const std::string& channel, const ChannelEntry& e, const ChangeInfo& who,
            const std::optional<Digest>& before) {
  return json{{"channel", channel},
              {"repo", e.repo},
              {"snapshot", e.snapshot.hex()},
              {"previous", before ? json(before->hex()) : json(nullptr)},
              {"operator", who.operator_name},
              {"reason", who.reason},
              {"change_ref", who.change_ref}};
}

Status check_channel(std::string_view name) {
  if (!valid_channel_name(name)) {
    return fail(Code::invalid_input, "channel name '" + std::string(name) +
                                         "' must be 1-32 characters of a-z 0-9 - _, starting with a letter");
  }
  return {};
}

std::optional<Digest> current(const Store& store, const std::string& ref) {
  auto d = store.get_ref(ref);
  return d ? std::optional<Digest>(*d) : std::nullopt;
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

Result<Digest> channel_snapshot(const Store& store, std::string_view channel, std::string_view repo) {
  return store.get_ref(ref_name(channel, repo));
}

Status publish(const RepoHome& home, Store& store, TransferLog& log, const std::string& repo,
               const Digest& snapshot, const std::string& channel, const ChangeInfo& who) {
  if (auto s = check_channel(channel); !s) return s;
  auto snap = store.get_snapshot(snapshot);
  if (!snap) return fail(snap.error());
  if (snap->repo != repo) {
    return fail(Code::invalid_input, "snapshot " + snapshot.hex() + " is of repository '" + snap->repo +
                                         "', not '" + repo + "'");
  }
  auto before = current(store, ref_name(channel, repo));
  auto batch = store.begin_batch();
  if (!batch) return fail(batch.error());
  batch->set_ref(ref_name(channel, repo), snapshot, note("publish", who));
  auto key = home.log_key();
  if (!key) return fail(key.error());
  ChannelEntry e{channel, repo, snapshot};
  return commit_and_log(store, std::move(*batch), log, {{"publish", record(channel, e, who, before).dump()}}, &*key);
}

Result<std::vector<ChannelEntry>> promote(const RepoHome& home, Store& store, TransferLog& log,
                                          const std::string& from, const std::string& to,
                                          const std::vector<std::string>& repos, const ChangeInfo& who) {
  if (auto s = check_channel(from); !s) return fail(s.error());
  if (auto s = check_channel(to); !s) return fail(s.error());
  auto all = list_channels(store);
  if (!all) return fail(all.error());
  std::vector<ChannelEntry> moved;
  for (const auto& e : *all) {
    if (e.channel != from) continue;
    if (!repos.empty() && std::find(repos.begin(), repos.end(), e.repo) == repos.end()) continue;
    moved.push_back({to, e.repo, e.snapshot});
  }
  for (const auto& r : repos) {
    bool found = std::any_of(moved.begin(), moved.end(), [&](auto& e) { return e.repo == r; });
    if (!found) return fail(Code::not_found, "channel '" + from + "' has no repository '" + r + "'");
  }
  if (moved.empty()) return fail(Code::not_found, "channel '" + from + "' is empty");
  auto batch = store.begin_batch();
  if (!batch) return fail(batch.error());
  std::vector<LogRecordInput> records;
  for (const auto& e : moved) {
    auto before = current(store, ref_name(to, e.repo));
    batch->set_ref(ref_name(to, e.repo), e.snapshot, note("promote", who));
    auto rec = record(to, e, who, before);
    rec["from"] = from;
    records.push_back({"promote", rec.dump()});
  }
  auto key = home.log_key();
  if (!key) return fail(key.error());
  if (auto s = commit_and_log(store, std::move(*batch), log, std::move(records), &*key); !s) return fail(s.error());
  return moved;
}

Result<std::vector<ChannelEntry>> rollback(const RepoHome& home, Store& store, TransferLog& log,
                                           const std::string& channel, const std::vector<std::string>& repos,
                                           const ChangeInfo& who) {
  if (auto s = check_channel(channel); !s) return fail(s.error());
  auto all = list_channels(store);
  if (!all) return fail(all.error());
  std::vector<std::pair<ChannelEntry, Digest>> changes;  // new entry, the snapshot it replaces
  for (const auto& e : *all) {
    if (e.channel != channel) continue;
    if (!repos.empty() && std::find(repos.begin(), repos.end(), e.repo) == repos.end()) continue;
    auto history = store.ref_history(ref_name(channel, e.repo));
    if (!history) return fail(history.error());
    // Replay the history as a stack: publish and promote push, rollback
    // pops. One step back is the state below the top.
    std::vector<Digest> stack;
    for (const auto& u : *history) {
      json n = json::parse(u.note, nullptr, false);
      bool is_rollback = n.is_object() && n.value("action", "") == "rollback";
      if (is_rollback) {
        if (!stack.empty()) stack.pop_back();
      } else if (u.target) {
        stack.push_back(*u.target);
      }
    }
    std::optional<Digest> back;
    if (stack.size() >= 2) back = stack[stack.size() - 2];
    if (!back) {
      return fail(Code::refused, "channel '" + channel + "' has no earlier snapshot of '" + e.repo + "' to roll back to");
    }
    changes.push_back({{channel, e.repo, *back}, e.snapshot});
  }
  if (changes.empty()) return fail(Code::not_found, "channel '" + channel + "' has nothing to roll back");
  auto batch = store.begin_batch();
  if (!batch) return fail(batch.error());
  std::vector<LogRecordInput> records;
  std::vector<ChannelEntry> out;
  for (const auto& [e, before] : changes) {
    batch->set_ref(ref_name(channel, e.repo), e.snapshot, note("rollback", who));
    records.push_back({"rollback", record(channel, e, who, before).dump()});
    out.push_back(e);
  }
  auto key = home.log_key();
  if (!key) return fail(key.error());
  if (auto s = commit_and_log(store, std::move(*batch), log, std::move(records), &*key); !s) return fail(s.error());
  return out;
}

}  // namespace airlock::repo

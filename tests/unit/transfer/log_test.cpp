#include "airlock/transfer/log.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "airlock/verify/merkle.h"
#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::string text = testing::read_text(p), line;
  for (char c : text) {
    if (c == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return out;
}

void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
  std::string text;
  for (auto& l : lines) text += l + "\n";
  testing::write_text(p, text);
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path = dir / "log" / "transfer-000001.jsonl";
    auto log = TransferLog::open(path.parent_path(), {.env = &env}).value();
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(log->append("pull", json{{"path", "/prod/deb/f" + std::to_string(i)}}.dump()));
    }
    ASSERT_TRUE(log->checkpoint(key));
    for (int i = 5; i < 9; ++i) {
      ASSERT_TRUE(log->append("pull", json{{"path", "/prod/deb/f" + std::to_string(i)}}.dump()));
    }
    ASSERT_TRUE(log->checkpoint(key));
    ASSERT_TRUE(log->append("import", R"({"bundle":"b"})"));
    ASSERT_TRUE(log->checkpoint(key));
    keys.push_back(key.public_key());
  }

  Error verify_error() {
    auto r = verify_log_file(path, keys);
    EXPECT_FALSE(r);
    return r ? Error{Code::io, "verified"} : r.error();
  }

  TempDir dir;
  fs::path path;
  testing::FaultEnv env;
  PrivateKey key = PrivateKey::generate().value();
  std::vector<PublicKey> keys;
};

TEST_F(LogTest, RecordsCarryNTimeEventFieldsAndChainedRoot) {
  auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 13u);
  merkle::CompactRange range;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto j = json::parse(lines[i]);
    EXPECT_EQ(j["n"], i);
    EXPECT_EQ(j["time"], "2027-01-15T08:00:00Z");
    EXPECT_EQ(j["prev_root"], range.root().hex());
    EXPECT_TRUE(lines[i].starts_with("{\"n\":" + std::to_string(i) + ",\"time\":"));
    range.append(merkle::leaf_hash(lines[i]));
  }
  EXPECT_EQ(json::parse(lines[0])["event"], "pull");
  EXPECT_EQ(json::parse(lines[0])["path"], "/prod/deb/f0");
  auto cp = json::parse(lines[5]);
  EXPECT_EQ(cp["event"], "checkpoint");
  EXPECT_EQ(cp["size"], 5);
}

TEST_F(LogTest, ForwardsEveryRecordItWritesOrCatchesUpOnInOrder) {
  auto log = TransferLog::open(path.parent_path(), {.env = &env}).value();
  std::vector<std::string> seen;
  log->forward_to([&](std::string_view line) { seen.emplace_back(line); });
  ASSERT_TRUE(log->append("pull", R"({"path":"/a"})"));
  {  // another process appends two records
    auto other = TransferLog::open(path.parent_path(), {.env = &env}).value();
    ASSERT_TRUE(other->append("import", R"({"bundle":"c"})"));
    ASSERT_TRUE(other->checkpoint(key));
  }
  ASSERT_TRUE(log->append("pull", R"({"path":"/b"})"));
  log->forward_to({});
  ASSERT_TRUE(log->append("pull", R"({"path":"/c"})"));
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 18u);
  EXPECT_EQ(seen, std::vector<std::string>(lines.begin() + 13, lines.begin() + 17));
}

TEST_F(LogTest, ACheckpointMustNameTheOriginOfTheKeyThatSignsIt) {
  auto v = verify_log_file(path, keys).value();
  Checkpoint cp{"airlock/0000000000000000", v.records, v.root};
  const std::string foreign = sign_checkpoint(cp, key, kLogKeyName).value();
  auto r = verify_log_checkpoint(foreign, keys);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_EQ(r.error().message,
            "checkpoint for tree size 13 names origin 'airlock/0000000000000000', "
            "but log key " +
                key.public_key().id().hex() + " signs for origin '" + log_origin(key.public_key()) +
                "'");
  // Kept off the machine and checked against the log, it is refused the same way.
  auto known = verify_log_file(path, keys, std::vector<std::string>{foreign});
  ASSERT_FALSE(known);
  EXPECT_EQ(known.error().code, Code::refused);
  EXPECT_NE(known.error().message.find("names origin 'airlock/0000000000000000'"),
            std::string::npos);
  cp.origin = log_origin(key.public_key());
  EXPECT_TRUE(verify_log_checkpoint(sign_checkpoint(cp, key, kLogKeyName).value(), keys));
}

TEST_F(LogTest, VerifiesAndReopensWhereItLeftOff) {
  auto v = verify_log_file(path, keys);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->records, 13u);
  EXPECT_EQ(v->checkpoints, 3u);
  EXPECT_EQ(v->last_checkpoint->size, 12u);
  EXPECT_EQ(v->uncovered, 0u);  // the last record is the checkpoint itself
  EXPECT_EQ(coverage_statement(*v),
            "The newest checkpoint (record 12) signs the first 12 records and is the log's last "
            "record.");
  auto log = TransferLog::open(path.parent_path()).value();
  EXPECT_EQ(log->size(), 13u);
  EXPECT_EQ(log->root(), v->root);
  EXPECT_EQ(log->append("export", "{}").value(), 13u);
  EXPECT_EQ(log->latest_checkpoint()->first, 12u);
  auto after = verify_log_file(path, keys);
  ASSERT_TRUE(after);
  EXPECT_EQ(coverage_statement(*after),
            "The newest checkpoint (record 12) signs the first 12 records; 1 record after it is "
            "not signed yet.");
  after->last_checkpoint.reset();
  EXPECT_EQ(coverage_statement(*after), "No checkpoint signs any of the 14 records yet.");
}

TEST_F(LogTest, OpenedReadOnlyItReadsAndRefusesToAppend) {
  const auto before = testing::read_text(path);
  auto log = TransferLog::open(path.parent_path(), {.env = &env, .read_only = true}).value();
  EXPECT_EQ(log->size(), 13u);
  EXPECT_EQ(log->latest_checkpoint()->first, 12u);
  const std::string refusal = "transfer log " + path.parent_path().string() + " is open read-only";
  auto appended = log->append("pull", R"({"path":"/a"})");
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, Code::refused);
  EXPECT_EQ(appended.error().message, refusal);
  auto checkpoint = log->checkpoint(key);
  ASSERT_FALSE(checkpoint);
  EXPECT_EQ(checkpoint.error().code, Code::refused);
  EXPECT_EQ(checkpoint.error().message, refusal);
  EXPECT_EQ(testing::read_text(path), before);
  // Read-only never creates: a missing log is an error, and nothing appears.
  auto missing = TransferLog::open(dir / "none", {.read_only = true});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::not_found);
  EXPECT_FALSE(fs::exists(dir / "none"));
}

TEST_F(LogTest, EditedRecordIsNamed) {
  auto lines = lines_of(path);
  auto pos = lines[3].find("f3");
  lines[3].replace(pos, 2, "f9");
  write_lines(path, lines);
  auto e = verify_error();
  EXPECT_EQ(e.code, Code::corrupt);
  EXPECT_NE(e.message.find("record 3 was altered"), std::string::npos) << e.message;
  // Opening reads only what follows the newest checkpoint (log/state.json);
  // a signed record's edit is found by verify and wherever the record is read.
  auto reopened = TransferLog::open(path.parent_path());
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_FALSE((*reopened)->damage());
  auto r = (*reopened)->record(3);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("record 3 changed on disk"), std::string::npos)
      << r.error().message;
  // Without the state, the writer reads everything and refuses to extend it.
  fs::remove(path.parent_path() / "state.json");
  auto full = TransferLog::open(path.parent_path());
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().message.find("record 3 was altered"), std::string::npos);
}

TEST_F(LogTest, DeletedRecordIsNamed) {
  auto lines = lines_of(path);
  lines.erase(lines.begin() + 7);
  write_lines(path, lines);
  auto e = verify_error();
  EXPECT_EQ(e.code, Code::corrupt);
  EXPECT_NE(e.message.find("record 7 has n=8 (records were deleted, inserted or reordered)"),
            std::string::npos)
      << e.message;
}

TEST_F(LogTest, SwappedRecordsAreNamed) {
  auto lines = lines_of(path);
  std::swap(lines[1], lines[2]);
  write_lines(path, lines);
  auto e = verify_error();
  EXPECT_NE(e.message.find("record 1 has n=2"), std::string::npos) << e.message;
}

TEST_F(LogTest, TruncatedTailIsDetectedAndNotRewritten) {
  auto text = testing::read_text(path);
  testing::write_text(path, text.substr(0, text.size() - 10));
  auto cut = testing::read_text(path);
  auto e = verify_error();
  EXPECT_NE(e.message.find("record 12 is incomplete"), std::string::npos) << e.message;
  auto opened = TransferLog::open(path.parent_path());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Code::corrupt);
  EXPECT_NE(opened.error().message.find("record 12 is incomplete"), std::string::npos);
  EXPECT_EQ(testing::read_text(path), cut);  // never silently dropped or rewritten
}

TEST_F(LogTest, RecordsRemovedFromTheEndAreFoundWithAnEarlierCheckpoint) {
  auto log = TransferLog::open(path.parent_path()).value();
  auto note = log->latest_checkpoint()->second;  // covers 12 records
  log.reset();
  auto lines = lines_of(path);
  lines.resize(6);  // keep up to the first checkpoint: still self-consistent
  write_lines(path, lines);
  EXPECT_TRUE(verify_log_file(path, keys));  // alone, a shorter log looks fine
  std::vector<std::string> known{note};
  auto r = verify_log_file(path, keys, known);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("records were removed from the end"), std::string::npos)
      << r.error().message;
}

TEST_F(LogTest, RewrittenChainIsCaughtByTheSignedCheckpoint) {
  // An attacker edits record 2 and recomputes every prev_root after it, but
  // cannot re-sign the checkpoint.
  auto lines = lines_of(path);
  lines[2].replace(lines[2].find("f2"), 2, "zz");
  merkle::CompactRange range;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto j = json::parse(lines[i]);
    auto pos = lines[i].rfind(",\"prev_root\":\"");
    lines[i] = lines[i].substr(0, pos) + ",\"prev_root\":\"" + range.root().hex() + "\"}";
    (void)j;
    range.append(merkle::leaf_hash(lines[i]));
  }
  write_lines(path, lines);
  auto e = verify_error();
  EXPECT_EQ(e.code, Code::corrupt);
  EXPECT_NE(e.message.find("checkpoint record 5 signs tree size 5"), std::string::npos)
      << e.message;
}

TEST_F(LogTest, ForgedCheckpointIsRefused) {
  auto lines = lines_of(path);
  auto j = json::parse(lines[5]);
  std::string note = j["note"];
  note.replace(note.find("\n5\n"), 3, "\n4\n");
  j["note"] = note;
  // Keep the record's own layout and chain intact: only the note changes.
  nlohmann::ordered_json o = nlohmann::ordered_json::parse(lines[5]);
  o["note"] = note;
  lines[5] = o.dump();
  // Recompute the chain after it so that only the signature can object.
  merkle::CompactRange range;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto pos = lines[i].rfind(",\"prev_root\":\"");
    lines[i] = lines[i].substr(0, pos) + ",\"prev_root\":\"" + range.root().hex() + "\"}";
    range.append(merkle::leaf_hash(lines[i]));
  }
  write_lines(path, lines);
  auto e = verify_error();
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_NE(
      e.message.find("checkpoint record 5: checkpoint for tree size 4 has no valid signature"),
      std::string::npos)
      << e.message;
}

TEST_F(LogTest, CheckpointFromADifferentKeyIsRefused) {
  auto other = PrivateKey::generate().value();
  {
    auto log = TransferLog::open(path.parent_path()).value();
    ASSERT_TRUE(log->checkpoint(other));
  }
  auto e = verify_error();
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_NE(e.message.find("checkpoint record 13"), std::string::npos) << e.message;
  // With the other key trusted as well, the origin change is still an error.
  keys.push_back(other.public_key());
  auto e2 = verify_error();
  EXPECT_NE(e2.message.find("origin"), std::string::npos) << e2.message;
}

TEST_F(LogTest, InclusionProofRoundTripAndTampering) {
  auto proof = prove_record(path, 7);
  ASSERT_TRUE(proof) << proof.error().message;
  auto check = verify_proof(*proof, keys);
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_EQ(check->n, 7u);
  EXPECT_EQ(check->checkpoint.size, 10u);  // the first checkpoint after record 7
  EXPECT_NE(check->record.find("f6"), std::string::npos);
  auto j = json::parse(*proof);
  auto edited = j;
  std::string rec = edited["record"];
  rec.replace(rec.find("f6"), 2, "f7");
  edited["record"] = rec;
  auto r = verify_proof(edited.dump(), keys);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_EQ(r.error().message,
            "inclusion proof: record 7 is not in the tree of size 10 that the checkpoint signs");
  auto moved = j;
  moved["n"] = 6;
  EXPECT_FALSE(verify_proof(moved.dump(), keys));
  auto other = PrivateKey::generate().value();
  std::vector<PublicKey> wrong{other.public_key()};
  EXPECT_EQ(verify_proof(*proof, wrong).error().code, Code::refused);
  EXPECT_EQ(prove_record(path, 12).error().code, Code::not_found);  // not yet covered
}

TEST_F(LogTest, ProofsAndRootsFromTheOpenLog) {
  auto log = TransferLog::open(path.parent_path()).value();
  auto root9 = log->root_at(9).value();
  auto proof = log->inclusion_proof(4, 9).value();
  auto leaf = merkle::leaf_hash(log->record(4).value());
  EXPECT_TRUE(merkle::verify_inclusion(4, 9, leaf, proof, root9));
  auto cons = log->consistency_proof(5, 12).value();
  EXPECT_TRUE(
      merkle::verify_consistency(5, 12, log->root_at(5).value(), log->root_at(12).value(), cons));
}

TEST_F(LogTest, FullDiskLeavesTheLogExactlyAsBefore) {
  auto before = testing::read_text(path);
  auto log = TransferLog::open(path.parent_path(), {.env = &env}).value();
  env.write_budget = 20;  // part of a record fits, then the disk is full
  auto r = log->append("pull", R"({"path":"/a/long/enough/path/to/not/fit"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::io);
  EXPECT_NE(r.error().message.find("No space left on device"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(testing::read_text(path), before);
  env.write_budget = -1;
  EXPECT_EQ(log->append("pull", "{}").value(), 13u);
  EXPECT_TRUE(verify_log_file(path, keys));
}

TEST_F(LogTest, RefusesReservedOrMalformedFields) {
  auto log = TransferLog::open(path.parent_path()).value();
  EXPECT_EQ(log->append("pull", R"({"n":5})").error().code, Code::invalid_input);
  EXPECT_EQ(log->append("pull", R"({"prev_root":"x"})").error().code, Code::invalid_input);
  EXPECT_EQ(log->append("pull", "[1,2]").error().code, Code::invalid_input);
  EXPECT_EQ(log->append("checkpoint", "{}").error().code, Code::invalid_input);
  EXPECT_EQ(log->size(), 13u);
}

TEST_F(LogTest, TwoProcessesAppendToOneLog) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto log = TransferLog::open(path.parent_path());
    if (!log) ::_exit(2);
    for (int i = 0; i < 200; ++i) {
      if (!(*log)->append("pull", R"({"who":"child"})")) ::_exit(3);
    }
    ::_exit(0);
  }
  auto log = TransferLog::open(path.parent_path()).value();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(log->append("pull", R"({"who":"parent"})"));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(log->checkpoint(key));
  auto v = verify_log_file(path, keys);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->records, 13u + 400u + 1u);
}

}  // namespace
}  // namespace airlock

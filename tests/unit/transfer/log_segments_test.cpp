// The transfer log's segments, hash tiles and persisted tree state: reading
// across segments, proofs from the tiles, opening from the newest checkpoint,
// damage found on open, archived segments, crashes, and the streaming
// verifier against a whole-tree reference.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "airlock/base/time.h"
#include "airlock/transfer/log.h"
#include "airlock/verify/merkle.h"
#include "crash_points.h"
#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p, std::ios::binary);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<fs::path> segments_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.starts_with("transfer-") && name.ends_with(".jsonl")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> all_lines(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& s : segments_in(dir)) {
    auto l = lines_of(s);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  testing::write_text(p, text);
}

// The largest record number an error names ("record N"): where the verifier stopped.
std::optional<std::uint64_t> named_record(const std::string& message) {
  std::optional<std::uint64_t> out;
  for (auto at = message.find("record "); at != std::string::npos;
       at = message.find("record ", at + 1)) {
    std::size_t i = at + 7, end = i;
    while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
    if (end == i) continue;
    const auto n = std::stoull(message.substr(i, end - i));
    if (!out || n > *out) out = n;
  }
  return out;
}

// The whole-tree reference verifier: every leaf kept, each prev_root and
// checkpoint recomputed over all leaves before it. The index of the first
// bad line, or nullopt.
std::optional<std::uint64_t> first_bad_reference(const std::vector<std::string>& lines,
                                                 std::span<const PublicKey> keys) {
  std::vector<Digest> leaves;
  for (std::uint64_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const Digest before = merkle::root(leaves);
    if (!line.starts_with("{\"n\":" + std::to_string(i) + ",")) return i;
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("prev_root") || !j["prev_root"].is_string() ||
        j["prev_root"] != before.hex() ||
        !line.ends_with("\"prev_root\":\"" + before.hex() + "\"}"))
      return i;
    if (!j.contains("time") || !j["time"].is_string() ||
        !parse_time(j["time"].get<std::string>()) || !j.contains("event"))
      return i;
    if (j["event"] == "checkpoint") {
      if (!j.contains("note") || !j["note"].is_string()) return i;
      auto v = verify_log_checkpoint(j["note"].get<std::string>(), keys);
      if (!v || v->checkpoint.size != i || v->checkpoint.root != before) return i;
    }
    leaves.push_back(merkle::leaf_hash(line));
  }
  return std::nullopt;
}

class SegmentedLogTest : public ::testing::Test {
 protected:
  LogOptions options(std::uint64_t per_segment = 256) {
    LogOptions o;
    o.env = &env;
    o.segment_records = per_segment;
    o.keys = keys;
    return o;
  }
  std::unique_ptr<TransferLog> open(std::uint64_t per_segment = 256) {
    auto log = TransferLog::open(logdir, options(per_segment));
    EXPECT_TRUE(log) << log.error().message;
    return log ? std::move(*log) : nullptr;
  }
  // count pull records in batches of up to 7, a checkpoint after about every `every`.
  void fill(TransferLog& log, int count, int every) {
    int since = 0;
    for (int i = 0; i < count;) {
      std::vector<std::string> batch;
      for (int b = 0; b < 1 + i % 7 && i < count; ++b, ++i) {
        batch.push_back(R"("client":"10.0.0.)" + std::to_string(i % 200) +
                        R"(","path":"/prod/deb/p)" + std::to_string(i) + R"(")");
      }
      ASSERT_TRUE(log.append_trusted("pull", batch));
      since += static_cast<int>(batch.size());
      if (since >= every) {
        ASSERT_TRUE(log.checkpoint(key));
        since = 0;
      }
    }
  }
  std::vector<Digest> leaves() {
    std::vector<Digest> out;
    for (const auto& l : all_lines(logdir)) out.push_back(merkle::leaf_hash(l));
    return out;
  }

  testing::TempDir dir;
  fs::path logdir = dir / "log";
  testing::FaultEnv env;
  PrivateKey key = PrivateKey::generate().value();
  std::vector<PublicKey> keys{key.public_key()};
};

TEST_F(SegmentedLogTest, RollsOverIntoSegmentsAndReadsProvesAndVerifiesAcrossThem) {
  auto log = open();
  fill(*log, 1000, 90);
  ASSERT_TRUE(log->checkpoint(key));
  const auto segs = segments_in(logdir);
  ASSERT_GE(segs.size(), 4u);
  EXPECT_EQ(segs[0].filename(), "transfer-000001.jsonl");
  EXPECT_EQ(segs[1].filename(), "transfer-000002.jsonl");
  // Each segment holds whole batches: at least 256 records, and starts where the last one ended.
  std::uint64_t next = 0;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    auto l = lines_of(segs[i]);
    EXPECT_TRUE(l.front().starts_with("{\"n\":" + std::to_string(next) + ","));
    if (i + 1 < segs.size()) {
      EXPECT_GE(l.size(), 256u);
    }
    next += l.size();
  }
  EXPECT_EQ(log->size(), next);

  const auto lines = all_lines(logdir);
  const auto ref = leaves();
  EXPECT_EQ(log->root(), merkle::root(ref));
  for (std::uint64_t n : std::vector<std::uint64_t>{0, 255, 256, 300, 511, 700, next - 1}) {
    EXPECT_EQ(log->record(n).value(), lines[n]) << n;
  }
  std::uint64_t seen = 200;
  ASSERT_TRUE(log->for_each_record(200, 900, [&](std::uint64_t n, std::string_view line) -> Status {
    EXPECT_EQ(n, seen++);
    EXPECT_EQ(line, lines[n]);
    return {};
  }));
  EXPECT_EQ(seen, 900u);
  // Roots and proofs from the tiles equal the whole-tree ones.
  for (std::uint64_t size : std::vector<std::uint64_t>{1, 255, 256, 257, 513, next}) {
    EXPECT_EQ(log->root_at(size).value(), merkle::root(std::span(ref).first(size))) << size;
  }
  for (std::uint64_t n : std::vector<std::uint64_t>{0, 17, 256, 600}) {
    EXPECT_EQ(log->inclusion_proof(n, next).value(), merkle::inclusion_proof(std::span(ref), n));
    auto proof = log->prove(n);
    ASSERT_TRUE(proof) << proof.error().message;
    auto check = verify_proof(proof->dump(), keys);
    ASSERT_TRUE(check) << check.error().message;
    EXPECT_EQ(check->record, lines[n]);
  }
  EXPECT_EQ(log->consistency_proof(300, next).value(), merkle::consistency_proof(ref, 300));

  auto v = verify_log_file(logdir, keys);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->records, next);
  EXPECT_TRUE(v->tiles_checked);
  EXPECT_EQ(v->root, log->root());
  // The segments in order verify alone too, and so does their concatenation (an export).
  EXPECT_TRUE(verify_log(segs, keys));
  write_lines(dir / "export.jsonl", lines);
  EXPECT_TRUE(verify_log_file(dir / "export.jsonl", keys));

  log.reset();
  auto again = open();
  EXPECT_EQ(again->size(), next);
  EXPECT_EQ(again->root(), merkle::root(ref));
  EXPECT_FALSE(again->damage());
}

TEST_F(SegmentedLogTest, AnotherWriterFollowsIntoNewSegments) {
  auto a = open();
  auto b = open();
  for (int i = 0; i < 60; ++i) {
    auto& w = i % 2 ? *a : *b;
    std::vector<std::string> batch(9, R"("path":"/x")");
    ASSERT_TRUE(w.append_trusted("pull", batch));
  }
  ASSERT_TRUE(a->checkpoint(key));
  ASSERT_TRUE(b->refresh());
  EXPECT_EQ(a->size(), 541u);
  EXPECT_EQ(b->size(), 541u);
  EXPECT_EQ(a->root(), b->root());
  EXPECT_EQ(segments_in(logdir).size(), 3u);
  auto v = verify_log_file(logdir, keys);
  EXPECT_TRUE(v) << v.error().message;
}

// A reader catching up while a writer is between its segment write and its
// tile write waits for the writer: the tiles get each hash once.
TEST_F(SegmentedLogTest, CatchingUpWaitsForAWriterHalfwayThroughAnAppend) {
  auto w = open();
  fill(*w, 100, 50);
  LogOptions ro;
  ro.segment_records = 256;
  auto r = TransferLog::open(logdir, ro).value();
  std::thread reader;
  int writes = 0;
  env.before = [&](const std::string& op, int) {
    if (op == "write" && ++writes == 2) reader = std::thread([&] { EXPECT_TRUE(r->refresh()); });
  };
  std::vector<std::string> batch(5, R"("path":"/x")");
  ASSERT_TRUE(w->append_trusted("pull", batch));
  env.before = nullptr;
  ASSERT_TRUE(reader.joinable());
  reader.join();
  EXPECT_EQ(r->size(), w->size());
  EXPECT_EQ(fs::file_size(logdir / "tiles" / "0"), 32 * w->size());
  ASSERT_TRUE(r->append("pull", R"({"path":"/r"})"));
  ASSERT_TRUE(w->append("pull", R"({"path":"/w"})"));
  ASSERT_TRUE(w->checkpoint(key));
  auto v = verify_log_file(logdir, keys);
  EXPECT_TRUE(v) << v.error().message;
}

TEST_F(SegmentedLogTest, MissingTilesAndNonRegularFilesAreRefused) {
  {
    auto log = open();
    fill(*log, 700, 100);
    ASSERT_TRUE(log->checkpoint(key));
  }
  const auto copy = [&](const std::string& name) {
    const fs::path d = dir / name;
    fs::copy(logdir, d, fs::copy_options::recursive);
    return d;
  };
  const fs::path no_level = copy("no-level");
  fs::remove(no_level / "tiles" / "1");
  auto v = verify_log_file(no_level, keys);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("tiles/1 holds 0 hashes, the first"), std::string::npos)
      << v.error().message;
  const fs::path no_index = copy("no-index");
  fs::remove(no_index / "tiles" / "index");
  v = verify_log_file(no_index, keys);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("tiles/index holds 0 offsets"), std::string::npos);
  LogOptions o = options();
  auto opened = TransferLog::open(no_level, o);
  ASSERT_TRUE(opened);
  ASSERT_TRUE((*opened)->damage());
  EXPECT_NE((*opened)->damage()->message.find("tiles/1 holds 0 hashes"), std::string::npos);
  // A FIFO where a segment or a tile belongs is refused, not waited on.
  const fs::path fifo = copy("fifo");
  ASSERT_EQ(::mkfifo((fifo / "transfer-000004.jsonl").c_str(), 0644), 0);
  v = verify_log_file(fifo, keys);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("transfer-000004.jsonl"), std::string::npos)
      << v.error().message;
  EXPECT_FALSE(TransferLog::open(fifo, o));
  const fs::path fifo_tile = copy("fifo-tile");
  fs::remove(fifo_tile / "tiles" / "2");
  ASSERT_EQ(::mkfifo((fifo_tile / "tiles" / "2").c_str(), 0644), 0);
  v = verify_log_file(fifo_tile, keys);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("tiles/2"), std::string::npos) << v.error().message;
}

TEST_F(SegmentedLogTest, OpensFromTheStateOfTheNewestCheckpoint) {
  {
    auto log = open();
    fill(*log, 600, 100);
    ASSERT_TRUE(log->checkpoint(key));
    ASSERT_TRUE(log->append("import", R"({"bundle":"b"})"));
  }
  const json state = json::parse(testing::read_text(logdir / "state.json"));
  EXPECT_EQ(state["format"], "airlock-log-state/1");
  const auto lines = all_lines(logdir);
  const std::uint64_t size = state["size"];
  EXPECT_EQ(size, lines.size() - 2);
  EXPECT_EQ(json::parse(lines[size])["event"], "checkpoint");
  EXPECT_EQ(state["root"], json::parse(lines[size])["root"]);
  EXPECT_EQ(state["frontier"].size(), static_cast<std::size_t>(std::popcount(size)));
  // A record before the checkpoint is not read on open (its edit is for verify to find) ...
  const auto seg1 = segments_in(logdir)[0];
  auto l1 = lines_of(seg1);
  l1[3].replace(l1[3].find("/p3\""), 4, "/p9\"");
  write_lines(seg1, l1);
  auto log = open();
  EXPECT_EQ(log->size(), lines.size());
  EXPECT_FALSE(log->damage());
  EXPECT_EQ(log->latest_checkpoint()->first, size);
  ASSERT_TRUE(log->append("pull", R"({"path":"/after"})"));
  auto v = verify_log_file(logdir, keys);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("record 3 was altered"), std::string::npos) << v.error().message;
  // The record just before the newest checkpoint is named too, not the state that no longer fits.
  l1[3].replace(l1[3].find("/p9\""), 4, "/p3\"");
  write_lines(seg1, l1);
  ASSERT_TRUE(verify_log_file(logdir, keys));
  const std::uint64_t edited = size - 1;
  std::uint64_t at = 0;
  for (const auto& sp : segments_in(logdir)) {
    auto l = lines_of(sp);
    if (edited < at + l.size()) {
      auto& rec = l[edited - at];
      rec.replace(rec.find("/p"), 2, "/q");
      write_lines(sp, l);
      break;
    }
    at += l.size();
  }
  v = verify_log_file(logdir, keys);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("record " + std::to_string(edited) + " was altered"),
            std::string::npos)
      << v.error().message;
}

TEST_F(SegmentedLogTest, ARecordEditedBeforeACheckpointSignsItStopsAppends) {
  {
    auto log = open();
    fill(*log, 40, 20);
    ASSERT_TRUE(log->append("pull", R"({"path":"/prod/deb/last"})"));
  }
  const auto seg = segments_in(logdir)[0];
  const std::string original = testing::read_text(seg);
  auto lines = lines_of(seg);
  const std::uint64_t last = lines.size() - 1;
  lines.back().replace(lines.back().find("/last"), 5, "/lost");  // the chain cannot show it
  write_lines(seg, lines);
  const std::string edited = testing::read_text(seg);
  const std::string tiles_before = testing::read_text(logdir / "tiles" / "0");

  auto log = open();
  ASSERT_TRUE(log->damage());
  const std::string why = log->damage()->message;
  EXPECT_NE(why.find("tiles/0 entry " + std::to_string(last) + " (the hash of record " +
                     std::to_string(last) + ") does not match the records"),
            std::string::npos)
      << why;
  auto r = log->append("pull", R"({"path":"/more"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::corrupt);
  EXPECT_EQ(r.error().message,
            "the transfer log takes no more records until it is restored: " + why);
  EXPECT_FALSE(log->checkpoint(key));
  EXPECT_EQ(testing::read_text(seg), edited);
  EXPECT_EQ(testing::read_text(logdir / "tiles" / "0"), tiles_before);
  // Reading still works; verify names the record.
  EXPECT_EQ(log->size(), last + 1);
  auto v = verify_log_file(logdir, keys);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("(the hash of record " + std::to_string(last) + ")"),
            std::string::npos)
      << v.error().message;
  // Put back, the log takes records again.
  log.reset();
  testing::write_text(seg, original);
  auto restored = open();
  EXPECT_FALSE(restored->damage());
  EXPECT_TRUE(restored->append("pull", R"({"path":"/more"})"));
}

TEST_F(SegmentedLogTest, TamperedTilesAndStateAreFound) {
  {
    auto log = open();
    fill(*log, 700, 100);
    ASSERT_TRUE(log->checkpoint(key));
  }
  const fs::path t0 = logdir / "tiles" / "0", t1 = logdir / "tiles" / "1";
  const fs::path state = logdir / "state.json";
  ASSERT_EQ(fs::file_size(t1), 2u * 32);  // two complete groups of 256 records
  auto flip = [](const fs::path& p, std::uint64_t at) {
    std::string s = testing::read_text(p);
    s[at] = static_cast<char>(s[at] ^ 1);
    testing::write_text(p, s);
  };
  auto verify_message = [&] {
    auto v = verify_log_file(logdir, keys);
    EXPECT_FALSE(v);
    return v ? std::string() : v.error().message;
  };
  const std::string t0_orig = testing::read_text(t0), t1_orig = testing::read_text(t1),
                    state_orig = testing::read_text(state);
  flip(t0, 32 * 5 + 3);
  EXPECT_NE(verify_message().find("tiles/0 entry 5 (the hash of record 5) does not match"),
            std::string::npos);
  testing::write_text(t0, t0_orig);
  flip(t1, 32 + 7);
  EXPECT_NE(verify_message().find("tiles/1 entry 1 (records 256 to 511) does not match"),
            std::string::npos);
  testing::write_text(t1, t1_orig);
  EXPECT_TRUE(verify_log_file(logdir, keys));

  // A state whose root is not its frontier's, or that does not fit the records.
  json s = json::parse(state_orig);
  s["root"] = std::string(64, 'a');
  testing::write_text(state, s.dump());
  EXPECT_NE(verify_message().find("state.json: has a frontier that does not hash to its root"),
            std::string::npos);
  auto log = open();
  ASSERT_TRUE(log->damage());
  EXPECT_NE(log->damage()->message.find("state.json"), std::string::npos);
  EXPECT_FALSE(log->append("pull", R"({"path":"/x"})"));
  log.reset();
  s = json::parse(state_orig);
  s["offset"] = s["offset"].get<std::uint64_t>() + 1;
  testing::write_text(state, s.dump());
  EXPECT_NE(verify_message().find("state.json does not match the log"), std::string::npos);
  log = open();
  ASSERT_TRUE(log->damage());
  EXPECT_NE(log->damage()->message.find("state.json does not match the log"), std::string::npos);
  log.reset();
  s = json::parse(state_orig);
  s["frontier"][0] = merkle::leaf_hash("x").hex();
  s["root"] =
      merkle::CompactRange::from_peaks(s["size"],
                                       [&] {
                                         std::vector<Digest> f;
                                         for (const auto& h : s["frontier"])
                                           f.push_back(Digest::parse(h.get<std::string>()).value());
                                         return f;
                                       }())
          ->root()
          .hex();
  testing::write_text(state, s.dump());
  EXPECT_NE(verify_message().find("state.json does not match the log"), std::string::npos);
  log = open();
  ASSERT_TRUE(log->damage());
  // Put back: all is well, and a writer rewrites a state that was removed.
  log.reset();
  testing::write_text(state, state_orig);
  EXPECT_TRUE(verify_log_file(logdir, keys));
  fs::remove(state);
  log = open();
  EXPECT_FALSE(log->damage());
  EXPECT_EQ(testing::read_text(state), state_orig);
}

TEST_F(SegmentedLogTest, ArchivedSegmentsAreNeededNeitherToOpenNorToVerifyTheRest) {
  {
    auto log = open();
    fill(*log, 900, 100);
    ASSERT_TRUE(log->checkpoint(key));
  }
  const auto segs = segments_in(logdir);
  ASSERT_GE(segs.size(), 3u);
  const auto archive = dir / "archive";
  fs::create_directories(archive);
  const std::uint64_t second_starts = lines_of(segs[0]).size();
  fs::rename(segs[0], archive / segs[0].filename());

  auto log = open();
  EXPECT_FALSE(log->damage());
  auto r = log->record(3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::not_found);
  EXPECT_NE(r.error().message.find("record 3 is not in " + logdir.string() +
                                   ": its segment is not there (moved to archival media?)"),
            std::string::npos)
      << r.error().message;
  EXPECT_TRUE(log->record(second_starts));
  EXPECT_TRUE(log->prove(second_starts + 5));
  EXPECT_TRUE(log->append("pull", R"({"path":"/after"})"));
  EXPECT_TRUE(log->checkpoint(key));

  auto v = verify_log_file(logdir, keys);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->first, second_starts);
  EXPECT_NE(
      coverage_statement(*v).find("Records 0 to " + std::to_string(second_starts - 1) +
                                  " are not in the files checked; the tiles give their tree."),
      std::string::npos);
  // The archived segment verifies where it is, and the segments alone need it.
  auto old = verify_log_file(archive / segs[0].filename(), keys);
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->records, second_starts);
  std::vector<fs::path> rest(segs.begin() + 1, segs.end());
  auto alone = verify_log(rest, keys);
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code, Code::invalid_input);
  EXPECT_NE(alone.error().message.find("starts at record " + std::to_string(second_starts) +
                                       ": give the segments before it too"),
            std::string::npos);
  rest.insert(rest.begin(), archive / segs[0].filename());
  EXPECT_TRUE(verify_log(rest, keys));
  // A record edited in a later segment is still found.
  auto l = lines_of(segs[1]);
  l[1].replace(l[1].find("/p"), 2, "/q");
  write_lines(segs[1], l);
  auto bad = verify_log_file(logdir, keys);
  ASSERT_FALSE(bad);
  EXPECT_NE(
      bad.error().message.find("record " + std::to_string(second_starts + 1) + " was altered"),
      std::string::npos)
      << bad.error().message;
}

TEST_F(SegmentedLogTest, ALogWrittenBeforeSegmentsBecomesSegmentOne) {
  {
    auto log = open();
    fill(*log, 50, 25);
  }
  const auto lines = all_lines(logdir);
  fs::remove_all(logdir);
  fs::create_directories(logdir);
  write_lines(logdir / "transfer.jsonl", lines);
  LogOptions ro = options();
  ro.read_only = true;
  auto reading = TransferLog::open(logdir, ro);
  ASSERT_TRUE(reading) << reading.error().message;
  EXPECT_EQ((*reading)->size(), lines.size());
  EXPECT_TRUE(fs::exists(logdir / "transfer.jsonl"));
  reading->reset();
  auto log = open();
  EXPECT_EQ(log->size(), lines.size());
  EXPECT_FALSE(fs::exists(logdir / "transfer.jsonl"));
  EXPECT_EQ(lines_of(logdir / "transfer-000001.jsonl"), lines);
  EXPECT_TRUE(fs::exists(logdir / "state.json"));
  EXPECT_TRUE(verify_log_file(logdir, keys));
}

TEST_F(SegmentedLogTest, KilledWhileRollingOverAndCheckpointingLeavesALogThatOpensAndVerifies) {
  {
    auto log = open();
    fill(*log, 250, 100);
    ASSERT_TRUE(log->checkpoint(key));
  }
  const fs::path pristine = dir / "pristine";
  testing::restore_tree(logdir, pristine);
  const std::uint64_t before = all_lines(logdir).size();
  auto work = [&](Env& e) {
    LogOptions o = options();
    o.env = &e;
    auto log = TransferLog::open(logdir, o);
    if (!log) return;
    std::vector<std::string> batch(4, R"("path":"/x")");
    for (int i = 0; i < 3; ++i) (void)(*log)->append_trusted("pull", batch);
    (void)(*log)->checkpoint(key);
    (void)(*log)->append("pull", R"({"path":"/y"})");
    (void)(*log)->checkpoint(key);
  };
  const auto points = testing::crash_points(work);
  ASSERT_GE(points.size(), 10u);
  for (const auto& point : points) {
    SCOPED_TRACE(testing::describe(point));
    testing::restore_tree(pristine, logdir);
    ASSERT_TRUE(testing::run_killed_at(point, work));
    auto log = TransferLog::open(logdir, options());
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_FALSE((*log)->damage()) << (*log)->damage()->message;
    EXPECT_GE((*log)->size(), before);
    EXPECT_TRUE((*log)->append("pull", R"({"path":"/z"})"));
    EXPECT_TRUE((*log)->checkpoint(key));
    auto v = verify_log_file(logdir, keys);
    EXPECT_TRUE(v) << v.error().message;
  }
}

// The streaming verifier gives the whole-tree reference's verdict, stopping
// at the same record, on random logs with random damage.
TEST_F(SegmentedLogTest, StreamingVerifierAgreesWithTheWholeTreeReference) {
  {
    auto log = open(64);
    fill(*log, 300, 37);
    ASSERT_TRUE(log->checkpoint(key));
  }
  const auto original = all_lines(logdir);
  ASSERT_FALSE(first_bad_reference(original, keys));
  std::mt19937 rng(20261124);
  int detected = 0;
  for (int round = 0; round < 200; ++round) {
    auto lines = original;
    const std::size_t i = rng() % lines.size();
    switch (rng() % 4) {
      case 0: {  // one byte changed
        auto& l = lines[i];
        const std::size_t at = rng() % l.size();
        l[at] = l[at] == 'x' ? 'y' : 'x';
        break;
      }
      case 1:
        lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      case 2:
        std::swap(lines[i], lines[(i + 1 + rng() % 5) % lines.size()]);
        break;
      case 3:
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(i), lines[rng() % lines.size()]);
        break;
    }
    write_lines(dir / "random.jsonl", lines);
    const auto want = first_bad_reference(lines, keys);
    auto got = verify_log_file(dir / "random.jsonl", keys);
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(static_cast<bool>(got), !want) << (got ? "" : got.error().message);
    if (got) continue;
    ++detected;
    EXPECT_EQ(named_record(got.error().message), want) << got.error().message;
  }
  EXPECT_GT(detected, 150);
}

}  // namespace
}  // namespace airlock

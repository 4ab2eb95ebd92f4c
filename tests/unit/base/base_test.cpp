// base/: time, sizes, files, the Env's composed writes and helper programs.
#include <gtest/gtest.h>

#include <csignal>

#include "airlock/base/cli.h"
#include "airlock/base/env.h"
#include "airlock/base/file.h"
#include "airlock/base/json.h"
#include "airlock/base/process.h"
#include "airlock/base/text.h"
#include "airlock/base/time.h"
#include "crash_points.h"
#include "test_support.h"

namespace airlock {
namespace {
using cli::human_bytes;
using cli::parse_size;

TEST(File, AScratchDirectoryIsPrivateAndGoesAwayWithEverythingInIt) {
  testing::TempDir parent;
  std::filesystem::path made;
  {
    auto scratch = ScratchDir::make(parent.path(), "work-");
    ASSERT_TRUE(scratch) << scratch.error().message;
    made = scratch->path();
    EXPECT_EQ(made.parent_path(), parent.path());
    EXPECT_TRUE(made.filename().string().starts_with("work-"));
    EXPECT_EQ(std::filesystem::status(made).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_all);
    std::filesystem::create_directory(made / "sub");
    testing::write_text(made / "sub" / "file", "x");
    ASSERT_TRUE(std::filesystem::exists(made / "sub" / "file"));
    ScratchDir moved = std::move(*scratch);
    EXPECT_EQ(moved.path(), made);
  }
  EXPECT_FALSE(std::filesystem::exists(made));
  auto nowhere = ScratchDir::make(parent.path() / "missing", "work-");
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error().code, Code::not_found);
  EXPECT_NE(nowhere.error().message.find("make a scratch directory in " +
                                         (parent.path() / "missing").string()),
            std::string::npos)
      << nowhere.error().message;
}

TEST(Time, FormatsAndParsesRfc3339) {
  auto t = parse_time("2026-11-22T10:51:33Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_time(*t), "2026-11-22T10:51:33Z");
  EXPECT_EQ(t->time_since_epoch().count(), 1795344693);
  auto offset = parse_time("2026-11-22T12:51:33.250+02:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, *t);
  for (std::string bad : {"2026-11-22", "2026-11-22T10:51:33", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-22T10:51:33Zjunk", "yesterday"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

TEST(Cli, ParseSizeWithSuffixes) {
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("640K").value(), 640u << 10);
  EXPECT_EQ(parse_size("700M").value(), 700ull << 20);
  EXPECT_EQ(parse_size("4G").value(), 4ull << 30);
  EXPECT_EQ(parse_size("1t").value(), 1ull << 40);
  for (std::string bad : {"", "G", "0", "-1", "4GB", "1.5G", "4 G", "99999999999999999"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::invalid_input);
  }
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
}

TEST(File, ReadFileEnforcesLimit) {
  testing::TempDir dir;
  testing::write_text(dir / "f", std::string(100, 'x'));
  EXPECT_TRUE(read_file(dir / "f", 100));
  auto r = read_file(dir / "f", 99);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::limit);
}

TEST(File, AtomicWriteReplacesWholeFile) {
  testing::TempDir dir;
  ASSERT_TRUE(Env::system().write_file_atomic(dir / "f", "first"));
  ASSERT_TRUE(Env::system().write_file_atomic(dir / "f", "second", 0600));
  EXPECT_EQ(testing::read_text(dir / "f"), "second");
  EXPECT_EQ(std::filesystem::status(dir / "f").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // No temporary files remain beside it.
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(Env, WriteNewFileRefusesToOverwriteAndLeavesNothingOnFailure) {
  testing::TempDir dir;
  ASSERT_TRUE(Env::system().write_new_file(dir / "k", "secret", 0600));
  auto again = Env::system().write_new_file(dir / "k", "other", 0600);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::conflict);
  EXPECT_EQ(again.error().message, (dir / "k").string() + " already exists; not overwriting it");
  EXPECT_EQ(testing::read_text(dir / "k"), "secret");
  testing::FaultEnv env;
  env.write_budget = 2;  // the disk fills up inside the file
  auto full = env.write_new_file(dir / "n", "secret", 0600);
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().message.find("No space left on device"), std::string::npos)
      << full.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "n"));
}

TEST(Env, AtomicWriteThatFailsKeepsTheOldFile) {
  testing::TempDir dir;
  ASSERT_TRUE(Env::system().write_file_atomic(dir / "f", "first"));
  testing::FaultEnv env;
  env.fail_if = [](const std::string& op, int) { return op == "rename"; };
  ASSERT_FALSE(env.write_file_atomic(dir / "f", "second"));
  EXPECT_EQ(testing::read_text(dir / "f"), "first");
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(Text, InvalidUtf8IsEscapedByteByByteAndValidTextKept) {
  EXPECT_EQ(escape_invalid_utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(escape_invalid_utf8("gr\xc3\xbc\xc3\x9f"), "gr\xc3\xbc\xc3\x9f");  // grüß
  EXPECT_EQ(escape_invalid_utf8("a\xff"
                                "b"),
            "a\\xffb");
  EXPECT_EQ(escape_invalid_utf8("\xc3"), "\\xc3");                             // truncated sequence
  EXPECT_EQ(escape_invalid_utf8("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(escape_invalid_utf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(escape_invalid_utf8("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_TRUE(is_valid_utf8(escape_invalid_utf8("\xff\xfe\x80")));
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

TEST(Text, TerminalEscapingDefusesControlAndBidiCharacters) {
  EXPECT_EQ(escape_for_terminal("ok\x1b[31mred\x07"), "ok\\x1b[31mred\\x07");
  EXPECT_EQ(escape_for_terminal("line\nbreak\r\t"), "line\\x0abreak\\x0d\\x09");
  EXPECT_EQ(escape_for_terminal("a\xe2\x80\xae"
                                "b"),
            "a\\u{202e}b");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(escape_for_terminal("\xc2\x9b"
                                "c"),
            "\\x9bc");  // C1 CSI
  EXPECT_EQ(escape_for_terminal("\x7f\xff"), "\\x7f\\xff");
  EXPECT_EQ(escape_for_terminal("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(Text, CsvCellsCannotStartAFormula) {
  EXPECT_EQ(csv_cell("plain"), "plain");
  EXPECT_EQ(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
  EXPECT_EQ(csv_cell("+1"), "'+1");
  EXPECT_EQ(csv_cell("-1"), "'-1");
  EXPECT_EQ(csv_cell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_cell("two\nlines"), "two\\x0alines");
}

TEST(Text, CsvCellsStartingWithTabOrCarriageReturnAreNeutralised) {
  EXPECT_EQ(csv_cell("\t=1+2"), "'\\x09=1+2");
  EXPECT_EQ(csv_cell("\r=1+2"), "'\\x0d=1+2");
  EXPECT_EQ(csv_cell("x\t"), "x\\x09");
}

TEST(Text, TerminalEscapingCoversEveryBidiAndLineSeparatorControl) {
  for (const char* c :
       {"\xe2\x80\x8e", "\xe2\x80\x8f", "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac",
        "\xe2\x80\xad", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8",
        "\xe2\x81\xa9", "\xd8\x9c", "\xe2\x80\xa8", "\xe2\x80\xa9"}) {
    auto shown = escape_for_terminal(c);
    EXPECT_TRUE(shown.starts_with("\\u{")) << shown;
  }
}

TEST(Text, PercentDecodingIsOnceAndLenient) {
  EXPECT_EQ(percent_decode("openssl_3.0.22-1%7edeb12u2"), "openssl_3.0.22-1~deb12u2");
  EXPECT_EQ(percent_decode("a%2541"), "a%41");  // once only
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");  // kept when not two hex digits
  EXPECT_EQ(percent_decode("%E2%80%AE%00"), std::string("\xe2\x80\xae\0", 4));
  EXPECT_EQ(percent_decode("%"), "%");
}

TEST(Process, ReportsExitCodeAndCapturesEachStream) {
  ProcessOptions options;
  options.status_fd = 3;
  options.env = {"AIRLOCK_PROCESS_TEST=from-env"};
  auto r = run_process(
      {"sh", "-c", "printf out; printf err >&2; printf \"$AIRLOCK_PROCESS_TEST\" >&3; exit 7"},
      options);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->signal, 0);
  EXPECT_EQ(r->out, "out");
  EXPECT_EQ(r->err, "err");
  EXPECT_EQ(r->status, "from-env");
  // A path is run as given; stdin is /dev/null, so cat ends at once.
  auto plain = run_process({"/bin/sh", "-c", "cat; echo done"});
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->exit_code, 0);
  EXPECT_EQ(plain->out, "done\n");
  EXPECT_EQ(plain->status, "");
}

TEST(Process, ReportsTheSignalThatKilledIt) {
  auto r = run_process({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_EQ(r->signal, SIGTERM);
}

TEST(Process, KeepsOnlyUpToTheOutputCap) {
  ProcessOptions options;
  options.max_output = 10;
  // More than one pipe buffer, so the child blocks unless the rest is read and dropped.
  auto r = run_process(
      {"sh", "-c", "printf 0123456789abcdef; head -c 200000 /dev/zero >&2; exit 1"}, options);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_EQ(r->out, "0123456789");
  EXPECT_EQ(r->err, std::string(10, '\0'));
}

TEST(Process, StopsAProgramThatRunsPastTheTimeout) {
  ProcessOptions options;
  options.timeout = std::chrono::seconds(1);
  auto start = std::chrono::steady_clock::now();
  auto r = run_process({"sh", "-c", "exec sleep 30"}, options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::limit);
  EXPECT_EQ(r.error().message, "sh did not finish within 1 s and was stopped");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(Process, RefusesWhatCannotStart) {
  auto missing = run_process({"airlock-no-such-program-here"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::not_found);
  EXPECT_EQ(missing.error().message, "airlock-no-such-program-here is not installed (not found)");
  auto empty = run_process({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Code::invalid_input);
  EXPECT_EQ(empty.error().message, "no program to run");
}

TEST(Env, ANewFileIsNeverSeenHalfWrittenWhereverTheWriterDies) {
  testing::TempDir dir;
  const std::string key(4096, 'k');
  auto work = [&](Env& env) { (void)env.write_new_file(dir / "new.key", key, 0600); };
  const auto points = testing::crash_points(work);
  ASSERT_GE(points.size(), 4u);
  for (const auto& point : points) {
    SCOPED_TRACE(testing::describe(point));
    std::filesystem::remove(dir / "new.key");
    ASSERT_TRUE(testing::run_killed_at(point, work));
    if (std::filesystem::exists(dir / "new.key")) {
      EXPECT_EQ(testing::read_text(dir / "new.key"), key);
    }
    // What is left is a temporary file at most, never a second name.
    ASSERT_TRUE(Env::system().write_new_file(dir / "new.key", key, 0600) ||
                testing::read_text(dir / "new.key") == key);
  }
}

TEST(JsonMembers, ReadsChosenTopLevelMembersOnly) {
  JsonMembers m({"event", "status", "path", "nested", "missing"});
  ASSERT_TRUE(m.parse(R"({"n":3,"event":"pull","status":200,"path":"/a\u0041\n",)"
                      R"("nested":{"event":"no","status":1},"list":[{"path":"no"}],"x":-1})"));
  EXPECT_EQ(m.text(0), "pull");
  EXPECT_EQ(m.number(1), 200u);
  EXPECT_EQ(m.string(1), nullptr);
  EXPECT_EQ(m.text(2), "/aA\n");
  EXPECT_TRUE(m.has(3));
  EXPECT_EQ(m.string(3), nullptr);
  EXPECT_FALSE(m.has(4));
  EXPECT_EQ(m.text(4), "");
}

TEST(JsonMembers, TheLastOfDuplicateMembersWinsAsInADocument) {
  JsonMembers m({"event"});
  const std::string text = R"({"event":"import","event":"pull"})";
  ASSERT_TRUE(m.parse(text));
  EXPECT_EQ(m.text(0), json_string(nlohmann::json::parse(text), "event"));
}

TEST(StrictJson, RefusesADuplicateKeyAtAnyDepthNamingIt) {
  auto top = parse_json_strict(R"({"a":1,"b":2,"a":3})");
  ASSERT_FALSE(top);
  EXPECT_EQ(top.error().code, Code::invalid_input);
  EXPECT_EQ(top.error().message, "duplicate key \"a\"");
  auto nested = parse_json_strict(R"({"list":[{"k":1},{"k":2,"x\n":0,"x\n":1}]})");
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().message, "duplicate key \"x\\n\"");
}

TEST(StrictJson, AcceptsTheSameKeyInDifferentObjectsAndGivesTheDocument) {
  const std::string text = R"({"k":{"k":1},"l":[{"k":2},{"k":3}],"m":{"k":{"k":4}}})";
  auto doc = parse_json_strict(text);
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(*doc, nlohmann::json::parse(text));
}

TEST(StrictJson, TextThatIsNotJsonIsADiscardedValue) {
  for (std::string bad : {"", "{", "{\"a\":1}x", "{\"a\":}", "[1,]"}) {
    auto doc = parse_json_strict(bad);
    ASSERT_TRUE(doc) << bad;
    EXPECT_TRUE(doc->is_discarded()) << bad;
  }
}

TEST(JsonMembers, RefusesWhatIsNotOneObject) {
  JsonMembers m({"event"});
  for (std::string bad :
       {"", "[]", "\"event\"", "1", "{\"event\":\"pull\"", "{\"event\":\"pull\"}x",
        "{\"event\":pull}", "{\"event\":\"\\x41\"}", "{} {}"}) {
    EXPECT_FALSE(m.parse(bad)) << bad;
  }
  EXPECT_TRUE(m.parse("{}"));
  EXPECT_FALSE(m.has(0));  // nothing kept from an earlier parse
}

TEST(Text, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("suite", "suites"), 1u);
  EXPECT_EQ(edit_distance("suites", "suite"), 1u);
  EXPECT_EQ(edit_distance("kyering", "keyring"), 2u);
  EXPECT_EQ(edit_distance("prod", "test"), 4u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

}  // namespace
}  // namespace airlock

#include "airlock/transfer/manifest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "airlock/verify/encoding.h"

namespace airlock {
namespace {

using json = nlohmann::json;

Manifest sample() {
  Manifest m;
  m.stream = "debian-security";
  m.sequence = 2;
  m.previous = sha256(std::string_view("previous manifest"));
  m.kind = "delta";
  m.created = parse_time("2026-11-22T10:00:00Z").value();
  m.expires = parse_time("2026-12-22T10:00:00Z").value();
  m.producer = "airlock-mirror 0.1.0";
  m.snapshots = {{sha256(std::string_view("snap")), "debian-security"}};
  m.objects = {{sha256(std::string_view("a")), 1}, {sha256(std::string_view("bb")), 2}};
  std::sort(m.objects.begin(), m.objects.end(),
            [](const BundleObject& a, const BundleObject& b) { return a.sha256 < b.sha256; });
  m.archive_size = tar_size_for(m.objects);
  m.volumes = {{"data.000", 100, sha256(std::string_view("v0"))},
               {"data.001", 7, sha256(std::string_view("v1"))}};
  m.log_json = R"([{"event":"sync","n":0}])";
  m.changes = {{"debian-security",
                {{"added", "curl", "amd64", "", "7.88.1-10", 400},
                 {"upgraded", "openssl", "amd64", "3.0.11-1", "3.0.13-1", 1200},
                 {"removed", "old-tool", "all", "1.0", "", 0}}}};
  return m;
}

// A valid manifest changed by one edit, and the refusal message it must get.
struct Case {
  std::function<void(json&)> edit;
  std::string message;
};

// What Manifest::parse says about sample() after c.edit; the code must be
// invalid_input. "(accepted)" when it parses.
std::string refusal(const Case& c) {
  auto doc = json::parse(sample().to_json());
  c.edit(doc);
  auto r = Manifest::parse(doc.dump());
  // check, which keeps neither the objects nor the changes, says the same.
  auto checked = Manifest::check(doc.dump());
  EXPECT_EQ(bool(checked), bool(r)) << c.message;
  if (r) return "(accepted)";
  EXPECT_EQ(r.error().code, Code::invalid_input) << c.message;
  if (!checked) {
    EXPECT_EQ(checked.error().message, r.error().message);
  }
  return r.error().message;
}

// to_json() writes member by member what nlohmann writes for the whole
// tree: the text parsed (keeping member order) and dumped with indent 2 is
// the same text, and it parses back to the same manifest.
void expect_written_as_one_tree(const Manifest& m) {
  auto text = m.to_json();
  EXPECT_EQ(nlohmann::ordered_json::parse(text).dump(2) + "\n", text);
  EXPECT_TRUE(Manifest::check(text));
  auto back = Manifest::parse(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->objects, m.objects);
  EXPECT_EQ(back->snapshots, m.snapshots);
  EXPECT_EQ(back->volumes, m.volumes);
  EXPECT_EQ(back->changes, m.changes);
  EXPECT_EQ(back->log_json, json::parse(m.log_json).dump());
  EXPECT_EQ(back->previous, m.previous);
}

TEST(Manifest, WrittenAsNlohmannDumpsTheWholeTree) {
  auto m = sample();
  expect_written_as_one_tree(m);
  // Empty arrays and a null previous.
  auto empty = sample();
  empty.kind = "full";
  empty.previous.reset();
  empty.objects.clear();
  empty.archive_size = tar_size_for(empty.objects);
  empty.snapshots.clear();
  empty.changes.clear();
  empty.log_json = "[]";
  expect_written_as_one_tree(empty);
  // Nested log records, escapes, invalid UTF-8 (replaced), a repository without changes.
  auto odd = sample();
  odd.producer = "airlock \"mirror\"\n\xff\xc3\xa9";
  odd.log_json = R"([{"event":"export","objects":[1,2,{"a":[]}],"note":{}}])";
  odd.snapshots.push_back({sha256(std::string_view("snap2")), "other"});
  odd.changes.push_back({"other", {}});
  odd.changes[0].packages[0].name = "t\u00e9st\t";
  expect_written_as_one_tree(odd);
  // The invalid byte replaced, the rest as UTF-8, escapes as dump() writes them.
  EXPECT_NE(odd.to_json().find("\"producer\": \"airlock \\\"mirror\\\"\\n\xef\xbf\xbd\xc3\xa9\""),
            std::string::npos);
  // Many objects.
  auto many = sample();
  many.objects.clear();
  for (int i = 0; i < 2000; ++i) many.objects.push_back({sha256(std::to_string(i)), 7u + i});
  std::sort(many.objects.begin(), many.objects.end(),
            [](const BundleObject& a, const BundleObject& b) { return a.sha256 < b.sha256; });
  many.archive_size = tar_size_for(many.objects);
  expect_written_as_one_tree(many);
  // Made at its size, not grown: a manifest can be tens of megabytes.
  auto text = many.to_json();
  EXPECT_EQ(text.capacity(), text.size());
}

TEST(Manifest, RoundTrip) {
  auto m = sample();
  auto text = m.to_json();
  auto back = Manifest::parse(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_json(), text);
  EXPECT_EQ(back->objects, m.objects);
  EXPECT_EQ(back->volumes, m.volumes);
  EXPECT_EQ(back->previous, m.previous);
  EXPECT_EQ(back->payload_size(), 3u);
  EXPECT_EQ(back->changes, m.changes);
  EXPECT_NE(back->find(sha256(std::string_view("bb"))), nullptr);
  EXPECT_EQ(back->find(sha256(std::string_view("zz"))), nullptr);
  EXPECT_EQ(tar_size_for(m.objects), 1024u + 2 * 1024u);
}

TEST(Manifest, NamesAndSizes) {
  EXPECT_EQ(bundle_dir_name("debian", 7), "airlock-debian-000007");
  EXPECT_EQ(volume_name(12), "data.012");
  EXPECT_TRUE(valid_stream_name("debian-security.1"));
  for (std::string bad : {"", "-x", "Debian", "a/b", "a b", ".."}) {
    EXPECT_FALSE(valid_stream_name(bad)) << bad;
  }
  for (std::string bad : {std::string(65, 'a')}) {
    EXPECT_FALSE(valid_stream_name(bad)) << bad;
  }
}

// Each edit of a valid manifest and the message that names it.
TEST(Manifest, RefusesMalformedFields) {
  const Case cases[] = {
      {[](json& j) { j["format"] = "airlock-bundle/2"; }, "unsupported format 'airlock-bundle/2'"},
      {[](json& j) { j["extra"] = 1; }, "fields must be exactly"},
      {[](json& j) { j.erase("volumes"); }, "fields must be exactly"},
      {[](json& j) { j["stream"] = "../etc"; }, "stream must be"},
      {[](json& j) { j["sequence"] = 0; }, "sequence must be"},
      {[](json& j) { j["sequence"] = -3; }, "sequence must be"},
      {[](json& j) { j["kind"] = "partial"; }, "kind must be"},
      {[](json& j) { j["previous"] = nullptr; }, "must name its previous manifest"},
      {[](json& j) { j["kind"] = "full"; }, "previous must be null"},
      {[](json& j) { j["previous"] = "ABC"; }, "previous"},
      {[](json& j) { j["created"] = "yesterday"; }, "created"},
      {[](json& j) { j["expires"] = j["created"]; }, "expires must be after created"},
      {[](json& j) { j["objects"][0]["size"] = "1"; }, "size must be a non-negative integer"},
      {[](json& j) { std::swap(j["objects"][0], j["objects"][1]); }, "objects must be sorted"},
      {[](json& j) { j["objects"][1] = j["objects"][0]; },
       "objects must be sorted by sha256 and unique"},
      {[](json& j) { j["objects"].push_back(j["objects"][0]); },
       "objects must be sorted by sha256 and unique"},
      {[](json& j) { j["objects"][0]["size"] = 1ull << 40; }, "larger than 8 GiB"},
      {[](json& j) { j["archive_size"] = 4096; }, "archive_size 4096 does not match"},
      {[](json& j) { j["volumes"][1]["name"] = "data.002"; }, "volume 1 must be named data.001"},
      {[](json& j) { j["volumes"][0]["name"] = "../data.000"; }, "volume 0 must be named data.000"},
      {[](json& j) { j["volumes"] = json::array(); }, "volumes must list 1 to 1000"},
      {[](json& j) { j["volumes"][0]["size"] = 0; }, "volume data.000 is empty"},
      {[](json& j) { j["snapshots"][0]["repo"] = "a/b"; }, "snapshot repo name"},
      {[](json& j) { j["snapshots"].push_back(j["snapshots"][0]); }, "listed twice"},
      {[](json& j) { j["log"] = json::array({1}); }, "log must be an array of records"},
  };
  for (const auto& c : cases) {
    auto message = refusal(c);
    EXPECT_NE(message.find(c.message), std::string::npos)
        << "expected '" << c.message << "' in '" << message << "'";
  }
  EXPECT_FALSE(Manifest::parse("not json"));
  EXPECT_FALSE(Manifest::parse("[]"));
  EXPECT_FALSE(Manifest::parse(""));
}

// One malformed edit per field group and the whole refusal it gets.
TEST(Manifest, RefusesMalformedFieldGroupsWithExactMessages) {
  const std::string bad_hex = Digest::parse("xyz").error().message;
  const Case cases[] = {
      {[](json& j) { j.erase("format"); }, "format is missing"},
      {[](json& j) { j["format"] = 1; }, "format is missing"},
      {[](json& j) { j["stream"] = 7; }, "stream must be 1-64 characters of a-z 0-9 . _ -"},
      {[](json& j) { j["sequence"] = 1000000; }, "sequence must be an integer from 1 to 999999"},
      {[](json& j) { j["sequence"] = "2"; }, "sequence must be an integer from 1 to 999999"},
      {[](json& j) { j["kind"] = 1; }, "kind must be \"delta\" or \"full\""},
      {[](json& j) { j["sequence"] = 1; }, "previous must be null for a full bundle or sequence 1"},
      {[](json& j) { j["previous"] = 5; }, "previous: previous must be a 64-hex-digit string"},
      {[](json& j) { j["previous"] = "xyz"; }, "previous: previous: " + bad_hex},
      {[](json& j) { j["created"] = 0; }, "created must be an RFC 3339 time"},
      {[](json& j) { j["expires"] = "soon"; }, "expires: " + parse_time("soon").error().message},
      {[](json& j) { j["producer"] = std::string(1025, 'p'); },
       "producer must be a string of at most 1024 bytes"},
      {[](json& j) { j["producer"] = nullptr; }, "producer must be a string of at most 1024 bytes"},
      {[](json& j) { j["snapshots"] = json::object(); }, "snapshots must be an array"},
      {[](json& j) { j["snapshots"][0].erase("repo"); }, "each snapshot needs exactly id and repo"},
      {[](json& j) { j["snapshots"][0]["repo"] = 1; }, "each snapshot needs exactly id and repo"},
      {[](json& j) { j["snapshots"][0]["id"] = "xyz"; }, "snapshot: id: " + bad_hex},
      {[](json& j) { j["snapshots"][0]["repo"] = ".."; }, "snapshot repo name is not valid"},
      {[](json& j) { j["objects"] = "none"; }, "objects must be an array"},
      {[](json& j) { j["objects"][0]["extra"] = 1; }, "each object needs exactly sha256 and size"},
      {[](json& j) { j["objects"][0]["sha256"] = 3; },
       "object: sha256 must be a 64-hex-digit string"},
      {[](json& j) { j["archive_size"] = -1; },
       "archive: archive_size must be a non-negative integer"},
      {[](json& j) { j["archive_size"] = 1; }, "archive_size 1 does not match the objects (3072)"},
      {[](json& j) { j["volumes"] = "data.000"; }, "volumes must list 1 to 1000 volumes"},
      {[](json& j) { j["volumes"] = json::array_t(1001, json::object()); },
       "volumes must list 1 to 1000 volumes"},
      {[](json& j) { j["volumes"][1].erase("sha256"); },
       "each volume needs exactly name, size and sha256"},
      {[](json& j) { j["volumes"][0]["name"] = 0; },
       "each volume needs exactly name, size and sha256"},
      {[](json& j) { j["volumes"][0]["size"] = "100"; },
       "data.000: size must be a non-negative integer"},
      {[](json& j) { j["volumes"][1]["sha256"] = "xyz"; }, "data.001: sha256: " + bad_hex},
      {[](json& j) { j["log"] = json::object(); }, "log must be an array of records"},
      {[](json& j) { j["changes"] = json::array(); },
       "changes must list one entry for each snapshot"},
      {[](json& j) { j["changes"][0]["repo"] = "other"; },
       "changes entry 0 must be {repo, packages} for debian-security"},
      {[](json& j) { j["changes"][0]["packages"][0].erase("size"); },
       "changes of debian-security: each package needs exactly change, name, architecture, old, "
       "new and size"},
      {[](json& j) { j["changes"][0]["packages"][0]["old"] = "1.0"; },
       "changes of debian-security: 'curl' is not a valid added change"},
      {[](json& j) { j["changes"][0]["packages"][1]["new"] = ""; },
       "changes of debian-security: 'openssl' is not a valid upgraded change"},
      {[](json& j) { j["changes"][0]["packages"][2]["change"] = "deleted"; },
       "changes of debian-security: 'old-tool' is not a valid deleted change"},
      {[](json& j) { j["changes"][0]["packages"][0]["size"] = -1; },
       "changes of debian-security: size must be a non-negative integer"},
      {[](json& j) {
         j["log"] = json::array({json::object(), "x"});
       },
       "log must be an array of records"},
  };
  for (const auto& c : cases) EXPECT_EQ(refusal(c), "manifest: " + c.message);
  for (std::string not_object : {"not json", "[]", "", "42", "{"}) {
    auto r = Manifest::parse(not_object);
    ASSERT_FALSE(r) << not_object;
    EXPECT_EQ(r.error().message, "manifest: not a JSON object") << not_object;
  }
  // A full bundle (no previous) and an empty log parse.
  auto full = json::parse(sample().to_json());
  full["kind"] = "full";
  full["previous"] = nullptr;
  full["log"] = json::array();
  auto r = Manifest::parse(full.dump());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->previous);
  EXPECT_EQ(r->log_json, "[]");
}

// Objects and package changes are parsed one by one as the text comes, not
// as a tree: the refusals and their order are those of the whole document.
TEST(Manifest, LongArraysParsedAsTheyComeWithTheSameRefusals) {
  // packages before repo: the bad change is still named with its repository.
  auto doc = nlohmann::ordered_json::parse(sample().to_json());
  auto& entry = doc["changes"][0];
  auto packages = entry["packages"];
  packages[1]["new"] = "";
  entry.erase("repo");
  entry.erase("packages");
  entry["packages"] = packages;
  entry["repo"] = "debian-security";
  auto r = Manifest::parse(doc.dump(2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "manifest: changes of debian-security: 'openssl' is not a valid upgraded change");
  // A bad object, a bad snapshot after it in the text: the snapshot is checked first.
  auto both = json::parse(sample().to_json());
  both["objects"][1]["size"] = "2";
  both["snapshots"][0]["repo"] = "..";
  auto text = nlohmann::ordered_json(both).dump();
  ASSERT_LT(text.find("\"objects\""), text.find("\"snapshots\""));
  EXPECT_EQ(Manifest::parse(text).error().message, "manifest: snapshot repo name is not valid");
  both["snapshots"][0]["repo"] = "debian-security";
  EXPECT_EQ(Manifest::parse(both.dump()).error().message,
            "manifest: object " + sample().objects[1].sha256.hex() +
                ": size must be a non-negative integer");
  // Members named objects or packages elsewhere (in the log) stay as they are.
  auto m = sample();
  m.log_json = R"([{"changes":[{"packages":[1]}],"objects":[{"a":2}]}])";
  auto back = Manifest::parse(m.to_json());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->log_json, m.log_json);
  EXPECT_EQ(back->objects, m.objects);
  EXPECT_EQ(back->changes, m.changes);
  // A repeated name inside an object element.
  auto dup = sample().to_json();
  dup.insert(dup.find("\"size\": 1"), "\"size\": 5, ");
  EXPECT_EQ(Manifest::parse(dup).error().message, "manifest: duplicate key \"size\"");
}

TEST(Manifest, RefusesADuplicateKeyNamingIt) {
  // A second member before the one at `before`: nlohmann would keep the
  // last, a reviewer's tool may read the first.
  auto with_duplicate = [](std::string_view before, std::string_view added) {
    auto text = sample().to_json();
    auto at = text.find(before);
    EXPECT_NE(at, std::string::npos) << before;
    text.insert(at, added);
    auto r = Manifest::parse(text);
    EXPECT_FALSE(r);
    if (r) return std::string("(accepted)");
    EXPECT_EQ(r.error().code, Code::invalid_input);
    return r.error().message;
  };
  EXPECT_EQ(with_duplicate("\"sequence\"", "\"sequence\": 999999,\n  "),
            "manifest: duplicate key \"sequence\"");
  EXPECT_EQ(with_duplicate("\"name\": \"data.000\"", "\"name\": \"data.009\", "),
            "manifest: duplicate key \"name\"");  // in a nested object too
}

TEST(Signatures, RefusesADuplicateKeyNamingIt) {
  auto key = PrivateKey::generate().value();
  auto sig = key.sign(std::string_view("m")).value();
  const std::string entry = R"({"keyid":")" + key.public_key().id().hex() + R"(","sig":")" +
                            base64_encode(std::vector<std::uint8_t>(sig.begin(), sig.end())) +
                            R"("})";
  auto r = parse_signatures(R"({"signatures":[],"signatures":[)" + entry + "]}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
  EXPECT_EQ(r.error().message, "signatures: duplicate key \"signatures\"");
  auto inner = entry;
  inner.insert(1, R"("sig":"AA==",)");
  auto i = parse_signatures(R"({"signatures":[)" + inner + "]}");
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().message, "signatures: duplicate key \"sig\"");
}

TEST(Signatures, RoundTripAndStrictParse) {
  auto key = PrivateKey::generate().value();
  auto sig = key.sign(std::string_view("m")).value();
  std::vector<SignatureEntry> sigs{{key.public_key().id(), {sig.begin(), sig.end()}}};
  auto text = signatures_to_json(sigs);
  auto back = parse_signatures(text);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].keyid, key.public_key().id());
  EXPECT_EQ((*back)[0].sig, sigs[0].sig);
  EXPECT_FALSE(parse_signatures(R"({"signatures":[{"keyid":"x","sig":"AA=="}]})"));
  EXPECT_FALSE(parse_signatures(R"({"signatures":{}})"));
  EXPECT_FALSE(parse_signatures(R"({"sigs":[]})"));
}

}  // namespace
}  // namespace airlock

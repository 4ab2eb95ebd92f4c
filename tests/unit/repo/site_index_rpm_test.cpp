// The site index of a filtered rpm snapshot: a primary of exactly the
// carried packages' vendor elements, a repomd.xml listing it with the
// vendor's updateinfo as it is, signed by the site key, and a handler that
// answers repodata/ from it alone.
#include <gtest/gtest.h>

#include "../../../repo-server/src/site_index.h"
#include "airlock/formats/compress.h"
#include "airlock/formats/rpm.h"
#include "airlock/formats/rpm_site.h"
#include "airlock/repo/server.h"
#include "airlock/verify/gpgv.h"
#include "test_support.h"

namespace airlock::repo {
namespace {

using testing::TempDir;
using testing::write_text;

const TimePoint kNow = TimePoint(std::chrono::seconds(1800000000));

std::string element(const std::string& name, const std::string& rpm) {
  return "<package type=\"rpm\">\n  <name>" + name +
         "</name>\n  <arch>noarch</arch>\n  <version epoch=\"0\" ver=\"1.0\" rel=\"1\"/>\n"
         "  <checksum type=\"sha256\" pkgid=\"YES\">" +
         sha256(rpm).hex() + "</checksum>\n  <size package=\"" + std::to_string(rpm.size()) +
         "\"/>\n  <location href=\"" + name + "-1.0-1.noarch.rpm\"/>\n</package>";
}

std::string data(const std::string& type, const std::string& path, const std::string& bytes) {
  return "<data type=\"" + type + "\">\n    <checksum type=\"sha256\">" + sha256(bytes).hex() +
         "</checksum>\n    <location href=\"" + path + "\"/>\n    <size>" +
         std::to_string(bytes.size()) + "</size>\n  </data>";
}

class RpmSiteIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store = Store::open(dir / "store").value();
    auto k = SiteKey::create(dir / "site", "airlock site key (test)");
    ASSERT_TRUE(k) << k.error().message;
    key.emplace(std::move(*k));
    for (const auto* name : {"hello", "libgreet", "other-app"}) {
      rpms[name] = std::string(name) + " rpm bytes";
      elements[name] = element(name, rpms[name]);
    }
    vendor_primary =
        formats::compress_gzip(
            rpm::site_primary({elements["hello"], elements["other-app"], elements["libgreet"]}))
            .value();
    updateinfo = formats::compress_gzip("<updates/>").value();
    const std::string filelists = "filelists bytes";
    updateinfo_data = data("updateinfo", kUpdateinfo, updateinfo);
    repomd =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\">\n  <revision>7</revision>\n  " +
        data("primary", kPrimary, vendor_primary) + "\n  " +
        data("filelists", kFilelists, filelists) + "\n  " + updateinfo_data + "\n</repomd>\n";
    snap.repo = "rocky";
    snap.kind = "rpm";
    snap.upstream = "http://vendor";
    snap.filtered = true;
    for (const auto& [path, bytes] : {std::pair{std::string("repodata/repomd.xml"), repomd},
                                      {"repodata/repomd.xml.asc", std::string("vendor signature")},
                                      {kPrimary, vendor_primary},
                                      {kFilelists, filelists},
                                      {kUpdateinfo, updateinfo}}) {
      snap.entries.push_back({path, sha256(bytes), bytes.size()});
      stored[sha256(bytes)] = bytes;
    }
  }

  // The snapshot carrying names (as sync lists them), stored with its files.
  Digest add_snapshot(const std::vector<std::string>& names) {
    auto batch = store->begin_batch().value();
    for (const auto& [id, bytes] : stored) EXPECT_TRUE(batch.put_bytes(bytes));
    for (const auto& n : names) {
      const std::string path = n + "-1.0-1.noarch.rpm";
      EXPECT_TRUE(batch.put_bytes(rpms[n]));
      snap.entries.push_back({path, sha256(rpms[n]), rpms[n].size()});
      snap.packages.push_back(
          {n, "1.0-1", "noarch", n, rpms[n].size(), sha256(rpms[n]), path, kPrimary});
    }
    std::sort(snap.entries.begin(), snap.entries.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    auto id = batch.add_snapshot(snap).value();
    batch.set_ref("channel/prod/rocky", id, "{}");
    EXPECT_TRUE(batch.commit());
    return id;
  }

  Result<Digest> build(const Digest& id) {
    auto batch = store->begin_batch().value();
    const ObjectSource read = [&](const Digest& d, std::uint64_t max) {
      return batch.read_pieces(d, max);
    };
    auto index = build_site_index(snap, id, read, *key, kNow, batch);
    if (index) {
      EXPECT_TRUE(batch.commit());
    }
    return index;
  }

  Snapshot overlay(const Digest& id) {
    auto ref = store->get_ref(site_index_ref(id));
    EXPECT_TRUE(ref);
    return Snapshot::parse(store->read(*ref).value()).value();
  }

  static inline const std::string kPrimary = "repodata/aa-primary.xml.gz";
  static inline const std::string kFilelists = "repodata/bb-filelists.xml.gz";
  static inline const std::string kUpdateinfo = "repodata/cc-updateinfo.xml.gz";
  TempDir dir;
  std::unique_ptr<Store> store;
  std::optional<SiteKey> key;
  std::map<std::string, std::string> rpms, elements;
  std::map<Digest, std::string> stored;
  std::string vendor_primary, updateinfo, updateinfo_data, repomd;
  Snapshot snap;
};

TEST_F(RpmSiteIndexTest, PrimaryHoldsExactlyTheCarriedVendorElementsInVendorOrder) {
  auto id = add_snapshot({"hello", "libgreet"});
  auto index = build(id);
  ASSERT_TRUE(index) << index.error().message;
  const Snapshot site = overlay(id);
  EXPECT_EQ(store->get_ref(site_index_ref(id)).value(), *index);
  EXPECT_EQ(site.repo, "rocky");
  EXPECT_EQ(site.kind, "rpm");
  std::vector<std::string> paths;
  for (const auto& e : site.entries) paths.push_back(e.path);
  auto repomd_text = store->read(site.find("repodata/repomd.xml")->sha256).value();
  auto parsed = rpm::parse_repomd(repomd_text);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->data.size(), 2u);
  const auto& primary = parsed->data[0];
  EXPECT_EQ(primary.type, "primary");
  std::vector<std::string> expected{kUpdateinfo, primary.location, "repodata/repomd.xml",
                                    "repodata/repomd.xml.asc"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(paths, expected);
  EXPECT_EQ(primary.location, rpm::site_metadata_location(primary.sha256, "primary"));
  EXPECT_EQ(primary.timestamp, 1800000000);
  EXPECT_EQ(parsed->revision, "1800000000");
  auto gz = store->read(primary.sha256).value();
  EXPECT_EQ(gz.size(), primary.size);
  EXPECT_EQ(formats::decompress_index(gz).value(),
            rpm::site_primary({elements["hello"], elements["libgreet"]}));
  // The vendor's updateinfo: its own <data> bytes, its own object.
  EXPECT_EQ(parsed->data[1].element, updateinfo_data);
  EXPECT_EQ(site.find(kUpdateinfo)->sha256, sha256(updateinfo));
  EXPECT_EQ(site.find(kFilelists), nullptr);
}

TEST_F(RpmSiteIndexTest, RepomdIsSignedByTheSiteKey) {
  auto id = add_snapshot({"hello"});
  ASSERT_TRUE(build(id));
  const Snapshot site = overlay(id);
  write_text(dir / "repomd.xml", store->read(site.find("repodata/repomd.xml")->sha256).value());
  write_text(dir / "repomd.xml.asc",
             store->read(site.find("repodata/repomd.xml.asc")->sha256).value());
  write_text(dir / "site.gpg", key->export_public(false).value());
  auto good = gpgv_check_detached(dir / "site.gpg", dir / "repomd.xml.asc", dir / "repomd.xml",
                                  dir / "gpgv");
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->fingerprint, key->fingerprint());
}

TEST_F(RpmSiteIndexTest, RefusesWhenTheVendorPrimaryDoesNotListACarriedPackage) {
  rpms["hello"] = "other bytes than primary's";
  auto id = add_snapshot({"hello"});
  auto index = build(id);
  ASSERT_FALSE(index);
  EXPECT_EQ(index.error().code, Code::invalid_input);
  EXPECT_EQ(index.error().message,
            "rocky " + kPrimary + " does not list hello-1.0-1.noarch.rpm with sha256 " +
                sha256(rpms["hello"]).hex() + ", which the snapshot carries");
  EXPECT_FALSE(store->get_ref(site_index_ref(id)));
}

TEST_F(RpmSiteIndexTest, HandlerAnswersRepodataFromTheSiteIndexAlone) {
  auto id = add_snapshot({"hello", "libgreet"});
  RequestHandler before(*store);
  // Without its site index a filtered snapshot is an error, never the vendor's repodata.
  EXPECT_EQ(before.handle({"GET", "/prod/rocky/repodata/repomd.xml", "", "", ""}).status, 500);
  ASSERT_TRUE(build(id));
  RequestHandler handler(*store);
  auto get = [&](const std::string& path) {
    return handler.handle({"GET", "/prod/rocky/" + path, "", "", ""});
  };
  const Snapshot site = overlay(id);
  auto repomd_site = get("repodata/repomd.xml");
  EXPECT_EQ(repomd_site.status, 200);
  EXPECT_EQ(*repomd_site.object, site.find("repodata/repomd.xml")->sha256);
  EXPECT_EQ(get("repodata/repomd.xml.asc").status, 200);
  EXPECT_EQ(get(kUpdateinfo).status, 200);
  for (const auto& vendor_only : {kPrimary, kFilelists}) EXPECT_EQ(get(vendor_only).status, 404);
  EXPECT_EQ(get("hello-1.0-1.noarch.rpm").content(), rpms["hello"]);
  EXPECT_EQ(get("other-app-1.0-1.noarch.rpm").status, 404);
}

}  // namespace
}  // namespace airlock::repo

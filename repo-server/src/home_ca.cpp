// Home's site CA commands: the index of issued certificates, and every
// change written through the ledger with its `ca` records (site_ca.h).
#include <nlohmann/json.hpp>

#include "airlock/base/file.h"
#include "airlock/base/text.h"
#include "airlock/repo/home.h"
#include "site_ca_x509.h"

namespace airlock::repo {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::string_view kIndexFormat = "airlock-ca-index/1";
constexpr std::uint64_t kMaxIndex = 64 << 20;

struct CaIndex {
  std::uint64_t crl_number = 0;
  std::vector<CaCertificate> certificates;
};

json entry_json(const CaCertificate& c) {
  return {{"host", c.host},
          {"serial", c.serial},
          {"subject", c.subject},
          {"fingerprint", c.fingerprint.hex()},
          {"not_before", format_time(c.not_before)},
          {"not_after", format_time(c.not_after)},
          {"revoked", c.revoked ? json(format_time(*c.revoked)) : json(nullptr)}};
}

std::string index_text(const CaIndex& index) {
  json certs = json::array();
  for (const auto& c : index.certificates) certs.push_back(entry_json(c));
  return json{{"format", kIndexFormat},
              {"crl_number", index.crl_number},
              {"certificates", std::move(certs)}}
             .dump(2) +
         "\n";
}

Result<CaCertificate> parse_entry(const json& j) {
  CaCertificate c;
  c.host = j.at("host").get<std::string>();
  c.serial = j.at("serial").get<std::string>();
  c.subject = j.at("subject").get<std::string>();
  auto fp = Digest::parse(j.at("fingerprint").get<std::string>());
  auto from = parse_time(j.at("not_before").get<std::string>());
  auto until = parse_time(j.at("not_after").get<std::string>());
  if (!fp || !from || !until) return fail(!fp ? fp.error() : !from ? from.error() : until.error());
  c.fingerprint = *fp;
  c.not_before = *from;
  c.not_after = *until;
  if (!j.at("revoked").is_null()) {
    auto when = parse_time(j.at("revoked").get<std::string>());
    if (!when) return fail(when.error());
    c.revoked = *when;
  }
  return c;
}

// not_found naming `ca init` when dir holds no index.
Result<CaIndex> load_index(const fs::path& home, const fs::path& dir) {
  const fs::path file = dir / "issued.json";
  if (!path_exists(file)) {
    return fail(Code::not_found, "this home has no site CA (run 'airlock-repo --home " +
                                     home.string() + " ca init' first)");
  }
  auto text = read_file(file, kMaxIndex);
  if (!text) return fail(text.error());
  auto corrupt = [&](const std::string& why) {
    return fail(Code::corrupt, file.string() + ": " + why);
  };
  const json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", json()) != std::string(kIndexFormat))
    return corrupt(std::string("expected JSON of format ") + std::string(kIndexFormat));
  CaIndex index;
  try {
    index.crl_number = j.at("crl_number").get<std::uint64_t>();
    for (const auto& e : j.at("certificates")) {
      auto c = parse_entry(e);
      if (!c) return corrupt(c.error().message);
      index.certificates.push_back(std::move(*c));
    }
  } catch (const json::exception& e) {
    return corrupt(e.what());
  }
  return index;
}

// The `ca` record of one certificate.
LogEntry ca_record(const std::string& action, const CaCertificate& c, const ChangeInfo& who) {
  json rec = who.fields();
  rec.update({{"action", action},
              {"serial", c.serial},
              {"subject", c.subject},
              {"fingerprint", c.fingerprint.hex()},
              {"not_after", format_time(c.not_after)}});
  if (!c.host.empty()) rec["host"] = c.host;
  return {"ca", std::move(rec)};
}

Status check_days(int days, const char* what) {
  if (days >= 1 && days <= 36500) return {};
  return fail(Code::invalid_input, std::string("--days for ") + what +
                                       " must be from 1 to 36500, not " + std::to_string(days));
}

// "airlock site CA <the home directory's name>".
std::string default_ca_name(const fs::path& home) {
  fs::path p = fs::absolute(home).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return "airlock site CA " + p.filename().string();
}

// A CA change in progress: the home's change lock held, the index and the
// CA's key and certificate read under it.
struct CaChange {
  Change change;
  CaIndex index;
  CaFiles ca;
};

Result<CaChange> begin_ca_change(Ledger& ledger, const fs::path& home, const fs::path& dir) {
  auto change = ledger.begin();
  if (!change) return fail(change.error());
  auto index = load_index(home, dir);
  if (!index) return fail(index.error());
  auto ca = load_ca(dir);
  if (!ca) return fail(ca.error());
  return CaChange{std::move(*change), std::move(*index), std::move(*ca)};
}

// Signs the CRL with the next number and commits it with the index and records.
Status commit_crl(CaChange& c, const fs::path& dir, TimePoint now, std::vector<LogEntry> records) {
  ++c.index.crl_number;
  auto crl = sign_crl(c.ca, c.index.certificates, c.index.crl_number, now);
  if (!crl) return fail(crl.error());
  return c.change.commit_files({{dir / "crl.pem", std::move(*crl), 0644, false},
                                {dir / "issued.json", index_text(c.index), 0644, false}},
                               std::move(records));
}

}  // namespace

Result<CaReport> Home::ca_init(const CaInitOptions& options, const ChangeInfo& who) {
  if (auto s = check_days(options.days, "the CA"); !s) return fail(s.error());
  const std::string name = options.name.empty() ? default_ca_name(dir()) : options.name;
  if (!is_valid_utf8(name) || name.size() > 64)
    return fail(Code::invalid_input, "--name: a CA name is at most 64 bytes of UTF-8, not '" +
                                         escape_invalid_utf8(name) + "'");
  auto change = ledger().begin();
  if (!change) return fail(change.error());
  const fs::path ca = ca_dir();
  if (path_exists(ca / "issued.json"))
    return fail(Code::conflict,
                "a site CA exists already in " + ca.string() + " (ca list shows its certificates)");
  // Left by an init that never committed: kept for the operator to look at, never replaced.
  for (const char* f : {"ca.key", "ca.crt"}) {
    if (path_exists(ca / f))
      return fail(Code::conflict, (ca / f).string() + " exists without issued.json (an " +
                                      "interrupted ca init?): move " + ca.string() +
                                      " aside and run ca init again");
  }
  const TimePoint now = env().now();
  auto made = make_ca(name, now, options.days);
  if (!made) return fail(made.error());
  auto own = describe_ca(*made, now, options.days);
  auto key = private_key_pem(made->key.get());
  auto cert = certificate_pem(made->cert.get());
  auto crl = sign_crl(*made, {}, 1, now);
  if (!own || !key || !cert || !crl)
    return fail(!own ? own.error() : !key ? key.error() : !cert ? cert.error() : crl.error());
  if (!path_exists(ca)) {
    if (auto s = env().make_dir(ca, 0700); !s) return fail(s.error());
  }
  CaReport report{
      "init", {*own}, {ca / "ca.key", ca / "ca.crt", ca / "crl.pem", ca / "issued.json"}, 1};
  auto s = change->commit_files({{report.files[0], std::move(*key), 0600, true},
                                 {report.files[1], std::move(*cert), 0644, true},
                                 {report.files[2], std::move(*crl), 0644, false},
                                 {report.files[3], index_text({1, {}}), 0644, false}},
                                {ca_record("init", *own, who)});
  if (!s) return fail(s.error());
  return report;
}

Result<CaReport> Home::ca_issue(const CaIssueOptions& options, const ChangeInfo& who) {
  auto host = parse_host(options.host);
  if (!host) return fail(host.error());
  if (auto s = check_days(options.days, "a host"); !s) return fail(s.error());
  auto c = begin_ca_change(ledger(), dir(), ca_dir());
  if (!c) return fail(c.error());
  auto ca_pem = read_file(ca_dir() / "ca.crt", 1 << 20);
  if (!ca_pem) return fail(ca_pem.error());
  auto issued = issue_host(c->ca, *host, env().now(), options.days);
  if (!issued) return fail(issued.error());
  const fs::path out = options.out.empty() ? ca_dir() / "hosts" / host->text : options.out;
  if (auto s = env().make_dirs(out); !s) return fail(s.error());
  c->index.certificates.push_back(issued->entry);
  CaReport report{"issue",
                  {issued->entry},
                  {out / (host->text + ".key"), out / (host->text + ".crt"), out / "ca.crt"},
                  c->index.crl_number};
  auto rec = ca_record("issue", issued->entry, who);
  rec.fields["out"] = fs::absolute(out).string();
  auto s = c->change.commit_files({{report.files[0], std::move(issued->key_pem), 0600, false},
                                   {report.files[1], std::move(issued->cert_pem), 0644, false},
                                   {report.files[2], std::move(*ca_pem), 0644, false},
                                   {ca_dir() / "issued.json", index_text(c->index), 0644, false}},
                                  {std::move(rec)});
  if (!s) return fail(s.error());
  return report;
}

Result<CaReport> Home::ca_revoke(const std::string& host, const ChangeInfo& who) {
  auto name = parse_host(host);
  if (!name) return fail(name.error());
  auto c = begin_ca_change(ledger(), dir(), ca_dir());
  if (!c) return fail(c.error());
  const TimePoint now = env().now();
  CaReport report{"revoke", {}, {ca_dir() / "crl.pem"}, c->index.crl_number + 1};
  std::size_t known = 0;
  std::vector<LogEntry> records;
  for (auto& cert : c->index.certificates) {
    if (cert.host != name->text) continue;
    ++known;
    if (cert.revoked) continue;
    cert.revoked = now;
    report.certificates.push_back(cert);
    records.push_back(ca_record("revoke", cert, who));
    records.back().fields["crl_number"] = report.crl_number;
  }
  if (known == 0)
    return fail(Code::not_found, "the site CA has issued no certificate for host '" + name->text +
                                     "' (ca list shows the hosts)");
  if (records.empty())
    return fail(Code::conflict, "every certificate of host '" + name->text +
                                    "' is revoked already (" + std::to_string(known) + ")");
  if (auto s = commit_crl(*c, ca_dir(), now, std::move(records)); !s) return fail(s.error());
  return report;
}

Result<CaReport> Home::ca_crl(const ChangeInfo& who) {
  auto c = begin_ca_change(ledger(), dir(), ca_dir());
  if (!c) return fail(c.error());
  json rec = who.fields();
  rec.update({{"action", "crl"}, {"crl_number", c->index.crl_number + 1}});
  if (auto s = commit_crl(*c, ca_dir(), env().now(), {{"ca", std::move(rec)}}); !s)
    return fail(s.error());
  return CaReport{"crl", {}, {ca_dir() / "crl.pem"}, c->index.crl_number};
}

Result<std::vector<CaCertificate>> Home::ca_list() const {
  auto index = load_index(dir(), ca_dir());
  if (!index) return fail(index.error());
  return std::move(index->certificates);
}

nlohmann::json to_json(const CaCertificate& c) { return entry_json(c); }

}  // namespace airlock::repo

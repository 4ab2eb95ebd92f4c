// What airlock-repo --help says about each command: the one source of the
// command-line documentation, for the program and its manual pages.
#include "airlock/repo/usage.h"

#include <array>

namespace airlock::repo {
namespace {

constexpr std::array kUsage{
    CommandUsage{
        "init",
        "init                                 create the home: trust.json, store, log, keys",
        "usage: airlock-repo --home DIR "
        "init\n\nCreates the home: an empty trust policy, the store, the transfer log and its "
        "key\n"
        "keys/log.key (give keys/log.pub to auditors), and the OpenPGP site key that signs\n"
        "the indices of repositories mirrored with a filter (made with GnuPG in site/gnupg;\n"
        "it never leaves the home). Safe to run again: what exists is kept.\n\nexample:\n  "
        "airlock-repo --home /srv/airlock init\n"},
    CommandUsage{
        "site-key", "site-key export [--out FILE]         the site key's public half, for hosts",
        "usage: airlock-repo --home DIR site-key export [--out FILE] [--binary]\n\n"
        "Prints (or writes to FILE) the public half of the site key, ASCII-armored, or\n"
        "binary with --binary. Hosts of a repository mirrored with a filter verify the\n"
        "site-signed index with it: put it where their sources' signed-by points.\n\n"
        "examples:\n"
        "  airlock-repo --home /srv/airlock site-key export --out airlock-site.asc\n"
        "  airlock-repo --home /srv/airlock site-key export --binary --out airlock-site.gpg\n"},
    CommandUsage{
        "ca", "ca init | issue HOST | revoke HOST | crl | list   the site CA for host certificates",
        "usage: airlock-repo --home DIR ca init [--name CN] [--days N]\n"
        "       airlock-repo --home DIR ca issue HOST [--out DIR] [--days N]\n"
        "       airlock-repo --home DIR ca revoke HOST | crl | list [--json]\n\n"
        "A certificate authority in the home for host identities on serve's TLS listener.\n"
        "init makes the CA (once): an ECDSA P-256 key ca/ca.key (0600, never printed),\n"
        "the self-signed ca/ca.crt (CN \"airlock site CA <home dir name>\" unless --name,\n"
        "3650 days unless --days), an empty revocation list ca/crl.pem and the index\n"
        "ca/issued.json. issue makes a P-256 key and a certificate for HOST (a DNS name or\n"
        "an IP address; CN and subjectAltName, client and server use, 825 days unless\n"
        "--days) and writes HOST.key (0600), HOST.crt and ca.crt to --out DIR (default\n"
        "ca/hosts/HOST/) for copying to the host. Issuing again gives a host a new key\n"
        "(both certificates are listed; the old one stays valid until revoked). revoke\n"
        "puts every unrevoked certificate of HOST on the CRL. A CRL is valid for 30\n"
        "days: crl signs it anew (run it from cron). list shows every certificate: host,\n"
        "serial, expiry, revocation time, SHA-256 fingerprint. Every change is logged as\n"
        "a `ca` record.\n\nexamples:\n"
        "  airlock-repo --home /srv/airlock ca init\n"
        "  airlock-repo --home /srv/airlock ca issue web01.plant.example\n"
        "  airlock-repo --home /srv/airlock ca issue 10.1.2.3 --out /media/usb/10.1.2.3\n"
        "  airlock-repo --home /srv/airlock ca revoke web01.plant.example --reason "
        "\"decommissioned\"\n"
        "  airlock-repo --home /srv/airlock ca list --json\n"},
    CommandUsage{
        "trust", "trust add PUB | list | remove KEYID | threshold N   who may sign bundles",
        "usage: airlock-repo --home DIR "
        "trust add PUB [--name N] [--not-before T] [--not-after T] | list | remove KEYID | "
        "threshold N | max-validity DAYS\n\n"
        "The trust policy: which Ed25519 keys may sign bundles, within which dates, how\n"
        "many distinct signatures a bundle needs (2: no single person can push a bundle\n"
        "in), and the longest a bundle may be valid (expires less created; 90 days unless\n"
        "set). Every change is logged with a checkpoint.\n\nexamples:\n"
        "  airlock-repo --home /srv/airlock trust add alice.pub --name alice\n"
        "  airlock-repo --home /srv/airlock trust threshold 2 --reason \"two-person rule\"\n"
        "  airlock-repo --home /srv/airlock trust max-validity 30\n"},
    CommandUsage{
        "access", "access add|remove NAME|list              who may read which channel",
        "usage: airlock-repo --home DIR access add --name NAME --channel CH [--channel CH...]\n"
        "                                     [--repo R...] [--cn P] [--ou P] [--fingerprint HEX]\n"
        "                                     [--ca CERT] [--address CIDR...]\n"
        "       airlock-repo --home DIR access remove NAME\n"
        "       airlock-repo --home DIR access list [--json]\n\n"
        "The access policy (<home>/access.toml): named rules saying which clients may\n"
        "read which channels and repositories. A rule matches a client when every\n"
        "condition it states holds: --cn and --ou are glob patterns on the client\n"
        "certificate's CN and OU, --fingerprint its SHA-256, --ca the certificate of\n"
        "the CA that issued it (stored as its SHA-256), --address an IPv4 or IPv6\n"
        "address or CIDR range. It grants --channel (\"*\": every channel) and --repo\n"
        "(default: every repository). Without rules every client may read everything;\n"
        "with rules, a request no matching rule grants gets 403 and a logged refusal.\n"
        "Without TLS an address is not an identity: any machine can take an address.\n"
        "Every change is logged; the server reads the policy when it starts and on\n"
        "SIGHUP.\n\nexamples:\n"
        "  airlock-repo --home /srv/airlock access add --name web --channel prod --cn 'web-*' "
        "--ca site-ca.pem\n"
        "  airlock-repo --home /srv/airlock access add --name lab --channel test --repo debian "
        "--address 10.20.0.0/16 --address fd00:20::/32\n"
        "  airlock-repo --home /srv/airlock access remove lab --reason \"lab closed\"\n"
        "  airlock-repo --home /srv/airlock access list --json\n"},
    CommandUsage{
        "import", "import BUNDLE_DIR [VOLUME_DIR...]    verify a bundle and import it atomically",
        "usage: airlock-repo --home DIR "
        "import BUNDLE_DIR [VOLUME_DIR...] [options]\n\n"
        "Verifies and imports a bundle, refusing with one line (exit 3) at the first\n"
        "problem: signatures over the raw manifest against the trust policy; format and\n"
        "expiry; sequence (the same bundle again is a no-op, an older or skipped one is\n"
        "refused, a delta must follow the last imported bundle); every volume's SHA-256\n"
        "before anything is decompressed; every object as it streams into the store;\n"
        "every snapshot complete. Then one atomic commit, logged with who imported it,\n"
        "from which media, and the exporting side's log records. A refused import\n"
        "changes nothing and is itself logged. Volumes may come from several directories\n"
        "(discs), in one call or over several: verified volumes wait in staging.\n"
        "--publish CH publishes the bundle's snapshots to CH in the same commit; CH must\n"
        "exist unless --create is given.\n\nexamples:\n"
        "  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000042 --publish "
        "test\n"
        "  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000001 --publish "
        "test --create\n"
        "  airlock-repo --home /srv/airlock import /media/disc1/airlock-debian-000043 "
        "/media/disc2 --media-label \"DVD 43\"\n"
        "  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000044 --scan-cmd "
        "\"clamscan --no-summary {}\"\n"},
    CommandUsage{"snapshots",
                 "snapshots [show ID]                  snapshots in the store, or one inside",
                 "usage: airlock-repo --home DIR snapshots [--json]\n"
                 "       airlock-repo --home DIR snapshots show ID [--json]\n\n"
                 "The snapshots imported so far, oldest first. `show ID` shows one: its\n"
                 "repository, upstream, sync time, file count and size, release information,\n"
                 "whether a filter chose its packages, and every package it carries (name,\n"
                 "version, architecture, source package, size). ID is a snapshot id or a unique\n"
                 "prefix of 8 or more hex digits.\n\nexamples:\n"
                 "  airlock-repo --home /srv/airlock snapshots\n"
                 "  airlock-repo --home /srv/airlock snapshots show 3f2a9c81 --json\n"},
    CommandUsage{"diff",
                 "diff A B                             what changed by package between snapshots",
                 "usage: airlock-repo --home DIR diff A B [--json]\n\n"
                 "What changed by package from snapshot A to snapshot B: added, upgraded (old ->\n"
                 "new), downgraded and removed, by package and architecture, in Debian's version\n"
                 "order. Counts and sizes first, then one line a package, as an import shows\n"
                 "what a bundle carries. A and B are snapshot ids or unique prefixes of 8 or\n"
                 "more hex digits.\n\nexamples:\n"
                 "  airlock-repo --home /srv/airlock diff 3f2a9c81 81b0e4d2\n"
                 "  airlock-repo --home /srv/airlock diff 3f2a9c81 81b0e4d2 --json\n"},
    CommandUsage{"channels",
                 "channels [--history [CH]]            what each channel serves, or its history",
                 "usage: airlock-repo --home DIR channels [--json]\n"
                 "       airlock-repo --home DIR channels --history [CH] [--json]\n\n"
                 "What each channel serves: channel, repository, snapshot. With --history, every\n"
                 "change of channel CH (without CH, of every channel, deleted ones included,\n"
                 "channel by channel), oldest first: when, what (publish, promote, rollback,\n"
                 "import --publish, delete), who, why and the change ticket, the snapshot before\n"
                 "and after, and the packages that change added, upgraded, downgraded or\n"
                 "removed (as diff shows them).\n\nexamples:\n"
                 "  airlock-repo --home /srv/airlock channels --json\n"
                 "  airlock-repo --home /srv/airlock channels --history prod\n"},
    CommandUsage{
        "channel", "channel delete CH                    stop serving a channel",
        "usage: airlock-repo --home DIR channel delete CH [--reason R] [--change-ref C]\n\n"
        "Deletes channel CH: it serves nothing from the server's next request on\n"
        "(hosts get 404). Logged as a `delete` record per repository with who and why;\n"
        "the channel's history stays readable (channels --history CH). Publishing to\n"
        "it again takes --create.\n\nexamples:\n"
        "  airlock-repo --home /srv/airlock channel delete staging --reason \"retired\"\n"
        "  airlock-repo --home /srv/airlock channel delete lab --operator olga --change-ref "
        "CHG-1300\n"},
    CommandUsage{
        "publish", "publish REPO SNAPSHOT --channel CH   point a channel at a snapshot",
        "usage: airlock-repo --home DIR "
        "publish REPO SNAPSHOT --channel CH [--create] [--reason R] [--change-ref C]\n\n"
        "Points channel CH's REPO at SNAPSHOT (an id or a unique prefix of 8 or more\n"
        "hex digits). Hosts see it on their next request; the change is logged. CH must\n"
        "exist unless --create is given, so a mistyped name never makes a new channel.\n\n"
        "examples:\n"
        "  airlock-repo --home /srv/airlock publish debian 3f2a9c81 --channel test\n"
        "  airlock-repo --home /srv/airlock publish debian 3f2a9c81 --channel lab --create\n"},
    CommandUsage{
        "promote",
        "promote FROM TO [REPO...]            copy a channel's snapshots to another (test -> prod)",
        "usage: airlock-repo --home DIR "
        "promote FROM TO [REPO...] [--create] [--reason R] [--change-ref C]\n\n"
        "Copies channel FROM's snapshots (all repositories, or the ones named) to TO:\n"
        "what was tested becomes what production hosts get. TO must exist unless\n"
        "--create is given.\n\nexamples:\n"
        "  airlock-repo --home /srv/airlock promote test prod --reason \"tested\" --change-ref "
        "CHG-1234\n"
        "  airlock-repo --home /srv/airlock promote test prod --create   # the first time\n"},
    CommandUsage{
        "rollback", "rollback CH [REPO...]                one step back in a channel's history",
        "usage: airlock-repo --home DIR "
        "rollback CH [REPO...] [--reason R] [--change-ref C]\n\n"
        "Moves channel CH (all repositories, or the ones named) one step back in its\n"
        "history: hosts get the previous snapshot again on their next update.\n\nexample:\n"
        "  airlock-repo --home /srv/airlock rollback prod --reason \"regression\" --change-ref "
        "INC-77\n"},
    CommandUsage{"serve",
                 "serve [--listen 127.0.0.1:8080]      serve channels to apt hosts over HTTP",
                 "usage: airlock-repo --home DIR serve [--listen ADDR:PORT] [--threads N]\n"
                 "         [--listen-tls ADDR:PORT --tls-cert CRT --tls-key KEY [--client-ca CA "
                 "[--crl CRL]]]\n"
                 "         [--syslog | --syslog-socket PATH]\n\n"
                 "Serves /<channel>/<repo>/<upstream path> to apt hosts: each path resolves\n"
                 "through the channel's current snapshot to a stored object (and\n"
                 ".../by-hash/<ALGO>/<hex> to any file the snapshot's Release lists). GET and\n"
                 "HEAD, keep-alive, single ranges, ETag and Last-Modified. Every request is a\n"
                 "`pull` record in the transfer log; if the log cannot be written the server\n"
                 "answers 503. A channel change takes effect for the next request. SIGTERM or\n"
                 "SIGINT stops it gracefully: in-flight responses finish, the log is flushed and\n"
                 "a checkpoint written. GET /-/health reports the log head. With --syslog every\n"
                 "record the server writes or sees (imports by other commands included) is also\n"
                 "sent to the local syslog as one RFC 5424 message (local0.info, MSGID the\n"
                 "event, the record's JSON line as the message) for a SIEM; the log file stays\n"
                 "the record of truth.\n\n"
                 "HTTPS: --listen-tls serves the same paths over TLS 1.2 or 1.3 with the\n"
                 "certificate chain and key given (HTTP as well only when --listen is given\n"
                 "too). With --client-ca a host must present a certificate issued by that CA\n"
                 "(airlock-repo ca issue makes them); its subject, SHA-256 fingerprint and\n"
                 "serial go into each of its pull records. A certificate revoked by --crl or by\n"
                 "the site CA's own list (<home>/ca/crl.pem) is refused. A refused handshake is\n"
                 "a pull record too: status 495 (certificate refused), 496 (none presented) or\n"
                 "0 (another TLS failure), with the reason. SIGHUP reads the certificate, key,\n"
                 "CA and revocation lists again without dropping connections.\n"
                 "Defaults come from <home>/repo.toml ([serve] listen, listen_tls, tls_cert,\n"
                 "tls_key, client_ca, crl, threads, idle_timeout; [log] syslog = true,\n"
                 "syslog_socket); the options override them.\n\n"
                 "A host's sources.list entry:\n"
                 "  deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                 "http://HOST:8080/prod/debian bookworm main\n\n"
                 "examples:\n  airlock-repo --home /srv/airlock serve\n"
                 "  airlock-repo --home /srv/airlock serve --listen 0.0.0.0:8080 --threads 8\n"
                 "  airlock-repo --home /srv/airlock serve --listen 0.0.0.0:8080 --syslog\n"
                 "  airlock-repo --home /srv/airlock serve --listen-tls 0.0.0.0:8443 \\\n"
                 "      --tls-cert /srv/airlock/ca/hosts/repo1/repo1.crt \\\n"
                 "      --tls-key /srv/airlock/ca/hosts/repo1/repo1.key --client-ca "
                 "/srv/airlock/ca/ca.crt\n"},
    CommandUsage{
        "scrub", "scrub                                re-hash every object in the store",
        "usage: airlock-repo --home DIR "
        "scrub [--json]\n\nRe-hashes every object in the store and reports missing or corrupt "
        "ones\n"
        "(expected and actual SHA-256). Exit 3 when anything is wrong. Logged.\n\nexample:\n  "
        "airlock-repo --home /srv/airlock scrub\n"},
    CommandUsage{
        "trace", "trace FILE|SHA256|NAME=VERSION       the chain of custody of one file",
        "usage: airlock-repo --home DIR "
        "trace FILE|SHA256|NAME=VERSION [--json] [--proof OUT]\n\n"
        "Follows one file through the transfer log, one line a link, each with the number\n"
        "of the record that states it: the hosts that pulled it, the snapshots that hold\n"
        "it, the channel changes that published them, the import that brought them (bundle,\n"
        "manifest, stream and sequence, signers, operator, media label), the online side's\n"
        "records carried in that import (the sync that fetched it: upstream, the vendor\n"
        "Release's Date and the fingerprint of the vendor key that signed it; the export\n"
        "and co-signatures), and the signed checkpoint that covers them all. FILE is hashed\n"
        "with SHA-256; NAME=VERSION follows every architecture of that package.\n"
        "--proof OUT writes the chain's records with an inclusion proof of each against\n"
        "that checkpoint, for `airlock-verify trace OUT --key log.pub`. Exit 1 when nothing\n"
        "matches.\n\nexamples:\n"
        "  airlock-repo --home /srv/airlock trace "
        "/var/cache/apt/archives/openssl_3.0.15-1_amd64.deb\n"
        "  airlock-repo --home /srv/airlock trace openssl=3.0.15-1 --json\n"
        "  airlock-repo --home /srv/airlock trace openssl=3.0.15-1 --proof openssl.trace.json\n"
        "  airlock-repo --home /srv/airlock trace \"$(sha256sum < openssl_3.0.15-1_amd64.deb | cut "
        "-c1-64)\"\n"},
    CommandUsage{
        "report",
        "report [--format F] [--out FILE]     the compliance report: what crossed, who took what",
        "usage: airlock-repo --home DIR "
        "report [--since T] [--until T] [--format html|json|csv] [--out FILE]\n\n"
        "What crossed the gap and who took what, from the transfer log and the snapshots:\n"
        "1. integrity: the log verified against keys/log.pub (records, root, newest signed\n"
        "   checkpoint), stated plainly; 2. what crossed: every import (stream, sequence,\n"
        "   signers and key ids, operator, media label, reason, change ticket, packages added,\n"
        "   upgraded, removed) and every refused import with its reason; 3. channel history:\n"
        "   every publish, promote, rollback and delete with who, why and the package diff;\n"
        "4. hosts: requests, bytes, the last fetch of each channel index, the stale hosts\n"
        "   (not fetched since the channel last changed) and the packages each downloaded;\n"
        "5. packages: each package version pulled, by which hosts and when; 6. charts.\n"
        "T is an RFC 3339 time or a date (a --since date is its first second, an --until\n"
        "date its last, UTC). html (default) is one self-contained page: no script, nothing\n"
        "loaded. json follows schemas/report.schema.json; csv has one row per item, columns\n"
        "as the README lists. With --out, writes the file atomically and prints a summary.\n"
        "Exit 3 when the log does not verify (the report is still written and says so).\n\n"
        "examples:\n"
        "  airlock-repo --home /srv/airlock report --out report.html\n"
        "  airlock-repo --home /srv/airlock report --since 2026-11-01 --until 2026-11-30 "
        "--format csv --out november.csv\n"
        "  airlock-repo --home /srv/airlock report --json | jq '.stale_hosts'\n"},
    CommandUsage{
        "status", "status                               streams, channels, store size, log head",
        "usage: airlock-repo --home DIR "
        "status [--json]\n\nThe last import of each stream, what each channel serves, the "
        "store's size\n"
        "and the log's head.\n\nexample:\n  airlock-repo --home /srv/airlock status --json\n"},
    CommandUsage{
        "config",
        "config check                         check trust.json, repo.toml, access.toml, ca/",
        "usage: airlock-repo --home DIR config check [--json]\n\n"
        "Checks the configuration before it is used, reading only, each file by the\n"
        "loader that uses it. trust.json: as import reads it, then the threshold is at\n"
        "least 1 and at most the number of keys, and of the keys valid now; names are\n"
        "printable text; a key expired or not yet valid is a warning. repo.toml: as serve\n"
        "reads it (tables, keys, types, ranges), then listen and listen_tls are\n"
        "HOST:PORT with an IP address, the TLS settings go together as serve requires\n"
        "(listen_tls with tls_cert and tls_key, crl with client_ca), each file is\n"
        "readable and the key belongs to the certificate. access.toml: as serve reads\n"
        "it (keys, patterns, address ranges, fingerprints, names); a rule naming a\n"
        "channel or repository that nothing serves yet is a warning (it grants nothing\n"
        "until something is published there). ca/: ca.key and ca.crt both there and a\n"
        "pair. Prints one line a problem, FILE:LINE: ITEM: key 'KEY': what (expected\n"
        "...), or \"ok: N trusted keys, threshold T, R access rules, site CA\". Exit 0\n"
        "when there is no problem (warnings aside), 2 when there is one, 1 when the home\n"
        "cannot be read.\n\n"
        "examples:\n  airlock-repo --home /srv/airlock config check\n"
        "  airlock-repo --home /srv/airlock config check --json | jq '.problems[].text'\n"},
};

}  // namespace

std::span<const CommandUsage> repo_usage() { return kUsage; }

const CommandUsage& repo_usage(std::string_view command) {
  for (const auto& u : kUsage) {
    if (u.name == command) return u;
  }
  return kUsage.front();
}

}  // namespace airlock::repo

// Syncing one RHEL-family rpm repository into a home's store:
// repodata/repomd.xml checked against its detached signature, every
// metadata file it lists checked against its checksum, the packages of
// primary, one immutable snapshot committed with its `sync` record.
#pragma once

#include "airlock/mirror/apt_sync.h"

namespace airlock::mirror {

// Syncs repo (kind "rpm") into ledger's store, as sync_apt does for apt:
// verified files are stored as they arrive, the snapshot and the `sync`
// record are committed together, an unchanged repomd.xml with an unchanged
// selection is a `sync` record alone, and a dry run stores and records
// nothing. Metadata stays byte-identical, so hosts can check the vendor's
// signature themselves (repo_gpgcheck). refused when repomd.xml.asc is
// missing or does not verify against repo.keyring (unless
// check_signature = false, which each snapshot then records), when a file
// does not match the checksum repomd.xml or primary gives it, when a
// location is unsafe, and when repomd.xml is older (revision or timestamp)
// than the last snapshot's; invalid_input or limit for metadata that does
// not parse or is too large.
Result<SyncReport> sync_rpm(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options);

}  // namespace airlock::mirror

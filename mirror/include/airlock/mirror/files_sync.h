// Syncing one plain file set (firmware, vendor tarballs, images) into a
// home's store: a SHA256SUMS list signed by the vendor, every file it
// lists checked against it, one immutable snapshot.
#pragma once

#include "airlock/mirror/apt_sync.h"

namespace airlock::mirror {

// The list and its signature, at the repository's root.
inline constexpr const char* kChecksumList = "SHA256SUMS";
inline constexpr const char* kChecksumListSignature = "SHA256SUMS.gpg";

// Syncs repo (kind "files"): SHA256SUMS, either clearsigned or with a
// detached SHA256SUMS.gpg, is checked with gpgv against repo.keyring, then
// every file it lists is fetched under the same path and checked against
// it. The snapshot carries the list, its signature and the files (its
// package list names each file by path, its version the first 16 hex
// digits of its SHA-256, architecture "file"), so hosts can check the list
// themselves. As sync_apt otherwise (an unchanged list is a `sync` record
// alone; a dry run stores and records nothing). refused for a list that is
// unsigned (unless check_signature = false, which each snapshot records)
// or does not verify, an unsafe or repeated path, and a file that is
// missing or does not match its checksum; invalid_input for a list that
// does not parse.
Result<SyncReport> sync_files(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options);

}  // namespace airlock::mirror

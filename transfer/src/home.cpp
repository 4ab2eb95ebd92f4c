#include "airlock/transfer/home.h"

#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "airlock/base/file.h"
#include "airlock/base/text.h"

namespace airlock {
namespace fs = std::filesystem;
using json = nlohmann::json;

HomeOptions reading_options(const fs::path& dir) {
  HomeOptions options;
  for (const auto& p : {dir / "log", dir / "store" / "index"}) {
    if (::access(p.c_str(), W_OK) != 0) options.read_only = true;
  }
  return options;
}

HomeOptions command_options(const cli::Invocation& inv, HomeOptions options) {
  options.lock.holder = std::string(inv.program) + " " + inv.command + " by " +
                        inv.str("operator", cli::operator_name());
  options.lock.wait = !inv.no_wait;
  if (!inv.quiet) {
    options.lock.on_wait = [program = std::string(inv.program)](const std::string& holder) {
      std::cerr << program << ": waiting for the home: " << escape_for_terminal(holder)
                << " is changing it (--no-wait to stop instead)" << std::endl;
    };
  }
  return options;
}

HomeBase::~HomeBase() = default;

Result<bool> HomeBase::init_common(const fs::path& dir, const std::string& side,
                                   const std::string& operator_name, Env& env) {
  for (const auto& d : {dir, dir / "keys", dir / "log"}) {
    if (auto s = env.make_dirs(d); !s) return fail(s.error());
  }
  StoreOptions so;
  so.env = &env;
  auto store = Store::open(dir / "store", so);
  if (!store) return fail(store.error());
  const fs::path key_file = dir / "keys" / "log.key";
  bool new_key = false;
  if (!path_exists(key_file)) {
    auto key = PrivateKey::generate();
    if (!key) return fail(key.error());
    // The public half first: the private key file is what makes the pair exist.
    if (auto s = key->public_key().write_file(dir / "keys" / "log.pub", env); !s)
      return fail(s.error());
    if (auto s = key->write_file(key_file, env); !s) return fail(s.error());
    new_key = true;
  }
  auto key = PrivateKey::read_file(key_file);
  if (!key) return fail(key.error());
  LogOptions lo;
  lo.env = &env;
  lo.keys = {key->public_key()};
  auto log = TransferLog::open(dir / "log", lo);
  if (!log) return fail(log.error());
  if ((*log)->size() == 0) {
    Ledger ledger(**store, **log, *key, dir / "log" / "commit.lock", env);
    json rec{
        {"side", side}, {"operator", operator_name}, {"log_key", key->public_key().id().hex()}};
    if (auto s = ledger.record({{"init", rec}}); !s) return fail(s.error());
  }
  return new_key;
}

Status HomeBase::open_common(const fs::path& dir, const HomeOptions& options) {
  dir_ = dir;
  env_ = options.env ? options.env : &Env::system();
  StoreOptions so;
  so.env = env_;
  so.read_only = options.read_only;
  auto store = Store::open(dir / "store", so);
  if (!store) return fail(store.error());
  store_ = std::move(*store);
  auto key = PrivateKey::read_file(keys_dir() / "log.key");
  if (!key) return fail(key.error());
  LogOptions lo;
  lo.env = env_;
  lo.read_only = options.read_only;
  lo.keys = {key->public_key()};
  auto log = TransferLog::open(log_dir(), lo);
  if (!log) return fail(log.error());
  log_ = std::move(*log);
  log_key_.emplace(std::move(*key));
  ledger_ = std::make_unique<Ledger>(*store_, *log_, *log_key_, dir / "log" / "commit.lock", *env_,
                                     options.lock);
  if (options.read_only) return {};
  if (auto r = ledger_->recover(); !r) return fail(r.error());
  return {};
}

Result<LogVerification> HomeBase::verify_log() const {
  auto pub = PublicKey::read_file(keys_dir() / "log.pub");
  if (!pub) return fail(pub.error());
  std::vector<PublicKey> keys{*pub};
  return verify_log_file(log_dir(), keys);
}

Result<std::string> HomeBase::prove(std::uint64_t n) const {
  auto proof = log_->prove(n);
  if (!proof) return fail(proof.error());
  return proof->dump(2) + "\n";
}

Result<std::string> HomeBase::checkpoint_note() const {
  auto cp = log_->latest_checkpoint();
  if (!cp) return fail(Code::not_found, "the log has no checkpoint yet");
  return cp->second;
}

}  // namespace airlock

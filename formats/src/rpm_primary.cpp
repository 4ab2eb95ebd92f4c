// PrimaryParser: primary.xml cut into parts read on worker threads, the
// packages handed over in document order; never the whole document in memory.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "airlock/formats/rpm.h"
#include "rpm_primary_reader.h"
#include "xml.h"

namespace airlock::rpm {

namespace {

// One part of the document, cut right after a "</package>", and what
// parsing it on its own gave.
struct Part {
  std::string text;
  std::uint64_t offset = 0;  // of text in the document
  bool last = false;         // text ends the document
  // Set by the worker that parsed it, read once done.
  bool done = false;
  std::size_t worker = 0;
  std::uint64_t newlines = 0;  // in text
  std::vector<RpmPackage> packages;
  std::uint64_t declared = 0;
  std::optional<Error> error;
  std::exception_ptr exception;
};

// Threads that parse parts as they are queued.
class Workers {
 public:
  Workers(std::size_t n, std::function<void(Part&)> parse) : parse_(std::move(parse)) {
    retired_.resize(n);
    try {
      for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this, i] { run(i); });
    } catch (...) {
      stop();  // no thread left running; the caller parses the parts itself
      throw;
    }
  }
  // Parts queued and not started are dropped.
  ~Workers() { stop(); }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  void add(std::shared_ptr<Part> part) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(part));
    }
    queued_.notify_one();
  }
  void wait(const Part& part) {
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return part.done; });
  }
  // A part read: freed by the worker that parsed it, whose allocator
  // holds its packages' memory.
  void retire(std::shared_ptr<Part> part) {
    {
      std::lock_guard lock(mutex_);
      retired_[part->worker].push_back(std::move(part));
    }
    queued_.notify_all();
  }

 private:
  void stop() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    queued_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void run(std::size_t worker) {
    for (;;) {
      std::shared_ptr<Part> part;
      std::vector<std::shared_ptr<Part>> retired;
      {
        std::unique_lock lock(mutex_);
        queued_.wait(lock, [&] { return quit_ || !queue_.empty() || !retired_[worker].empty(); });
        if (quit_) return;
        retired.swap(retired_[worker]);
        if (!queue_.empty()) {
          part = std::move(queue_.front());
          queue_.pop_front();
        }
      }
      retired.clear();
      if (!part) continue;
      part->worker = worker;
      try {
        parse_(*part);
      } catch (...) {
        part->exception = std::current_exception();
      }
      {
        std::lock_guard lock(mutex_);
        part->done = true;
      }
      finished_.notify_all();
    }
  }

  std::function<void(Part&)> parse_;
  std::mutex mutex_;
  std::condition_variable queued_, finished_;
  std::deque<std::shared_ptr<Part>> queue_;
  std::vector<std::vector<std::shared_ptr<Part>>> retired_;  // by worker
  bool quit_ = false;
  std::vector<std::thread> threads_;
};

constexpr std::string_view kPackageEnd = "</package>";

}  // namespace

// The document cut into parts, each right after a "</package>", parsed on
// several threads: a part gets the document's prolog in front (its own
// root start tag) and, unless it is the last, the root's end tag behind.
// Packages reach on_package in document order on the caller's thread.
//
// A part parsed this way gives exactly what reading the whole document
// gives only if its cut fell between two elements of the root (and not in
// a comment, a CDATA section or a nested element): a cut anywhere else
// leaves a comment, a section or an element open in one of the two parts
// it makes, so that part fails to parse. Whenever a part fails (or its
// packages pass max_packages) the document is read in order from that
// part on, with a Reader resumed where it starts: whatever the failure,
// the error is the one reading the whole document gives.
class PrimaryParser::Impl {
 public:
  Impl(std::function<Status(RpmPackage&&)> on_package, PrimaryOptions options)
      : on_package_(std::move(on_package)), options_(options) {
    constexpr std::size_t kMaxThreads = 16;
    threads_ = options_.threads != 0
                   ? std::min(options_.threads, kMaxThreads)
                   : std::min<std::size_t>(4, std::max(1u, std::thread::hardware_concurrency()));
    options_.part_bytes = std::max<std::size_t>(options_.part_bytes, kPackageEnd.size());
    // The bytes of parts not yet handed over (with each part's packages,
    // what the parts add to the memory of reading in order), whatever the
    // number of threads: a part past it waits for the ones before it.
    budget_ = 4 * options_.part_bytes;
    if (threads_ == 1) start_reader({}, 0, 0, 0);
  }

  Status feed(std::string_view piece);
  Status finish();
  std::uint64_t declared() const { return reader_ ? reader_->declared : declared_; }
  std::uint64_t count() const { return reader_ ? reader_->count : count_; }

 private:
  Status append(std::string_view piece);
  Status find_prolog();
  Status cut_parts();
  void queue(std::string text, bool last);
  Status deliver_front();
  Status read_in_order();
  void start_reader(std::string_view prolog, std::uint64_t offset, std::uint64_t lines,
                    std::uint64_t count);
  void parse(Part& part) const;
  Status stop(Status s) {
    if (!s) error_ = s.error();
    return s;
  }

  std::function<Status(RpmPackage&&)> on_package_;
  PrimaryOptions options_;
  std::size_t threads_ = 1;
  std::uint64_t budget_ = 0;
  std::optional<Error> error_;
  bool finished_ = false;
  // Reading in order: every byte fed goes to it.
  std::unique_ptr<Reader> reader_;
  // In parts: the prolog once it is known, the root's end tag, and the
  // bytes not yet in a part, starting at pending_offset_.
  std::optional<formats::detail::XmlProlog> prolog_;
  std::size_t prolog_try_ = 0;  // look for the prolog once pending_ holds this much
  std::string prolog_text_, root_end_;
  std::string pending_;
  std::uint64_t pending_offset_ = 0;
  std::uint64_t lines_ = 0;   // newlines before the first part not delivered
  std::size_t searched_ = 0;  // pending_ holds no cut before this
  std::deque<std::shared_ptr<Part>> parts_;
  std::uint64_t parts_bytes_ = 0;  // of the parts' texts
  std::uint64_t declared_ = 0, count_ = 0;
  bool no_workers_ = false;           // threads could not start: parts are parsed here
  std::unique_ptr<Workers> workers_;  // last: joined before the rest goes
};

void PrimaryParser::Impl::start_reader(std::string_view prolog, std::uint64_t offset,
                                       std::uint64_t lines, std::uint64_t count) {
  reader_ = std::make_unique<Reader>(on_package_, options_, count);
  if (offset > 0) stop(reader_->resume(prolog, offset, lines));
}

void PrimaryParser::Impl::parse(Part& part) const {
  Reader reader(
      [&part](RpmPackage&& p) {
        part.packages.push_back(std::move(p));
        return Status{};
      },
      options_);
  // Lines matter only in a message, and a part that fails is read again
  // (read_in_order) where the lines before it are known: here they are
  // counted from 0, and expat counts them.
  Status s;
  if (part.offset > 0) s = reader.resume(prolog_text_, part.offset, 0);
  if (s) s = reader.feed(part.text);
  if (s && !part.last) s = reader.feed(root_end_);
  if (s) s = reader.finish();
  part.newlines = static_cast<std::uint64_t>(reader.line() - 1);
  part.declared = reader.declared;
  if (!s) part.error = s.error();
}

Status PrimaryParser::Impl::feed(std::string_view piece) {
  if (error_) return fail(*error_);
  if (finished_) {
    return stop(
        fail(Code::invalid_input, "primary.xml: expected nothing after the end, found more"));
  }
  if (reader_) return stop(reader_->feed(piece));
  // A part at a time: a large piece is not copied again at every cut.
  do {
    const std::string_view some = piece.substr(0, options_.part_bytes);
    piece.remove_prefix(some.size());
    if (auto s = append(some); !s || reader_) {
      if (s && !piece.empty()) return stop(reader_->feed(piece));
      return s;
    }
  } while (!piece.empty());
  return {};
}

Status PrimaryParser::Impl::append(std::string_view piece) {
  pending_.append(piece);
  if (!prolog_) {
    if (pending_.size() < prolog_try_) return {};
    if (auto s = find_prolog(); !s || reader_) return s;
    if (!prolog_) {
      prolog_try_ = 2 * pending_.size();  // each byte is looked at a few times at most
      return {};
    }
  }
  return cut_parts();
}

// The prolog, once pending_ holds it; a document whose parts cannot be
// found by their bytes is read in order.
Status PrimaryParser::Impl::find_prolog() {
  auto prolog = formats::detail::find_prolog(pending_);
  if (prolog && !*prolog) return {};
  if (!prolog) {
    start_reader({}, 0, 0, 0);
    if (error_) return fail(*error_);
    auto s = stop(reader_->feed(pending_));
    pending_ = {};
    return s;
  }
  prolog_ = std::move(**prolog);
  prolog_text_ = pending_.substr(0, prolog_->size);
  root_end_ = "</" + prolog_->root + ">";
  searched_ = prolog_->size;
  // <metadata packages="N"> as soon as reading in order would know it.
  Reader head([](RpmPackage&&) { return Status{}; }, options_);
  if (head.feed(prolog_text_)) declared_ = head.declared;
  return {};
}

Status PrimaryParser::Impl::cut_parts() {
  while (pending_.size() >= options_.part_bytes) {
    const auto at = pending_.find(kPackageEnd, std::max(searched_, options_.part_bytes));
    if (at == std::string::npos) {
      searched_ = pending_.size() - (kPackageEnd.size() - 1);
      // Only a package past its limit (or no package at all) is this long
      // without an end: reading in order names it.
      if (pending_.size() > options_.part_bytes + kMaxPackageElement) return read_in_order();
      return {};
    }
    const std::size_t end = at + kPackageEnd.size();
    // Room first: a part that fails takes every byte not yet parsed.
    while (!parts_.empty() && (parts_.size() >= 2 * threads_ || parts_bytes_ + end > budget_)) {
      if (auto s = deliver_front(); !s || reader_) return s;
    }
    // The part takes the buffer; the few bytes after the cut start the next.
    std::string rest;
    rest.reserve(2 * options_.part_bytes);
    rest.assign(pending_, end);
    pending_.resize(end);
    std::string text = std::exchange(pending_, std::move(rest));
    searched_ = 0;
    queue(std::move(text), false);
  }
  return {};
}

void PrimaryParser::Impl::queue(std::string text, bool last) {
  auto part = std::make_shared<Part>();
  part->offset = pending_offset_;
  part->last = last;
  pending_offset_ += text.size();
  parts_bytes_ += text.size();
  part->text = std::move(text);
  parts_.push_back(part);
  if (!last && !workers_ && !no_workers_) {
    try {
      workers_ = std::make_unique<Workers>(threads_, [this](Part& p) { parse(p); });
    } catch (const std::system_error&) {
      no_workers_ = true;
    }
  }
  if (last || no_workers_) {
    // The caller would only wait (or has no thread to hand it to): it
    // parses the part itself.
    try {
      parse(*part);
    } catch (...) {
      part->exception = std::current_exception();
    }
    part->done = true;
    return;
  }
  workers_->add(std::move(part));
}

// The first part's packages to on_package, or, when it failed, the
// document read in order from it on.
Status PrimaryParser::Impl::deliver_front() {
  Part& part = *parts_.front();
  if (workers_) workers_->wait(part);
  if (part.exception) std::rethrow_exception(part.exception);
  if (part.error || count_ + part.packages.size() > options_.max_packages) return read_in_order();
  declared_ = part.declared;
  for (auto& p : part.packages) {
    ++count_;
    if (auto s = on_package_(std::move(p)); !s) return stop(s);
  }
  lines_ += part.newlines;
  parts_bytes_ -= part.text.size();
  if (workers_) {
    workers_->retire(std::move(parts_.front()));
  }
  parts_.pop_front();
  return {};
}

// From the first part not delivered on, every byte goes to one Reader.
Status PrimaryParser::Impl::read_in_order() {
  for (const auto& part : parts_) {
    if (workers_) workers_->wait(*part);
  }
  const bool from_part = !parts_.empty();
  start_reader(prolog_text_, from_part ? parts_.front()->offset : pending_offset_, lines_, count_);
  if (error_) return fail(*error_);
  Status s;
  for (const auto& part : parts_) {
    if (s) s = reader_->feed(part->text);
  }
  parts_.clear();
  parts_bytes_ = 0;
  if (s && !pending_.empty()) s = reader_->feed(pending_);
  pending_ = {};
  return stop(s);
}

Status PrimaryParser::Impl::finish() {
  if (error_) return fail(*error_);
  if (finished_) return {};
  if (!reader_ && !prolog_) {
    // No prolog (yet): read in order, for its error or its packages.
    start_reader({}, 0, 0, 0);
    if (!error_) stop(reader_->feed(pending_));
    pending_ = {};
  }
  if (!reader_) {
    queue(std::move(pending_), true);
    pending_ = {};
    while (!parts_.empty() && !reader_) {
      if (auto s = deliver_front(); !s) return s;
    }
  }
  if (error_) return fail(*error_);
  if (auto s = stop(reader_ ? reader_->finish() : Status{}); !s) return s;
  finished_ = true;
  return {};
}

PrimaryParser::PrimaryParser(std::function<Status(RpmPackage&&)> on_package, Options options)
    : impl_(std::make_unique<Impl>(std::move(on_package), options)) {}
PrimaryParser::~PrimaryParser() = default;
PrimaryParser::PrimaryParser(PrimaryParser&&) noexcept = default;
PrimaryParser& PrimaryParser::operator=(PrimaryParser&&) noexcept = default;

Status PrimaryParser::feed(std::string_view piece) { return impl_->feed(piece); }
Status PrimaryParser::finish() { return impl_->finish(); }
std::uint64_t PrimaryParser::declared_packages() const { return impl_->declared(); }
std::uint64_t PrimaryParser::packages() const { return impl_->count(); }

}  // namespace airlock::rpm

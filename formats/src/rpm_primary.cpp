// primary.xml, streamed: one RpmPackage per <package>, never the whole
// document in memory.
#include <algorithm>
#include <bitset>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "airlock/formats/rpm.h"
#include "rpm_xml.h"
#include "xml.h"

namespace airlock::rpm {
namespace {

using formats::detail::kNsCommon;
using formats::detail::kNsRpm;
using formats::detail::quote;
using formats::detail::XmlName;

constexpr std::string_view kFlags[] = {"EQ", "LT", "LE", "GT", "GE"};

}  // namespace

// The document read in order, a package at a time.
class Reader : public formats::detail::XmlStream {
 public:
  // count: packages before the part this reader reads (resume()).
  Reader(std::function<Status(RpmPackage&&)> on_package, PrimaryOptions options,
         std::uint64_t count = 0)
      : XmlStream("primary.xml", "metadata"),
        count(count),
        on_package_(std::move(on_package)),
        options_(options) {}

  // XmlStream::resume(), the window of kept bytes starting there.
  Status resume(std::string_view prolog, std::uint64_t offset, std::uint64_t lines) {
    auto s = XmlStream::resume(prolog, offset, lines);
    window_.clear();
    window_begin_ = offset;
    return s;
  }

  std::uint64_t declared = 0;
  std::uint64_t count = 0;

 private:
  enum class At { top, metadata, package, format, relations, text, leaf };
  enum class Text { none, name, arch, checksum, sourcerpm, file };
  // Elements a package may hold once.
  enum Once { kName, kArch, kVersion, kChecksum, kSize, kLocation, kFormat, kSourcerpm, kOnce };

  void on_start(XmlName name, const char** attrs) override;
  void on_end() override;
  void before_piece(std::string_view piece) override;
  void after_piece() override;
  void start_root(XmlName name, const char** attrs);
  void start_package();
  void start_in_package(XmlName name, const char** attrs);
  void start_in_format(XmlName name);
  void start_entry(const char** attrs);
  void start_version(const char** attrs);
  void start_text(Text which);
  bool once(Once which, std::string_view element);
  void end_text();
  void end_package();
  std::string who() const {
    return pkg_.name.empty() ? "a package" : "package " + quote(pkg_.name);
  }

  std::function<Status(RpmPackage&&)> on_package_;
  PrimaryOptions options_;
  std::vector<At> at_{At::top};
  Text text_ = Text::none;
  RpmPackage pkg_;
  std::vector<Relation>* relations_ = nullptr;
  std::bitset<kOnce> seen_;
  bool in_package_ = false;
  std::uint64_t package_begin_ = 0;
  // With keep_elements: the document's bytes from window_begin_ on.
  std::string window_;
  std::uint64_t window_begin_ = 0;
};

void Reader::on_start(XmlName name, const char** attrs) {
  if (in_package_ && event_begin() - package_begin_ > kMaxPackageElement) {
    return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxPackageElement) +
                                 " bytes in <package>, found more");
  }
  switch (at_.back()) {
    case At::top:
      return start_root(name, attrs);
    case At::metadata:
      if (name.is(kNsCommon, "package")) return start_package();
      return skip();
    case At::package:
      return start_in_package(name, attrs);
    case At::format:
      return start_in_format(name);
    case At::relations:
      if (name.is(kNsRpm, "entry")) return start_entry(attrs);
      return skip();
    case At::text:
    case At::leaf:
      return skip();
  }
}

void Reader::start_root(XmlName name, const char** attrs) {
  if (!name.is(kNsCommon, "metadata")) {
    return stop(Code::invalid_input, wrong_root(name, kNsCommon, "metadata"));
  }
  if (const char* n = attr(attrs, "packages")) {
    auto value = formats::detail::to_u64(n);
    if (!value) {
      return stop(Code::invalid_input,
                  "expected a number in <metadata packages>, found " + quote(n));
    }
    declared = *value;
  }
  at_.push_back(At::metadata);
}

void Reader::start_package() {
  if (count >= options_.max_packages) {
    return stop(Code::limit, "expected at most " + std::to_string(options_.max_packages) +
                                 " packages, found more");
  }
  pkg_ = {};
  seen_.reset();
  in_package_ = true;
  package_begin_ = event_begin();
  at_.push_back(At::package);
}

bool Reader::once(Once which, std::string_view element) {
  if (!seen_[which]) {
    seen_[which] = true;
    return true;
  }
  stop(Code::invalid_input,
       who() + ": expected one <" + std::string(element) + ">, found a second");
  return false;
}

void Reader::start_text(Text which) {
  text_ = which;
  at_.push_back(At::text);
  collect_text();
}

void Reader::start_in_package(XmlName name, const char** attrs) {
  if (name.ns != kNsCommon) return skip();
  const auto local = name.local;
  if (local == "name") {
    if (once(kName, local)) start_text(Text::name);
  } else if (local == "arch") {
    if (once(kArch, local)) start_text(Text::arch);
  } else if (local == "version") {
    if (once(kVersion, local)) start_version(attrs);
  } else if (local == "checksum") {
    if (!once(kChecksum, local)) return;
    if (auto s = check_sha256_type(attr(attrs, "type"), [this] { return who(); }); !s) {
      return stop(Code::invalid_input, s.error().message);
    }
    start_text(Text::checksum);
  } else if (local == "size") {
    if (!once(kSize, local)) return;
    const char* size = attr(attrs, "package");
    auto n = size ? formats::detail::to_u64(size) : std::nullopt;
    if (!n) {
      return stop(Code::invalid_input, who() + ": expected a number in <size package>, found " +
                                           (size ? quote(size) : std::string("none")));
    }
    pkg_.size = *n;
    at_.push_back(At::leaf);
  } else if (local == "location") {
    if (!once(kLocation, local)) return;
    auto href = location_href(attrs, [this] { return who(); });
    if (!href) return stop(Code::invalid_input, href.error().message);
    pkg_.location = std::move(*href);
    at_.push_back(At::leaf);
  } else if (local == "format") {
    if (once(kFormat, local)) at_.push_back(At::format);
  } else {
    skip();
  }
}

void Reader::start_version(const char** attrs) {
  const char* ver = attr(attrs, "ver");
  const char* rel = attr(attrs, "rel");
  if (!ver || !*ver || !rel || !*rel) {
    return stop(Code::invalid_input, who() +
                                         ": expected <version ver=\"...\" rel=\"...\">, found " +
                                         (!ver || !*ver ? "no ver" : "no rel"));
  }
  const char* epoch = attr(attrs, "epoch");
  pkg_.epoch = epoch && *epoch ? epoch : "0";
  pkg_.version = ver;
  pkg_.release = rel;
  at_.push_back(At::leaf);
}

void Reader::start_in_format(XmlName name) {
  if (name.is(kNsCommon, "file")) {
    if (pkg_.files.size() >= kMaxFiles) {
      return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxFiles) +
                                   " <file> entries, found more");
    }
    return start_text(Text::file);
  }
  if (name.is(kNsRpm, "sourcerpm")) {
    if (once(kSourcerpm, "rpm:sourcerpm")) start_text(Text::sourcerpm);
    return;
  }
  if (name.is(kNsRpm, "provides") || name.is(kNsRpm, "requires")) {
    relations_ = name.local == "provides" ? &pkg_.provides : &pkg_.requirements;
    at_.push_back(At::relations);
    return;
  }
  skip();
}

void Reader::start_entry(const char** attrs) {
  if (relations_->size() >= kMaxRelations) {
    return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxRelations) +
                                 " <rpm:entry> in a list, found more");
  }
  // One pass over the tag's attributes, names compared as they are: an
  // attribute of rpm:entry has no namespace (one that has is not these).
  const char *name = nullptr, *flags = nullptr, *epoch = nullptr, *ver = nullptr, *rel = nullptr;
  const char* pre = nullptr;
  for (std::size_t i = 0; attrs[i]; i += 2) {
    const std::string_view a = attrs[i];
    const char* v = attrs[i + 1];
    if (a == "name")
      name = v;
    else if (a == "flags")
      flags = v;
    else if (a == "epoch")
      epoch = v;
    else if (a == "ver")
      ver = v;
    else if (a == "rel")
      rel = v;
    else if (a == "pre")
      pre = v;
  }
  if (!name || !*name) {
    return stop(Code::invalid_input, who() + ": expected <rpm:entry name=\"...\">, found none");
  }
  if (flags && std::find(std::begin(kFlags), std::end(kFlags), flags) == std::end(kFlags)) {
    return stop(Code::invalid_input,
                who() + ": expected flags EQ, LT, LE, GT or GE, found " + quote(flags));
  }
  // Most packages hold a few dozen relations: grow past the first few at once.
  if (relations_->empty()) relations_->reserve(16);
  Relation& r = relations_->emplace_back();
  r.name = name;
  if (flags) r.flags = flags;
  if (epoch) r.epoch = epoch;
  if (ver) r.version = ver;
  if (rel) r.release = rel;
  r.pre = pre && std::string_view(pre) == "1";
  at_.push_back(At::leaf);
}

void Reader::on_end() {
  const At ending = at_.back();
  at_.pop_back();
  if (ending == At::text) return end_text();
  if (ending == At::package) return end_package();
}

void Reader::end_text() {
  std::string text = take_text();
  const Text which = text_;
  text_ = Text::none;
  switch (which) {
    case Text::name:
      pkg_.name = std::move(text);
      return;
    case Text::arch:
      pkg_.arch = std::move(text);
      return;
    case Text::checksum: {
      auto d = parse_sha256_text(text, [this] { return who(); });
      if (!d) return stop(Code::invalid_input, d.error().message);
      pkg_.sha256 = *d;
      return;
    }
    case Text::sourcerpm:
      pkg_.sourcerpm = std::move(text);
      return;
    case Text::file:
      pkg_.files.push_back(std::move(text));
      return;
    case Text::none:
      return;
  }
}

void Reader::end_package() {
  in_package_ = false;
  constexpr std::pair<Once, std::string_view> kRequired[] = {
      {kName, "<name>"},
      {kArch, "<arch>"},
      {kVersion, "<version>"},
      {kChecksum, "<checksum type=\"sha256\">"},
      {kSize, "<size package=\"...\">"},
      {kLocation, "<location href=\"...\">"}};
  for (const auto& [which, element] : kRequired) {
    if (!seen_[which] || (which == kName && pkg_.name.empty()) ||
        (which == kArch && pkg_.arch.empty())) {
      return stop(Code::invalid_input,
                  who() + ": expected " + std::string(element) + ", found none");
    }
  }
  if (options_.keep_elements) {
    pkg_.element = window_.substr(package_begin_ - window_begin_, event_end() - package_begin_);
  }
  ++count;
  if (auto s = on_package_(std::move(pkg_)); !s) stop_with(s.error());
}

void Reader::before_piece(std::string_view piece) {
  if (options_.keep_elements) window_.append(piece);
}

void Reader::after_piece() {
  if (at_boundary() && in_package_ && fed() - package_begin_ > kMaxPackageElement) {
    return stop(Code::limit, who() + ": expected at most " + std::to_string(kMaxPackageElement) +
                                 " bytes in <package>, found more");
  }
  if (!options_.keep_elements) return;
  // Nothing before the open package, or before the last event, is needed again.
  const std::uint64_t keep_from = in_package_ ? package_begin_ : last_event_end();
  if (keep_from > window_begin_) {
    window_.erase(0, keep_from - window_begin_);
    window_begin_ = keep_from;
  }
}

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
      stop();  // no thread left running; the caller reads in order
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

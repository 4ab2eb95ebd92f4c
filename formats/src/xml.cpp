#include "xml.h"

#include <expat.h>
#include <strings.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstring>
#include <memory>

#include "airlock/base/text.h"

namespace airlock::formats::detail {
namespace {

// Expanded names are "URI|local|prefix" (or "URI|local" in a default
// namespace, "local" in none); '|' cannot occur in a local name or prefix.
constexpr char kSeparator = '|';

XmlName split(const char* name) {
  std::string_view s(name);
  auto last = s.rfind(kSeparator);
  if (last == std::string_view::npos) return {{}, s, {}};
  auto before = last == 0 ? std::string_view::npos : s.rfind(kSeparator, last - 1);
  if (before == std::string_view::npos) return {s.substr(0, last), s.substr(last + 1), {}};
  return {s.substr(0, before), s.substr(before + 1, last - before - 1), s.substr(last + 1)};
}

bool incomplete(XML_Error code) {
  return code == XML_ERROR_NO_ELEMENTS || code == XML_ERROR_UNCLOSED_TOKEN ||
         code == XML_ERROR_PARTIAL_CHAR || code == XML_ERROR_UNCLOSED_CDATA_SECTION;
}

// At most 80 bytes of value, escaped for one line.
std::string shown(std::string_view value) {
  constexpr std::size_t kShown = 80;
  std::string out = escape_for_terminal(value.substr(0, kShown));
  return value.size() > kShown ? out + "..." : out;
}

}  // namespace

std::string quote(std::string_view value) { return "'" + shown(value) + "'"; }

std::string XmlName::qualified() const {
  return shown(prefix.empty() ? std::string(local)
                              : std::string(prefix) + ":" + std::string(local));
}

std::string_view trim_blanks(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<std::uint64_t> to_u64(std::string_view text) {
  text = trim_blanks(text);
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

namespace {

struct PrologScan {
  XML_Parser parser = nullptr;
  std::optional<XmlProlog> found;
  std::string refused;  // why a part cannot follow this prolog
};

void prolog_root(void* p, const char* name, const char**) {
  auto* scan = static_cast<PrologScan*>(p);
  const auto begin = XML_GetCurrentByteIndex(scan->parser);
  const auto count = XML_GetCurrentByteCount(scan->parser);
  scan->found = XmlProlog{static_cast<std::size_t>(begin + count), name};
  XML_StopParser(scan->parser, XML_FALSE);
}

void prolog_decl(void* p, const XML_Char*, const XML_Char* encoding, int) {
  auto* scan = static_cast<PrologScan*>(p);
  if (encoding && strcasecmp(encoding, "UTF-8") != 0) {
    scan->refused = "an encoding other than UTF-8";
    XML_StopParser(scan->parser, XML_FALSE);
  }
}

void prolog_doctype(void* p, const char*, const char*, const char*, int) {
  auto* scan = static_cast<PrologScan*>(p);
  scan->refused = "a document type declaration";
  XML_StopParser(scan->parser, XML_FALSE);
}

}  // namespace

Result<std::optional<XmlProlog>> find_prolog(std::string_view head) {
  constexpr std::size_t kMaxProlog = 1 << 20;
  head = head.substr(0, kMaxProlog);
  PrologScan scan;
  const std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(
      XML_ParserCreate(nullptr), &XML_ParserFree);
  if (!parser) return fail(Code::io, "cannot create an XML parser");
  scan.parser = parser.get();
  XML_SetUserData(scan.parser, &scan);
  XML_SetStartElementHandler(scan.parser, &prolog_root);
  XML_SetXmlDeclHandler(scan.parser, &prolog_decl);
  XML_SetStartDoctypeDeclHandler(scan.parser, &prolog_doctype);
  const auto status = XML_Parse(scan.parser, head.data(), static_cast<int>(head.size()), XML_FALSE);
  const bool stopped =
      status == XML_STATUS_ERROR && XML_GetErrorCode(scan.parser) == XML_ERROR_ABORTED;
  if (!scan.refused.empty()) return fail(Code::invalid_input, "the prolog has " + scan.refused);
  if (status == XML_STATUS_ERROR && !stopped) {
    return fail(Code::invalid_input, "the prolog is not well-formed");
  }
  if (!scan.found) {
    if (head.size() == kMaxProlog) return fail(Code::limit, "the prolog is longer than 1 MiB");
    return std::optional<XmlProlog>{};
  }
  // A NUL is a document in UTF-16 (or not text): its parts are not found by bytes.
  if (head.substr(0, scan.found->size).find('\0') != std::string_view::npos) {
    return fail(Code::invalid_input, "the prolog holds a NUL byte");
  }
  return std::optional<XmlProlog>{std::move(scan.found)};
}

struct XmlStream::Expat {
  XML_Parser parser;
  explicit Expat(XmlStream* owner) : parser(XML_ParserCreateNS(nullptr, kSeparator)) {
    if (!parser) return;
    XML_SetUserData(parser, owner);
    XML_SetReturnNSTriplet(parser, XML_TRUE);
    XML_SetElementHandler(parser, &XmlStream::start_handler, &XmlStream::end_handler);
    XML_SetCharacterDataHandler(parser, &XmlStream::text_handler);
    XML_SetDefaultHandlerExpand(parser, &XmlStream::default_handler);
    XML_SetStartDoctypeDeclHandler(parser, &XmlStream::doctype_handler);
  }
  ~Expat() {
    if (parser) XML_ParserFree(parser);
  }
};

XmlStream::XmlStream(std::string_view document, std::string_view root)
    : document_(document), root_(root), expat_(std::make_unique<Expat>(this)) {
  if (!expat_->parser) error_ = Error{Code::io, document_ + ": cannot create an XML parser"};
}

XmlStream::~XmlStream() = default;

Status XmlStream::feed(std::string_view piece) {
  if (error_) return fail(*error_);
  if (finished_) {
    return fail(Code::invalid_input, document_ + ": expected nothing after the end, found more");
  }
  // Slices end where the document's offset is a multiple of kXmlSlice (or
  // where the piece ends): the limits are checked there, so that what is
  // refused does not depend on how the document came in pieces.
  do {
    const std::size_t to_boundary = kXmlSlice - static_cast<std::size_t>(fed_ % kXmlSlice);
    const std::string_view slice = piece.substr(0, to_boundary);
    piece.remove_prefix(slice.size());
    before_piece(slice);
    if (error_) return fail(*error_);
    fed_ += slice.size();
    parsing_ = true;
    const auto status =
        XML_Parse(expat_->parser, slice.data(), static_cast<int>(slice.size()), XML_FALSE);
    parsing_ = false;
    if (status != XML_STATUS_OK) return expat_error(false);
    after_piece();
    if (!error_ && at_boundary() && fed_ - last_event_end_ > kMaxXmlToken) {
      stop(Code::limit, "expected a tag, text or comment of at most " +
                            std::to_string(kMaxXmlToken) + " bytes, found more");
    }
    if (error_) return fail(*error_);
  } while (!piece.empty());
  return {};
}

Status XmlStream::finish() {
  if (error_) return fail(*error_);
  if (finished_) return {};
  parsing_ = true;
  const auto status = XML_Parse(expat_->parser, "", 0, XML_TRUE);
  parsing_ = false;
  if (status != XML_STATUS_OK) return expat_error(true);
  finished_ = true;
  return {};
}

Status XmlStream::resume(std::string_view prolog, std::uint64_t offset, std::uint64_t lines) {
  if (auto s = feed(prolog); !s) return s;
  // Lines as expat counts them (a CR alone ends one too), up to the
  // prolog's end, where it stands once it is parsed.
  const auto prolog_lines = static_cast<std::int64_t>(XML_GetCurrentLineNumber(expat_->parser)) - 1;
  byte_shift_ = static_cast<std::int64_t>(offset) - static_cast<std::int64_t>(fed_);
  line_shift_ = static_cast<std::int64_t>(lines) - prolog_lines;
  fed_ = offset;
  last_event_end_ = offset;
  return {};
}

std::int64_t XmlStream::line() const {
  return static_cast<std::int64_t>(XML_GetCurrentLineNumber(expat_->parser)) + line_shift_;
}

std::string XmlStream::at_line() const {
  return document_ + ": line " + std::to_string(line()) + ": ";
}

Status XmlStream::expat_error(bool final) {
  if (error_) return fail(*error_);
  const XML_Error code = XML_GetErrorCode(expat_->parser);
  const std::string at = at_line();
  if (root_ended_) {
    // Expat names what follows the root by how the input came in pieces
    // ("junk after document element", "invalid token"): one message for all.
    error_ =
        Error{Code::invalid_input,
              at + "expected nothing but comments and processing instructions after the end of <" +
                  shown(open_[0]) + ">, found more"};
  } else if (final && incomplete(code)) {
    const std::string expected = depth_ == 0 ? "the root element <" + root_ + ">"
                                             : "the end of <" + shown(open_[depth_ - 1]) + ">";
    error_ = Error{Code::invalid_input, at + "the document is incomplete: expected " + expected +
                                            ", found the end of the input"};
  } else {
    error_ = Error{Code::invalid_input,
                   at + "expected well-formed XML, found: " + XML_ErrorString(code)};
  }
  return fail(*error_);
}

void XmlStream::stop(Code code, const std::string& what) {
  if (error_) return;
  error_ = Error{code, at_line() + what};
  if (parsing_) XML_StopParser(expat_->parser, XML_FALSE);
}

void XmlStream::stop_with(Error error) {
  if (error_) return;
  error_ = std::move(error);
  if (parsing_) XML_StopParser(expat_->parser, XML_FALSE);
}

void XmlStream::skip() { skip_depth_ = 1; }

void XmlStream::collect_text() {
  collecting_ = true;
  text_.clear();
}

std::string XmlStream::take_text() {
  collecting_ = false;
  return std::move(text_);
}

const char* XmlStream::attr(const char** attrs, std::string_view name) {
  return attr(attrs, {}, name);
}

const char* XmlStream::attr(const char** attrs, std::string_view ns, std::string_view local) {
  // An attribute without a namespace is named by its local name alone:
  // compared as it is, without splitting every name of the tag.
  for (std::size_t i = 0; attrs[i]; i += 2) {
    if (ns.empty() ? local == attrs[i] : split(attrs[i]).is(ns, local)) return attrs[i + 1];
  }
  return nullptr;
}

std::uint64_t XmlStream::event_begin() const {
  return static_cast<std::uint64_t>(XML_GetCurrentByteIndex(expat_->parser) + byte_shift_);
}

std::uint64_t XmlStream::event_end() const {
  return event_begin() + static_cast<std::uint64_t>(XML_GetCurrentByteCount(expat_->parser));
}

void XmlStream::mark_event() {
  const auto index = XML_GetCurrentByteIndex(expat_->parser);
  if (index >= 0) last_event_end_ = std::max(last_event_end_, event_end());
}

void XmlStream::start_handler(void* p, const char* name, const char** attrs) {
  auto* self = static_cast<XmlStream*>(p);
  if (self->error_) return;
  self->mark_event();
  const XmlName n = split(name);
  if (self->depth_ >= kMaxXmlDepth) {
    return self->stop(Code::limit, "expected at most " + std::to_string(kMaxXmlDepth) +
                                       " nested elements, found more at <" + n.qualified() + ">");
  }
  // A value is at most twice as long in UTF-8 as in the document (references
  // only shrink; no encoding more than doubles a character), so values in
  // a tag of at most half the limit need not be measured.
  const bool short_tag =
      XML_GetCurrentByteCount(self->expat_->parser) <= static_cast<int>(kMaxXmlText / 2);
  for (std::size_t i = 0; !short_tag && attrs[i]; i += 2) {
    if (std::strlen(attrs[i + 1]) > kMaxXmlText) {
      return self->stop(Code::limit, "expected an attribute value of at most " +
                                         std::to_string(kMaxXmlText) + " bytes, found more in <" +
                                         n.qualified() + " " + split(attrs[i]).qualified() +
                                         "=...>");
    }
  }
  // Raw here, escaped only when a message shows it: this runs for every
  // element, so the strings of closed elements are reused, not freed.
  if (self->depth_ == self->open_.size()) self->open_.emplace_back();
  std::string& open = self->open_[self->depth_++];
  open.assign(n.prefix);
  if (!n.prefix.empty()) open += ':';
  open += n.local;
  if (self->skip_depth_ > 0) {
    ++self->skip_depth_;
    return;
  }
  self->on_start(n, attrs);
}

void XmlStream::end_handler(void* p, const char*) {
  auto* self = static_cast<XmlStream*>(p);
  if (self->error_) return;
  self->mark_event();
  if (self->depth_ > 0 && --self->depth_ == 0) self->root_ended_ = true;
  if (self->skip_depth_ > 0) {
    --self->skip_depth_;
    return;
  }
  self->on_end();
}

void XmlStream::text_handler(void* p, const char* text, int len) {
  auto* self = static_cast<XmlStream*>(p);
  if (self->error_) return;
  self->mark_event();
  if (self->skip_depth_ > 0 || !self->collecting_) return;
  if (self->text_.size() + static_cast<std::size_t>(len) > kMaxXmlText) {
    const std::string where =
        self->depth_ == 0 ? "" : " in <" + shown(self->open_[self->depth_ - 1]) + ">";
    return self->stop(Code::limit, "expected at most " + std::to_string(kMaxXmlText) +
                                       " bytes of text" + where + ", found more");
  }
  self->text_.append(text, static_cast<std::size_t>(len));
}

void XmlStream::default_handler(void* p, const char*, int) {
  auto* self = static_cast<XmlStream*>(p);
  if (!self->error_) self->mark_event();
}

void XmlStream::doctype_handler(void* p, const char* name, const char*, const char*, int) {
  auto* self = static_cast<XmlStream*>(p);
  self->stop(Code::invalid_input, "expected the root element <" + self->root_ +
                                      ">, found <!DOCTYPE " + shown(name) +
                                      ">: a document type declaration is not allowed");
}

}  // namespace airlock::formats::detail

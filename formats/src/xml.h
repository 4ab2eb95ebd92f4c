// A streaming XML reader over libexpat for the rpm metadata parsers of this
// module (private). It owns the hostile-input rules they share: a document
// type declaration stops the parse before any entity is declared, every
// attribute value and collected text is bounded, a single token (a tag, a
// comment) is bounded, nesting is bounded, and every error is one line
// naming the document and the line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"

namespace airlock::formats::detail {

inline constexpr std::size_t kMaxXmlText = 64 * 1024;   // one attribute value or text
inline constexpr std::uint64_t kMaxXmlToken = 1 << 20;  // bytes fed without any event
inline constexpr std::size_t kMaxXmlDepth = 256;        // open elements
// Limits on bytes (kMaxXmlToken, a subclass's) are checked where the
// document's offset is a multiple of this, wherever its pieces end.
inline constexpr std::size_t kXmlSlice = 64 * 1024;

// Namespace URIs of the rpm repository metadata, as createrepo_c writes them.
inline constexpr std::string_view kNsCommon = "http://linux.duke.edu/metadata/common";
inline constexpr std::string_view kNsRpm = "http://linux.duke.edu/metadata/rpm";
inline constexpr std::string_view kNsRepo = "http://linux.duke.edu/metadata/repo";

// An element or attribute name after namespace processing.
struct XmlName {
  std::string_view ns;  // "" when the name has no namespace
  std::string_view local;
  std::string_view prefix;  // as written, "" when none
  bool is(std::string_view n, std::string_view l) const { return ns == n && local == l; }
  // As written in the document ("rpm:entry", "package"), for a message:
  // escaped as quote() escapes and cut after 80 bytes.
  std::string qualified() const;
};

// A value from the document as it may appear in a one-line message: quoted,
// control characters escaped, cut after 80 bytes.
std::string quote(std::string_view value);
// text without leading and trailing blanks (space, tab, CR, LF).
std::string_view trim_blanks(std::string_view text);
// A decimal number and nothing else (surrounding blanks allowed); nullopt otherwise.
std::optional<std::uint64_t> to_u64(std::string_view text);

// The start of a document up to the end of its root's start tag, where a
// reader may resume (XmlStream::resume) to parse a later part of the
// document on its own.
struct XmlProlog {
  std::size_t size = 0;  // bytes, through the root start tag's '>'
  std::string root;      // the root as written ("metadata", "c:metadata")
};
// The prolog of the document head starts with: nullopt while head is too
// short to hold it; an error when the head is not a prolog a part can be
// parsed after: one with a document type declaration, an encoding other
// than UTF-8 (the parts are found by their bytes), a NUL, or malformed.
Result<std::optional<XmlProlog>> find_prolog(std::string_view head);

// The reader. A subclass gets on_start/on_end for every element not inside
// a skipped one and says what it collects; the first error (its own through
// stop(), expat's, or a limit) is kept and returned by every later call.
class XmlStream {
 public:
  // document: its name in messages ("primary.xml"); root: the local name of
  // the root element it expects, for messages about a document without one.
  XmlStream(std::string_view document, std::string_view root);
  virtual ~XmlStream();
  XmlStream(const XmlStream&) = delete;
  XmlStream& operator=(const XmlStream&) = delete;

  Status feed(std::string_view piece);
  Status finish();

  // Before anything is fed: parses prolog (find_prolog's, of the same
  // document), then reads what is fed as the document's bytes from offset
  // on, lines after the first lines: positions and messages are then as a
  // reader of the whole document gives them, provided offset is where the
  // root's content is at depth 1 (right after an element ended).
  Status resume(std::string_view prolog, std::uint64_t offset, std::uint64_t lines);
  // The line of the current position (after a feed: of its end), counted
  // as resume() says.
  std::int64_t line() const;

  // The value of an attribute of expat's name/value pairs, or nullptr.
  static const char* attr(const char** attrs, std::string_view name);
  static const char* attr(const char** attrs, std::string_view ns, std::string_view local);

 protected:
  // attrs: expat's name/value pairs, names already checked to be bounded.
  virtual void on_start(XmlName name, const char** attrs) = 0;
  // The end of the element of the last on_start not ended yet (expat
  // refuses an end tag that does not match).
  virtual void on_end() = 0;
  // Called with each piece just before expat parses it, then after; may stop().
  virtual void before_piece(std::string_view) {}
  virtual void after_piece() {}

  // Stops parsing: "<document>: line N: <what>".
  void stop(Code code, const std::string& what);
  // Stops parsing with an error as it is (a callback's).
  void stop_with(Error error);
  bool stopped() const { return error_.has_value(); }
  // The current element's descendants are neither reported nor checked
  // beyond well-formedness and the limits; its own on_end is not called.
  void skip();
  // Collects the current element's text (up to kMaxXmlText bytes), for take_text().
  void collect_text();
  std::string take_text();

  // Absolute byte offsets in the document of the current event.
  std::uint64_t event_begin() const;
  std::uint64_t event_end() const;
  std::uint64_t fed() const { return fed_; }
  // Whether the bytes fed end at a multiple of kXmlSlice: where a limit on
  // bytes is checked (in after_piece()), the same for any pieces.
  bool at_boundary() const { return fed_ % kXmlSlice == 0; }
  // Where the last reported event ended: bytes after it may still be part
  // of a token expat has not reported; bytes before it never are again.
  std::uint64_t last_event_end() const { return last_event_end_; }

 private:
  struct Expat;
  static void start_handler(void* self, const char* name, const char** attrs);
  static void end_handler(void* self, const char* name);
  static void text_handler(void* self, const char* text, int len);
  static void default_handler(void* self, const char* text, int len);
  static void doctype_handler(void* self, const char*, const char*, const char*, int);
  void mark_event();
  Status expat_error(bool final);
  std::string at_line() const;  // "<document>: line N: "

  std::string document_;
  std::string root_;
  bool parsing_ = false;
  std::unique_ptr<Expat> expat_;
  std::optional<Error> error_;
  bool finished_ = false;
  std::uint64_t fed_ = 0;
  std::uint64_t last_event_end_ = 0;
  // After resume(): expat's positions and lines, which count the prolog,
  // moved to the document's.
  std::int64_t byte_shift_ = 0;
  std::int64_t line_shift_ = 0;
  // Qualified names of the open elements, for messages: the first depth_
  // of open_ (the rest are kept for their buffers).
  std::vector<std::string> open_;
  std::size_t depth_ = 0;
  bool root_ended_ = false;     // the root element's end tag was read
  std::size_t skip_depth_ = 0;  // > 0 inside a skipped element
  bool collecting_ = false;
  std::string text_;
};

}  // namespace airlock::formats::detail

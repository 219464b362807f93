// A forward-only JSON reader for the streaming hot path: validates as it goes, hands out only
// the values asked for, skips the rest. One pass, no allocation, no tape.
//
// Why not simdjson On-Demand here: LLM stream events are ~250-byte documents, and simdjson's
// per-document fixed cost (stage 1 setup and finish) was ~1000 instructions of the ~3500 each
// event cost end to end (callgrind, `llmstream-bench parse`). This cursor validates the same
// grammar (tests/fuzz/json_cursor_fuzz.cpp checks it against simdjson) at a fraction of that.
//
// Contract: the document must be valid UTF-8 (the SSE layer guarantees it; other callers
// validate first) and lie in a cursor_buffer: 64 readable bytes past the end, the first a NUL.
// One read also works in place, without that copy: read_string_in_place.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cpu_features.hpp"
#include "json/unescape.hpp"

#if defined(LLMSTREAM_HAS_SSE2)
#include <emmintrin.h>
#endif

namespace llmstream::json {

/// Owns a copy of a document with the padding json_cursor needs, and scratch space for decoding
/// strings. Reused across documents: no allocation once it has grown to the largest one.
class cursor_buffer {
public:
    static constexpr std::size_t padding = 64;

    std::string_view load(std::string_view doc) {
        if (doc.size() > (std::size_t(1) << 40)) doc = {};  // unreachable in practice; keeps sizes sane
        const std::size_t need = doc.size() + padding;
        if (capacity_ < need) {
            capacity_ = need + need / 2;
            document_ = std::make_unique<char[]>(capacity_);
            scratch_ = std::make_unique<char[]>(capacity_);
        }
        if (!doc.empty()) std::memcpy(document_.get(), doc.data(), doc.size());
        std::memset(document_.get() + doc.size(), 0, padding);
        return {document_.get(), doc.size()};
    }

    /// At least the loaded document's size plus 32 bytes: a decoded string is never longer than
    /// its source, and the block stores of append_string may overshoot its end by up to 32.
    char* scratch() noexcept { return scratch_.get(); }

    /// Scratch space for strings of a document of `size` bytes read in place (not loaded).
    char* scratch_for(std::size_t size) {
        if (capacity_ < size + padding) {
            capacity_ = size + padding + (size + padding) / 2;
            document_ = std::make_unique<char[]>(capacity_);
            scratch_ = std::make_unique<char[]>(capacity_);
        }
        return scratch_.get();
    }

private:
    std::unique_ptr<char[]> document_;
    std::unique_ptr<char[]> scratch_;
    std::size_t capacity_ = 0;
};

enum class json_kind { object, array, string, number, boolean, null, invalid };

class json_cursor {
public:
    static constexpr int max_depth = 512;

    /// Loads `doc` into `buffer` and reads it from there.
    json_cursor(cursor_buffer& buffer, std::string_view doc) : scratch_(nullptr) {
        const std::string_view padded = buffer.load(doc);
        begin_ = p_ = padded.data();
        end_ = padded.data() + padded.size();
        read_end_ = end_ + cursor_buffer::padding;
        scratch_ = buffer.scratch();
    }

    /// What read_string_in_place found.
    struct in_place_string {
        enum { ok, malformed, near_end } outcome;
        std::size_t end;  ///< when ok: the offset just past the closing quote
    };
    /// Reads the string that starts `doc` (its first byte must be the opening quote) without the
    /// padded copy, appending its decoded text to `out`; reads no byte at or past the end of
    /// `doc`. `near_end` when the string does not close at least 16 bytes before that end: then
    /// `out` holds part of it, and a loaded cursor must read it. `malformed` is what a loaded
    /// cursor would find too. `scratch`: cursor_buffer::scratch_for(doc.size()).
    static in_place_string read_string_in_place(std::string_view doc, char* scratch, std::string& out) {
        if (doc.empty() || doc.front() != '"') return {in_place_string::near_end, 0};  // the loaded cursor decides
        json_cursor c(doc, scratch);
        if (c.append_string(out)) return {in_place_string::ok, c.offset()};
        return {c.near_end_ ? in_place_string::near_end : in_place_string::malformed, 0};
    }

    bool failed() const noexcept { return failed_; }

    /// Where the cursor is (bytes from the start of the document) and how deep in containers.
    std::size_t offset() const noexcept { return static_cast<std::size_t>(p_ - begin_); }
    /// The document being read.
    std::string_view document() const noexcept { return {begin_, static_cast<std::size_t>(end_ - begin_)}; }
    int depth() const noexcept { return depth_; }
    /// Continues reading at `offset` as if the cursor had got there itself, `depth` containers
    /// deep, right after a key's colon (or a member). For replaying a document whose first
    /// `offset` bytes equal those of one read before (stream_decoder's prefix replay). Clears
    /// an earlier failure: what was read after `offset` no longer counts.
    void resume_at(std::size_t offset, int depth) noexcept {
        p_ = begin_ + offset;
        depth_ = depth;
        first_ = false;
        failed_ = false;
    }
    /// Marks the document invalid (also for schema errors found by the caller).
    bool fail() noexcept {
        failed_ = true;
        p_ = end_;  // park on the NUL sentinel: every later read fails fast
        return false;
    }

    /// What the next value is, without consuming it.
    json_kind peek() noexcept {
        skip_ws();
        switch (*p_) {
        case '{': return json_kind::object;
        case '[': return json_kind::array;
        case '"': return json_kind::string;
        case 't':
        case 'f': return json_kind::boolean;
        case 'n': return json_kind::null;
        default: return (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) ? json_kind::number : json_kind::invalid;
        }
    }

    /// Consumes `null` if it is next.
    bool take_null() noexcept {
        if (peek() != json_kind::null) return false;
        return literal("null") || fail();
    }

    /// Objects: `if (c.enter_object()) while (c.next_field(key)) { ...consume or skip the value... }`
    bool enter_object() noexcept { return enter('{'); }
    /// The next key (raw: escapes are not decoded; keys we look for have none), or false at the
    /// end of the object or on error.
    bool next_field(std::string_view& key) noexcept {
#if defined(LLMSTREAM_HAS_SSE2)
        // Fast path, on a local pointer: `,"key":` or `"key":` (first member) or `}`, with
        // whitespace only around the punctuation and a key without escapes. Anything else is left
        // to the general path, which starts again from p_.
        if (failed_) return false;
        const char* p = p_;
        while (is_ws(*p)) ++p;
        if (*p == '}') {
            p_ = p + 1;
            --depth_;
            first_ = false;
            return false;
        }
        if (!first_) {
            if (*p != ',') return next_field_general(key);
            ++p;
            while (is_ws(*p)) ++p;
        }
        if (*p == '"') {
            const char* start = p + 1;
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(start));
            const __m128i below_space = _mm_set1_epi8(0x1F);
            const __m128i ctrl = _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space);
            const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))), ctrl)));
            if (mask != 0) {
                const int at = std::countr_zero(mask);
                const char* q = start + at;
                if (*q == '"') {  // a key of up to 15 bytes without escapes
                    ++q;
                    while (is_ws(*q)) ++q;
                    if (*q == ':') {
                        key = std::string_view(start, static_cast<std::size_t>(at));
                        p_ = q + 1;
                        first_ = false;
                        return true;
                    }
                }
            }
        }
#endif
        return next_field_general(key);
    }

    bool enter_array() noexcept { return enter('['); }
    bool next_element() noexcept { return next_member(']'); }

    /// Reads a string value into `out` (replacing), decoding escapes.
    bool read_string(std::string& out) {
        out.clear();
        return append_string(out);
    }
    bool append_string(std::string& out) {
        skip_ws();
        if (*p_ != '"') return fail();
        // Local cursors: stores through `w` (a char*) could alias p_, which would otherwise be
        // written back to memory and reloaded on every step.
        const char* p = p_ + 1;
        char* w = scratch_;
        [[maybe_unused]] int escapes = 0;
#if defined(LLMSTREAM_HAS_SSE2)
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i backslash = _mm_set1_epi8('\\');
        const __m128i below_space = _mm_set1_epi8(0x1F);
#endif
        for (;;) {
            if (read_end_ - p < 16) return stop_near_end();  // never in a loaded document
#if defined(LLMSTREAM_HAS_SSE2)
            // Copy 16 bytes, then keep only those before the first quote, backslash or control.
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
            const __m128i ctrl = _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space);
            const auto mask = static_cast<unsigned>(_mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), ctrl)));
            if (mask == 0) {
                p += 16;
                w += 16;
                continue;
            }
            const int at = std::countr_zero(mask);
            p += at;
            w += at;
#else
            while (*p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) {
                *w++ = *p++;
                if (read_end_ - p < 16) return stop_near_end();  // loaded: the NUL at end_ stops first
            }
#endif
            if (*p == '"') {
                ++p;
                break;
            }
            if (*p != '\\') {  // a raw control character, or the end of the document
                p_ = p;
                return fail();
            }
#if defined(LLMSTREAM_HAS_AVX2_PATHS)
            // A third escape: they are dense here (code, prose with line breaks), decode by blocks.
            // Short tokens with an escape or two stay on this loop, which is cheaper for them.
            if (++escapes > 2 && llmstream::detail::cpu_has_avx2) {
                const detail::unescape_stop stop = detail::unescape_avx2(p, read_end_, w);
                p = stop.src;
                w = stop.dst;
                if (read_end_ - p < 16) return stop_near_end();
                if (*p != '\\') continue;  // the closing quote or a control character: see above
            }
#endif
            if (read_end_ - p < 16) return stop_near_end();  // an escape reads up to 12 bytes
            if (const char simple = simple_escapes[static_cast<unsigned char>(p[1])]) {  // \n, \", ...
                *w++ = simple;
                p += 2;
                continue;
            }
            p_ = p;
            unsigned cp = 0;
            char simple = 0;
            if (!escape_code_point(cp, simple)) return false;
            if (simple) *w++ = simple;
            else write_utf8(cp, w);
            p = p_;
        }
        p_ = p;
        out.append(scratch_, static_cast<std::size_t>(w - scratch_));
        return true;
    }
    /// Reads a string, or leaves `out` empty for null.
    bool read_string_or_null(std::string& out) {
        if (take_null()) {
            out.clear();
            return true;
        }
        return read_string(out);
    }

    /// An integer (no fraction or exponent), in one pass.
    bool read_int64(std::int64_t& out) noexcept {
        skip_ws();
        const char* q = p_;
        const bool negative = *q == '-';
        if (negative) ++q;
        if (!digit(*q)) return fail();
        std::uint64_t v = 0;
        if (*q == '0') {
            ++q;
        } else {
            for (; digit(*q); ++q) {
                if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return fail();
                v = v * 10 + static_cast<unsigned>(*q - '0');
            }
        }
        if (*q == '.' || *q == 'e' || *q == 'E') return fail();  // fraction or exponent: not an integer
        const std::uint64_t limit = negative ? std::uint64_t(std::numeric_limits<std::int64_t>::max()) + 1
                                             : std::uint64_t(std::numeric_limits<std::int64_t>::max());
        if (v > limit) return fail();
        p_ = q;
        out = negative ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
        return true;
    }

    /// Skips one value of any kind, validating it.
    bool skip() noexcept { return skip_value(depth_); }

    /// The document ended: only whitespace remains after the root value.
    bool at_end() noexcept {
        skip_ws();
        return !failed_ && p_ == end_;
    }

    /// Raw text of the number next (for codes sent as numbers).
    bool read_number_text(std::string& out) {
        skip_ws();
        const char* start = p_;
        if (!scan_number()) return false;
        out.assign(start, static_cast<std::size_t>(p_ - start));
        return true;
    }

private:
    static bool is_ws(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

    bool next_field_general(std::string_view& key) noexcept {
        if (!next_member('}')) return false;
        if (*p_ != '"') return fail();
        const char* start = ++p_;
        if (!scan_string()) return false;
        key = std::string_view(start, static_cast<std::size_t>(p_ - 1 - start));
        skip_ws();
        if (*p_++ != ':') return fail();
        return true;
    }
    void skip_ws() noexcept {
        while (static_cast<unsigned char>(*p_) <= ' ' && is_ws(*p_)) ++p_;
    }

    bool enter(char open) noexcept {
        skip_ws();
        if (*p_ != open) return fail();
        if (++depth_ > max_depth) return fail();
        ++p_;
        first_ = true;
        return true;
    }

    // Before each member: the first may be the close bracket; later ones need a comma.
    bool next_member(char close) noexcept {
        if (failed_) return false;
        skip_ws();
        if (*p_ == close) {
            ++p_;
            --depth_;
            first_ = false;
            return false;
        }
        if (!first_) {
            if (*p_ != ',') return fail();
            ++p_;
            skip_ws();
            if (*p_ == close) return fail();  // trailing comma
        }
        first_ = false;
        return true;
    }

    // Advances p_ to the first '"', '\\' or control character (the NUL sentinel included).
    bool scan_plain() noexcept {
#if defined(LLMSTREAM_HAS_SSE2)
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i backslash = _mm_set1_epi8('\\');
        const __m128i below_space = _mm_set1_epi8(0x1F);
        for (;;) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
            // Unsigned v <= 0x1F  <=>  max(v, 0x1F) == 0x1F.
            const __m128i ctrl = _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space);
            const auto mask = static_cast<unsigned>(_mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), ctrl)));
            if (mask != 0) {
                p_ += std::countr_zero(mask);
                break;
            }
            p_ += 16;
        }
#else
        while (*p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
#endif
        if (p_ >= end_) return fail();  // ran into the sentinel: unterminated string
        if (static_cast<unsigned char>(*p_) < 0x20) return fail();  // raw control character
        return true;
    }

    // Validates a string whose opening quote was consumed; leaves p_ after the closing quote.
    bool scan_string() noexcept {
        for (;;) {
            if (!scan_plain()) return false;
            if (*p_ == '"') {
                ++p_;
                return true;
            }
            if (!skip_escape()) return false;
        }
    }

    // What a one-letter escape stands for, or 0 (for 'u' and for letters that are no escape).
    static constexpr auto simple_escapes = [] {
        std::array<char, 256> t{};
        t['"'] = '"';
        t['\\'] = '\\';
        t['/'] = '/';
        t['b'] = '\b';
        t['f'] = '\f';
        t['n'] = '\n';
        t['r'] = '\r';
        t['t'] = '\t';
        return t;
    }();

    static int hex(char c) noexcept {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    bool read_hex4(unsigned& out) noexcept {
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex(p_[i]);  // the sentinel stops this before the padding ends
            if (h < 0) return fail();
            out = out * 16 + static_cast<unsigned>(h);
        }
        p_ += 4;
        return true;
    }

    // At a backslash: decodes one escape (a surrogate pair counts as one) into a code point.
    bool escape_code_point(unsigned& cp, char& simple) noexcept {
        ++p_;
        simple = 0;
        switch (*p_) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': {
            ++p_;
            if (!read_hex4(cp)) return false;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail();  // a lone low surrogate
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p_[0] != '\\' || p_[1] != 'u') return fail();  // a lone high surrogate
                p_ += 2;
                unsigned low = 0;
                if (!read_hex4(low)) return false;
                if (low < 0xDC00 || low > 0xDFFF) return fail();
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            return true;
        }
        default: return fail();
        }
        ++p_;
        return true;
    }

    bool skip_escape() noexcept {
        unsigned cp = 0;
        char simple = 0;
        return escape_code_point(cp, simple);
    }

    static void write_utf8(unsigned cp, char*& w) noexcept {
        if (cp < 0x80) {
            *w++ = static_cast<char>(cp);
        } else if (cp < 0x800) {
            *w++ = static_cast<char>(0xC0 | (cp >> 6));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *w++ = static_cast<char>(0xE0 | (cp >> 12));
            *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            *w++ = static_cast<char>(0xF0 | (cp >> 18));
            *w++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

    // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    bool scan_number() noexcept {
        if (*p_ == '-') ++p_;
        if (*p_ == '0') {
            ++p_;
        } else if (digit(*p_)) {
            while (digit(*p_)) ++p_;
        } else {
            return fail();
        }
        if (*p_ == '.') {
            ++p_;
            if (!digit(*p_)) return fail();
            while (digit(*p_)) ++p_;
        }
        if (*p_ == 'e' || *p_ == 'E') {
            ++p_;
            if (*p_ == '+' || *p_ == '-') ++p_;
            if (!digit(*p_)) return fail();
            while (digit(*p_)) ++p_;
        }
        return true;
    }

    bool literal(std::string_view word) noexcept {
        // The padding makes reading up to 5 bytes safe; the sentinel never matches a letter.
        if (std::memcmp(p_, word.data(), word.size()) != 0) return fail();
        p_ += word.size();
        return true;
    }

    bool skip_value(int depth) noexcept {
        skip_ws();
        switch (*p_) {
        case '"':
            ++p_;
            return scan_string();
        case '{': {
            if (depth + 1 > max_depth) return fail();
            ++p_;
            skip_ws();
            if (*p_ == '}') {
                ++p_;
                return true;
            }
            for (;;) {
                skip_ws();
                if (*p_ != '"') return fail();
                ++p_;
                if (!scan_string()) return false;
                skip_ws();
                if (*p_++ != ':') return fail();
                if (!skip_value(depth + 1)) return false;
                skip_ws();
                if (*p_ == ',') {
                    ++p_;
                    continue;
                }
                if (*p_ == '}') {
                    ++p_;
                    return true;
                }
                return fail();
            }
        }
        case '[': {
            if (depth + 1 > max_depth) return fail();
            ++p_;
            skip_ws();
            if (*p_ == ']') {
                ++p_;
                return true;
            }
            for (;;) {
                if (!skip_value(depth + 1)) return false;
                skip_ws();
                if (*p_ == ',') {
                    ++p_;
                    continue;
                }
                if (*p_ == ']') {
                    ++p_;
                    return true;
                }
                return fail();
            }
        }
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default: return scan_number();
        }
    }

    // In place, for read_string_in_place only: no sentinel and no padding, so that every read
    // but append_string's (which stops 16 bytes before read_end_) could run past the end.
    json_cursor(std::string_view doc, char* scratch) noexcept
        : begin_(doc.data()), p_(doc.data()), end_(doc.data() + doc.size()), read_end_(end_), scratch_(scratch) {}

    bool stop_near_end() noexcept {
        near_end_ = true;
        failed_ = true;
        return false;
    }

    const char* begin_;
    const char* p_;
    const char* end_;
    const char* read_end_;  // no byte at or past it is read: end_ + padding when loaded
    char* scratch_;
    int depth_ = 0;
    bool first_ = false;
    bool failed_ = false;
    bool near_end_ = false;
};

}  // namespace llmstream::json

// Whole-event replay: prefix replay's fastest form. Text deltas repeat, byte for byte, the event
// before them but for the text, and for Anthropic Messages and OpenAI Responses (typed events) a
// sequence number and (Responses) a padding string:
//
//   event: content_block_delta
//   data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}
//   (blank line)
//
// Chat completions chunks that carry only text repeat the whole chunk but for OpenAI's padding
// (no `event:` line; the `obfuscation` value, when it ends the chunk, is a hole):
//
//   data: {"id":"chatcmpl-1",...,"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}
//
// After a text delta decoded in full (typed events), or a chat chunk replayed with its suffix and
// carrying only its text, the decoder learns that event's bytes as a template (the SSE lines as a
// server writes them: `event: NAME` for typed events, `data: JSON`; LF line ends, or CR LF for
// both the data line and the blank line that ends the event). The SSE parser offers the bytes at
// each event boundary (parser_core's event shortcut); when they are the template but for the text
// and the holes, the text is taken from them with no line parsing and no JSON read. Anything else
// (an escape in the text, a byte >= 0x80 that is not UTF-8, other line ends, another member, the
// event split across chunks) is declined, and the event is parsed as usual, where prefix replay
// (text_event_replay, or chat's replay_event) still shortens it. Equal to a full decode in every
// outcome: the fuzz differential (replay on/off) and tests/unit/prefix_replay_test.cpp compare
// the two.
#pragma once

#include "replay.hpp"

#include "sse/utf8.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#if defined(LLMSTREAM_HAS_SSE2)
#include <emmintrin.h>
#endif

namespace llmstream::protocol {

class whole_event_replay {
public:
    /// Learns the template from a text delta event the decoder read (typed: in full; chat: replayed
    /// with its suffix): its SSE type (empty: the template has no `event:` line), its data up to
    /// and including the text's opening quote, and after the closing quote; `span` gives the
    /// holes in the prefix, whether members after the text may be others that mean nothing, and
    /// the text's field. An event whose template cannot be written as one `event:` line and one
    /// `data:` line leaves none.
    void learn(std::string_view type, std::string_view prefix, std::string_view suffix, const text_delta_span& span,
               cursor_buffer& buffer);
    /// A string hole in the tail, [begin, end) of the data after the text (chat's padding, which
    /// learn does not find by itself); the template must have room for it.
    void add_tail_hole(std::size_t begin, std::size_t end) noexcept {
        if (!valid_) return;  // learn made none
        if (tail_hole_count_ == max_holes) {
            valid_ = false;
            return;
        }
        tail_holes_[tail_hole_count_++] = {begin, end};
    }
    void clear() noexcept { valid_ = false; }
    bool valid() const noexcept { return valid_; }
    /// The field the text goes to (reasoning_content, else content).
    bool reasoning() const noexcept { return reasoning_; }

    /// When `bytes` start with one whole event that is the template but for its text and holes:
    /// that event's length, with its text (no escapes, valid UTF-8) in `text`. Otherwise 0.
    std::size_t match(std::string_view bytes, std::string_view& text) noexcept {
        const char* const begin = bytes.data();
        const char* const end = begin + bytes.size();
        const char* p = match_with_holes(begin, end, head_, head_holes_, head_hole_count_, hole_kind::integer);
        if (p == nullptr) return 0;
        bool high = false;
        const char* const close = plain_string_end(p, end, high);
        if (close == nullptr) return 0;
        text = std::string_view(p, static_cast<std::size_t>(close - p));
        if (high && !sse::detail::is_valid_utf8(text)) return 0;
        if (const char* q = match_with_holes(close + 1, end, tail_, tail_holes_, tail_hole_count_, hole_kind::plain_string))
            return static_cast<std::size_t>(q - begin);
        return match_other_line_ends(close + 1, end, begin);
    }

private:
    struct hole {
        std::size_t begin = 0, end = 0;  // in the template's bytes
    };
    static constexpr std::size_t max_holes = 2;
    enum class hole_kind { integer, plain_string };

    // The end of a JSON string's contents from `p` (its closing quote), when they hold no escape
    // and no control character; null otherwise or when `end` comes first. `high`: a byte >= 0x80
    // came before it.
    static const char* plain_string_end(const char* p, const char* end, bool& high) noexcept {
#if defined(LLMSTREAM_HAS_SSE2)
        const __m128i below_space = _mm_set1_epi8(0x1F);
        while (end - p >= 16) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            const __m128i ctrl = _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space);
            const auto stop = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))), ctrl)));
            const auto high_bytes = static_cast<unsigned>(_mm_movemask_epi8(v));
            if (stop != 0) {
                const int at = std::countr_zero(stop);
                high = high || (high_bytes & ((1u << at) - 1u)) != 0;
                return p[at] == '"' ? p + at : nullptr;
            }
            high = high || high_bytes != 0;
            p += 16;
        }
#endif
        for (; p < end; ++p) {
            const auto c = static_cast<unsigned char>(*p);
            if (c == '"') return p;
            if (c == '\\' || c < 0x20) return nullptr;
            high = high || c >= 0x80;
        }
        return nullptr;
    }

    // `t`'s bytes from `p` on, but for its holes: an integer token as a full read takes it (no
    // sign, no leading zero, at most 18 digits), or a string's contents, ASCII without escapes.
    // Past the match, or null.
    static const char* match_with_holes(const char* p, const char* end, std::string_view t,
                                        const std::array<hole, max_holes>& holes, std::size_t count, hole_kind kind) noexcept {
        std::size_t kept = 0;
        for (std::size_t h = 0; h < count; ++h) {
            const std::size_t fixed = holes[h].begin - kept;
            if (static_cast<std::size_t>(end - p) < fixed || std::memcmp(p, t.data() + kept, fixed) != 0) return nullptr;
            p += fixed;
            const char* const first = p;
            if (kind == hole_kind::integer) {
                while (p < end && static_cast<unsigned char>(*p - '0') < 10) ++p;
                if (!is_count_token(first, static_cast<std::size_t>(p - first))) return nullptr;
            } else {
                while (p < end && is_padding_byte(*p)) ++p;
                if (p == end || *p != '"') return nullptr;
            }
            kept = holes[h].end;
        }
        const std::size_t rest = t.size() - kept;
        if (static_cast<std::size_t>(end - p) < rest || !same_bytes(p, t.data() + kept, rest)) return nullptr;
        return p + rest;
    }

    // The tail with the other line ends (LF LF or CR LF CR LF) after the data: when they match,
    // they become the template's, the stream's own. Out of line: an LF stream comes here only
    // for an event the template declines.
    [[gnu::noinline]] std::size_t match_other_line_ends(const char* p, const char* end, const char* begin) noexcept {
        constexpr std::string_view lf = "\n\n", crlf = "\r\n\r\n";
        const bool was_crlf = std::string_view(tail_).ends_with(crlf);
        const std::string_view other = was_crlf ? lf : crlf;
        const std::size_t data_size = tail_.size() - (was_crlf ? crlf : lf).size();
        p = match_with_holes(p, end, std::string_view(tail_.data(), data_size), tail_holes_, tail_hole_count_, hole_kind::plain_string);
        if (p == nullptr || static_cast<std::size_t>(end - p) < other.size() || std::memcmp(p, other.data(), other.size()) != 0) return 0;
        tail_.replace(data_size, std::string::npos, other);
        return static_cast<std::size_t>(p + other.size() - begin);
    }

    // memcmp(a, b, n) == 0, without a call for the few bytes that end an event (Anthropic's `}}`,
    // two LFs).
    static bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
        const auto load = [](const char* at, auto word) {
            std::memcpy(&word, at, sizeof word);
            return word;
        };
        if (n >= 4 && n <= 8) {
            const std::uint32_t w = 0;
            return load(a, w) == load(b, w) && load(a + n - 4, w) == load(b + n - 4, w);
        }
        return std::memcmp(a, b, n) == 0;
    }

    bool valid_ = false;
    bool reasoning_ = false;
    std::string head_;  // [`event: NAME` LF] `data: ` and the data up to and including the text's opening quote
    std::array<hole, max_holes> head_holes_{};  // integers that mean nothing (sequence numbers)
    std::size_t head_hole_count_ = 0;
    std::string tail_;  // the data after the text's closing quote, then LF LF (or CR LF CR LF, as the stream has them)
    std::array<hole, max_holes> tail_holes_{};  // string values of members that mean nothing (padding)
    std::size_t tail_hole_count_ = 0;
};

}  // namespace llmstream::protocol

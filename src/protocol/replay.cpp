// Prefix replay (see replay.hpp): the byte matching, and stream_decoder's replay of an event from
// its text on, with the suffix after the text compared (or matched around a usage object) instead
// of read. Every outcome equals a full decode's: tests/unit/prefix_replay_test.cpp and the fuzz
// differential compare the two.
#include "replay.hpp"
#include "whole_event_replay.hpp"

#include "stream_decoder.hpp"
#include "replay_step.hpp"

#include <algorithm>
#include <cstring>

namespace llmstream::protocol {

// Whether bytes [begin, end) of `text` are a count as a full read takes it: an integer token of
// at most 18 digits, with no sign and no leading zero. Its value into `value`.
bool read_count_bytes(const char* text, std::size_t begin, std::size_t end, std::uint64_t& value) noexcept {
    const std::size_t digits = end - begin;
    if (!is_count_token(text + begin, digits)) return false;
    value = 0;
    for (std::size_t k = begin; k < end; ++k) {
        const unsigned d = static_cast<unsigned char>(text[k] - '0');
        if (d > 9) return false;
        value = value * 10 + d;
    }
    return true;
}

// The count held in a word is_count_word accepted.
std::uint64_t count_of_word(std::uint64_t word) noexcept {
    // Pairs, then fours, then all eight; the first byte is the most significant digit. Byte 2i
    // becomes 10 d[2i] + d[2i+1]; then bits 16-31 of word * (1 + 100 << 16) hold 100 p[0] + p[1]
    // (and bits 48-63 the next four); then bits 32-63 of word * (1 + 10000 << 32) the eight.
    word -= ascii_zeros;
    word = word * 10 + (word >> 8);
    word = ((word & 0x00FF'00FF'00FF'00FFULL) * (1 + (std::uint64_t{100} << 16))) >> 16;
    return ((word & 0x0000'FFFF'0000'FFFFULL) * (1 + (std::uint64_t{10000} << 32))) >> 32;
}

// The suffix's fixed_mask and count_words, from its bytes and usage slots.
void mask_fixed_bytes(replay_suffix& suffix) {
    suffix.fixed_mask.clear();
    suffix.count_words = {};
    if (!suffix.layout.usable || suffix.bytes.size() < 16) return;
    suffix.fixed_mask.assign(suffix.bytes.size(), '\xFF');
    for (std::size_t i = 0; i < suffix.layout.count; ++i) {
        const usage_layout::slot& slot = suffix.layout.slots[i];
        const std::size_t width = slot.end - slot.begin;
        std::fill_n(suffix.fixed_mask.begin() + static_cast<std::ptrdiff_t>(slot.begin), width, '\0');
        // Read by word when the kept bytes hold a count: they seed the cache, which then only
        // ever holds a word that was read as a count.
        if (width < 1 || width > 8 || slot.end < 8) continue;
        replay_suffix::count_word& w = suffix.count_words[i];
        const std::uint64_t digits = ~std::uint64_t{0} << (8 * (8 - width));
        const std::uint64_t word = count_word_at(suffix.bytes.data(), slot.end, digits);
        if (is_count_word(word, digits)) {
            w.digits = digits;
            w.last = word;
        }
    }
}

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
// equal_under_mask 32 bytes at a time; n >= 32.
__attribute__((target(LLMSTREAM_AVX2_TARGET))) bool equal_under_mask_avx2(const char* a, const char* b, const char* mask,
                                                                          std::size_t n) noexcept {
    // The last 32 bytes first, overlapping the blocks before them.
    __m256i diff = _mm256_and_si256(_mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + n - 32)),
                                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + n - 32))),
                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mask + n - 32)));
    for (std::size_t at = 0; at + 32 < n; at += 32) {
        const __m256i x = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + at)),
                                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + at)));
        diff = _mm256_or_si256(diff, _mm256_and_si256(x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mask + at))));
    }
    return _mm256_testz_si256(diff, diff) != 0;
}
#endif

// Whether a[i] == b[i] wherever mask[i] is 0xFF (mask bytes are 0 or 0xFF), for i < n; n >= 16.
bool equal_under_mask(const char* a, const char* b, const char* mask, std::size_t n) noexcept {
#if defined(LLMSTREAM_HAS_AVX2_PATHS)
    if (n >= 32 && llmstream::detail::cpu_has_avx2) return equal_under_mask_avx2(a, b, mask, n);
#endif
#if defined(LLMSTREAM_HAS_SSE2)
    const auto load = [](const char* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); };
    const auto masked_diff = [&](std::size_t at) {
        return _mm_and_si128(_mm_xor_si128(load(a + at), load(b + at)), load(mask + at));
    };
    __m128i diff = masked_diff(n - 16);  // the last 16 bytes, overlapping the blocks before them
    for (std::size_t at = 0; at + 16 < n; at += 16) diff = _mm_or_si128(diff, masked_diff(at));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(diff, _mm_setzero_si128())) == 0xFFFF;
#else
    unsigned diff = 0;
    for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>((a[i] ^ b[i]) & mask[i]);
    return diff == 0;
#endif
}

// replay_suffix_bytes when the counts could not be matched in place: the usage object is read.
bool stream_decoder::read_usage_hole(std::string_view doc, std::size_t text_end, std::string_view rest) {
    const std::string_view kept = suffix_.bytes;
    const std::size_t begin = suffix_.usage_begin;
    if (rest.substr(0, begin) != kept.substr(0, begin)) return false;
    json_cursor c(buffer_, doc);
    c.resume_at(text_end + begin, suffix_.usage_depth);
    usage fresh;
    if (!chat::read_usage(c, fresh)) return false;  // the full read that follows fails alike
    if (rest.substr(c.offset() - text_end) != kept.substr(suffix_.usage_end)) return false;
    native_usage_written_ = true;
    native_usage_in_slots_ = false;
    native_usage_ = fresh;
    return true;
}

// Counts of other widths (99 tokens, then 100): the fixed text and the counts slot by slot.
bool stream_decoder::match_usage_slots(std::string_view rest) {
    const char* const kept = suffix_.bytes.data();
    const std::size_t kept_size = suffix_.bytes.size();
    const usage_layout& layout = suffix_.layout;
    usage fresh;
    const char* r = rest.data();  // where rest is matched up to
    const char* const end = rest.data() + rest.size();
    std::size_t from = 0;  // in kept
    std::array<usage_layout::slot, usage_layout::max_slots> moved = layout.slots;  // where rest has them
    for (std::size_t i = 0; i < layout.count; ++i) {
        const usage_layout::slot& s = layout.slots[i];
        const std::size_t fixed = s.begin - from;
        if (static_cast<std::size_t>(end - r) < fixed || std::memcmp(r, kept + from, fixed) != 0) return false;
        r += fixed;
        // An integer token: 0, or up to 18 digits not starting with 0 (no sign: a negative count
        // goes the slow way). A fraction or exponent after the digits fails to match the fixed
        // text that follows: the integer read before ended there, so that text starts with none
        // of `.eE`.
        const char* const first = r;
        std::uint64_t value = 0;  // unsigned: too many digits wrap harmlessly and are refused below
        for (; r != end && static_cast<unsigned char>(*r - '0') < 10; ++r) value = value * 10 + static_cast<unsigned>(*r - '0');
        if (!is_count_token(first, static_cast<std::size_t>(r - first))) return false;
        fresh.*s.field = static_cast<std::int64_t>(value);
        from = s.end;
        moved[i].begin = static_cast<std::size_t>(first - rest.data());
        moved[i].end = static_cast<std::size_t>(r - rest.data());
    }
    const std::size_t tail = kept_size - from;
    if (static_cast<std::size_t>(end - r) != tail || std::memcmp(r, kept + from, tail) != 0) return false;
    chat::derive_total(fresh);
    native_usage_written_ = true;
    native_usage_in_slots_ = false;
    native_usage_ = fresh;
    // Some count changed width (30 tokens, then 100): keep these bytes, so that the frames that
    // follow are compared in one pass again.
    if (rest.size() != kept_size || moved != layout.slots) {
        suffix_.usage_end = suffix_.usage_end - kept_size + rest.size();
        suffix_.bytes.assign(rest);
        suffix_.layout.slots = moved;
        mask_fixed_bytes(suffix_);
    }
    return true;
}

void stream_decoder::remember_suffix(std::string_view bytes, std::size_t text_end, const delta& out, bool has_error) {
    ++replay_changes_;  // (whole-event's chat template is made of replay_ and suffix_)
    constexpr int give_up_after = 8;
    if (suffix_.valid && (suffix_.misses == give_up_after || ++suffix_.misses == give_up_after))
        return;  // keep the old one; stop copying (the count stops at the limit)
    // A suffix that may set the text field itself (a key "content" or "text" after content,
    // "reasoning_content" after reasoning) would make the outcome depend on more than its bytes:
    // such suffixes are decoded every time. Keys are matched raw, so searching the raw bytes
    // for the quoted name finds every such key.
    const bool sets_text = replay_.field == text_field::content
                               ? bytes.find("\"content\"") != std::string_view::npos ||
                                     bytes.find("\"text\"") != std::string_view::npos
                               : bytes.find("\"reasoning_content\"") != std::string_view::npos;
    if (has_error || sets_text) {
        suffix_.valid = false;
        return;
    }
    suffix_.bytes.assign(bytes);
    suffix_.other_text = replay_.field == text_field::content ? out.reasoning_content : out.content;
    suffix_.role = out.role;
    // Spelled out only when it is a finish ("null" is DashScope's way of saying none, every frame).
    if (parse_finish_reason(out.finish_reason_text) == finish_reason::none)
        suffix_.finish_reason_text.clear();
    else
        suffix_.finish_reason_text = out.finish_reason_text;
    suffix_.model = out.model;
    suffix_.response_id = out.response_id;
    suffix_.request_id = out.request_id;
    suffix_.identity_same_at = replay_suffix::never;
    suffix_.tool_calls = out.tool_calls;
    suffix_.usage = out.usage;
    suffix_.native_usage_written = native_usage_written_;
    settle_native_usage();  // before the count slots are replaced
    if (native_usage_written_) suffix_.native_usage = native_usage_;
    // One usage object, read after the text (the prefix reads none): a hole in the comparison.
    suffix_.usage_hole = native_usage_read_.count == 1;
    suffix_.fixed_mask.clear();
    suffix_.count_words = {};
    suffix_.padding_hole = false;
    if (dialect_ == api_dialect::openai_compatible) {
        constexpr std::string_view key = ",\"obfuscation\":\"";
        const std::size_t at = bytes.size() >= 2 && bytes.ends_with("\"}") ? bytes.rfind(key, bytes.size() - 2) : std::string_view::npos;
        if (at != std::string_view::npos && is_padding(bytes.substr(at + key.size(), bytes.size() - 2 - at - key.size()))) {
            suffix_.padding_hole = true;
            suffix_.padding_begin = at + key.size();
        }
    }
    if (suffix_.usage_hole) {
        suffix_.usage_begin = native_usage_read_.begin - text_end;
        suffix_.usage_end = native_usage_read_.end - text_end;
        suffix_.usage_depth = native_usage_read_.depth;
        suffix_.layout = native_usage_read_.layout;
        for (std::size_t i = 0; i < suffix_.layout.count; ++i) {
            suffix_.layout.slots[i].begin -= text_end;
            suffix_.layout.slots[i].end -= text_end;
        }
        mask_fixed_bytes(suffix_);
    }
    suffix_.valid = true;
}

// The template of whole_event_replay (see whole_event_replay.hpp).
void whole_event_replay::learn(std::string_view type, std::string_view prefix, std::string_view suffix,
                               const text_delta_span& span, cursor_buffer& buffer) {
    valid_ = false;
    // One `event:` line and one `data:` line parse back to this type and data only when neither
    // holds a line end (data of several lines arrives joined by LF).
    const auto one_line = [](std::string_view s) {  // (find_first_of would call memchr per byte; an empty view may hold null)
        return s.empty() || (std::memchr(s.data(), '\n', s.size()) == nullptr && std::memchr(s.data(), '\r', s.size()) == nullptr);
    };
    if (!one_line(type) || !one_line(prefix) || !one_line(suffix)) return;
    head_.clear();
    if (!type.empty()) head_.append("event: ").append(type).append("\n");  // empty: no `event:` line (chat chunks)
    head_.append("data: ");
    const std::size_t data_at = head_.size();
    head_.append(prefix);
    head_hole_count_ = std::min(span.hole_count, max_holes);
    for (std::size_t h = 0; h < head_hole_count_; ++h)
        head_holes_[h] = {data_at + span.holes[h].begin, data_at + span.holes[h].end};
    tail_.assign(suffix).append("\n\n");
    tail_hole_count_ = 0;
    if (span.key_matters != nullptr) {
        // Members after the text that mean nothing: their string values are holes.
        json_cursor c(buffer, suffix);
        c.resume_at(0, 1);
        std::string_view key;
        while (c.next_field(key)) {
            if (!span.key_matters(key) && tail_hole_count_ < max_holes && c.peek() == json_kind::string) {
                const std::size_t open = c.offset();
                if (!c.skip()) return;
                tail_holes_[tail_hole_count_++] = {open + 1, c.offset() - 1};
            } else if (!c.skip()) {
                return;
            }
        }
        if (c.failed() || !c.at_end()) return;
    }
    reasoning_ = span.reasoning;
    valid_ = true;
}

}  // namespace llmstream::protocol

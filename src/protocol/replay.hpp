// Prefix replay: the speed layer of the chat-completions and DashScope-native decoders. Streamed
// events repeat the same bytes around their text; an event that starts (and ends) like the last
// one is read from its text on, with what the repeated bytes set restored. The dialects' readers
// (dialects/chat_completions.hpp, dialects/dashscope_native.hpp) know nothing of it but two hooks:
// replay_marker::text_starts ("the text starts here") and usage_recorder ("a usage object is
// here"). The replay algorithm itself is stream_decoder's (replay.cpp); the typed-event dialects'
// text deltas have their own form (text_event_replay below), and whole_event_replay.hpp takes a
// whole text delta (typed, or a chat chunk) from its bytes before the SSE parser reads its lines.
// The safety nets are tests/unit/prefix_replay_test.cpp and the fuzz differential (delta's
// operator==, replay on/off).
#pragma once

#include "json_access.hpp"

#include <llmstream/events.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::protocol {

enum class text_field : unsigned char { content, reasoning };

/// Whether `digits` ASCII digits at `first` are an integer token a full read takes as a count or a
/// hole: at most 18 digits, no leading zero (the caller has found the digits).
inline bool is_count_token(const char* first, std::size_t digits) noexcept {
    return digits != 0 && digits <= 18 && (*first != '0' || digits == 1);
}

/// Whether `c` may be in a string hole's value (padding): ASCII from space on, no quote or
/// backslash, so that a full read skips any string of such bytes the same way.
inline bool is_padding_byte(char c) noexcept {
    return c != '"' && c != '\\' && static_cast<unsigned char>(c - 0x20) < 0x60;
}
inline bool is_padding(std::string_view v) noexcept { return std::all_of(v.begin(), v.end(), is_padding_byte); }

/// Prefix replay. Streamed events repeat the same bytes up to their text: OpenAI-compatible
/// `{"id":...,"model":...,"choices":[{"index":0,"delta":{"content":"` and DashScope native
/// `{"output":{"choices":[{"message":{"content":"`. Reading JSON left to right, the reader's
/// state where the text starts depends only on the bytes before it; so an event that starts
/// with the same bytes as the last one decoded in full is read from its text value on, with
/// the fields the prefix held restored. What that prefix held is kept here.
struct replay_state {
    bool valid = false;
    std::string prefix;  ///< the event's bytes up to and including the text value's opening quote
    int depth = 0;       ///< containers open at that point
    text_field field = text_field::content;
    // What the prefix set (nothing else may have been set for the prefix to be replayable).
    std::string role, model, response_id, request_id;
};

/// Where the counts of a usage object lie in its bytes: `{"total_tokens":30,"output_tokens":1}`
/// is fixed text with integer slots. Recorded when the object holds integer counts and nothing
/// else; then another object with the same fixed text sets the same fields from its slots.
struct usage_layout {
    struct slot {
        std::size_t begin = 0, end = 0;  ///< the integer's bytes
        std::int64_t llmstream::usage::*field = nullptr;
        bool operator==(const slot&) const = default;
    };
    static constexpr std::size_t max_slots = 8;
    std::array<slot, max_slots> slots{};
    std::size_t count = 0;
    bool usable = true;
};

/// The second half of prefix replay: what follows an event's text is usually the same bytes
/// too (`"},"logprobs":null,"finish_reason":null}]}`). The reader's state after the text depends
/// only on the prefix (so this is kept per prefix and dropped with it), and what those bytes set
/// does not depend on the text unless they set the text's own field again (such suffixes are
/// never kept). So an event whose bytes after the text equal these takes the fields they set.
struct replay_suffix {
    bool valid = false;
    std::string bytes;  ///< after the text value's closing quote, to the end of the event
    // The event's fields other than its text, as the whole event left them.
    std::string other_text;  ///< reasoning_content when the text is content, and the other way round
    std::string role, finish_reason_text, model, response_id, request_id;
    /// The decoder's identity_changes_ when role, model, response_id and request_id were last
    /// found empty or equal to the ones last handed out (never: not since this suffix was kept).
    static constexpr std::uint64_t never = ~std::uint64_t{0};
    std::uint64_t identity_same_at = never;
    std::vector<tool_call_delta> tool_calls;
    std::optional<llmstream::usage> usage;
    bool native_usage_written = false;
    std::optional<llmstream::usage> native_usage;
    // DashScope's running usage changes every frame: when the suffix read exactly one usage
    // object (nothing else writes the running count), its bytes are a hole in the comparison,
    // [usage_begin, usage_end) of `bytes`, read afresh each time.
    bool usage_hole = false;
    std::size_t usage_begin = 0, usage_end = 0;
    int usage_depth = 0;
    usage_layout layout;  ///< slots relative to `bytes`; usable when the object is counts only
    /// With a usable layout: 0xFF for each byte of `bytes` outside the count slots, 0 inside, so
    /// that a suffix of the same length is compared in one pass (counts of the same widths).
    std::string fixed_mask;
    /// Per slot, for that pass: a count of up to 8 digits is read as the 8 bytes that end it.
    struct count_word {
        std::uint64_t digits = 0;  ///< which of those bytes are the count's (0: read it digit by digit)
        std::uint64_t last = 0;    ///< the word last read there as a count, bytes before it made '0'
        std::uint64_t value = 0;   ///< when digits is 0: the count last read there
    };
    std::array<count_word, usage_layout::max_slots> count_words{};
    // OpenAI's chunks end with `,"obfuscation":"..."}`, padding of random length and letters that
    // means nothing (a member no reader reads): when `bytes` end so, the value passing is_padding,
    // the padding is a hole, [padding_begin, size - 2) of `bytes`, and any such value matches.
    bool padding_hole = false;
    std::size_t padding_begin = 0;
    int misses = 0;  ///< in a row: a stream whose suffix changes every time stops recording it
};

/// The hook of the dialects with typed events (Anthropic Messages, OpenAI Responses): after an
/// event whose meaning is its text alone (a text or reasoning delta), its reader says where that
/// text lay, which integers before it mean nothing (Responses' sequence_number), and whether the
/// members after it may be other ones that mean nothing too.
struct text_delta_span {
    std::size_t begin = 0, end = 0;  ///< the string's opening quote, and just past its closing quote
    bool reasoning = false;          ///< reasoning_content, not content: the field the text was read into, and the only one the event keeps
    struct hole {
        std::size_t begin = 0, end = 0;  ///< an integer's digits
    };
    std::array<hole, 2> holes{};
    std::size_t hole_count = 0;
    /// The text is a member of the event's top-level object, and members after it whose keys
    /// `key_matters` does not name leave the meaning alone (else the bytes after it must repeat).
    bool (*key_matters)(std::string_view key) = nullptr;
};

/// Prefix replay for the typed-event dialects: the bytes around the text of the last text delta
/// (text_delta_span). Another event of the same name whose bytes are the same before its text but
/// for the holes' integers, and the same after it (or members that do not matter), is that text.
struct text_event_replay {
    bool valid = false;
    std::string event_name;  ///< the SSE event name (the readers fall back to it for the type)
    std::string prefix;      ///< up to and including the text's opening quote
    std::string suffix;      ///< after its closing quote
    text_delta_span span;    ///< holes relative to `prefix`
};

/// The other hook: where the usage objects of the event being decoded lie (DashScope native's
/// running usage), so that a suffix holding one can be compared around it.
struct usage_recorder {
    int count = 0;
    std::size_t begin = 0, end = 0;  // cursor offsets of the last one
    int depth = 0;
    usage_layout layout;             // of the last one
    /// A usage object starts at the cursor; its counts are to be noted in the layout returned.
    usage_layout* begins(const json_cursor& c) noexcept {
        begin = c.offset();
        depth = c.depth();
        return &layout;
    }
    void ends(const json_cursor& c) noexcept {
        end = c.offset();
        ++count;
    }
};

// The hook a dialect's reader calls while an event is decoded in full: notes where its first
// text value starts (the first string value
// of the first choice's "content" or "reasoning_content") and whether what was read before it
// can be replayed: identity fields and role only.
struct replay_marker {
    replay_state& candidate;
    const delta& out;
    const provider_error& error;
    const bool& has_error;
    const bool& native_usage_written;
    bool marked = false;
    bool replayable = false;
    std::size_t offset = 0;

    /// The hook the readers call: the first choice's text value starts here (at the cursor).
    void text_starts(json_cursor& c, text_field f) {
        if (marked || c.peek() != json_kind::string) return;
        marked = true;
        replayable = !has_error && !native_usage_written && error.code.empty() && error.message.empty() &&
                     error.type.empty() && error.request_id.empty() && out.content.empty() &&
                     out.reasoning_content.empty() && out.tool_calls.empty() && out.finish_reason_text.empty() &&
                     !out.usage;
        if (!replayable) return;
        candidate.depth = c.depth();
        candidate.field = f;
        offset = c.offset();  // at the opening quote
        candidate.role = out.role;
        candidate.model = out.model;
        candidate.response_id = out.response_id;
        candidate.request_id = out.request_id;
    }
};

// ---- byte matching for suffix replay (replay.cpp) ----------------------------------------------

constexpr std::uint64_t ascii_zeros = 0x3030'3030'3030'3030ULL;  // '0' in each byte


// Whether bytes [begin, end) of `text` are a count as a full read takes it: an integer token of
// at most 18 digits, with no sign and no leading zero. Its value into `value`.
bool read_count_bytes(const char* text, std::size_t begin, std::size_t end, std::uint64_t& value) noexcept;


// The same for a count of up to 8 digits held in `word`, 8 bytes read as a little-endian integer
// whose top bytes (selected by `digits`) are the count's and whose other bytes are '0'. Its
// value is count_of_word(word).
[[gnu::always_inline]] inline bool is_count_word(std::uint64_t word, std::uint64_t digits) noexcept {
    constexpr std::uint64_t high_nibbles = 0xF0F0'F0F0'F0F0'F0F0ULL;
    // Digits: every byte 0x30-0x39, that is 0x3_ before and after adding 6 (no carry out of a 0x3_).
    if ((word & high_nibbles) != ascii_zeros || ((word + 0x0606'0606'0606'0606ULL) & high_nibbles) != ascii_zeros)
        return false;
    // A leading zero: the count's first byte is '0' and another follows.
    const int first = std::countr_zero(digits);
    return first >= 56 || ((word >> first) & 0xFF) != '0';
}

std::uint64_t count_of_word(std::uint64_t word) noexcept;


// The 8 bytes of `text` that end at `end` as a little-endian word, those outside `digits` made '0'.
[[gnu::always_inline]] inline std::uint64_t count_word_at(const char* text, std::size_t end, std::uint64_t digits) noexcept {
    std::uint64_t word;
    std::memcpy(&word, text + end - 8, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    return (word & digits) | (ascii_zeros & ~digits);
}

/// The suffix's fixed_mask and count_words, from its bytes and usage slots.
void mask_fixed_bytes(replay_suffix& suffix);

/// Whether a[i] == b[i] wherever mask[i] is 0xFF (mask bytes are 0 or 0xFF), for i < n; n >= 16.
bool equal_under_mask(const char* a, const char* b, const char* mask, std::size_t n) noexcept;

}  // namespace llmstream::protocol

#include "stream_decoder.hpp"

#include "error_classifier.hpp"
#include "vendor.hpp"

#include <llmstream/error.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <utility>

namespace llmstream::protocol {

// Decoding an event in full, notes where its first text value starts (the first string value
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

    void mark(json_cursor& c, text_field f) {
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

namespace {

// Keys are compared raw (escapes undecoded): providers never escape the keys we look for.

bool read_count(json_cursor& c, std::int64_t& out) {
    if (c.take_null()) {
        out = 0;
        return true;
    }
    return c.read_int64(out);
}

bool read_optional_count(json_cursor& c, std::optional<std::int64_t>& out) {
    if (c.take_null()) return true;
    return c.read_int64(out.emplace());
}

// {"<name>": n, ...}: reads the one count asked for, skips the rest.
bool read_detail(json_cursor& c, std::string_view name, std::optional<std::int64_t>& out) {
    if (c.take_null()) return true;
    if (!c.enter_object()) return false;
    std::string_view key;
    while (c.next_field(key))
        if (!(key == name ? read_optional_count(c, out) : c.skip())) return false;
    return !c.failed();
}

// A count into `out.*field`, noting in `layout` (when given) where an integer count lies.
bool read_count_at(json_cursor& c, usage& out, std::int64_t usage::*field, usage_layout* layout) {
    if (!layout) return read_count(c, out.*field);
    if (c.peek() != json_kind::number || layout->count == usage_layout::max_slots) {
        layout->usable = false;
        return read_count(c, out.*field);
    }
    usage_layout::slot& s = layout->slots[layout->count++];
    s.begin = c.offset();
    s.field = field;
    const bool ok = c.read_int64(out.*field);
    s.end = c.offset();
    return ok;
}

constexpr std::uint64_t ascii_zeros = 0x3030'3030'3030'3030ULL;  // '0' in each byte

// Whether bytes [begin, end) of `text` are a count as a full read takes it: an integer token of
// at most 18 digits, with no sign and no leading zero. Its value into `value`.
bool read_count_bytes(const char* text, std::size_t begin, std::size_t end, std::uint64_t& value) noexcept {
    const std::size_t digits = end - begin;
    if (digits == 0 || digits > 18 || (text[begin] == '0' && digits > 1)) return false;
    value = 0;
    for (std::size_t k = begin; k < end; ++k) {
        const unsigned d = static_cast<unsigned char>(text[k] - '0');
        if (d > 9) return false;
        value = value * 10 + d;
    }
    return true;
}

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

// The 8 bytes of `text` that end at `end` as a little-endian word, those outside `digits` made '0'.
[[gnu::always_inline]] inline std::uint64_t count_word_at(const char* text, std::size_t end, std::uint64_t digits) noexcept {
    std::uint64_t word;
    std::memcpy(&word, text + end - 8, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    return (word & digits) | (ascii_zeros & ~digits);
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

// The total when the object gave none, as both dialects' readers expect.
void derive_total(usage& u) noexcept {
    // A sum that does not fit (absurd counts from a hostile server) leaves the total unknown: 0.
    if (u.total_tokens == 0 && __builtin_add_overflow(u.input_tokens, u.output_tokens, &u.total_tokens)) u.total_tokens = 0;
}

// Usage keys of both dialects, told apart by length first (this runs for every DashScope frame).
// `layout`, when given, is told where the counts lie (usage_layout).
bool read_usage(json_cursor& c, usage& out, usage_layout* layout = nullptr) {
    out = {};
    if (layout) *layout = {};
    if (!c.enter_object()) return false;
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        const std::size_t slots_before = layout ? layout->count : 0;
        switch (key.size()) {
        case 12:  // input_tokens, total_tokens
            if (key == "input_tokens") ok = read_count_at(c, out, &usage::input_tokens, layout);
            else if (key == "total_tokens") ok = read_count_at(c, out, &usage::total_tokens, layout);
            else ok = c.skip();
            break;
        case 13:  // prompt_tokens, output_tokens
            if (key == "output_tokens") ok = read_count_at(c, out, &usage::output_tokens, layout);
            else if (key == "prompt_tokens") ok = read_count_at(c, out, &usage::input_tokens, layout);
            else ok = c.skip();
            break;
        case 17: ok = key == "completion_tokens" ? read_count_at(c, out, &usage::output_tokens, layout) : c.skip(); break;
        case 21:  // prompt_tokens_details, output_tokens_details
            if (key == "prompt_tokens_details") ok = read_detail(c, "cached_tokens", out.cached_tokens);
            else if (key == "output_tokens_details") ok = read_detail(c, "reasoning_tokens", out.reasoning_tokens);
            else ok = c.skip();
            break;
        case 25: ok = key == "completion_tokens_details" ? read_detail(c, "reasoning_tokens", out.reasoning_tokens) : c.skip(); break;
        default: ok = c.skip();
        }
        if (layout && layout->count == slots_before) layout->usable = false;  // not an integer count
        if (!ok) return false;
    }
    derive_total(out);
    return !c.failed();
}

bool read_function(json_cursor& c, tool_call_delta& t) {
    if (c.take_null()) return true;
    if (!c.enter_object()) return false;
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "name") ok = c.read_string_or_null(t.name);
        else if (key == "arguments") ok = c.read_string_or_null(t.arguments);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

bool read_tool_calls(json_cursor& c, delta& out) {
    if (c.take_null()) return true;
    if (!c.enter_array()) return false;
    int position = 0;
    while (c.next_element()) {
        tool_call_delta& t = out.tool_calls.emplace_back();
        t.index = position++;
        if (!c.enter_object()) return false;
        std::string_view key;
        while (c.next_field(key)) {
            bool ok;
            if (key == "index") {
                std::int64_t index = 0;
                ok = c.read_int64(index);
                if (ok && (index < 0 || index > 4096)) ok = c.fail();  // a hostile index must not size arrays
                t.index = static_cast<int>(index);
            } else if (key == "id") {
                ok = c.read_string_or_null(t.id);
            } else if (key == "function") {
                ok = read_function(c, t);
            } else {
                ok = c.skip();
            }
            if (!ok) return false;
        }
        if (c.failed()) return false;
    }
    return !c.failed();
}

// content: a string, null, or (multimodal replies) [{"text": "..."}, ...].
bool read_content(json_cursor& c, std::string& out) {
    if (c.peek() != json_kind::array) return c.read_string_or_null(out);
    out.clear();
    c.enter_array();
    while (c.next_element()) {
        if (!c.enter_object()) return false;
        std::string_view key;
        while (c.next_field(key)) {
            bool ok = key == "text" ? (c.take_null() || c.append_string(out)) : c.skip();
            if (!ok) return false;
        }
        if (c.failed()) return false;
    }
    return !c.failed();
}

// A "delta" (OpenAI stream) or "message" (native, non-streaming) object: both dialects share it.
// `hole` (first choice only) notes where its text value starts, for prefix replay.
bool read_message_fields(json_cursor& c, delta& out, replay_marker* hole) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "content") {
            if (hole) hole->mark(c, text_field::content);
            ok = read_content(c, out.content);
        } else if (key == "reasoning_content") {
            if (hole) hole->mark(c, text_field::reasoning);
            ok = c.read_string_or_null(out.reasoning_content);
        } else if (key == "role") {
            ok = c.read_string_or_null(out.role);
        } else if (key == "tool_calls") {
            ok = read_tool_calls(c, out);
        } else {
            ok = c.skip();
        }
        if (!ok) return false;
    }
    return !c.failed();
}

bool read_message(json_cursor& c, delta& out, replay_marker* hole) {
    if (c.take_null()) return true;
    if (!c.enter_object()) return false;
    return read_message_fields(c, out, hole);
}

// The members of the first choice.
bool read_choice_fields(json_cursor& c, delta& out, replay_marker* hole) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "delta" || key == "message") ok = read_message(c, out, hole);
        else if (key == "finish_reason") ok = c.read_string_or_null(out.finish_reason_text);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

// The choices after the first: n > 1 is not supported, they are skipped.
bool skip_other_choices(json_cursor& c) {
    while (c.next_element())
        if (!c.skip()) return false;
    return !c.failed();
}

// "choices": [...]: only the first choice is read.
bool read_choices(json_cursor& c, delta& out, replay_marker* hole) {
    if (c.take_null()) return true;
    if (!c.enter_array()) return false;
    if (!c.next_element()) return !c.failed();
    return c.enter_object() && read_choice_fields(c, out, hole) && skip_other_choices(c);
}

bool read_error_value(json_cursor& c, provider_error& e) {
    switch (c.peek()) {
    case json_kind::object: return c.enter_object() && read_error_members(c, e);
    case json_kind::string: return c.read_string(e.message);
    default: return c.skip();
    }
}

const char* dialect_label(api_dialect d) {
    switch (d) {
    case api_dialect::openai_compatible: return "OpenAI-compatible";
    case api_dialect::dashscope_native: return "DashScope";
    case api_dialect::anthropic_messages: return "Anthropic Messages";
    case api_dialect::openai_responses: return "OpenAI Responses";
    }
    return "provider";
}

void fill_malformed(diagnostics& diag, api_dialect dialect) {
    diag.clear_last_attempt();
    diag.hint = std::string("the stream carried an event that is not valid ") + dialect_label(dialect) +
                " JSON: check the base URL and the API dialect";
}

bool has_typed_events(api_dialect d) {
    return d == api_dialect::anthropic_messages || d == api_dialect::openai_responses;
}

// An error the provider reported in a body or event, with `status` (200 when it came in a 2xx
// body or stream without a status of its own).
boost::system::error_code report_error(vendor v, int status, int classify_status, const provider_error& e,
                                       diagnostics& diag) {
    diag.clear_last_attempt();
    diag.http_status = status;
    const std::string& code = e.code.empty() ? e.type : e.code;
    set_provider_text(diag.provider_code, code);
    set_provider_text(diag.provider_message, e.message);
    set_provider_text(diag.request_id, e.request_id);
    const vendor speaker = vendor_for_error(v, e);
    const api_errc c = classify_error(speaker, classify_status, code, e.type, e.message);
    diag.hint = hint_for(speaker, c, code);
    return c;
}

}  // namespace

finish_reason parse_finish_reason(std::string_view text) noexcept {
    if (text.empty() || text == "null") return finish_reason::none;
    if (text == "stop") return finish_reason::stop;
    if (text == "length") return finish_reason::length;
    if (text == "tool_calls" || text == "function_call") return finish_reason::tool_calls;
    if (text == "content_filter") return finish_reason::content_filter;
    return finish_reason::other;
}

stream_decoder::stream_decoder(api_dialect dialect, vendor v, bool cumulative_output)
    : dialect_(dialect), vendor_(v), cumulative_(cumulative_output) {}

void stream_decoder::reset() {
    comment_status_ = 0;
    last_role_.clear();
    last_model_.clear();
    last_response_id_.clear();
    last_request_id_.clear();
    ++identity_changes_;
    done_ = false;
    finish_seen_ = false;
    native_usage_.reset();
    native_usage_in_slots_ = false;
    replay_.valid = false;
    suffix_.valid = false;
    suffix_.misses = 0;
    replayed_ = 0;
    replayed_suffixes_ = 0;
    seen_content_.clear();
    seen_reasoning_.clear();
    seen_arguments_.clear();
    anthropic_.reset();
    responses_.reset();
}

// A comment other than `HTTP_STATUS/` and three digits (on_comment's inline case).
void stream_decoder::on_other_comment(std::string_view text) noexcept {
    constexpr std::string_view prefix = "HTTP_STATUS/";
    if (text.substr(0, prefix.size()) != prefix) return;
    text.remove_prefix(prefix.size());
    int status = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), status);
    if (ec == std::errc{} && status >= 100 && status <= 599) comment_status_ = status;
}

boost::system::error_code stream_decoder::in_stream_error(const provider_error& e, diagnostics& diag) const {
    return report_error(vendor_, comment_status_ != 0 ? comment_status_ : 200, comment_status_, e, diag);
}

[[gnu::always_inline]] inline void stream_decoder::clear_error() noexcept {
    if (!error_written_) return;  // only error events and the few frames with "code"/"message" write it
    error_.code.clear();  // keeps the strings' buffers (error_ = {} would not)
    error_.message.clear();
    error_.type.clear();
    error_.request_id.clear();
    error_written_ = false;
}

// Identity fields and the role repeat in every chunk (DashScope sends role "assistant" in every
// frame); a delta carries them only when they first appear or change, so that streaming does not
// copy them per event.
[[gnu::always_inline]] inline void stream_decoder::hand_out_identity(delta& out) {
    auto once = [this](std::string& field, std::string& last) {
        if (field.empty()) return;
        if (field == last) {
            field.clear();
        } else {
            last = field;
            ++identity_changes_;
        }
    };
    once(out.role, last_role_);
    once(out.model, last_model_);
    once(out.response_id, last_response_id_);
    once(out.request_id, last_request_id_);
}

// Anthropic Messages and OpenAI Responses: each event says what it is; the dialect's reader
// turns it into a delta.
boost::system::error_code stream_decoder::on_typed_event(const sse::event& ev, delta& out, diagnostics& diag) {
    clear_error();
    bool has_error = false;
    json_cursor c(buffer_, ev.data);
    const bool ok = (dialect_ == api_dialect::anthropic_messages
                         ? anthropic_.read(c, ev.type, out, written_error(), has_error)
                         : responses_.read(c, ev.type, out, written_error(), has_error)) &&
                    c.at_end();
    if (!ok) {
        out.clear();
        fill_malformed(diag, dialect_);
        return errc::malformed_response;
    }
    if (has_error) {
        out.clear();
        return in_stream_error(error_, diag);
    }
    hand_out_identity(out);
    if (out.finish != finish_reason::none) finish_seen_ = true;
    if (anthropic_.finished() || responses_.finished()) done_ = true;
    return {};
}

boost::system::error_code stream_decoder::on_event(const sse::event& ev, delta& out, diagnostics& diag) {
    out.clear();
    if (done_) return {};  // nothing after [DONE] is part of the response
    const std::string_view data = ev.data;
    if (dialect_ != api_dialect::dashscope_native && dialect_ != api_dialect::anthropic_messages && data == "[DONE]") {
        done_ = true;
        return {};
    }
    if ((data.empty() || data.front() != '{') && data.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};  // keep-alive

    if (has_typed_events(dialect_)) return on_typed_event(ev, out, diag);
    clear_error();
    native_usage_written_ = false;
    native_usage_read_.count = 0;
    bool has_error = false;
    bool ok;
    if (ev.type == "error") {  // DashScope: event:error, :HTTP_STATUS/NNN, data:{"code":...}
        replay_.valid = false;
        json_cursor c(buffer_, data);
        ok = c.enter_object() && read_error_members(c, written_error()) && c.at_end();
        has_error = true;
    } else if (replay_.valid && data.size() > replay_.prefix.size() &&
               std::memcmp(data.data(), replay_.prefix.data(), replay_.prefix.size()) == 0) {
        ok = replay_event(data, out, has_error);
        ++replayed_;
    } else {
        json_cursor c(buffer_, data);
        ok = decode_event(c, data, out, has_error);
    }
    if (!ok) {
        out.clear();
        fill_malformed(diag, dialect_);
        return errc::malformed_response;
    }
    if (has_error) {
        if (error_.request_id.empty()) written_error().request_id = out.request_id;
        out.clear();
        return in_stream_error(error_, diag);
    }
    hand_out_identity(out);
    out.finish = out.finish_reason_text.empty() ? finish_reason::none : parse_finish_reason(out.finish_reason_text);
    if (out.finish == finish_reason::none) {
        out.finish_reason_text.clear();
    } else {
        finish_seen_ = true;
        // Usage in native frames is a running count: hand it out once, with the final frame.
        if (dialect_ == api_dialect::dashscope_native) {
            settle_native_usage();
            out.usage = native_usage_;
        }
    }
    if (cumulative_) return make_cumulative_incremental(out, diag);
    return {};
}

// Decodes an event in full and, when it can be replayed, remembers its prefix for the next one.
bool stream_decoder::decode_event(json_cursor& c, std::string_view data, delta& out, bool& has_error) {
    replay_marker hole{replay_candidate_, out, error_, has_error, native_usage_written_};
    replay_marker* marker = replay_enabled_ ? &hole : nullptr;
    const bool ok = c.enter_object() &&
                    (dialect_ == api_dialect::openai_compatible ? openai_fields(c, out, has_error, marker)
                                                                : native_fields(c, out, has_error, marker)) &&
                    c.at_end();
    if (!replay_enabled_) return ok;
    if (ok && !has_error && hole.marked && hole.replayable) {
        replay_candidate_.prefix.assign(data.data(), hole.offset + 1);
        replay_candidate_.valid = true;
        std::swap(replay_, replay_candidate_);
        suffix_.valid = false;  // it belonged to the old prefix
        suffix_.misses = 0;
    } else if (!ok || has_error) {
        replay_.valid = false;
    }
    return ok;
}

// The event starts with the bytes of replay_.prefix: restore what they set, read the text
// value and everything after it exactly as decode_event would have.
bool stream_decoder::replay_event(std::string_view data, delta& out, bool& has_error) {
    const std::size_t quote = replay_.prefix.size() - 1;
    const std::string_view doc = data.substr(quote);  // from the text's opening quote on
    std::string& text = replay_.field == text_field::content ? out.content : out.reasoning_content;
    // The text is read in place: only an event read on past it needs the padded copy.
    text.clear();
    const auto in_place = json_cursor::read_string_in_place(doc, buffer_.scratch_for(doc.size()), text);
    std::size_t text_end = in_place.end;
    if (in_place.outcome == json_cursor::in_place_string::malformed) {
        replay_.valid = false;
        return false;
    }
    if (in_place.outcome == json_cursor::in_place_string::near_end) {
        json_cursor c(buffer_, doc);
        c.resume_at(0, replay_.depth);
        if (!c.read_string(text)) {
            replay_.valid = false;
            return false;
        }
        text_end = c.offset();
    }
    const std::string_view rest = doc.substr(text_end);
    if (suffix_.valid && replay_suffix_bytes(doc, text_end, rest)) {
        ++replayed_suffixes_;
        suffix_.misses = 0;
        // `out` was cleared by on_event and only the text written since: empty fields stay as they are.
        if (!suffix_.other_text.empty())
            (replay_.field == text_field::content ? out.reasoning_content : out.content) = suffix_.other_text;
        if (!suffix_.finish_reason_text.empty()) out.finish_reason_text = suffix_.finish_reason_text;
        // Nothing writes these after this point: one empty or equal to the last handed out would
        // only be emptied again by on_event. Once all four are, they stay so until one of those changes.
        if (suffix_.identity_same_at != identity_changes_) {
            const auto same = [](const std::string& kept, const std::string& last) { return kept.empty() || kept == last; };
            const bool same_role = same(suffix_.role, last_role_);
            const bool same_model = same(suffix_.model, last_model_);
            const bool same_response_id = same(suffix_.response_id, last_response_id_);
            const bool same_request_id = same(suffix_.request_id, last_request_id_);
            if (!same_role) out.role = suffix_.role;
            if (!same_model) out.model = suffix_.model;
            if (!same_response_id) out.response_id = suffix_.response_id;
            if (!same_request_id) out.request_id = suffix_.request_id;
            if (same_role && same_model && same_response_id && same_request_id) suffix_.identity_same_at = identity_changes_;
        }
        if (!suffix_.tool_calls.empty()) out.tool_calls = suffix_.tool_calls;
        out.usage = suffix_.usage;
        if (suffix_.native_usage_written && !suffix_.usage_hole) {
            native_usage_written_ = true;
            native_usage_in_slots_ = false;
            native_usage_ = suffix_.native_usage;
        }
        return true;
    }
    json_cursor c(buffer_, doc);
    c.resume_at(text_end, replay_.depth);
    out.role = replay_.role;
    out.model = replay_.model;
    out.response_id = replay_.response_id;
    out.request_id = replay_.request_id;
    const bool ok = read_message_fields(c, out, nullptr) && read_choice_fields(c, out, nullptr) &&
                    skip_other_choices(c) &&
                    (dialect_ == api_dialect::openai_compatible
                         ? openai_fields(c, out, has_error, nullptr)
                         : native_output_fields(c, out, nullptr) && native_fields(c, out, has_error, nullptr)) &&
                    c.at_end();
    if (!ok || has_error) {
        replay_.valid = false;
        suffix_.valid = false;
        return ok;
    }
    remember_suffix(rest, text_end, out, has_error);
    return ok;
}

// Whether `rest` (the event after its text, which ended at `text_end` of `doc`) equals the kept
// suffix; across a usage hole, the usage read there becomes the running count, as a full read
// of the same bytes would make it. On false nothing was changed.
[[gnu::always_inline]] inline bool stream_decoder::replay_suffix_bytes(std::string_view doc, std::size_t text_end,
                                                                     std::string_view rest) {
    if (!suffix_.usage_hole) return rest == std::string_view(suffix_.bytes);
    if (suffix_.layout.usable && (match_kept_widths(rest) || match_usage_slots(rest))) return true;
    return read_usage_hole(doc, text_end, rest);
}

// replay_suffix_bytes when the counts could not be matched in place: the usage object is read.
bool stream_decoder::read_usage_hole(std::string_view doc, std::size_t text_end, std::string_view rest) {
    const std::string_view kept = suffix_.bytes;
    const std::size_t begin = suffix_.usage_begin;
    if (rest.substr(0, begin) != kept.substr(0, begin)) return false;
    json_cursor c(buffer_, doc);
    c.resume_at(text_end + begin, suffix_.usage_depth);
    usage fresh;
    if (!read_usage(c, fresh)) return false;  // the full read that follows fails alike
    if (rest.substr(c.offset() - text_end) != kept.substr(suffix_.usage_end)) return false;
    native_usage_written_ = true;
    native_usage_in_slots_ = false;
    native_usage_ = fresh;
    return true;
}

// The fast way across the usage hole: `rest` is the kept suffix with other integers in the
// usage object's count slots. A full read of such bytes reads the same keys in the same order,
// each an integer token, so it sets exactly these counts.
// Counts of the kept widths, the usual case: the fixed bytes are compared in one pass, and each
// slot holds a count when its bytes are digits with no leading zero. The counts are worked out
// only when the usage is handed out (settle_native_usage). Inline: every DashScope frame.
[[gnu::always_inline]] inline bool stream_decoder::match_kept_widths(std::string_view rest) {
    const std::size_t kept_size = suffix_.bytes.size();
    const usage_layout& layout = suffix_.layout;
    if (rest.size() != kept_size || suffix_.fixed_mask.size() != kept_size ||
        !equal_under_mask(rest.data(), suffix_.bytes.data(), suffix_.fixed_mask.data(), kept_size))
        return false;
    std::array<std::uint64_t, usage_layout::max_slots> read;  // words, or counts read by bytes
    for (std::size_t i = 0; i < layout.count; ++i) {
        const usage_layout::slot& s = layout.slots[i];
        const replay_suffix::count_word& w = suffix_.count_words[i];
        if (w.digits != 0) {
            read[i] = count_word_at(rest.data(), s.end, w.digits);
            if (read[i] != w.last && !is_count_word(read[i], w.digits)) return false;  // equal: the prompt's count, say
        } else if (!read_count_bytes(rest.data(), s.begin, s.end, read[i])) {
            return false;
        }
    }
    for (std::size_t i = 0; i < layout.count; ++i) {
        replay_suffix::count_word& w = suffix_.count_words[i];
        (w.digits != 0 ? w.last : w.value) = read[i];
    }
    native_usage_written_ = true;
    native_usage_in_slots_ = true;
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
        const auto digits = r - first;
        if (digits == 0 || digits > 18 || (*first == '0' && digits > 1)) return false;
        fresh.*s.field = static_cast<std::int64_t>(value);
        from = s.end;
        moved[i].begin = static_cast<std::size_t>(first - rest.data());
        moved[i].end = static_cast<std::size_t>(r - rest.data());
    }
    const std::size_t tail = kept_size - from;
    if (static_cast<std::size_t>(end - r) != tail || std::memcmp(r, kept + from, tail) != 0) return false;
    derive_total(fresh);
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

// The running usage of the frames match_kept_widths took, from the words in the count slots.
void stream_decoder::settle_native_usage() noexcept {
    if (!native_usage_in_slots_) return;
    native_usage_in_slots_ = false;
    usage fresh;
    for (std::size_t i = 0; i < suffix_.layout.count; ++i) {
        const replay_suffix::count_word& w = suffix_.count_words[i];
        fresh.*suffix_.layout.slots[i].field = static_cast<std::int64_t>(w.digits != 0 ? count_of_word(w.last) : w.value);
    }
    derive_total(fresh);
    native_usage_ = fresh;
}

void stream_decoder::remember_suffix(std::string_view bytes, std::size_t text_end, const delta& out, bool has_error) {
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

bool stream_decoder::openai_fields(json_cursor& c, delta& out, bool& has_error, replay_marker* hole) {
    // DashScope's compatible endpoint can also send native error frames after a 200:
    // {"code":"Throttling.RateQuota","message":"...","request_id":"..."}.
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "choices") ok = read_choices(c, out, hole);
        else if (key == "usage") ok = c.take_null() || read_usage(c, out.usage.emplace());
        else if (key == "id") ok = c.read_string_or_null(out.response_id);
        else if (key == "model") ok = c.read_string_or_null(out.model);
        else if (key == "request_id") ok = c.read_string_or_null(out.request_id);
        else if (key == "error") {
            has_error = c.peek() != json_kind::null;
            ok = read_error_value(c, written_error());
        } else if (key == "code") {
            ok = read_text_value(c, written_error().code);
            has_error = has_error || !error_.code.empty();
        } else if (key == "message") ok = read_text_value(c, written_error().message);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

bool stream_decoder::native_output_fields(json_cursor& c, delta& out, replay_marker* hole) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "choices") ok = read_choices(c, out, hole);
        else if (key == "text") ok = c.read_string_or_null(out.content);  // result_format "text"
        else if (key == "finish_reason") ok = c.read_string_or_null(out.finish_reason_text);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

bool stream_decoder::native_fields(json_cursor& c, delta& out, bool& has_error, replay_marker* hole) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "output") {
            ok = c.take_null() || (c.enter_object() && native_output_fields(c, out, hole));
        } else if (key == "usage") {
            // null leaves the running count as it was: only an object writes it.
            if (c.take_null()) {
                ok = true;
            } else {
                native_usage_written_ = true;
                native_usage_in_slots_ = false;
                native_usage_read_.begin = c.offset();
                native_usage_read_.depth = c.depth();
                ok = read_usage(c, native_usage_.emplace(), &native_usage_read_.layout);
                native_usage_read_.end = c.offset();
                ++native_usage_read_.count;
            }
        } else if (key == "request_id") {
            ok = c.read_string_or_null(out.request_id);
        } else if (key == "code") {  // an error frame without event:error
            ok = read_text_value(c, written_error().code);
            has_error = has_error || !error_.code.empty();
        } else if (key == "message") {
            ok = read_text_value(c, written_error().message);
        } else {
            ok = c.skip();
        }
        if (!ok) return false;
    }
    return !c.failed();
}

boost::system::error_code stream_decoder::make_cumulative_incremental(delta& out, diagnostics& diag) {
    bool rewritten = false;
    auto new_part = [&](std::string& whole, std::string& seen) {
        if (whole.empty()) return;  // a frame without this field repeats nothing
        if (whole.size() < seen.size() || whole.compare(0, seen.size(), seen) != 0) {
            rewritten = true;
            return;
        }
        const std::size_t old = seen.size();
        seen.append(whole, old);
        whole.erase(0, old);
    };
    new_part(out.content, seen_content_);
    new_part(out.reasoning_content, seen_reasoning_);
    for (auto& t : out.tool_calls) {
        if (seen_arguments_.size() <= static_cast<std::size_t>(t.index)) seen_arguments_.resize(t.index + 1);
        new_part(t.arguments, seen_arguments_[t.index]);
    }
    if (!rewritten) return {};
    diag.clear_last_attempt();
    diag.hint = "with incremental_output=false each frame must extend the text of the previous one, "
                "but this one rewrote it; request incremental_output=true";
    out.clear();
    return errc::malformed_response;
}

boost::system::error_code stream_decoder::on_end_of_stream(diagnostics& diag) const {
    if (done()) return {};
    diag.clear_last_attempt();
    switch (dialect_) {
    case api_dialect::openai_compatible:
        diag.hint = "the stream ended before [DONE] or a finish_reason: the connection was cut off";
        break;
    case api_dialect::dashscope_native:
        diag.hint = "the stream ended before the frame with the final finish_reason: the connection was cut off";
        break;
    case api_dialect::anthropic_messages:
        diag.hint = "the stream ended before message_delta's stop_reason or message_stop: the connection was cut off";
        break;
    case api_dialect::openai_responses:
        diag.hint = "the stream ended before response.completed or response.incomplete: the connection was cut off";
        break;
    }
    return errc::truncated_stream;
}

boost::system::error_code decode_completion(api_dialect dialect, vendor v, int status, std::string_view body,
                                            completion& out, diagnostics& diag) {
    out = {};
    if (!sse::detail::is_valid_utf8(body)) {
        fill_malformed(diag, dialect);
        diag.hint = "the response body is not valid UTF-8: check the base URL and the API dialect";
        return errc::malformed_response;
    }
    if (has_typed_events(dialect)) {
        provider_error e;
        bool has_error = false;
        const bool ok = dialect == api_dialect::anthropic_messages
                            ? anthropic_messages::decode_completion(body, out, e, has_error)
                            : openai_responses::decode_completion(body, out, e, has_error);
        if (!ok) {
            out = {};
            fill_malformed(diag, dialect);
            diag.hint = std::string("the response body is not ") + dialect_label(dialect) +
                        " JSON: check the base URL and the API dialect";
            return errc::malformed_response;
        }
        if (!has_error) return {};
        out = {};
        if (status != 200) {
            response_head head;
            head.status = status;
            return decode_error_response(v, head, body, diag);
        }
        return report_error(v, 200, 0, e, diag);
    }
    stream_decoder decoder(dialect, v);
    delta d;
    const sse::event ev{"message", body, {}};
    if (auto ec = decoder.on_event(ev, d, diag)) {
        // A 2xx body with an error object is reported as that error, with the real status.
        if (ec.category() == api_category() && status != 200) {
            response_head head;
            head.status = status;
            return decode_error_response(v, head, body, diag);
        }
        return ec;
    }
    completion_accumulator acc;
    acc.add(d);
    out = acc.take();
    return {};
}

}  // namespace llmstream::protocol

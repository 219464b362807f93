// Turns the events of a streaming response into deltas, for every dialect. Sans-IO: fed by
// sse::parser, driven by whoever owns the bytes. Chat completions and DashScope native frames
// are read here, with prefix replay; Anthropic Messages and OpenAI Responses (typed events) by
// their readers in dialects/.
#pragma once

#include "json_access.hpp"
#include "dialects/anthropic_messages.hpp"
#include "dialects/openai_responses.hpp"

#include <llmstream/diagnostics.hpp>
#include <llmstream/events.hpp>
#include <llmstream/dialect.hpp>
#include <llmstream/sse.hpp>

#include <boost/system/error_code.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace llmstream::protocol {

enum class text_field : unsigned char { content, reasoning };

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
    int misses = 0;  ///< in a row: a stream whose suffix changes every time stops recording it
};

struct replay_marker;  // notes the replay point while an event is decoded in full

class stream_decoder {
public:
    /// `cumulative_output`: every frame repeats the whole text so far (DashScope native with
    /// `incremental_output: false`); the decoder hands out only the new part.
    stream_decoder(api_dialect dialect, vendor v, bool cumulative_output = false);

    /// Decodes one event into `out` (cleared first; left empty for [DONE], keep-alives and
    /// events after the end). Returns the in-stream error the server sent (with `diag` filled),
    /// or `errc::malformed_response`.
    boost::system::error_code on_event(const sse::event& ev, delta& out, diagnostics& diag);

    /// Comment lines: DashScope's `:HTTP_STATUS/429` gives the status of the error that follows.
    /// Inline for the comment of every DashScope frame, `HTTP_STATUS/` and three digits.
    void on_comment(std::string_view text) noexcept {
        const auto digit = [&](std::size_t i) { return static_cast<unsigned>(text[i] - '0'); };
        if (text.size() == 15 && std::memcmp(text.data(), "HTTP_STATUS/", 12) == 0 && digit(12) < 10 && digit(13) < 10 &&
            digit(14) < 10) {
            const int status = static_cast<int>(digit(12) * 100 + digit(13) * 10 + digit(14));
            if (status >= 100 && status <= 599) comment_status_ = status;
            return;
        }
        on_other_comment(text);
    }

    /// The response is complete: [DONE] (OpenAI-compatible), a final finish_reason, Anthropic's
    /// message_delta with a stop_reason, or a terminal Responses event.
    bool done() const noexcept { return done_ || finish_seen_; }

    /// Called at end of stream. `errc::truncated_stream` when the response was cut off.
    boost::system::error_code on_end_of_stream(diagnostics& diag) const;

    void reset();

    /// Prefix replay is on by default; off, every event is decoded in full (tests compare both).
    void set_prefix_replay(bool on) noexcept {
        replay_enabled_ = on;
        replay_.valid = false;
        suffix_.valid = false;
    }
    /// Events decoded by prefix replay since construction or reset(), and those of them whose
    /// suffix was replayed too (for tests and benchmarks).
    std::size_t replayed_events() const noexcept { return replayed_; }
    std::size_t replayed_suffixes() const noexcept { return replayed_suffixes_; }

private:
    boost::system::error_code on_typed_event(const sse::event& ev, delta& out, diagnostics& diag);
    void clear_error() noexcept;
    void hand_out_identity(delta& out);
    bool decode_event(json_cursor& c, std::string_view data, delta& out, bool& has_error);
    bool replay_event(std::string_view data, delta& out, bool& has_error);
    bool replay_suffix_bytes(std::string_view doc, std::size_t text_end, std::string_view rest);
    bool read_usage_hole(std::string_view doc, std::size_t text_end, std::string_view rest);
    void on_other_comment(std::string_view text) noexcept;
    bool match_kept_widths(std::string_view rest);
    bool match_usage_slots(std::string_view rest);
    void settle_native_usage() noexcept;
    void remember_suffix(std::string_view bytes, std::size_t text_end, const delta& out, bool has_error);
    bool openai_fields(json_cursor& c, delta& out, bool& has_error, replay_marker* hole);
    bool native_fields(json_cursor& c, delta& out, bool& has_error, replay_marker* hole);
    bool native_output_fields(json_cursor& c, delta& out, replay_marker* hole);
    boost::system::error_code in_stream_error(const provider_error& e, diagnostics& diag) const;
    boost::system::error_code make_cumulative_incremental(delta& out, diagnostics& diag);

    api_dialect dialect_;
    vendor vendor_;
    bool cumulative_;
    cursor_buffer buffer_;
    provider_error error_;
    bool error_written_ = false;  // since on_event last cleared error_
    provider_error& written_error() noexcept {
        error_written_ = true;
        return error_;
    }
    int comment_status_ = 0;
    bool done_ = false;
    bool finish_seen_ = false;
    std::optional<usage> native_usage_;
    // native_usage_ is stale: the running usage is in the kept suffix's count_words, as the last
    // frame matched in place (match_kept_widths) left them; settle_native_usage works it out.
    bool native_usage_in_slots_ = false;
    bool native_usage_written_ = false;  // a usage object was read in the event being decoded
    struct usage_read {                  // where the native usage objects of this event were
        int count = 0;
        std::size_t begin = 0, end = 0;  // cursor offsets of the last one
        int depth = 0;
        usage_layout layout;             // of the last one
    } native_usage_read_;
    bool replay_enabled_ = true;
    replay_state replay_, replay_candidate_;
    replay_suffix suffix_;
    std::size_t replayed_ = 0, replayed_suffixes_ = 0;
    std::string last_role_, last_model_, last_response_id_, last_request_id_;
    std::uint64_t identity_changes_ = 0;  // counts changes of the four above
    // Cumulative mode: the whole text handed out so far.
    std::string seen_content_;
    std::string seen_reasoning_;
    std::vector<std::string> seen_arguments_;
    // The dialects with typed events.
    anthropic_messages::stream_reader anthropic_;
    openai_responses::stream_reader responses_;
};

/// Decodes a non-streaming response body (status 2xx) into `out`. A body that is an error
/// object is decoded as the error it reports.
boost::system::error_code decode_completion(api_dialect dialect, vendor v, int status, std::string_view body,
                                            completion& out, diagnostics& diag);

finish_reason parse_finish_reason(std::string_view text) noexcept;

}  // namespace llmstream::protocol

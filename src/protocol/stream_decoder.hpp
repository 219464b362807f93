// Turns the events of a streaming response into deltas, for every dialect. Sans-IO: fed by
// sse::parser, driven by whoever owns the bytes. Chat completions and DashScope native frames
// are read here, with prefix replay; Anthropic Messages and OpenAI Responses (typed events) by
// their readers in dialects/.
#pragma once

#include "json_access.hpp"
#include "replay.hpp"
#include "whole_event_replay.hpp"
#include "dialects/chat_completions.hpp"
#include "dialects/dashscope_native.hpp"
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
        if (typed_) typed_->text_replay.valid = false;
        whole_event_.clear();
        suffix_.valid = false;
    }

    /// Whether replay_whole_event can ever take an event (prefix replay on; typed events, or chat
    /// completions but for cumulative output).
    bool replays_whole_events() const noexcept {
        return replay_enabled_ && (typed_ != nullptr || (dialect_ == api_dialect::openai_compatible && !cumulative_));
    }
    /// Whole-event replay (whole_event_replay.hpp): when `bytes`, at an event boundary, start with
    /// an event that is the template (the last typed text delta, or the last chat chunk replayed
    /// with its suffix that carried only text) but for its text and holes, decodes it into `out` as
    /// on_event would and returns its length; otherwise returns 0 and leaves `out` alone.
    std::size_t replay_whole_event(std::string_view bytes, delta& out) {
        if (done_ || !whole_event_.valid()) return 0;
        // A chat template hands out no identity field: a full read would again once one changed.
        if (!typed_ && whole_event_identity_at_ != identity_changes_) return 0;
        std::string_view text;
        const std::size_t length = whole_event_.match(bytes, text);
        if (length == 0) return 0;
        clear_error();
        out.clear();
        (whole_event_.reasoning() ? out.reasoning_content : out.content).append(text);  // cleared: append is the cheaper copy
        ++replayed_;
        ++replayed_whole_;
        return length;
    }
    /// Events decoded by prefix replay since construction or reset(), and those of them whose
    /// suffix was replayed too (for tests and benchmarks).
    std::size_t replayed_events() const noexcept { return replayed_; }
    std::size_t replayed_suffixes() const noexcept { return replayed_suffixes_; }
    std::size_t replayed_whole_events() const noexcept { return replayed_whole_; }

private:
    boost::system::error_code on_typed_event(const sse::event& ev, delta& out, diagnostics& diag);
    bool replay_text_event(std::string_view data, delta& out);
    void clear_error() noexcept {
        if (!error_written_) return;  // only error events and the few frames with "code"/"message" write it
        error_.code.clear();  // keeps the strings' buffers (error_ = {} would not)
        error_.message.clear();
        error_.type.clear();
        error_.request_id.clear();
        error_written_ = false;
    }
    void hand_out_identity(delta& out);
    bool decode_event(json_cursor& c, std::string_view data, delta& out, bool& has_error);
    bool replay_event(std::string_view data, delta& out, bool& has_error);
    bool replay_suffix_bytes(std::string_view doc, std::size_t text_end, std::string_view rest);
    bool same_but_padding(std::string_view rest) const noexcept;
    bool read_usage_hole(std::string_view doc, std::size_t text_end, std::string_view rest);
    void on_other_comment(std::string_view text) noexcept;
    bool match_kept_widths(std::string_view rest);
    bool match_usage_slots(std::string_view rest);
    void settle_native_usage() noexcept;
    void remember_suffix(std::string_view bytes, std::size_t text_end, const delta& out, bool has_error);
    void learn_whole_chat_event(const delta& out);
    // What the dialects' readers write besides the delta: the event's error, DashScope's running usage.
    event_errors errors(bool& has_error) noexcept { return {error_, error_written_, has_error}; }
    dashscope_native::running_usage running_usage() noexcept {
        return {native_usage_, native_usage_written_, native_usage_in_slots_, native_usage_read_};
    }
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
    usage_recorder native_usage_read_;   // where the native usage objects of this event were
    bool replay_enabled_ = true;
    replay_state replay_, replay_candidate_;
    replay_suffix suffix_;
    std::size_t replayed_ = 0, replayed_suffixes_ = 0, replayed_whole_ = 0;
    std::string last_role_, last_model_, last_response_id_, last_request_id_;
    std::uint64_t identity_changes_ = 0;  // counts changes of the four above
    std::uint64_t replay_changes_ = 0;    // counts swaps of replay_ and calls of remember_suffix
    // Whole-event replay's template (typed text deltas, or chat chunks that carry only text), and
    // for chat the identity_changes_ and replay_changes_ it was learnt at.
    whole_event_replay whole_event_;
    std::uint64_t whole_event_identity_at_ = 0, whole_event_replay_at_ = 0;
    // Cumulative mode: the whole text handed out so far.
    std::string seen_content_;
    std::string seen_reasoning_;
    std::vector<std::string> seen_arguments_;
    // The dialects with typed events (Anthropic Messages, OpenAI Responses): their readers and
    // replay template, made only for them (1 KiB every other stream would hold for nothing).
    struct typed_readers {
        anthropic_messages::stream_reader anthropic;
        text_event_replay text_replay;
        openai_responses::stream_reader responses;
    };
    std::unique_ptr<typed_readers> typed_;
};

/// Decodes a non-streaming response body (status 2xx) into `out`. A body that is an error
/// object is decoded as the error it reports.
boost::system::error_code decode_completion(api_dialect dialect, vendor v, int status, std::string_view body,
                                            completion& out, diagnostics& diag);

finish_reason parse_finish_reason(std::string_view text) noexcept;

}  // namespace llmstream::protocol

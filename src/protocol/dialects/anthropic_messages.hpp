// Anthropic Messages (POST {base}/v1/messages), as api.anthropic.com and DashScope's
// /apps/anthropic serve it: which request fields we send, which JSON fields of its events and
// bodies become which `delta` and `completion` fields. This file is the dialect's whole schema.
#pragma once

#include "protocol/json_access.hpp"
#include "protocol/replay.hpp"
#include "protocol/request_encoder.hpp"

#include <llmstream/events.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::protocol::anthropic_messages {

/// `max_tokens` is required by Anthropic; a request without one asks for this many.
inline constexpr std::int64_t default_max_tokens = 4096;

/// Fills `out` (target "/v1/messages", body). Throws encoding::invalid_field.
void encode_request(const chat_request& req, bool streaming, encoded_request& out);

/// Reads the events of one streamed response. Event order (message_start, content_block_start,
/// content_block_delta..., content_block_stop, message_delta, message_stop) is what the blocks'
/// indexes are resolved by: a tool_use block's index becomes the tool call's ordinal.
/// Token counts as Anthropic sends them ({"input_tokens","output_tokens",
/// "cache_creation_input_tokens","cache_read_input_tokens"}); null or absent: not said.
struct usage_counts {
    std::optional<std::int64_t> input, output, cache_creation, cache_read;
    bool any() const noexcept { return input || output || cache_creation || cache_read; }
};

class stream_reader {
public:
    /// Reads one event's JSON object (the cursor before its `{`) into `out` (empty on entry).
    /// Unknown event types and `ping` leave `out` empty. An `error` event fills `error` and sets
    /// `has_error`. False on malformed JSON or an event that breaks the protocol.
    bool read(json_cursor& c, std::string_view event_name, delta& out, provider_error& error, bool& has_error);
    /// message_stop was read: nothing after it belongs to the response.
    bool finished() const noexcept { return finished_; }

    /// Where the text of the event just read lay, when it was a text or thinking delta whose text
    /// is its last member (then what the event means depends on its bytes alone, and another
    /// event equal to it but for the text means that text): prefix replay's hook.
    std::optional<text_delta_span> text_delta() const noexcept { return text_span_; }
    void reset();

private:
    std::string type_, part_type_, block_id_, block_name_, stop_reason_, arguments_;
    std::int64_t index_ = -1;
    usage_counts counts_{};  // message_start's, overlaid by each message_delta's
    // block index -> tool call ordinal; not_a_tool, or server_tool for the server's own tools
    // (web search: not the caller's to run, their deltas are skipped)
    static constexpr int not_a_tool = -1, server_tool = -2;
    std::vector<int> tool_of_block_;
    int tools_ = 0;
    bool finished_ = false;
    std::size_t text_begin_ = 0, text_end_ = 0;  // of the last text or thinking string read
    bool text_key_thinking_ = false;              // its key was "thinking"
    std::optional<text_delta_span> text_span_;
};

/// Reads a whole (non-streaming) Messages response body, valid UTF-8. A body that is an error
/// object fills `error` and sets `has_error`. False when the body is not a Messages response.
bool decode_completion(std::string_view body, completion& out, provider_error& error, bool& has_error);

/// stop_reason -> finish_reason: end_turn and stop_sequence -> stop, max_tokens and
/// model_context_window_exceeded -> length, tool_use -> tool_calls, refusal -> content_filter.
finish_reason map_stop_reason(std::string_view stop_reason) noexcept;

}  // namespace llmstream::protocol::anthropic_messages

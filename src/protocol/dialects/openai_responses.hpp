// OpenAI Responses (POST {base}/responses), as api.openai.com and DashScope's compatible mode
// serve it: which request fields we send, which JSON fields of its events and bodies become which
// `delta` and `completion` fields. This file is the dialect's whole schema.
#pragma once

#include "protocol/json_access.hpp"
#include "protocol/replay.hpp"
#include "protocol/request_encoder.hpp"

#include <llmstream/events.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::protocol::openai_responses {

/// Fills `out` (target "/responses", body). System messages become `instructions`. Throws
/// encoding::invalid_field.
void encode_request(const chat_request& req, bool streaming, encoded_request& out);

/// Reads the events of one streamed response (typed events; no [DONE]: the stream ends with
/// response.completed, response.incomplete or response.failed).
class stream_reader {
public:
    /// Reads one event's JSON object (the cursor before its `{`) into `out` (empty on entry).
    /// Events that carry nothing for a delta leave it empty. `error` events and response.failed
    /// fill `error` and set `has_error`. False on malformed JSON or an event that breaks the protocol.
    bool read(json_cursor& c, std::string_view event_name, delta& out, provider_error& error, bool& has_error);
    /// The response reached a terminal event.
    bool finished() const noexcept { return finished_; }

    /// Where the text of the event just read lay, when it was a text or reasoning delta whose
    /// meaning is its text alone (its sequence_number is a hole): prefix replay's hook.
    std::optional<text_delta_span> text_delta() const noexcept { return text_span_; }
    void reset();

private:
    std::string type_, text_, item_type_, status_, reason_;
    std::int64_t output_index_ = -1;
    std::vector<int> tool_of_item_;  // output_index -> tool call ordinal, or -1
    std::vector<bool> arguments_streamed_;  // per tool call: .delta events carried its arguments
    int tools_ = 0;
    bool refused_ = false;  // the model refused: the text is its refusal
    bool finished_ = false;
    std::optional<text_delta_span> text_span_;
};

/// Reads a whole (non-streaming) Responses body, valid UTF-8. A failed response or an error
/// object fills `error` and sets `has_error`. False when the body is not a Responses response.
bool decode_completion(std::string_view body, completion& out, provider_error& error, bool& has_error);

}  // namespace llmstream::protocol::openai_responses

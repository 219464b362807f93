// Whether a delta carries nothing but its two text fields (content, reasoning_content): the
// client's delta queue keeps such a delta as its text alone, and whole-event replay learns a chat
// template only from a chunk whose delta is so.
#pragma once

#include <llmstream/events.hpp>

namespace llmstream::protocol {

/// Every field is bound here by name: a delta that grew a field stops the build on this line
/// (any compiler) until it is added.
inline bool only_text(const delta& d) noexcept {
    [[maybe_unused]] const auto& [content, reasoning, signature, role, tool_calls, finish, finish_text, token_usage, model,
                                  response_id, request_id] = d;
    return signature.empty() && role.empty() && tool_calls.empty() && finish == finish_reason::none && finish_text.empty() &&
           !token_usage && model.empty() && response_id.empty() && request_id.empty();
}

}  // namespace llmstream::protocol

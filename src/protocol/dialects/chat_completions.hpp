// OpenAI chat completions (OpenAI, DeepSeek, DashScope compatible mode, local servers): which
// members of a streamed chunk, or of a whole body, become which `delta` fields. The chunk is
// `{"id","model","choices":[{"delta":{...},"finish_reason"}],"usage",...}` (dialects/chat_choices.hpp
// reads the choices and usage); the chunk may also be an error (`error`, or DashScope's `code`).
#pragma once

#include "chat_choices.hpp"

namespace llmstream::protocol::chat_completions {

/// The members of a chunk (the cursor inside its object). `hole`: prefix replay's hook, or null.

inline bool read_chunk_fields(json_cursor& c, delta& out, event_errors e, replay_marker* hole) {
    // DashScope's compatible endpoint can also send native error frames after a 200:
    // {"code":"Throttling.RateQuota","message":"...","request_id":"..."}.
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "choices") ok = chat::read_choices(c, out, hole);
        else if (key == "usage") ok = c.take_null() || chat::read_usage(c, out.usage.emplace());
        else if (key == "id") ok = c.read_string_or_null(out.response_id);
        else if (key == "model") ok = c.read_string_or_null(out.model);
        else if (key == "request_id") ok = c.read_string_or_null(out.request_id);
        else if (key == "error") {
            e.has_error = c.peek() != json_kind::null;
            ok = chat::read_error_value(c, e.write());
        } else if (key == "code") {
            ok = read_text_value(c, e.write().code);
            e.has_error = e.has_error || !e.error.code.empty();
        } else if (key == "message") ok = read_text_value(c, e.write().message);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

/// The rest of a chunk after the first choice's text value (the cursor just past it): prefix
/// replay resumes here, inside choices[0].delta.
inline bool read_after_text(json_cursor& c, delta& out, event_errors e) {
    return chat::read_message_fields(c, out, nullptr) && chat::read_choice_fields(c, out, nullptr) &&
           chat::skip_other_choices(c) && read_chunk_fields(c, out, e, nullptr);
}

}  // namespace llmstream::protocol::chat_completions

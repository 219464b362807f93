// DashScope's native text-generation API: which members of a streamed frame, or of a whole body,
// become which `delta` fields. A frame is `{"output":{"choices":[{"message":{...},"finish_reason"}]
// (or "text"),"usage":{...},"request_id"}`; usage is a running count in every frame, handed out
// with the final one (stream_decoder); a frame with `code` is an error.
#pragma once

#include "chat_choices.hpp"

namespace llmstream::protocol::dashscope_native {

/// Where a frame's running usage goes.
struct running_usage {
    std::optional<usage>& value;  ///< the running count
    bool& written;                ///< this frame wrote it
    bool& stale;                  ///< cleared when written: `value` is current (prefix replay may have kept the count elsewhere)
    usage_recorder& recorder;     ///< prefix replay's hook: where the usage object lies
};

/// The members of `output` (the cursor inside its object).

inline bool read_output_fields(json_cursor& c, delta& out, replay_marker* hole) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "choices") ok = chat::read_choices(c, out, hole);
        else if (key == "text") ok = c.read_string_or_null(out.content);  // result_format "text"
        else if (key == "finish_reason") ok = c.read_string_or_null(out.finish_reason_text);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

/// The members of a frame (the cursor inside its object). `hole`: prefix replay's hook, or null.
inline bool read_frame_fields(json_cursor& c, delta& out, event_errors e, running_usage u, replay_marker* hole) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "output") {
            ok = c.take_null() || (c.enter_object() && read_output_fields(c, out, hole));
        } else if (key == "usage") {
            // null leaves the running count as it was: only an object writes it.
            if (c.take_null()) {
                ok = true;
            } else {
                u.written = true;
                u.stale = false;
                usage_layout* layout = u.recorder.begins(c);  // prefix replay's hook
                ok = chat::read_usage(c, u.value.emplace(), layout);
                u.recorder.ends(c);
            }
        } else if (key == "request_id") {
            ok = c.read_string_or_null(out.request_id);
        } else if (key == "code") {  // an error frame without event:error
            ok = read_text_value(c, e.write().code);
            e.has_error = e.has_error || !e.error.code.empty();
        } else if (key == "message") {
            ok = read_text_value(c, e.write().message);
        } else {
            ok = c.skip();
        }
        if (!ok) return false;
    }
    return !c.failed();
}

/// The rest of a frame after the first choice's text value (the cursor just past it): prefix
/// replay resumes here, inside output.choices[0].message.
inline bool read_after_text(json_cursor& c, delta& out, event_errors e, running_usage u) {
    return chat::read_message_fields(c, out, nullptr) && chat::read_choice_fields(c, out, nullptr) &&
           chat::skip_other_choices(c) && read_output_fields(c, out, nullptr) && read_frame_fields(c, out, e, u, nullptr);
}

}  // namespace llmstream::protocol::dashscope_native

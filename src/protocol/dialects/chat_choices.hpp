// The readers the chat-completions and DashScope-native schemas share: both carry their answer
// as choices[0].delta (or .message) with content, reasoning_content, role and tool_calls, and a
// usage object. Inline: stream_decoder.cpp and replay.cpp read every event through them.
#pragma once

#include "protocol/json_access.hpp"
#include "protocol/replay.hpp"

#include <llmstream/events.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmstream::protocol {

/// What an event's reader writes besides its delta: the provider error the event carries.
struct event_errors {
    provider_error& error;
    bool& written;    ///< the error was written (the decoder clears it only then)
    bool& has_error;  ///< the event is an error
    provider_error& write() noexcept {
        written = true;
        return error;
    }
};

namespace chat {

// Keys are compared raw (escapes undecoded): providers never escape the keys we look for.

inline bool read_count(json_cursor& c, std::int64_t& out) {
    if (c.take_null()) {
        out = 0;
        return true;
    }
    return c.read_int64(out);
}

inline bool read_optional_count(json_cursor& c, std::optional<std::int64_t>& out) {
    if (c.take_null()) return true;
    return c.read_int64(out.emplace());
}

// {"<name>": n, ...}: reads the one count asked for, skips the rest.
inline bool read_detail(json_cursor& c, std::string_view name, std::optional<std::int64_t>& out) {
    if (c.take_null()) return true;
    if (!c.enter_object()) return false;
    std::string_view key;
    while (c.next_field(key))
        if (!(key == name ? read_optional_count(c, out) : c.skip())) return false;
    return !c.failed();
}

// A count into `out.*field`, noting in `layout` (when given) where an integer count lies.
inline bool read_count_at(json_cursor& c, usage& out, std::int64_t usage::*field, usage_layout* layout) {
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

// The total when the object gave none, as both dialects' readers expect.
inline void derive_total(usage& u) noexcept {
    // A sum that does not fit (absurd counts from a hostile server) leaves the total unknown: 0.
    if (u.total_tokens == 0 && __builtin_add_overflow(u.input_tokens, u.output_tokens, &u.total_tokens)) u.total_tokens = 0;
}

// Usage keys of both chat dialects (and OpenAI Responses'), told apart by length first (this runs for every DashScope frame).
// `layout`, when given, is told where the counts lie (usage_layout).
inline bool read_usage(json_cursor& c, usage& out, usage_layout* layout = nullptr) {
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
        case 20: ok = key == "input_tokens_details" ? read_detail(c, "cached_tokens", out.cached_tokens) : c.skip(); break;  // Responses
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

inline bool read_function(json_cursor& c, tool_call_delta& t) {
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

inline bool read_tool_calls(json_cursor& c, delta& out) {
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
inline bool read_content(json_cursor& c, std::string& out) {
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
inline bool read_message_fields(json_cursor& c, delta& out, replay_marker* hole) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "content") {
            if (hole) hole->text_starts(c, text_field::content);
            ok = read_content(c, out.content);
        } else if (key == "reasoning_content") {
            if (hole) hole->text_starts(c, text_field::reasoning);
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

inline bool read_message(json_cursor& c, delta& out, replay_marker* hole) {
    if (c.take_null()) return true;
    if (!c.enter_object()) return false;
    return read_message_fields(c, out, hole);
}

// The members of the first choice.
inline bool read_choice_fields(json_cursor& c, delta& out, replay_marker* hole) {
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
inline bool skip_other_choices(json_cursor& c) {
    while (c.next_element())
        if (!c.skip()) return false;
    return !c.failed();
}

// "choices": [...]: only the first choice is read.
inline bool read_choices(json_cursor& c, delta& out, replay_marker* hole) {
    if (c.take_null()) return true;
    if (!c.enter_array()) return false;
    if (!c.next_element()) return !c.failed();
    return c.enter_object() && read_choice_fields(c, out, hole) && skip_other_choices(c);
}

inline bool read_error_value(json_cursor& c, provider_error& e) {
    switch (c.peek()) {
    case json_kind::object: return c.enter_object() && read_error_members(c, e);
    case json_kind::string: return c.read_string(e.message);
    default: return c.skip();
    }
}

}  // namespace chat
}  // namespace llmstream::protocol

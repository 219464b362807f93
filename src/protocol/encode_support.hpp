// What every request encoder needs: Boost.JSON (cold path, correct escaping) and one way to
// reject a field. Encoders throw invalid_field; encode_request turns it into
// errc::invalid_request with the text as the hint.
#pragma once

#include <llmstream/request.hpp>

#include <boost/json.hpp>

#include <string>

#include "sse/utf8.hpp"

namespace llmstream::protocol::encoding {

namespace json = boost::json;

struct invalid_field {
    std::string what;
};

inline void require_utf8(const std::string& s, const std::string& field) {
    if (!sse::detail::is_valid_utf8(s)) throw invalid_field{field + " is not valid UTF-8"};
}

inline json::value parse_json_text(const std::string& text, const std::string& field) {
    require_utf8(text, field);
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) throw invalid_field{field + " is not valid JSON (" + ec.message() + ")"};
    return v;
}

inline std::string field_name(std::size_t message_index, const char* member) {
    return "messages[" + std::to_string(message_index) + "]." + member;
}

/// `tools[i].parameters` as a JSON object, after checking the tool's name and description.
inline json::object tool_parameters(const tool& t, std::size_t i) {
    const std::string field = "tools[" + std::to_string(i) + "]";
    if (t.name.empty()) throw invalid_field{field + ".name is empty"};
    require_utf8(t.name, field + ".name");
    require_utf8(t.description, field + ".description");
    json::value params = parse_json_text(t.parameters, field + ".parameters");
    if (!params.is_object()) throw invalid_field{field + ".parameters is not a JSON object"};
    return std::move(params.as_object());
}

/// The request's `extra` object merged over `into` (its fields win).
inline void merge_extra(const chat_request& req, json::object& into) {
    if (req.extra.empty()) return;
    json::value v = parse_json_text(req.extra, "extra");
    if (!v.is_object()) throw invalid_field{"extra is not a JSON object"};
    for (auto& kv : v.as_object()) into[kv.key()] = std::move(kv.value());
}

inline void require_model(const chat_request& req) {
    if (req.model.empty()) throw invalid_field{"model is empty"};
    require_utf8(req.model, "model");
}

inline void require_messages(const chat_request& req) {
    if (req.messages.empty()) throw invalid_field{"messages is empty: at least one message is needed"};
    for (std::size_t i = 0; i < req.messages.size(); ++i) {
        const message& m = req.messages[i];
        if (m.role.empty()) throw invalid_field{field_name(i, "role") + " is empty"};
        require_utf8(m.role, field_name(i, "role"));
        require_utf8(m.content, field_name(i, "content"));
        for (const auto& p : m.parts) require_utf8(p.value, field_name(i, "parts"));
        require_utf8(m.name, field_name(i, "name"));
        require_utf8(m.tool_call_id, field_name(i, "tool_call_id"));
        for (const auto& c : m.tool_calls) {
            require_utf8(c.id, field_name(i, "tool_calls.id"));
            require_utf8(c.name, field_name(i, "tool_calls.name"));
            require_utf8(c.arguments, field_name(i, "tool_calls.arguments"));
        }
        for (const auto& t : m.thinking_blocks) {
            require_utf8(t.thinking, field_name(i, "thinking_blocks.thinking"));
            require_utf8(t.signature, field_name(i, "thinking_blocks.signature"));
        }
    }
}

/// A message's text: `content`, or its text parts joined when it has parts.
inline std::string message_text(const message& m) {
    if (m.parts.empty()) return m.content;
    std::string text;
    for (const auto& p : m.parts)
        if (p.type == content_part::kind::text) text += p.value;
    return text;
}

}  // namespace llmstream::protocol::encoding

#include "request_encoder.hpp"

#include <llmstream/error.hpp>

#include "encode_support.hpp"
#include "dialects/anthropic_messages.hpp"
#include "dialects/openai_responses.hpp"

namespace llmstream::protocol {
namespace {

using namespace encoding;

json::value openai_parts(const message& m, std::size_t index) {
    json::array parts;
    for (const auto& p : m.parts) {
        require_utf8(p.value, field_name(index, "parts"));
        switch (p.type) {
        case content_part::kind::text:
            parts.push_back(json::object{{"type", "text"}, {"text", p.value}});
            break;
        case content_part::kind::image_url:
            parts.push_back(json::object{{"type", "image_url"}, {"image_url", json::object{{"url", p.value}}}});
            break;
        case content_part::kind::audio_url:
            parts.push_back(json::object{{"type", "input_audio"}, {"input_audio", json::object{{"data", p.value}}}});
            break;
        case content_part::kind::video_url:
            parts.push_back(json::object{{"type", "video_url"}, {"video_url", json::object{{"url", p.value}}}});
            break;
        }
    }
    return parts;
}

json::value native_parts(const message& m, std::size_t index) {
    json::array parts;
    for (const auto& p : m.parts) {
        require_utf8(p.value, field_name(index, "parts"));
        switch (p.type) {
        case content_part::kind::text: parts.push_back(json::object{{"text", p.value}}); break;
        case content_part::kind::image_url: parts.push_back(json::object{{"image", p.value}}); break;
        case content_part::kind::audio_url: parts.push_back(json::object{{"audio", p.value}}); break;
        case content_part::kind::video_url: parts.push_back(json::object{{"video", p.value}}); break;
        }
    }
    return parts;
}

json::array encode_messages(const chat_request& req, api_dialect dialect) {
    if (req.messages.empty()) throw invalid_field{"messages is empty: at least one message is needed"};
    json::array out;
    out.reserve(req.messages.size());
    for (std::size_t i = 0; i < req.messages.size(); ++i) {
        const message& m = req.messages[i];
        if (m.role.empty()) throw invalid_field{field_name(i, "role") + " is empty"};
        require_utf8(m.role, field_name(i, "role"));
        require_utf8(m.content, field_name(i, "content"));
        json::object o;
        o["role"] = m.role;
        if (!m.parts.empty())
            o["content"] = dialect == api_dialect::openai_compatible ? openai_parts(m, i) : native_parts(m, i);
        else if (m.content.empty() && !m.tool_calls.empty())
            o["content"] = nullptr;
        else
            o["content"] = m.content;
        if (!m.name.empty()) {
            require_utf8(m.name, field_name(i, "name"));
            o["name"] = m.name;
        }
        if (!m.tool_call_id.empty()) {
            require_utf8(m.tool_call_id, field_name(i, "tool_call_id"));
            o["tool_call_id"] = m.tool_call_id;
        }
        if (!m.tool_calls.empty()) {
            json::array calls;
            for (const auto& c : m.tool_calls) {
                require_utf8(c.id, field_name(i, "tool_calls.id"));
                require_utf8(c.name, field_name(i, "tool_calls.name"));
                require_utf8(c.arguments, field_name(i, "tool_calls.arguments"));
                calls.push_back(json::object{
                    {"id", c.id},
                    {"type", "function"},
                    {"function", json::object{{"name", c.name}, {"arguments", c.arguments}}}});
            }
            o["tool_calls"] = std::move(calls);
        }
        out.push_back(std::move(o));
    }
    return out;
}

// Sampling, tools and format options: the same names in both dialects (native puts them in
// `parameters`).
void encode_options(const chat_request& req, json::object& o) {
    if (req.temperature) o["temperature"] = *req.temperature;
    if (req.top_p) o["top_p"] = *req.top_p;
    if (req.max_tokens) o["max_tokens"] = *req.max_tokens;
    if (req.seed) o["seed"] = *req.seed;
    if (!req.stop.empty()) {
        json::array stop;
        for (const auto& s : req.stop) {
            require_utf8(s, "stop");
            stop.push_back(json::string(s));
        }
        o["stop"] = std::move(stop);
    }
    if (!req.tools.empty()) {
        json::array tools;
        for (std::size_t i = 0; i < req.tools.size(); ++i) {
            const tool& t = req.tools[i];
            json::object params = tool_parameters(t, i);
            json::object fn{{"name", t.name}};
            if (!t.description.empty()) fn["description"] = t.description;
            fn["parameters"] = std::move(params);
            tools.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
        }
        o["tools"] = std::move(tools);
    }
    if (!req.tool_choice.empty()) {
        require_utf8(req.tool_choice, "tool_choice");
        if (req.tool_choice == "auto" || req.tool_choice == "none" || req.tool_choice == "required")
            o["tool_choice"] = req.tool_choice;
        else
            o["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", req.tool_choice}}}};
    }
    if (!req.response_format.empty()) {
        if (req.response_format == "text" || req.response_format == "json_object") {
            o["response_format"] = json::object{{"type", req.response_format}};
        } else {
            json::value v = parse_json_text(req.response_format, "response_format");
            if (!v.is_object()) throw invalid_field{"response_format is not \"text\", \"json_object\" or a JSON object"};
            o["response_format"] = std::move(v);
        }
    }
}

bool has_media(const chat_request& req) {
    for (const auto& m : req.messages)
        for (const auto& p : m.parts)
            if (p.type != content_part::kind::text) return true;
    return false;
}

}  // namespace

boost::system::error_code encode_request(api_dialect dialect, const chat_request& req, bool streaming, encoded_request& out,
                                         diagnostics& diag) {
    out = {};
    try {
        require_model(req);
        if (dialect == api_dialect::anthropic_messages) {
            anthropic_messages::encode_request(req, streaming, out);
            return {};
        }
        if (dialect == api_dialect::openai_responses) {
            openai_responses::encode_request(req, streaming, out);
            return {};
        }
        json::object body;
        body["model"] = req.model;
        if (dialect == api_dialect::openai_compatible) {
            out.target = "/chat/completions";
            body["messages"] = encode_messages(req, dialect);
            body["stream"] = streaming;
            if (streaming && req.include_usage) body["stream_options"] = json::object{{"include_usage", true}};
            encode_options(req, body);
            merge_extra(req, body);
        } else {
            out.target = has_media(req) ? "/services/aigc/multimodal-generation/generation"
                                        : "/services/aigc/text-generation/generation";
            body["input"] = json::object{{"messages", encode_messages(req, dialect)}};
            json::object parameters{{"result_format", "message"}};
            if (streaming) parameters["incremental_output"] = true;
            encode_options(req, parameters);
            merge_extra(req, parameters);
            if (streaming) {
                out.dashscope_sse_header = true;
                const json::value* inc = parameters.if_contains("incremental_output");
                out.cumulative_output = inc && inc->is_bool() && !inc->as_bool();
            }
            body["parameters"] = std::move(parameters);
        }
        out.body = json::serialize(body);
        return {};
    } catch (const invalid_field& e) {
        diag.clear_last_attempt();
        diag.hint = "invalid request: " + e.what;
        out = {};
        return errc::invalid_request;
    }
}

}  // namespace llmstream::protocol

#include "openai_responses.hpp"

#include "chat_choices.hpp"
#include "protocol/encode_support.hpp"

namespace llmstream::protocol::openai_responses {

using namespace encoding;

namespace {

// ---- requests ---------------------------------------------------------------------------------

json::value user_content(const message& m, std::size_t i) {
    if (m.parts.empty()) return json::string(m.content);
    json::array parts;
    for (const auto& p : m.parts) {
        switch (p.type) {
        case content_part::kind::text: parts.push_back(json::object{{"type", "input_text"}, {"text", p.value}}); break;
        case content_part::kind::image_url:
            parts.push_back(json::object{{"type", "input_image"}, {"image_url", p.value}});
            break;
        case content_part::kind::audio_url:
        case content_part::kind::video_url:
            throw invalid_field{field_name(i, "parts") + ": audio and video are not part of OpenAI Responses input"};
        }
    }
    return parts;
}

// System messages become `instructions`; a "tool" message is a function_call_output item, and
// an assistant's tool calls are function_call items after its text.
void encode_input(const chat_request& req, json::object& body) {
    std::string instructions;
    json::array input;
    for (std::size_t i = 0; i < req.messages.size(); ++i) {
        const message& m = req.messages[i];
        if (m.role == "system" || m.role == "developer") {
            if (!instructions.empty()) instructions += "\n\n";
            instructions += message_text(m);
        } else if (m.role == "user") {
            input.push_back(json::object{{"role", "user"}, {"content", user_content(m, i)}});
        } else if (m.role == "assistant") {
            if (const std::string text = message_text(m); !text.empty() || m.tool_calls.empty())
                input.push_back(json::object{{"role", "assistant"}, {"content", text}});
            for (const auto& call : m.tool_calls) {
                if (call.id.empty()) throw invalid_field{field_name(i, "tool_calls.id") + " is empty (Responses needs the call_id)"};
                input.push_back(json::object{{"type", "function_call"}, {"call_id", call.id}, {"name", call.name},
                                             {"arguments", call.arguments.empty() ? std::string("{}") : call.arguments}});
            }
        } else if (m.role == "tool") {
            if (m.tool_call_id.empty()) throw invalid_field{field_name(i, "tool_call_id") + " is empty (a tool result answers a call)"};
            input.push_back(json::object{{"type", "function_call_output"}, {"call_id", m.tool_call_id}, {"output", message_text(m)}});
        } else {
            throw invalid_field{field_name(i, "role") + " is \"" + m.role + "\": OpenAI Responses has user, assistant, system and tool turns"};
        }
    }
    if (input.empty()) throw invalid_field{"messages holds only system messages: Responses needs input"};
    if (!instructions.empty()) body["instructions"] = instructions;
    body["input"] = std::move(input);
}

void encode_options(const chat_request& req, json::object& body) {
    if (req.temperature) body["temperature"] = *req.temperature;
    if (req.top_p) body["top_p"] = *req.top_p;
    if (req.max_tokens) body["max_output_tokens"] = *req.max_tokens;
    if (req.seed) throw invalid_field{"seed is not part of OpenAI Responses: leave it unset"};
    if (!req.stop.empty()) throw invalid_field{"stop is not part of OpenAI Responses: leave it empty"};
    if (!req.tools.empty()) {
        json::array tools;  // flat: {"type":"function","name","description","parameters"}
        for (std::size_t i = 0; i < req.tools.size(); ++i) {
            // strict: false, as chat completions' default (Responses' is true, which rejects schemas
            // without additionalProperties:false and optional properties); `extra` can turn it on.
            json::object t{{"type", "function"}, {"name", req.tools[i].name}, {"strict", false}};
            json::object parameters = tool_parameters(req.tools[i], i);
            if (!req.tools[i].description.empty()) t["description"] = req.tools[i].description;
            t["parameters"] = std::move(parameters);
            tools.push_back(std::move(t));
        }
        body["tools"] = std::move(tools);
    }
    if (!req.tool_choice.empty()) {
        require_utf8(req.tool_choice, "tool_choice");
        if (req.tool_choice == "auto" || req.tool_choice == "none" || req.tool_choice == "required")
            body["tool_choice"] = req.tool_choice;
        else
            body["tool_choice"] = json::object{{"type", "function"}, {"name", req.tool_choice}};
    }
    if (!req.response_format.empty() && req.response_format != "text") {
        // text.format; chat completions' {"type":"json_schema","json_schema":{name, schema, strict}}
        // is flattened to Responses' {"type":"json_schema", name, schema, strict}.
        json::object format;
        if (req.response_format == "json_object") {
            format = {{"type", "json_object"}};
        } else {
            json::value v = parse_json_text(req.response_format, "response_format");
            if (!v.is_object()) throw invalid_field{"response_format is not \"text\", \"json_object\" or a JSON object"};
            format = std::move(v.as_object());
            if (json::value* nested = format.if_contains("json_schema"); nested && nested->is_object()) {
                json::object inner = std::move(nested->as_object());
                format.erase("json_schema");
                for (auto& kv : inner) format[kv.key()] = std::move(kv.value());
            }
        }
        body["text"] = json::object{{"format", std::move(format)}};
    }
}

// ---- responses --------------------------------------------------------------------------------

// {"input_tokens","input_tokens_details":{"cached_tokens"},"output_tokens",
// "output_tokens_details":{"reasoning_tokens"},"total_tokens"}: chat completions' usage reader
// reads these names too.
bool read_usage(json_cursor& c, std::optional<usage>& out) { return c.take_null() || chat::read_usage(c, out.emplace()); }

// `error` is null, or {"code","message"} (response.error, and the nested shape of error events).
bool read_error_value(json_cursor& c, provider_error& e, bool& present) {
    if (c.take_null()) return true;
    present = true;
    return chat::read_error_value(c, e);
}

// {"reason":"max_output_tokens"|"content_filter"}
bool read_incomplete(json_cursor& c, std::string& reason) {
    if (c.take_null()) return true;
    if (!c.enter_object()) return false;
    std::string_view key;
    while (c.next_field(key))
        if (!(key == "reason" ? c.read_string_or_null(reason) : c.skip())) return false;
    return !c.failed();
}

// The response object of response.* events and of a whole body. `output` is read by the caller
// when it wants it (a whole body); streamed events have handed it out already.
struct response_fields {
    std::string object, status, reason;
    std::optional<usage> u;
    bool error_present = false;
};

template <class OnOutput>
bool read_response(json_cursor& c, std::string& id, std::string& model, response_fields& r, provider_error& error,
                   OnOutput&& on_output) {
    if (!c.enter_object()) return false;
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        if (key == "id") ok = c.read_string_or_null(id);
        else if (key == "model") ok = c.read_string_or_null(model);
        else if (key == "object") ok = c.read_string_or_null(r.object);
        else if (key == "request_id") ok = read_text_value(c, error.request_id);
        else if (key == "status") ok = c.read_string_or_null(r.status);
        else if (key == "usage") ok = read_usage(c, r.u);
        else if (key == "error") ok = read_error_value(c, error, r.error_present);
        else if (key == "incomplete_details") ok = read_incomplete(c, r.reason);
        else if (key == "output") ok = on_output(c);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

// How a finished response ended: completed (stop, or tool_calls when it called tools) or
// incomplete (length for max_output_tokens, content_filter). Anything else is not an ending.
void set_finish(const response_fields& r, bool called_tools, bool refused, finish_reason& finish, std::string& text) {
    if (r.status == "completed") {
        finish = refused ? finish_reason::content_filter : called_tools ? finish_reason::tool_calls : finish_reason::stop;
        text = r.status;
    } else if (r.status == "incomplete") {
        finish = r.reason == "max_output_tokens" ? finish_reason::length
                 : r.reason == "content_filter"  ? finish_reason::content_filter
                                                 : finish_reason::other;
        text = r.reason.empty() ? r.status : r.reason;
    }
}

constexpr int max_items = 4096;  // a hostile output_index must not size arrays

// The members the stream reader reads: after a delta's text, any of them could change what the
// event means.
bool key_matters(std::string_view key) {
    return key == "type" || key == "delta" || key == "arguments" || key == "output_index" || key == "item" ||
           key == "response" || key == "error" || key == "code" || key == "message";
}

}  // namespace

void encode_request(const chat_request& req, bool streaming, encoded_request& out) {
    require_messages(req);
    json::object body;
    body["model"] = req.model;
    encode_input(req, body);
    if (streaming) body["stream"] = true;
    encode_options(req, body);
    merge_extra(req, body);
    out.target = "/responses";
    out.body = json::serialize(body);
}

void stream_reader::reset() {
    tool_of_item_.clear();
    arguments_streamed_.clear();
    refused_ = false;
    tools_ = 0;
    finished_ = false;
}

// One pass over the event's members, whatever their order; `type` decides at the end.
bool stream_reader::read(json_cursor& c, std::string_view event_name, delta& out, provider_error& error, bool& has_error) {
    type_.clear();
    text_.clear();
    item_type_.clear();
    output_index_ = -1;
    response_fields response;
    bool has_response = false, error_present = false;
    std::string call_id, name, arguments;
    text_span_.reset();
    text_delta_span span;           // where the delta and the sequence numbers before it lie
    bool text_is_string = false;    // the delta was a string
    bool read_after_text = false;   // a member that matters came after it
    if (!c.enter_object()) return false;
    std::string_view key;
    // Members of a shape this reader does not use are skipped: an event type added later may give
    // a known name another shape (the types read below check what they need).
    const auto shaped = [&](json_kind k) { return c.peek() == k; };
    while (c.next_field(key)) {
        bool ok;
        if (text_is_string && key_matters(key)) read_after_text = true;
        if (key == "type") {
            ok = shaped(json_kind::string) ? c.read_string(type_) : c.skip();
        } else if (key == "delta") {
            text_is_string = shaped(json_kind::string);
            if (text_is_string) {
                const std::string_view doc = c.document();
                span.begin = doc.find('"', c.offset());
                ok = c.read_string(text_);
                span.end = c.offset();
            } else {
                ok = c.skip();
            }
        } else if (key == "sequence_number" && !text_is_string && shaped(json_kind::number) && span.hole_count < span.holes.size()) {
            const std::string_view doc = c.document();
            const std::size_t digits = doc.find_first_not_of(" \t\r\n", c.offset());
            ok = c.skip();
            span.holes[span.hole_count++] = {digits, c.offset()};
        } else if (key == "arguments") {  // function_call_arguments.done
            ok = shaped(json_kind::string) ? c.read_string(arguments) : c.skip();
        } else if (key == "output_index") {
            if (!shaped(json_kind::number)) ok = c.skip();
            else if ((ok = c.read_int64(output_index_)) && (output_index_ < 0 || output_index_ >= max_items)) output_index_ = -2;
        } else if ((key == "item" || key == "response") && !shaped(json_kind::object)) {
            ok = c.skip();
        } else if (key == "item") {  // output_item.added: {"type":"function_call","call_id","name","arguments"}
            ok = c.enter_object();
            std::string_view k;
            while (ok && c.next_field(k)) {
                if (k == "type") ok = c.read_string(item_type_);
                else if (k == "call_id") ok = c.read_string_or_null(call_id);
                else if (k == "name") ok = c.read_string_or_null(name);
                else if (k == "arguments") ok = c.read_string_or_null(arguments);
                else ok = c.skip();
            }
            ok = ok && !c.failed();
        } else if (key == "response") {
            has_response = true;
            ok = read_response(c, out.response_id, out.model, response, error, [](json_cursor& cc) { return cc.skip(); });
            error_present = error_present || response.error_present;
        } else if (key == "error") {  // nested error event
            ok = read_error_value(c, error, error_present);
        } else if (key == "code") {  // flat error event
            ok = read_text_value(c, error.code);
        } else if (key == "message") {
            ok = read_text_value(c, error.message);
        } else {
            ok = c.skip();
        }
        if (!ok) return false;
    }
    if (c.failed()) return false;
    const std::string_view type = type_.empty() ? event_name : std::string_view(type_);
    if (type == "error" || type == "response.failed") {
        has_error = true;
        error.typed_envelope = false;
        if (error.code.empty() && error.message.empty()) error.message = "the response failed (" + std::string(type) + ")";
        out.clear();
        return true;
    }
    if (!has_response) {
        out.response_id.clear();
        out.model.clear();
    } else if (type == "response.created" || type == "response.in_progress") {
        out.role = "assistant";  // the response's author: a delta with the id and model is handed out with it
    }
    const auto tool_of = [&]() -> int {  // the call at output_index, or -1
        const auto i = static_cast<std::size_t>(output_index_);
        return output_index_ >= 0 && i < tool_of_item_.size() ? tool_of_item_[i] : -1;
    };
    const bool text_only = type == "response.output_text.delta" || type == "response.reasoning_text.delta" ||
                           type == "response.reasoning_summary_text.delta";
    if (text_only && text_is_string && !read_after_text && !has_response) {
        span.reasoning = type != "response.output_text.delta";
        span.key_matters = key_matters;
        text_span_ = span;
    }
    if (type == "response.output_text.delta") {
        out.content = std::move(text_);
    } else if (type == "response.refusal.delta") {
        out.content = std::move(text_);
        refused_ = true;
    } else if (type == "response.reasoning_text.delta" || type == "response.reasoning_summary_text.delta") {
        out.reasoning_content = std::move(text_);
    } else if (type == "response.output_item.added") {
        if (item_type_ == "function_call") {
            if (output_index_ < 0) return c.fail();
            const auto i = static_cast<std::size_t>(output_index_);
            if (tool_of_item_.size() <= i) tool_of_item_.resize(i + 1, -1);
            if (tool_of_item_[i] >= 0) return c.fail();  // added twice
            tool_of_item_[i] = tools_;
            arguments_streamed_.push_back(!arguments.empty());
            out.tool_calls.push_back({tools_++, std::move(call_id), std::move(name), std::move(arguments)});
        }
        out.role = item_type_ == "message" ? "assistant" : "";
    } else if (type == "response.function_call_arguments.delta") {
        const int tool = tool_of();
        if (tool < 0) return c.fail();  // arguments of an item that is not a function call
        if (!text_.empty()) {
            out.tool_calls.push_back({tool, {}, {}, std::move(text_)});
            arguments_streamed_[static_cast<std::size_t>(tool)] = true;
        }
    } else if (type == "response.function_call_arguments.done") {
        // A server that streams no deltas sends the arguments here, whole.
        const int tool = tool_of();
        if (tool < 0) return c.fail();
        if (!arguments_streamed_[static_cast<std::size_t>(tool)] && !arguments.empty()) {
            out.tool_calls.push_back({tool, {}, {}, std::move(arguments)});
            arguments_streamed_[static_cast<std::size_t>(tool)] = true;
        }
    } else if (type == "response.completed" || type == "response.incomplete") {
        // The event says how it ended when its response's status does not.
        if (response.status.empty()) response.status = type == "response.completed" ? "completed" : "incomplete";
        set_finish(response, tools_ > 0, refused_, out.finish, out.finish_reason_text);
        if (out.finish == finish_reason::none) return c.fail();  // a terminal event that did not end
        out.usage = response.u;
        finished_ = true;
    }
    // response.created / in_progress hand out the id and model; everything else is nothing new.
    return true;
}

bool decode_completion(std::string_view body, completion& out, provider_error& error, bool& has_error) {
    cursor_buffer buffer;
    json_cursor c(buffer, body);
    response_fields r;
    bool called_tools = false;
    // output: [{"type":"message","content":[{"type":"output_text","text"}]},
    //          {"type":"reasoning","summary":[{"text"}],"content":[{"text"}]},
    //          {"type":"function_call","call_id","name","arguments"}]
    bool refused = false;
    auto read_texts = [&refused](json_cursor& cc, std::string& into) {
        if (cc.take_null()) return true;
        bool ok = cc.enter_array();
        while (ok && cc.next_element()) {
            std::string part_type, text;
            ok = cc.enter_object();
            std::string_view k;
            while (ok && cc.next_field(k)) {
                if (k == "type") ok = cc.read_string(part_type);
                else if (k == "text" || k == "refusal") ok = cc.read_string_or_null(text);
                else ok = cc.skip();
            }
            ok = ok && !cc.failed();
            if (part_type == "refusal") refused = true;  // {"type":"refusal","refusal":"..."}
            into += text;
        }
        return ok && !cc.failed();
    };
    auto read_output = [&](json_cursor& cc) {
        if (cc.take_null()) return true;
        bool ok = cc.enter_array();
        while (ok && cc.next_element()) {
            std::string item_type, content, reasoning;
            tool_call call;
            ok = cc.enter_object();
            std::string_view k;
            while (ok && cc.next_field(k)) {
                if (k == "type") ok = cc.read_string(item_type);
                else if (k == "content") ok = read_texts(cc, content);
                else if (k == "summary") ok = read_texts(cc, reasoning);
                else if (k == "call_id") ok = cc.read_string_or_null(call.id);
                else if (k == "name") ok = cc.read_string_or_null(call.name);
                else if (k == "arguments") ok = cc.read_string_or_null(call.arguments);
                else ok = cc.skip();
            }
            ok = ok && !cc.failed();
            if (item_type == "message") out.content += content;
            else if (item_type == "reasoning") out.reasoning_content += reasoning + content;
            else if (item_type == "function_call") {
                out.tool_calls.push_back(std::move(call));
                called_tools = true;
            }
        }
        return ok && !cc.failed();
    };
    // The body is the response object itself, or an error object ({"error":{...}}).
    if (!read_response(c, out.response_id, out.model, r, error, read_output)) return false;
    if (c.failed() || !c.at_end()) return false;
    if (r.error_present || r.status == "failed") {
        has_error = true;
        if (error.code.empty() && error.message.empty()) error.message = "the response failed";
        return true;
    }
    has_error = false;
    if (r.object != "response" && r.status.empty()) return false;  // not a Responses body
    set_finish(r, called_tools, refused, out.finish, out.finish_reason_text);
    out.usage = r.u;
    if (out.role.empty()) out.role = "assistant";
    return true;
}

}  // namespace llmstream::protocol::openai_responses

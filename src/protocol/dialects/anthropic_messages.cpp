#include "anthropic_messages.hpp"

#include "chat_choices.hpp"
#include "protocol/encode_support.hpp"

namespace llmstream::protocol::anthropic_messages {

using namespace encoding;

namespace {

// ---- requests ---------------------------------------------------------------------------------

json::object image_block(const std::string& url) {
    // data:<media type>;base64,<data> is sent inline; anything else as a URL for the server to fetch.
    constexpr std::string_view data_prefix = "data:";
    if (url.compare(0, data_prefix.size(), data_prefix) == 0) {
        const std::size_t semi = url.find(";base64,");
        if (semi == std::string::npos) throw invalid_field{"an image data: URI must be base64 (data:<type>;base64,...)"};
        return {{"type", "image"},
                {"source", json::object{{"type", "base64"},
                                        {"media_type", url.substr(data_prefix.size(), semi - data_prefix.size())},
                                        {"data", url.substr(semi + 8)}}}};
    }
    return {{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}};
}

json::value user_content(const message& m, std::size_t i) {
    if (m.parts.empty()) {
        if (m.content.empty()) throw invalid_field{field_name(i, "content") + " is empty (Anthropic rejects empty turns)"};
        return json::string(m.content);
    }
    json::array blocks;
    for (const auto& p : m.parts) {
        switch (p.type) {
        case content_part::kind::text: blocks.push_back(json::object{{"type", "text"}, {"text", p.value}}); break;
        case content_part::kind::image_url: blocks.push_back(image_block(p.value)); break;
        case content_part::kind::audio_url:
        case content_part::kind::video_url:
            throw invalid_field{field_name(i, "parts") + ": audio and video are not part of Anthropic Messages"};
        }
    }
    return blocks;
}

json::value assistant_content(const message& m, std::size_t i) {
    json::array blocks;
    // The turn's thinking first, as the response had it, each block with its signature: Anthropic
    // rejects an unsigned block (DashScope's carry an empty signature: none goes back).
    for (const thinking_block& t : m.thinking_blocks)
        if (!t.signature.empty())
            blocks.push_back(json::object{{"type", "thinking"}, {"thinking", t.thinking}, {"signature", t.signature}});
    if (m.tool_calls.empty()) {
        std::string text = message_text(m);
        if (text.empty()) throw invalid_field{field_name(i, "content") + " is empty (Anthropic rejects empty turns)"};
        if (blocks.empty()) return json::string(std::move(text));
    }
    if (const std::string text = message_text(m); !text.empty())
        blocks.push_back(json::object{{"type", "text"}, {"text", text}});
    for (const auto& call : m.tool_calls) {
        if (call.id.empty()) throw invalid_field{field_name(i, "tool_calls.id") + " is empty (Anthropic needs it)"};
        json::value input = call.arguments.empty() ? json::value(json::object{})
                                                   : parse_json_text(call.arguments, field_name(i, "tool_calls.arguments"));
        if (!input.is_object()) throw invalid_field{field_name(i, "tool_calls.arguments") + " is not a JSON object"};
        blocks.push_back(json::object{{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", std::move(input)}});
    }
    return blocks;
}

// System messages go to the top-level `system`; a "tool" message becomes a tool_result block of
// a user turn (consecutive results share one turn, as Anthropic asks).
void encode_messages(const chat_request& req, json::object& body) {
    std::string system;
    json::array messages;
    bool last_is_tool_results = false;
    for (std::size_t i = 0; i < req.messages.size(); ++i) {
        const message& m = req.messages[i];
        if (m.role == "system" || m.role == "developer") {
            if (!system.empty()) system += "\n\n";
            system += message_text(m);
            continue;
        }
        if (m.role == "tool") {
            if (m.tool_call_id.empty()) throw invalid_field{field_name(i, "tool_call_id") + " is empty (a tool result answers a call)"};
            json::object result{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", message_text(m)}};
            if (last_is_tool_results) {
                messages.back().as_object()["content"].as_array().push_back(std::move(result));
            } else {
                messages.push_back(json::object{{"role", "user"}, {"content", json::array{std::move(result)}}});
                last_is_tool_results = true;
            }
            continue;
        }
        last_is_tool_results = false;
        if (m.role == "user") messages.push_back(json::object{{"role", "user"}, {"content", user_content(m, i)}});
        else if (m.role == "assistant") messages.push_back(json::object{{"role", "assistant"}, {"content", assistant_content(m, i)}});
        else throw invalid_field{field_name(i, "role") + " is \"" + m.role + "\": Anthropic Messages has user, assistant, system and tool turns"};
    }
    if (messages.empty()) throw invalid_field{"messages holds only system messages: Anthropic needs a user turn"};
    if (!system.empty()) body["system"] = system;
    body["messages"] = std::move(messages);
}

void encode_options(const chat_request& req, json::object& body) {
    if (req.temperature) body["temperature"] = *req.temperature;
    if (req.top_p) body["top_p"] = *req.top_p;
    if (req.seed) throw invalid_field{"seed is not part of Anthropic Messages: leave it unset"};
    if (!req.response_format.empty() && req.response_format != "text")
        throw invalid_field{"response_format is not part of Anthropic Messages: ask for JSON in the prompt, or use a tool"};
    if (!req.stop.empty()) {
        json::array stop;
        for (const auto& s : req.stop) {
            require_utf8(s, "stop");
            stop.push_back(json::string(s));
        }
        body["stop_sequences"] = std::move(stop);
    }
    if (!req.tools.empty()) {
        json::array tools;
        for (std::size_t i = 0; i < req.tools.size(); ++i) {
            json::object t{{"name", req.tools[i].name}};
            json::object schema = tool_parameters(req.tools[i], i);
            if (!req.tools[i].description.empty()) t["description"] = req.tools[i].description;
            t["input_schema"] = std::move(schema);
            tools.push_back(std::move(t));
        }
        body["tools"] = std::move(tools);
    }
    if (!req.tool_choice.empty()) {
        require_utf8(req.tool_choice, "tool_choice");
        if (req.tool_choice == "auto") body["tool_choice"] = json::object{{"type", "auto"}};
        else if (req.tool_choice == "none") body["tool_choice"] = json::object{{"type", "none"}};
        else if (req.tool_choice == "required") body["tool_choice"] = json::object{{"type", "any"}};
        else body["tool_choice"] = json::object{{"type", "tool"}, {"name", req.tool_choice}};
    }
}

// ---- responses --------------------------------------------------------------------------------

// Keys are compared raw (escapes undecoded): Anthropic never escapes the keys we look for.

bool read_usage(json_cursor& c, usage_counts& u) {
    if (c.take_null()) return true;
    if (!c.enter_object()) return false;
    std::string_view key;
    while (c.next_field(key)) {
        bool ok;
        // A count, or nothing for null (which leaves an earlier count standing).
        if (key == "input_tokens") ok = chat::read_optional_count(c, u.input);
        else if (key == "output_tokens") ok = chat::read_optional_count(c, u.output);
        else if (key == "cache_creation_input_tokens") ok = chat::read_optional_count(c, u.cache_creation);
        else if (key == "cache_read_input_tokens") ok = chat::read_optional_count(c, u.cache_read);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

// Later counts replace earlier ones field by field (message_delta's are cumulative).
void overlay(usage_counts& into, const usage_counts& later) {
    for (auto field : {&usage_counts::input, &usage_counts::output, &usage_counts::cache_creation, &usage_counts::cache_read})
        if (later.*field) into.*field = later.*field;
}

// input_tokens counts only what was neither written to nor read from the cache: the prompt is
// the three together (as OpenAI's prompt_tokens), and cached_tokens the part read from it.
usage to_usage(const usage_counts& u) {
    usage out;
    std::int64_t prompt = 0;
    if (__builtin_add_overflow(u.input.value_or(0), u.cache_creation.value_or(0), &prompt) ||
        __builtin_add_overflow(prompt, u.cache_read.value_or(0), &prompt))
        prompt = 0;
    out.input_tokens = prompt;
    out.output_tokens = u.output.value_or(0);
    if (u.cache_read) out.cached_tokens = u.cache_read;
    if (__builtin_add_overflow(out.input_tokens, out.output_tokens, &out.total_tokens)) out.total_tokens = 0;
    return out;
}

constexpr int max_blocks = 4096;  // a hostile index must not size arrays

}  // namespace

void encode_request(const chat_request& req, bool streaming, encoded_request& out) {
    require_messages(req);
    json::object body;
    body["model"] = req.model;
    body["max_tokens"] = req.max_tokens ? *req.max_tokens : default_max_tokens;
    encode_messages(req, body);
    if (streaming) body["stream"] = true;
    encode_options(req, body);
    merge_extra(req, body);
    out.target = "/v1/messages";
    out.body = json::serialize(body);
}

finish_reason map_stop_reason(std::string_view r) noexcept {
    if (r.empty()) return finish_reason::none;
    if (r == "end_turn" || r == "stop_sequence") return finish_reason::stop;
    if (r == "max_tokens" || r == "model_context_window_exceeded") return finish_reason::length;
    if (r == "tool_use") return finish_reason::tool_calls;
    if (r == "refusal") return finish_reason::content_filter;
    return finish_reason::other;  // pause_turn, and reasons added later
}

void stream_reader::reset() {
    counts_ = {};
    tool_of_block_.clear();
    tools_ = 0;
    finished_ = false;
}

// One pass over the event's members, whatever their order; what they mean is decided by `type`
// at the end. Text goes straight into `out` (and is dropped if the type says it is not text).
bool stream_reader::read(json_cursor& c, std::string_view event_name, delta& out, provider_error& error, bool& has_error) {
    type_.clear();
    part_type_.clear();
    block_id_.clear();
    block_name_.clear();
    stop_reason_.clear();
    arguments_.clear();
    index_ = -1;
    text_end_ = 0;
    text_span_.reset();
    usage_counts counts;
    if (!c.enter_object()) return false;
    std::string_view key;
    // Members of a shape this reader does not use are skipped: an event type added later may give
    // a known name another shape (the types read below check what they need).
    const auto shaped = [&](json_kind k) { return c.peek() == k; };
    while (c.next_field(key)) {
        bool ok = true;
        if (key == "type") {
            ok = shaped(json_kind::string) ? c.read_string(type_) : c.skip();
        } else if (key == "index") {
            if (!shaped(json_kind::number)) ok = c.skip();
            else if ((ok = c.read_int64(index_)) && (index_ < 0 || index_ >= max_blocks)) index_ = -2;  // hostile
        } else if ((key == "delta" || key == "content_block" || key == "message" || key == "usage") && !shaped(json_kind::object)) {
            ok = c.skip();
        } else if (key == "delta" || key == "content_block") {
            // {"type":"text_delta","text"} {"type":"thinking_delta","thinking"} {"type":"input_json_delta",
            // "partial_json"} {"stop_reason","stop_sequence"} / {"type":"tool_use","id","name","input"}
            ok = c.enter_object();
            std::string_view k;
            while (ok && c.next_field(k)) {
                if (k == "type") ok = c.read_string(part_type_);
                else if (k == "text" || k == "thinking") {
                    text_key_thinking_ = k == "thinking";
                    text_begin_ = c.offset();
                    ok = c.read_string_or_null(k == "text" ? out.content : out.reasoning_content);
                    text_end_ = c.offset();
                }
                else if (k == "signature") ok = shaped(json_kind::string) ? c.read_string(out.reasoning_signature) : c.skip();
                else if (k == "partial_json") ok = c.read_string_or_null(arguments_);
                else if (k == "stop_reason") ok = c.read_string_or_null(stop_reason_);
                else if (k == "id") ok = c.read_string_or_null(block_id_);
                else if (k == "name") ok = c.read_string_or_null(block_name_);
                else ok = c.skip();
            }
            ok = ok && !c.failed();
        } else if (key == "message") {  // message_start: {"id","model","role","usage",...}
            ok = c.enter_object();
            std::string_view k;
            while (ok && c.next_field(k)) {
                if (k == "id") ok = c.read_string_or_null(out.response_id);
                else if (k == "model") ok = c.read_string_or_null(out.model);
                else if (k == "role") ok = c.read_string_or_null(out.role);
                else if (k == "usage") ok = read_usage(c, counts);
                else ok = c.skip();
            }
            ok = ok && !c.failed();
        } else if (key == "usage") {  // message_delta: cumulative counts
            ok = read_usage(c, counts);
        } else if (key == "error") {
            ok = chat::read_error_value(c, error);
            error.typed_envelope = true;
            has_error = true;
        } else if (key == "request_id") {
            ok = read_text_value(c, error.request_id);
        } else {
            ok = c.skip();
        }
        if (!ok) return false;
    }
    if (c.failed()) return false;
    const std::string_view type = type_.empty() ? event_name : std::string_view(type_);
    if (type == "error") {
        has_error = true;
        return true;
    }
    has_error = false;  // an "error" member of another event type is not an error event
    const bool is_delta = type == "content_block_delta";
    const bool is_start = type == "content_block_start";
    // The text's key must be the one its type keeps ("text" in a text_delta, "thinking" in a
    // thinking_delta): the full read writes by key and then clears the field the type does not keep.
    if (is_delta && index_ >= 0 && text_end_ != 0 &&
        ((part_type_ == "text_delta" && !text_key_thinking_) || (part_type_ == "thinking_delta" && text_key_thinking_))) {
        // A string (not null), and the last member: only closing braces follow it.
        const std::string_view doc = c.document();
        const std::size_t quote = doc.find_first_not_of(" \t\r\n", text_begin_);
        if (quote < text_end_ && doc[quote] == '"' && doc.find_first_not_of("} \t\r\n", text_end_) == std::string_view::npos)
            text_span_ = text_delta_span{quote, text_end_, part_type_ == "thinking_delta"};
    }
    // Text only from text and thinking blocks and their deltas.
    if (!((is_delta && part_type_ == "text_delta") || (is_start && part_type_ == "text"))) out.content.clear();
    if (!((is_delta && part_type_ == "thinking_delta") || (is_start && part_type_ == "thinking"))) out.reasoning_content.clear();
    if (!((is_delta && part_type_ == "signature_delta") || (is_start && part_type_ == "thinking"))) out.reasoning_signature.clear();
    if (type != "message_start") {
        out.response_id.clear();
        out.model.clear();
        out.role.clear();
    }
    if (type == "message_start") {
        overlay(counts_, counts);
    } else if (is_start) {
        if (index_ < 0) return c.fail();
        const auto i = static_cast<std::size_t>(index_);
        if (tool_of_block_.size() <= i) tool_of_block_.resize(i + 1, not_a_tool);
        if (tool_of_block_[i] != not_a_tool) return c.fail();  // a tool block started twice
        if (part_type_ == "tool_use") {
            tool_of_block_[i] = tools_;
            out.tool_calls.push_back({tools_++, std::move(block_id_), std::move(block_name_), {}});
            block_id_.clear();
            block_name_.clear();
        } else if (part_type_ == "server_tool_use") {
            tool_of_block_[i] = server_tool;
        }
    } else if (is_delta) {
        if (index_ < 0) return c.fail();
        if (part_type_ == "input_json_delta") {
            // Arguments for a block that never started as a tool call break the protocol.
            const auto i = static_cast<std::size_t>(index_);
            if (i >= tool_of_block_.size() || tool_of_block_[i] == not_a_tool) return c.fail();
            if (tool_of_block_[i] >= 0 && !arguments_.empty())
                out.tool_calls.push_back({tool_of_block_[i], {}, {}, std::move(arguments_)});
            arguments_.clear();
        }
    } else if (type == "message_delta") {
        out.finish = map_stop_reason(stop_reason_);
        if (out.finish != finish_reason::none) out.finish_reason_text = stop_reason_;
        overlay(counts_, counts);
        if (counts_.any()) out.usage = to_usage(counts_);
    } else if (type == "message_stop") {
        finished_ = true;
    }
    // content_block_stop, ping and unknown types: nothing to hand out.
    return true;
}

bool decode_completion(std::string_view body, completion& out, provider_error& error, bool& has_error) {
    cursor_buffer buffer;
    json_cursor c(buffer, body);
    if (!c.enter_object()) return false;
    std::string type, stop_reason;
    usage_counts counts;
    std::string_view key;
    while (c.next_field(key)) {
        bool ok = true;
        if (key == "type") ok = c.read_string(type);
        else if (key == "id") ok = c.read_string_or_null(out.response_id);
        else if (key == "model") ok = c.read_string_or_null(out.model);
        else if (key == "role") ok = c.read_string_or_null(out.role);
        else if (key == "stop_reason") ok = c.read_string_or_null(stop_reason);
        else if (key == "usage") ok = read_usage(c, counts);
        else if (key == "error") {
            ok = chat::read_error_value(c, error);
            error.typed_envelope = true;
            has_error = true;
        } else if (key == "request_id") ok = read_text_value(c, error.request_id);
        else if (key == "content") {
            // [{"type":"text","text"}, {"type":"thinking","thinking"}, {"type":"tool_use","id","name","input":{...}}]
            ok = c.enter_array();
            while (ok && c.next_element()) {
                std::string block_type, text, thinking, signature;
                tool_call call;
                ok = c.enter_object();
                std::string_view k;
                while (ok && c.next_field(k)) {
                    if (k == "type") ok = c.read_string(block_type);
                    else if (k == "text") ok = c.read_string_or_null(text);
                    else if (k == "thinking") ok = c.read_string_or_null(thinking);
                    else if (k == "signature") ok = c.peek() == json_kind::string ? c.read_string(signature) : c.skip();
                    else if (k == "id") ok = c.read_string_or_null(call.id);
                    else if (k == "name") ok = c.read_string_or_null(call.name);
                    else if (k == "input") {
                        // The arguments are the input object's JSON text, as chat completions carry them.
                        const std::size_t begin = c.offset();
                        ok = c.skip();
                        std::string_view raw = body.substr(begin, c.offset() - begin);
                        while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\n' || raw.front() == '\r' || raw.front() == '\t'))
                            raw.remove_prefix(1);
                        call.arguments.assign(raw);
                    } else ok = c.skip();
                }
                ok = ok && !c.failed();
                if (block_type == "text") out.content += text;
                else if (block_type == "thinking") {
                    out.reasoning_content += thinking;
                    out.thinking_blocks.push_back({std::move(thinking), std::move(signature)});
                }
                else if (block_type == "tool_use") out.tool_calls.push_back(std::move(call));
            }
            ok = ok && !c.failed();
        } else ok = c.skip();
        if (!ok) return false;
    }
    if (c.failed() || !c.at_end()) return false;
    if (type == "error") {
        has_error = true;
        return true;
    }
    has_error = false;
    if (type != "message") return false;  // not a Messages response at all
    out.finish = map_stop_reason(stop_reason);
    if (out.finish != finish_reason::none) out.finish_reason_text = stop_reason;
    if (counts.any()) out.usage = to_usage(counts);
    if (out.role.empty()) out.role = "assistant";
    return true;
}

}  // namespace llmstream::protocol::anthropic_messages

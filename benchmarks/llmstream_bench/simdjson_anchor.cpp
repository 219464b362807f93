#include "simdjson_anchor.hpp"

#include <cstddef>
#include <initializer_list>
#include <utility>

namespace llmstream::bench {

namespace od = simdjson::ondemand;

namespace {

// Keys are compared raw (escapes undecoded), as the library's decoder compares them: providers
// never escape the keys read here. Values of a type not read here (say an array where a string
// is expected) are skipped, as are all members not asked for.

// Calls on_field(key, value) for each member of the object `json` (a document or a value); false
// on a JSON error or when on_field returns false.
template <class Json, class OnField>
bool each_field(Json& json, OnField&& on_field) {
    od::object object;
    if (json.get_object().get(object)) return false;
    for (auto member : object) {
        if (member.error()) return false;
        od::field field = std::move(member).value_unsafe();
        if (!on_field(field.key(), field.value())) return false;
    }
    return true;
}

bool is_null(od::value& v) {
    bool null = false;
    return !v.is_null().get(null) && null;
}

// A string as a view into the parser's string buffer (valid until the next event is parsed).
bool read_view(od::value& v, std::string_view& out) {
    const simdjson::error_code error = v.get_string().get(out);
    return !error || error == simdjson::INCORRECT_TYPE;  // null: nothing
}

bool read_text(od::value& v, std::string& out) {
    std::string_view text;
    const simdjson::error_code error = v.get_string().get(text);
    if (error) return error == simdjson::INCORRECT_TYPE;  // null: nothing
    out.assign(text);
    return true;
}

// An integer; null reads as 0.
bool read_count(od::value& v, std::int64_t& out) {
    out = 0;
    return is_null(v) || !v.get_int64().get(out);
}

// An integer; null leaves `out` as it was.
bool read_optional_count(od::value& v, std::optional<std::int64_t>& out) {
    return is_null(v) || !v.get_int64().get(out.emplace());
}

// {"<name>": n, ...}: the one count asked for.
bool read_detail(od::value& v, std::string_view name, std::optional<std::int64_t>& out) {
    return is_null(v) || each_field(v, [&](od::raw_json_string key, od::value& f) {
               return key == name ? read_optional_count(f, out) : true;
           });
}

// Chat completions, DashScope and Responses usage: the same counts under two sets of names.
bool read_usage(od::value& v, std::optional<usage>& out) {
    if (is_null(v)) return true;
    usage& u = out.emplace();
    const bool ok = each_field(v, [&](od::raw_json_string key, od::value& f) {
        if (key == "prompt_tokens" || key == "input_tokens") return read_count(f, u.input_tokens);
        if (key == "completion_tokens" || key == "output_tokens") return read_count(f, u.output_tokens);
        if (key == "total_tokens") return read_count(f, u.total_tokens);
        if (key == "prompt_tokens_details" || key == "input_tokens_details")
            return read_detail(f, "cached_tokens", u.cached_tokens);
        if (key == "completion_tokens_details" || key == "output_tokens_details")
            return read_detail(f, "reasoning_tokens", u.reasoning_tokens);
        return true;
    });
    if (u.total_tokens == 0) u.total_tokens = u.input_tokens + u.output_tokens;
    return ok;
}

// "tool_calls": [{"index", "id", "function": {"name", "arguments"}}]
bool read_tool_calls(od::value& v, delta& out) {
    if (is_null(v)) return true;
    od::array calls;
    if (v.get_array().get(calls)) return false;
    for (auto element : calls) {
        if (element.error()) return false;
        od::value call = std::move(element).value_unsafe();
        tool_call_delta& t = out.tool_calls.emplace_back();
        t.index = static_cast<int>(out.tool_calls.size() - 1);
        const bool ok = each_field(call, [&](od::raw_json_string key, od::value& f) {
            if (key == "index") {
                std::int64_t index = 0;
                if (!read_count(f, index)) return false;
                t.index = static_cast<int>(index);
                return true;
            }
            if (key == "id") return read_text(f, t.id);
            if (key == "function")
                return is_null(f) || each_field(f, [&](od::raw_json_string k, od::value& g) {
                           if (k == "name") return read_text(g, t.name);
                           if (k == "arguments") return read_text(g, t.arguments);
                           return true;
                       });
            return true;
        });
        if (!ok) return false;
    }
    return true;
}

// A chat completions "delta" or a DashScope "message".
bool read_message(od::value& v, delta& out) {
    return is_null(v) || each_field(v, [&](od::raw_json_string key, od::value& f) {
               if (key == "content") return read_text(f, out.content);
               if (key == "reasoning_content") return read_text(f, out.reasoning_content);
               if (key == "role") return read_text(f, out.role);
               if (key == "tool_calls") return read_tool_calls(f, out);
               return true;
           });
}

// "choices": [{"delta"|"message": {...}, "finish_reason"}, ...]: the first choice.
bool read_choices(od::value& v, delta& out) {
    if (is_null(v)) return true;
    od::array choices;
    if (v.get_array().get(choices)) return false;
    bool first = true;
    for (auto element : choices) {
        if (element.error()) return false;
        if (!first) continue;  // n > 1 is not read (nor by the library)
        first = false;
        od::value choice = std::move(element).value_unsafe();
        const bool ok = each_field(choice, [&](od::raw_json_string key, od::value& f) {
            if (key == "delta" || key == "message") return read_message(f, out);
            if (key == "finish_reason") return read_text(f, out.finish_reason_text);
            return true;
        });
        if (!ok) return false;
    }
    return true;
}

// Every dialect's spelling of how a response ended.
finish_reason finish_of(std::string_view text) {
    if (text.empty() || text == "null") return finish_reason::none;
    if (text == "stop" || text == "end_turn" || text == "stop_sequence") return finish_reason::stop;
    if (text == "length" || text == "max_tokens" || text == "max_output_tokens") return finish_reason::length;
    if (text == "tool_calls" || text == "function_call" || text == "tool_use") return finish_reason::tool_calls;
    if (text == "content_filter" || text == "refusal") return finish_reason::content_filter;
    return finish_reason::other;
}

constexpr std::int64_t max_index = 4096;  // a hostile index must not size arrays

}  // namespace

#define LLMSTREAM_ANCHOR_NAME2(x) #x
#define LLMSTREAM_ANCHOR_NAME(x) LLMSTREAM_ANCHOR_NAME2(x)

std::string simdjson_anchor::kernels() {
    return "stage1=" + std::string(simdjson::get_active_implementation()->name()) +
           ",ondemand=" LLMSTREAM_ANCHOR_NAME(SIMDJSON_BUILTIN_IMPLEMENTATION);
}

void simdjson_anchor::reset() {
    running_usage_.reset();
    counts_ = {};
    tool_of_.clear();
    tools_ = 0;
}

bool simdjson_anchor::decode(const sse::event& e, delta& out) {
    out.clear();
    const std::string_view data = e.data;
    if (data == "[DONE]") return true;
    if (data.find_first_not_of(" \t\r\n") == std::string_view::npos) return true;  // keep-alive
    // The copy On-Demand needs: SIMDJSON_PADDING readable bytes after the document.
    if (padded_.capacity() < data.size() + simdjson::SIMDJSON_PADDING)
        padded_.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    padded_.assign(data);
    od::document doc;
    if (parser_.iterate(padded_.data(), padded_.size(), padded_.capacity()).get(doc)) return false;
    switch (dialect_) {
    case api_dialect::openai_compatible: return openai_chunk(doc, out);
    case api_dialect::dashscope_native: return dashscope_frame(doc, out);
    case api_dialect::anthropic_messages: return anthropic_event(e.type, doc, out);
    case api_dialect::openai_responses: return responses_event(e.type, doc, out);
    }
    return false;
}

// {"id", "model", "choices": [{"delta": {"role", "content", "reasoning_content", "tool_calls"},
//  "finish_reason"}], "usage": {...}}
bool simdjson_anchor::openai_chunk(od::document& doc, delta& out) {
    const bool ok = each_field(doc, [&](od::raw_json_string key, od::value& v) {
        if (key == "choices") return read_choices(v, out);
        if (key == "id") return read_text(v, out.response_id);
        if (key == "model") return read_text(v, out.model);
        if (key == "usage") return read_usage(v, out.usage);
        return true;
    });
    out.finish = finish_of(out.finish_reason_text);
    if (out.finish == finish_reason::none) out.finish_reason_text.clear();
    return ok;
}

// {"output": {"choices": [{"message": {...}, "finish_reason"}]}, "usage": {...}, "request_id"}.
// The usage is a running count, handed out once: with the frame that finishes.
bool simdjson_anchor::dashscope_frame(od::document& doc, delta& out) {
    const bool ok = each_field(doc, [&](od::raw_json_string key, od::value& v) {
        if (key == "output")
            return is_null(v) || each_field(v, [&](od::raw_json_string k, od::value& f) {
                       if (k == "choices") return read_choices(f, out);
                       if (k == "text") return read_text(f, out.content);  // result_format "text"
                       if (k == "finish_reason") return read_text(f, out.finish_reason_text);
                       return true;
                   });
        if (key == "usage") return read_usage(v, running_usage_);
        if (key == "request_id") return read_text(v, out.request_id);
        return true;
    });
    out.finish = finish_of(out.finish_reason_text);
    if (out.finish == finish_reason::none) out.finish_reason_text.clear();
    else out.usage = running_usage_;
    return ok;
}

// {"type", "index", "delta": {"type", "text"|"thinking"|"partial_json"|"stop_reason"},
//  "content_block": {"type", "text"|"thinking"|"id", "name"}, "message": {"id", "model", "role",
//  "usage"}, "usage": {...}}. One pass over the members in any order; the type decides at the end.
bool simdjson_anchor::anthropic_event(std::string_view event_name, od::document& doc, delta& out) {
    std::string_view type, part_type, partial_json, stop_reason, block_id, block_name;
    std::int64_t index = -1;
    anthropic_counts counts;
    const auto read_counts = [&](od::value& v) {
        return is_null(v) || each_field(v, [&](od::raw_json_string k, od::value& f) {
                   if (k == "input_tokens") return read_optional_count(f, counts.input);
                   if (k == "output_tokens") return read_optional_count(f, counts.output);
                   if (k == "cache_creation_input_tokens") return read_optional_count(f, counts.cache_creation);
                   if (k == "cache_read_input_tokens") return read_optional_count(f, counts.cache_read);
                   return true;
               });
    };
    const bool ok = each_field(doc, [&](od::raw_json_string key, od::value& v) {
        if (key == "type") return read_view(v, type);
        if (key == "index") return read_count(v, index);
        if (key == "delta" || key == "content_block")
            return each_field(v, [&](od::raw_json_string k, od::value& f) {
                if (k == "type") return read_view(f, part_type);
                if (k == "text") return read_text(f, out.content);
                if (k == "thinking") return read_text(f, out.reasoning_content);
                if (k == "partial_json") return read_view(f, partial_json);
                if (k == "stop_reason") return read_view(f, stop_reason);
                if (k == "id") return read_view(f, block_id);
                if (k == "name") return read_view(f, block_name);
                return true;
            });
        if (key == "message")
            return each_field(v, [&](od::raw_json_string k, od::value& f) {
                if (k == "id") return read_text(f, out.response_id);
                if (k == "model") return read_text(f, out.model);
                if (k == "role") return read_text(f, out.role);
                if (k == "usage") return read_counts(f);
                return true;
            });
        if (key == "usage") return read_counts(v);
        return true;
    });
    if (!ok) return false;
    if (type.empty()) type = event_name;
    const bool is_delta = type == "content_block_delta", is_start = type == "content_block_start";
    // Text only from text and thinking blocks and their deltas.
    if (!((is_delta && part_type == "text_delta") || (is_start && part_type == "text"))) out.content.clear();
    if (!((is_delta && part_type == "thinking_delta") || (is_start && part_type == "thinking"))) out.reasoning_content.clear();
    const auto overlay = [&] {
        for (auto field : {&anthropic_counts::input, &anthropic_counts::output, &anthropic_counts::cache_creation,
                           &anthropic_counts::cache_read})
            if (counts.*field) counts_.*field = counts.*field;
    };
    if (type == "message_start") {
        overlay();
    } else if (is_start && part_type == "tool_use") {
        const int tool = start_tool(index);
        if (tool < 0) return false;
        out.tool_calls.push_back({tool, std::string(block_id), std::string(block_name), {}});
    } else if (is_delta && part_type == "input_json_delta") {
        const int tool = tool_at(index);
        if (tool < 0) return false;  // arguments of a block that is not a tool call
        if (!partial_json.empty()) out.tool_calls.push_back({tool, {}, {}, std::string(partial_json)});
    } else if (type == "message_delta") {
        out.finish = finish_of(stop_reason);
        if (out.finish != finish_reason::none) out.finish_reason_text.assign(stop_reason);
        overlay();
        // The prompt is the three input counts together; cached_tokens the part read from the cache.
        usage& u = out.usage.emplace();
        u.input_tokens = counts_.input.value_or(0) + counts_.cache_creation.value_or(0) + counts_.cache_read.value_or(0);
        u.output_tokens = counts_.output.value_or(0);
        u.total_tokens = u.input_tokens + u.output_tokens;
        u.cached_tokens = counts_.cache_read;
    }
    return true;
}

// {"type", "delta": "...", "output_index", "item": {"type", "call_id", "name", "arguments"},
//  "response": {"id", "model", "status", "usage", "incomplete_details": {"reason"}}}. One pass
// over the members in any order; the type decides at the end.
bool simdjson_anchor::responses_event(std::string_view event_name, od::document& doc, delta& out) {
    std::string_view type, text, item_type, call_id, name, arguments, reason;
    std::int64_t output_index = -1;
    std::optional<usage> u;
    const bool ok = each_field(doc, [&](od::raw_json_string key, od::value& v) {
        if (key == "type") return read_view(v, type);
        if (key == "delta") return read_view(v, text);
        if (key == "output_index") return read_count(v, output_index);
        if (key == "item")
            return each_field(v, [&](od::raw_json_string k, od::value& f) {
                if (k == "type") return read_view(f, item_type);
                if (k == "call_id") return read_view(f, call_id);
                if (k == "name") return read_view(f, name);
                if (k == "arguments") return read_view(f, arguments);
                return true;
            });
        if (key == "response")
            return each_field(v, [&](od::raw_json_string k, od::value& f) {
                if (k == "id") return read_text(f, out.response_id);
                if (k == "model") return read_text(f, out.model);
                if (k == "usage") return read_usage(f, u);
                if (k == "incomplete_details")
                    return is_null(f) || each_field(f, [&](od::raw_json_string r, od::value& g) {
                               return r == "reason" ? read_view(g, reason) : true;
                           });
                return true;
            });
        return true;
    });
    if (!ok) return false;
    if (type.empty()) type = event_name;
    if (type == "response.output_text.delta" || type == "response.refusal.delta") {
        out.content.assign(text);
    } else if (type == "response.reasoning_text.delta" || type == "response.reasoning_summary_text.delta") {
        out.reasoning_content.assign(text);
    } else if (type == "response.created" || type == "response.in_progress") {
        out.role = "assistant";
    } else if (type == "response.output_item.added") {
        if (item_type == "message") out.role = "assistant";
        if (item_type == "function_call") {
            const int tool = start_tool(output_index);
            if (tool < 0) return false;
            out.tool_calls.push_back({tool, std::string(call_id), std::string(name), std::string(arguments)});
        }
    } else if (type == "response.function_call_arguments.delta") {
        const int tool = tool_at(output_index);
        if (tool < 0) return false;  // arguments of an item that is not a function call
        if (!text.empty()) out.tool_calls.push_back({tool, {}, {}, std::string(text)});
    } else if (type == "response.completed") {
        out.finish = tools_ > 0 ? finish_reason::tool_calls : finish_reason::stop;
        out.finish_reason_text = "completed";
        out.usage = u;
    } else if (type == "response.incomplete") {
        out.finish = reason.empty() ? finish_reason::other : finish_of(reason);
        out.finish_reason_text.assign(reason.empty() ? std::string_view("incomplete") : reason);
        out.usage = u;
    }
    return true;
}

// A tool call starts at Anthropic content block / Responses output item `at`: its ordinal, or -1.
int simdjson_anchor::start_tool(std::int64_t at) {
    if (at < 0 || at >= max_index) return -1;
    const auto i = static_cast<std::size_t>(at);
    if (tool_of_.size() <= i) tool_of_.resize(i + 1, -1);
    if (tool_of_[i] >= 0) return -1;  // started twice
    return tool_of_[i] = tools_++;
}

// The tool call of Anthropic content block / Responses output item `at`, or -1.
int simdjson_anchor::tool_at(std::int64_t at) const {
    const auto i = static_cast<std::size_t>(at);
    return at >= 0 && i < tool_of_.size() ? tool_of_[i] : -1;
}

}  // namespace llmstream::bench

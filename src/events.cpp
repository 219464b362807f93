#include <llmstream/events.hpp>
#include <llmstream/dialect.hpp>

#include <algorithm>

namespace llmstream {

void completion_accumulator::add(const delta& d) {
    result_.content += d.content;
    result_.reasoning_content += d.reasoning_content;
    if (!d.reasoning_signature.empty()) {  // the end of a thinking block: its text is what came since the last one
        result_.thinking_blocks.push_back({result_.reasoning_content.substr(thinking_from_), d.reasoning_signature});
        thinking_from_ = result_.reasoning_content.size();
    }
    if (!d.role.empty()) result_.role = d.role;
    for (const tool_call_delta& t : d.tool_calls) {
        // Calls are kept in wire-index order; fragments of one index are concatenated.
        const auto pos = std::lower_bound(tool_index_.begin(), tool_index_.end(), t.index);
        const auto i = static_cast<std::size_t>(pos - tool_index_.begin());
        if (pos == tool_index_.end() || *pos != t.index) {
            tool_index_.insert(pos, t.index);
            result_.tool_calls.insert(result_.tool_calls.begin() + static_cast<std::ptrdiff_t>(i), tool_call{});
        }
        tool_call& call = result_.tool_calls[i];
        if (!t.id.empty() && call.id.empty()) call.id = t.id;
        if (!t.name.empty() && call.name.empty()) call.name = t.name;
        call.arguments += t.arguments;
    }
    if (d.finish != finish_reason::none) {
        result_.finish = d.finish;
        result_.finish_reason_text = d.finish_reason_text;
    }
    if (d.usage) result_.usage = d.usage;
    if (!d.model.empty()) result_.model = d.model;
    if (!d.response_id.empty()) result_.response_id = d.response_id;
    if (!d.request_id.empty()) result_.request_id = d.request_id;
}

const char* to_string(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::none: return "none";
    case finish_reason::stop: return "stop";
    case finish_reason::length: return "length";
    case finish_reason::tool_calls: return "tool_calls";
    case finish_reason::content_filter: return "content_filter";
    case finish_reason::other: return "other";
    }
    return "unknown";
}

const char* to_string(api_dialect d) noexcept {
    switch (d) {
    case api_dialect::openai_compatible: return "openai-compatible";
    case api_dialect::dashscope_native: return "dashscope-native";
    case api_dialect::anthropic_messages: return "anthropic-messages";
    case api_dialect::openai_responses: return "openai-responses";
    }
    return "unknown";
}

const char* to_string(vendor v) noexcept {
    switch (v) {
    case vendor::automatic: return "automatic";
    case vendor::openai: return "openai";
    case vendor::dashscope: return "dashscope";
    case vendor::deepseek: return "deepseek";
    case vendor::anthropic: return "anthropic";
    }
    return "unknown";
}

const char* to_string(auth_scheme a) noexcept {
    switch (a) {
    case auth_scheme::automatic: return "automatic";
    case auth_scheme::bearer: return "bearer";
    case auth_scheme::x_api_key: return "x-api-key";
    }
    return "unknown";
}

}  // namespace llmstream

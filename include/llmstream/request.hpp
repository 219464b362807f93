// What to ask for: a chat request, independent of the provider dialect it is sent in.
#pragma once

#include <llmstream/retry.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmstream {

/// One element of a multimodal message's content.
struct content_part {
    enum class kind { text, image_url, audio_url, video_url };
    kind type = kind::text;
    std::string value{};  ///< the text for `text`, otherwise the URL (https:// or data: URI)

    static content_part text(std::string t) { return {kind::text, std::move(t)}; }
    static content_part image(std::string url) { return {kind::image_url, std::move(url)}; }
};

/// A tool call made by the assistant (in a request's history, or in a completion).
struct tool_call {
    std::string id{};
    std::string name{};
    std::string arguments{};  ///< JSON text, as the model produced it
    bool operator==(const tool_call&) const = default;
};

/// Anthropic Messages: one thinking block of a response, which a later turn that continues tool use
/// with thinking on must carry back unchanged (completion::thinking_blocks).
struct thinking_block {
    std::string thinking{};
    std::string signature{};  ///< Anthropic's; DashScope's Anthropic endpoint sends ""
    bool operator==(const thinking_block&) const = default;
};

struct message {
    std::string role{};                  ///< "system", "user", "assistant" or "tool"
    std::string content{};               ///< text content (used when `parts` is empty)
    std::vector<content_part> parts{};   ///< multimodal content; sent as an array when non-empty
    std::string name{};                  ///< optional participant name
    std::string tool_call_id{};          ///< for role "tool": the call this message answers
    std::vector<tool_call> tool_calls{}; ///< for role "assistant": calls it made
    /// For role "assistant", Anthropic Messages: that turn's thinking blocks, as the response
    /// carried them (completion::thinking_blocks). Those with a signature go first in the turn
    /// (Anthropic requires them when thinking is on and the turn called tools); unsigned ones are
    /// not sent. Other dialects never send them (DeepSeek rejects reasoning in requests).
    std::vector<thinking_block> thinking_blocks{};
};

/// A function the model may call. `parameters` is a JSON Schema object as JSON text.
struct tool {
    std::string name{};
    std::string description{};
    std::string parameters = R"({"type":"object","properties":{}})";
};

struct chat_request {
    std::string model{};
    std::vector<message> messages{};
    bool include_usage = true;            ///< stream_options.include_usage (OpenAI-compatible)
    std::optional<double> temperature{};
    std::optional<double> top_p{};
    std::optional<std::int64_t> max_tokens{};
    std::optional<std::int64_t> seed{};
    std::vector<std::string> stop{};
    std::vector<tool> tools{};
    std::string tool_choice{};              ///< "", "auto", "none", "required", or a function name to force
    std::string response_format{};          ///< "", "text", "json_object", or a JSON object as text
    /// A JSON object as text whose fields are merged into the body untouched (for DashScope
    /// native: into `parameters`), e.g. R"({"enable_thinking":true})". Overrides fields set above.
    std::string extra{};
    /// How this request is retried; unset: the client's `client_config::retry`. Not sent.
    std::optional<retry_policy> retry{};
};

}  // namespace llmstream

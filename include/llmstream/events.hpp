// What comes back: streamed deltas, and complete completions (accumulated or non-streaming).
#pragma once

#include <llmstream/request.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmstream {

enum class finish_reason { none, stop, length, tool_calls, content_filter, other };

struct usage {
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t total_tokens = 0;
    std::optional<std::int64_t> reasoning_tokens{};
    std::optional<std::int64_t> cached_tokens{};
    bool operator==(const usage&) const = default;
};

/// A fragment of a tool call. Fragments with the same `index` belong to one call: `id` and
/// `name` usually come once, `arguments` arrives in pieces to be concatenated.
struct tool_call_delta {
    int index = 0;
    std::string id{};
    std::string name{};
    std::string arguments{};
    bool operator==(const tool_call_delta&) const = default;
};

/// One step of a streamed generation. Empty fields mean "nothing new".
struct delta {
    std::string content{};
    std::string reasoning_content{};          ///< thinking models: reasoning text before the answer
    /// Anthropic: the signature that closes the thinking block streamed so far (`signature_delta`);
    /// completion_accumulator makes thinking_blocks of them.
    std::string reasoning_signature{};
    std::string role{};                       ///< in the delta where it first appears or changes (like the identity fields)
    std::vector<tool_call_delta> tool_calls{};
    finish_reason finish = finish_reason::none;
    std::string finish_reason_text{};         ///< as the server spelled it ("stop", "length", ...)
    std::optional<llmstream::usage> usage{};  ///< token counts, usually in the last delta
    // Identity fields: set in the delta where they first appear or change, empty otherwise.
    std::string model{};
    std::string response_id{};                ///< "chatcmpl-..." (OpenAI-compatible)
    std::string request_id{};                 ///< provider request id (DashScope)

    /// Every field equal (tests compare decoders with it; a new field is compared by itself).
    bool operator==(const delta&) const = default;

    bool empty() const noexcept {
        return content.empty() && reasoning_content.empty() && reasoning_signature.empty() && role.empty() && tool_calls.empty() &&
               finish == finish_reason::none && !usage;
    }
    /// Empties every field, keeping allocated capacity (inline: the decoder calls it per event).
    void clear() noexcept {
        content.clear();
        reasoning_content.clear();
        reasoning_signature.clear();
        role.clear();
        tool_calls.clear();
        finish = finish_reason::none;
        finish_reason_text.clear();
        usage.reset();
        model.clear();
        response_id.clear();
        request_id.clear();
    }
};

/// A whole generation.
struct completion {
    std::string content{};
    std::string reasoning_content{};
    /// Anthropic: the thinking blocks with their signatures, to go back in the assistant message
    /// of a later turn (message::thinking_blocks). reasoning_content holds their text too.
    std::vector<thinking_block> thinking_blocks{};
    std::string role = "assistant";
    std::vector<tool_call> tool_calls{};  ///< complete argument strings, in index order
    finish_reason finish = finish_reason::none;
    std::string finish_reason_text{};
    std::optional<llmstream::usage> usage{};
    std::string model{};
    std::string response_id{};
    std::string request_id{};
};

/// Folds deltas into a completion, as a streaming caller that also wants the whole answer would.
class completion_accumulator {
public:
    void add(const delta& d);
    const completion& result() const noexcept { return result_; }
    completion take() { return std::move(result_); }

private:
    completion result_;
    std::vector<int> tool_index_{};  // tool_index_[i] = wire index of result_.tool_calls[i]
    std::size_t thinking_from_ = 0;  // where the thinking block being streamed starts in reasoning_content
};

const char* to_string(finish_reason r) noexcept;

}  // namespace llmstream

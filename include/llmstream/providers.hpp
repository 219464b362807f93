// Who to talk to: the API dialect on the wire, and the vendor whose error codes are read.
#pragma once

#include <string>

namespace llmstream {

/// The wire format of requests and responses.
enum class api_dialect {
    openai_compatible,  ///< POST {base}/chat/completions (OpenAI, DashScope compatible mode, DeepSeek, vLLM, ...)
    dashscope_native,   ///< POST {base}/services/aigc/text-generation/generation, base e.g. https://dashscope-intl.aliyuncs.com/api/v1
};

/// Whose error codes these are. The same code can mean different things: `insufficient_quota`
/// is exhausted billing on OpenAI (terminal) but per-minute token throttling on DashScope
/// (retryable). A custom base URL is read as OpenAI unless configured otherwise.
enum class vendor { openai, dashscope, deepseek };

const char* to_string(api_dialect d) noexcept;
const char* to_string(vendor v) noexcept;

}  // namespace llmstream

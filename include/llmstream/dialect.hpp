// Who is on the other end: the API dialect on the wire, and the vendor whose error codes are read.
#pragma once

#include <string>

namespace llmstream {

/// The wire format of requests and responses.
enum class api_dialect {
    openai_compatible,  ///< POST {base}/chat/completions (OpenAI, DashScope compatible mode, DeepSeek, vLLM, ...)
    dashscope_native,   ///< POST {base}/services/aigc/text-generation/generation, base e.g. https://dashscope-intl.aliyuncs.com/api/v1
    anthropic_messages, ///< POST {base}/v1/messages (Anthropic; DashScope at https://dashscope-intl.aliyuncs.com/apps/anthropic)
    openai_responses,   ///< POST {base}/responses (OpenAI Responses; base e.g. https://api.openai.com/v1)
};

/// How the API key is sent.
enum class auth_scheme {
    automatic,   ///< `x-api-key: KEY` for anthropic_messages, `Authorization: Bearer KEY` for the others
    bearer,      ///< `Authorization: Bearer KEY` (e.g. ANTHROPIC_AUTH_TOKEN)
    x_api_key,   ///< `x-api-key: KEY`
};

/// Whose error codes these are. The same code can mean different things: `insufficient_quota`
/// is exhausted billing on OpenAI (terminal) but per-minute token throttling on DashScope
/// (retryable).
///
/// `automatic` (the default) tells the vendor from the base URL's host: `*.aliyuncs.com` is
/// DashScope, `api.deepseek.com` DeepSeek, `api.openai.com` OpenAI, `api.anthropic.com` Anthropic. When the host says nothing
/// (a local server, a gateway), an error body that is unmistakably DashScope's (a top-level
/// `request_id` beside the error, codes such as `Throttling.*`, `Arrearage`,
/// `Model.AccessDenied`) is read as DashScope's and anything else as OpenAI's. Name the vendor
/// to turn the guessing off.
enum class vendor { automatic, openai, dashscope, deepseek, anthropic };

const char* to_string(api_dialect d) noexcept;
const char* to_string(vendor v) noexcept;
const char* to_string(auth_scheme a) noexcept;

}  // namespace llmstream

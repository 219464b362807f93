// Whose error codes a server speaks: told from its host name, or when the host says nothing,
// from the shape of an error body. No I/O.
#pragma once

#include <llmstream/dialect.hpp>

#include <string_view>

namespace llmstream::protocol {

struct provider_error;

/// The vendor a host name belongs to (`dashscope*.aliyuncs.com`, `*.dashscope.aliyuncs.com` and
/// workspace hosts `*.maas.aliyuncs.com`: DashScope, `api.deepseek.com`:
/// DeepSeek, `api.openai.com`: OpenAI, `api.anthropic.com`: Anthropic; case and a trailing dot do not matter), or
/// `vendor::automatic` when the host says nothing.
llmstream::vendor vendor_of_host(std::string_view host) noexcept;

/// `configured`, or when that is `automatic`, what `host` says.
llmstream::vendor vendor_for_host(llmstream::vendor configured, std::string_view host) noexcept;

/// True when an error body can only be DashScope's: a top-level `request_id` beside the error
/// (OpenAI sends it only as a header) or a code of DashScope's own (`Throttling.*`,
/// `Arrearage`, `Model.AccessDenied`, ...).
bool looks_like_dashscope(const provider_error& e) noexcept;

/// The vendor to read `e` as: `v`, or when `v` is `automatic`, DashScope for a body that looks
/// like DashScope's and OpenAI for anything else.
llmstream::vendor vendor_for_error(llmstream::vendor v, const provider_error& e) noexcept;

}  // namespace llmstream::protocol

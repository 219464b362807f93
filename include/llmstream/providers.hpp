// Presets for the known services: base URL, dialect and vendor, as a client_config to adjust.
#pragma once

#include <llmstream/config.hpp>

#include <string>

namespace llmstream {

namespace providers {

enum class region { cn, intl, finance, us, hongkong };

client_config openai(std::string api_key);
client_config deepseek(std::string api_key);
/// DashScope's OpenAI-compatible mode in a region (keys belong to one region).
client_config dashscope_compatible(region r, std::string api_key);
/// DashScope's native text-generation API in a region.
client_config dashscope_native(region r, std::string api_key);
/// DashScope's Anthropic Messages endpoint in a region (`{host}/apps/anthropic`): for models
/// served there, as Claude Code and other Anthropic clients use them. Key sent as x-api-key.
client_config dashscope_anthropic(region r, std::string api_key);
/// DashScope's OpenAI Responses endpoint in a region (`{host}/compatible-mode/v1/responses`).
client_config dashscope_responses(region r, std::string api_key);
/// Anthropic's own API (https://api.anthropic.com), Messages dialect.
client_config anthropic(std::string api_key);
/// OpenAI's Responses API (https://api.openai.com/v1/responses).
client_config openai_responses(std::string api_key);
/// Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...); errors are read as OpenAI's.
client_config custom(std::string base_url, std::string api_key = {},
                     api_dialect dialect = api_dialect::openai_compatible);
/// The value of an environment variable, or "" when unset (e.g. "DASHSCOPE_API_KEY").
std::string key_from_env(const char* variable);

}  // namespace providers

}  // namespace llmstream

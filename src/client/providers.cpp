// The provider presets: base URL, dialect and vendor of each known service.
#include <llmstream/client.hpp>

#include <cstdlib>

namespace llmstream {

namespace providers {
namespace {

const char* dashscope_host(region r) {
    switch (r) {
    case region::cn: return "https://dashscope.aliyuncs.com";
    case region::intl: return "https://dashscope-intl.aliyuncs.com";
    case region::finance: return "https://dashscope-finance.aliyuncs.com";
    case region::us: return "https://dashscope-us.aliyuncs.com";
    case region::hongkong: return "https://cn-hongkong.dashscope.aliyuncs.com";
    }
    return "https://dashscope.aliyuncs.com";
}

}  // namespace

client_config openai(std::string api_key) {
    client_config c;
    c.base_url = "https://api.openai.com/v1";
    c.api_key = std::move(api_key);
    return c;
}

client_config deepseek(std::string api_key) {
    client_config c;
    c.base_url = "https://api.deepseek.com";
    c.vendor = vendor::deepseek;
    c.api_key = std::move(api_key);
    return c;
}

client_config dashscope_compatible(region r, std::string api_key) {
    client_config c;
    c.base_url = std::string(dashscope_host(r)) + "/compatible-mode/v1";
    c.vendor = vendor::dashscope;
    c.api_key = std::move(api_key);
    return c;
}

client_config dashscope_native(region r, std::string api_key) {
    client_config c;
    c.base_url = std::string(dashscope_host(r)) + "/api/v1";
    c.dialect = api_dialect::dashscope_native;
    c.vendor = vendor::dashscope;
    c.api_key = std::move(api_key);
    return c;
}

client_config dashscope_anthropic(region r, std::string api_key) {
    client_config c;
    c.base_url = std::string(dashscope_host(r)) + "/apps/anthropic";
    c.dialect = api_dialect::anthropic_messages;
    c.vendor = vendor::dashscope;
    c.api_key = std::move(api_key);
    return c;
}

client_config dashscope_responses(region r, std::string api_key) {
    client_config c = dashscope_compatible(r, std::move(api_key));
    c.dialect = api_dialect::openai_responses;
    return c;
}

client_config anthropic(std::string api_key) {
    client_config c;
    c.base_url = "https://api.anthropic.com";
    c.dialect = api_dialect::anthropic_messages;
    c.vendor = vendor::anthropic;
    c.api_key = std::move(api_key);
    return c;
}

client_config openai_responses(std::string api_key) {
    client_config c = openai(std::move(api_key));
    c.dialect = api_dialect::openai_responses;
    return c;
}

client_config custom(std::string base_url, std::string api_key, api_dialect dialect) {
    client_config c;
    c.base_url = std::move(base_url);
    c.api_key = std::move(api_key);
    c.dialect = dialect;
    if (dialect == api_dialect::dashscope_native) c.vendor = vendor::dashscope;
    return c;
}

std::string key_from_env(const char* variable) {
    const char* v = variable ? std::getenv(variable) : nullptr;
    return v ? std::string(v) : std::string();
}

}  // namespace providers

}  // namespace llmstream

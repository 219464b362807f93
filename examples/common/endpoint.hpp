// Where the examples send their requests: a real provider when an API key is set, otherwise an
// llmstream-mock started inside the example, so that every example runs on any machine.
//
//   DASHSCOPE_API_KEY  DashScope (region from LLMSTREAM_DASHSCOPE_REGION = cn|intl|us|finance|hongkong,
//                      default intl)
//   OPENAI_API_KEY     OpenAI
//   DEEPSEEK_API_KEY   DeepSeek
//   LLMSTREAM_MODEL    overrides the model
#pragma once

#include <llmstream/mock/server.hpp>

#include <llmstream/client.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace example {

struct endpoint {
    llmstream::client_config config;
    std::string model;
    std::unique_ptr<llmstream::mock::server> mock;  ///< set when no key was found; stop() it when done
};

/// `mock_model` scripts the embedded mock's reply (see <llmstream/mock/server.hpp>). `provider`
/// ("openai", "deepseek", "dashscope", "dashscope-intl", "dashscope-finance") picks one provider
/// instead of the first key found; its key must be set.
inline endpoint pick(boost::asio::io_context& io, const std::string& mock_model,
                     llmstream::api_dialect dialect = llmstream::api_dialect::openai_compatible,
                     const std::string& provider = {}) {
    using namespace llmstream::providers;
    endpoint e;
    const bool native = dialect == llmstream::api_dialect::dashscope_native;
    const bool any = provider.empty();
    const char* wanted = provider.rfind("dashscope", 0) == 0 ? "DASHSCOPE_API_KEY"
                         : provider == "openai"             ? "OPENAI_API_KEY"
                         : provider == "deepseek"           ? "DEEPSEEK_API_KEY"
                                                            : nullptr;
    if (!any && (!wanted || key_from_env(wanted).empty()))
        throw std::runtime_error(wanted ? std::string(wanted) + " is not set" : "unknown provider " + provider);
    if (auto key = key_from_env("DASHSCOPE_API_KEY"); !key.empty() && (any || provider.rfind("dashscope", 0) == 0)) {
        std::string r = key_from_env("LLMSTREAM_DASHSCOPE_REGION");
        if (provider == "dashscope") r = "cn";
        if (provider == "dashscope-intl") r = "intl";
        if (provider == "dashscope-finance") r = "finance";
        const region reg = r == "cn" ? region::cn : r == "us" ? region::us : r == "finance" ? region::finance
                         : r == "hongkong" ? region::hongkong : region::intl;
        e.config = native ? dashscope_native(reg, key) : dashscope_compatible(reg, key);
        e.model = "qwen-plus";
    } else if (key = key_from_env("OPENAI_API_KEY"); !key.empty() && !native && (any || provider == "openai")) {
        e.config = openai(key);
        e.model = "gpt-4o-mini";
    } else if (key = key_from_env("DEEPSEEK_API_KEY"); !key.empty() && !native && (any || provider == "deepseek")) {
        e.config = deepseek(key);
        e.model = "deepseek-chat";
    } else {
        e.mock = std::make_unique<llmstream::mock::server>(io.get_executor());
        e.mock->start();
        const std::string base = "http://127.0.0.1:" + std::to_string(e.mock->port());
        e.config = custom(native ? base + "/api/v1" : base + "/v1", "mock-key", dialect);
        e.model = mock_model;
        std::cerr << "(no API key set: talking to an embedded llmstream-mock)\n";
    }
    if (auto m = key_from_env("LLMSTREAM_MODEL"); !m.empty()) e.model = m;
    return e;
}

}  // namespace example

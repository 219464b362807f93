// The `llmstream` command line: what the user asked for, and the client configuration it means.
// No I/O here, so that tests can check every rule.
#pragma once

#include <llmstream/client.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::cli {

struct options {
    std::string command;   ///< "chat" or "doctor"
    std::string provider;  ///< "", openai, anthropic, deepseek, dashscope, dashscope-intl, dashscope-finance,
                           ///< dashscope-us, dashscope-hongkong
    std::optional<api_dialect> dialect;
    std::optional<llmstream::vendor> vendor;  ///< --vendor; unset: told from the host
    std::vector<host_override> resolve;      ///< --resolve HOST:ADDRESS, as many as given
    std::string base_url;
    std::string api_key;
    std::string workspace;  ///< --workspace: DashScope sub-workspace id
    std::string model;
    std::string system;
    bool no_stream = false;
    std::optional<int> max_retries;
    rate_limits limits;  ///< --rpm, --tpm, --max-in-flight, --adaptive, --redis
    std::optional<std::chrono::milliseconds> connect_timeout;
    std::optional<std::chrono::milliseconds> idle_timeout;
    std::optional<std::chrono::milliseconds> timeout;
    std::string ca_file;
    std::string proxy;      ///< --proxy URL (http://[user:password@]host[:port])
    bool no_proxy = false;  ///< --no-proxy: connect directly, whatever the environment says
    http_version http = http_version::automatic;  ///< --http auto|1.1|2
    bool show_reasoning = false;
    bool verbose = false;
    bool help = false;
    bool version = false;
    std::vector<std::string> prompt;  ///< the PROMPT words; "-" alone means: read standard input
};

/// `error` is empty on success; otherwise it says what is wrong (exit code 2).
struct parse_result {
    options opts;
    std::string error;
};

/// Parses the arguments after the program name.
parse_result parse_arguments(const std::vector<std::string_view>& args);

/// The usage text.
std::string usage();

/// Returns an environment variable's value ("" when unset).
using env_lookup = std::function<std::string(const char*)>;

/// What the options mean for the client.
struct endpoint {
    client_config config;
    std::string key_source;  ///< "--api-key", the environment variable's name, or "" when there is no key
    std::string key_variable;  ///< the environment variable this provider's key is read from ("" for none)
    std::string bearer_variable;  ///< read when key_variable is unset, sent as Bearer (ANTHROPIC_AUTH_TOKEN)
    std::string description;   ///< "DashScope compatible mode, international (Singapore)", ...
    bool key_required = true;  ///< false for a custom base URL (local servers often need none)
};

/// Builds the client configuration. Returns "" or what is wrong with the options (exit code 2).
std::string make_endpoint(const options& opts, const env_lookup& env, endpoint& out);

}  // namespace llmstream::cli

#include "cli/options.hpp"

#include "protocol/vendor.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <cmath>

namespace llmstream::cli {

namespace {

bool parse_seconds(std::string_view text, std::chrono::milliseconds& out) {
    double v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || !std::isfinite(v) || v < 0 || v > 86400.0 * 365)
        return false;
    out = std::chrono::milliseconds(static_cast<long long>(std::llround(v * 1000.0)));
    return true;
}

bool parse_count(std::string_view text, int& out) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && p == text.data() + text.size() && out >= 0 && out <= 100;
}

bool parse_limit(std::string_view text, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && p == text.data() + text.size() && out > 0 && out <= 1'000'000'000;
}

}  // namespace

std::string usage() {
    return "usage:\n"
           "  llmstream chat [--provider openai|anthropic|deepseek|dashscope|dashscope-intl|dashscope-finance|\n"
           "                             dashscope-us|dashscope-hongkong]\n"
           "                 [--dialect openai|dashscope|anthropic|responses] [--base-url URL] [--api-key KEY]\n"
           "                 [--workspace ID] --model NAME\n"
           "                 [--vendor auto|openai|dashscope|deepseek|anthropic] [--resolve HOST:ADDRESS]\n"
           "                 [--system TEXT] [--no-stream] [--max-retries N] [--connect-timeout S]\n"
           "                 [--idle-timeout S] [--timeout S] [--ca-file PATH] [--proxy URL | --no-proxy]\n"
           "                 [--http auto|1.1|2] [--rpm N] [--tpm N] [--max-in-flight N] [--adaptive]\n"
           "                 [--redis URL]\n"
           "                 [--show-reasoning] [-v|--verbose] PROMPT...\n"
           "  llmstream doctor [--provider ...] [--dialect ...] [--base-url URL] [--api-key KEY] [--workspace ID]\n"
           "                 [--model NAME]\n"
           "                 [--vendor ...] [--resolve HOST:ADDRESS] [--ca-file PATH] [--connect-timeout S] [--timeout S]\n"
           "                 [--proxy URL | --no-proxy] [--http auto|1.1|2] [--rpm N] [--tpm N]\n"
           "                 [--max-in-flight N] [--adaptive] [--redis URL]\n"
           "  llmstream --version | --help\n"
           "\n"
           "PROMPT \"-\" reads the prompt from standard input. The key comes from --api-key or the\n"
           "provider's variable: OPENAI_API_KEY, DASHSCOPE_API_KEY, DEEPSEEK_API_KEY, ANTHROPIC_API_KEY\n"
           "(or ANTHROPIC_AUTH_TOKEN, sent as Bearer); with --base-url and no --provider, from the variable\n"
           "of the provider the host belongs to (dashscope*.aliyuncs.com, *.dashscope.aliyuncs.com and\n"
           "*.maas.aliyuncs.com: DashScope; api.deepseek.com: DeepSeek,\n"
           "api.openai.com: OpenAI, api.anthropic.com: Anthropic), else from LLMSTREAM_API_KEY. Dialects:\n"
           "openai (chat completions; --base-url is the prefix before /chat/completions), dashscope\n"
           "(native; before /services/aigc/text-generation/generation), anthropic (Messages; before\n"
           "/v1/messages) and responses (OpenAI Responses; before /responses). --workspace sends a DashScope\n"
           "sub-workspace id (X-DashScope-WorkSpace). The host also says whose error\n"
           "codes to read; --vendor names them instead. --resolve sends requests for HOST to ADDRESS (an IP\n"
           "literal) without a DNS lookup; TLS still checks the certificate against HOST. --proxy sends\n"
           "requests through an HTTP proxy (http://[user:password@]host[:port]; https through a CONNECT\n"
           "tunnel); without it https_proxy, http_proxy, all_proxy and no_proxy (or upper case) are read as\n"
           "curl reads them; --no-proxy connects directly. --http picks the HTTP version: auto (default;\n"
           "https offers h2 and http/1.1, h2 preferred; http:// is HTTP/1.1), 1.1, or 2 (https: h2 or fail;\n"
           "http://: h2 with prior knowledge). --rpm, --tpm and --max-in-flight hold requests to the client's\n"
           "own limits (requests and tokens per minute, attempts at once); --adaptive finds the rate by\n"
           "itself (it grows while requests succeed and halves on a 429). A request they cannot admit in\n"
           "time ends with exit code 8. --redis redis://[:password@]host[:port][/db] shares them with every\n"
           "process using the same Redis, key and model (when Redis does not answer, each process keeps\n"
           "its own).\n"
           "\n"
           "exit codes: 0 ok, 2 usage, 3 authentication, 4 permission denied, 5 payment or quota,\n"
           "6 not found, 7 bad request or content filtered, 8 rate limited, 9 server error or overloaded,\n"
           "10 network, TLS or timeout, 1 anything else\n";
}

parse_result parse_arguments(const std::vector<std::string_view>& args) {
    parse_result r;
    options& o = r.opts;
    std::size_t i = 0;
    if (i < args.size() && (args[i] == "--help" || args[i] == "-h" || args[i] == "help")) {
        o.help = true;
        return r;
    }
    if (i < args.size() && args[i] == "--version") {
        o.version = true;
        return r;
    }
    if (i >= args.size()) {
        r.error = "no command given";
        return r;
    }
    o.command = std::string(args[i++]);
    if (o.command != "chat" && o.command != "doctor") {
        r.error = "unknown command '" + o.command + "'";
        return r;
    }
    bool options_done = false;
    for (; i < args.size() && r.error.empty(); ++i) {
        std::string_view a = args[i];
        if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
            o.prompt.emplace_back(a);
            continue;
        }
        if (a == "--") {
            options_done = true;
            continue;
        }
        std::string_view name = a;
        std::optional<std::string_view> inline_value;
        if (const auto eq = a.find('='); a.substr(0, 2) == "--" && eq != std::string_view::npos) {
            name = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
        }
        auto value = [&](std::string_view& out) {
            if (inline_value) {
                out = *inline_value;
                return true;
            }
            if (i + 1 >= args.size()) {
                r.error = std::string(name) + " needs a value";
                return false;
            }
            out = args[++i];
            return true;
        };
        auto flag = [&] {
            if (inline_value) r.error = std::string(name) + " takes no value";
            return !inline_value;
        };
        std::string_view v;
        if (name == "--help" || name == "-h") {
            if (flag()) o.help = true;
        } else if (name == "-v" || name == "--verbose") {
            if (flag()) o.verbose = true;
        } else if (name == "--no-stream") {
            if (flag()) o.no_stream = true;
        } else if (name == "--show-reasoning") {
            if (flag()) o.show_reasoning = true;
        } else if (name == "--provider") {
            if (!value(v)) break;
            if (v != "openai" && v != "anthropic" && v != "deepseek" && v != "dashscope" && v != "dashscope-intl" &&
                v != "dashscope-finance" && v != "dashscope-us" && v != "dashscope-hongkong")
                r.error = "--provider must be openai, anthropic, deepseek, dashscope, dashscope-intl, dashscope-finance, "
                          "dashscope-us or dashscope-hongkong";
            o.provider = std::string(v);
        } else if (name == "--dialect") {
            if (!value(v)) break;
            if (v == "openai") o.dialect = api_dialect::openai_compatible;
            else if (v == "dashscope") o.dialect = api_dialect::dashscope_native;
            else if (v == "anthropic") o.dialect = api_dialect::anthropic_messages;
            else if (v == "responses") o.dialect = api_dialect::openai_responses;
            else r.error = "--dialect must be openai, dashscope, anthropic or responses";
        } else if (name == "--vendor") {
            if (!value(v)) break;
            if (v == "auto") o.vendor = vendor::automatic;
            else if (v == "openai") o.vendor = vendor::openai;
            else if (v == "dashscope") o.vendor = vendor::dashscope;
            else if (v == "deepseek") o.vendor = vendor::deepseek;
            else if (v == "anthropic") o.vendor = vendor::anthropic;
            else r.error = "--vendor must be auto, openai, dashscope, deepseek or anthropic";
        } else if (name == "--workspace") {
            if (!value(v)) break;
            if (v.empty() || v.find_first_of(" \t\r\n") != std::string_view::npos) r.error = "--workspace must be a workspace id";
            else o.workspace = std::string(v);
        } else if (name == "--resolve") {
            if (!value(v)) break;
            const auto colon = v.find(':');
            boost::system::error_code ec;
            if (colon == 0 || colon == std::string_view::npos) {
                r.error = "--resolve must be HOST:ADDRESS";
                break;
            }
            std::string address(v.substr(colon + 1));
            if (address.size() > 2 && address.front() == '[' && address.back() == ']')
                address = address.substr(1, address.size() - 2);
            boost::asio::ip::make_address(address, ec);
            if (ec) r.error = "--resolve: '" + address + "' is not an IPv4 or IPv6 address";
            else o.resolve.push_back({std::string(v.substr(0, colon)), std::move(address)});
        } else if (name == "--base-url") {
            if (value(v)) o.base_url = std::string(v);
        } else if (name == "--api-key") {
            if (value(v)) o.api_key = std::string(v);
        } else if (name == "--model") {
            if (value(v)) o.model = std::string(v);
        } else if (name == "--system") {
            if (value(v)) o.system = std::string(v);
        } else if (name == "--ca-file") {
            if (value(v)) o.ca_file = std::string(v);
        } else if (name == "--proxy") {
            if (value(v)) o.proxy = std::string(v);
        } else if (name == "--no-proxy") {
            if (flag()) o.no_proxy = true;
        } else if (name == "--http") {
            if (!value(v)) break;
            if (v == "auto") o.http = http_version::automatic;
            else if (v == "1.1" || v == "1") o.http = http_version::http1;
            else if (v == "2") o.http = http_version::http2;
            else r.error = "--http must be auto, 1.1 or 2";
        } else if (name == "--max-retries") {
            if (!value(v)) break;
            int n = 0;
            if (!parse_count(v, n)) r.error = "--max-retries must be a whole number from 0 to 100";
            o.max_retries = n;
        } else if (name == "--rpm" || name == "--tpm" || name == "--max-in-flight") {
            if (!value(v)) break;
            std::uint64_t n = 0;
            if (!parse_limit(v, n)) {
                r.error = std::string(name) + " must be a positive whole number";
                break;
            }
            if (name == "--rpm") o.limits.requests_per_minute = n;
            else if (name == "--tpm") o.limits.tokens_per_minute = n;
            else o.limits.max_in_flight = static_cast<std::size_t>(n);
        } else if (name == "--redis") {
            if (value(v)) o.limits.redis = std::string(v);
        } else if (name == "--adaptive") {
            if (flag()) o.limits.adaptive = true;
        } else if (name == "--connect-timeout" || name == "--idle-timeout" || name == "--timeout") {
            if (!value(v)) break;
            std::chrono::milliseconds ms{};
            if (!parse_seconds(v, ms)) {
                r.error = std::string(name) + " must be a number of seconds (0 disables it)";
                break;
            }
            (name == "--connect-timeout" ? o.connect_timeout : name == "--idle-timeout" ? o.idle_timeout : o.timeout) = ms;
        } else {
            r.error = "unknown option '" + std::string(name) + "'";
        }
    }
    if (!r.error.empty() || o.help) return r;
    if (o.command == "chat") {
        if (o.model.empty()) r.error = "--model is required";
        else if (o.prompt.empty()) r.error = "no PROMPT given";
    } else if (!o.prompt.empty()) {
        r.error = "doctor takes no PROMPT";
    }
    return r;
}

namespace {

const char* region_description(providers::region r) {
    switch (r) {
    case providers::region::cn: return ", mainland China (Beijing)";
    case providers::region::intl: return ", international (Singapore)";
    case providers::region::finance: return ", finance cloud";
    case providers::region::us: return ", US (Virginia)";
    case providers::region::hongkong: return ", Hong Kong";
    }
    return "";
}

const char* dialect_flag(api_dialect d) {
    switch (d) {
    case api_dialect::openai_compatible: return "openai";
    case api_dialect::dashscope_native: return "dashscope";
    case api_dialect::anthropic_messages: return "anthropic";
    case api_dialect::openai_responses: return "responses";
    }
    return "?";
}

// The key variables of a vendor's own hosts; elsewhere LLMSTREAM_API_KEY, and none is required.
void key_variables(vendor v, endpoint& out) {
    switch (v) {
    case vendor::dashscope: out.key_variable = "DASHSCOPE_API_KEY"; return;
    case vendor::deepseek: out.key_variable = "DEEPSEEK_API_KEY"; return;
    case vendor::openai: out.key_variable = "OPENAI_API_KEY"; return;
    case vendor::anthropic:
        out.key_variable = "ANTHROPIC_API_KEY";
        out.bearer_variable = "ANTHROPIC_AUTH_TOKEN";
        return;
    case vendor::automatic: break;
    }
    out.key_variable = "LLMSTREAM_API_KEY";
    out.key_required = false;
}

}  // namespace

std::string make_endpoint(const options& opts, const env_lookup& env, endpoint& out) {
    using providers::region;
    out = endpoint{};
    const std::string provider = opts.provider.empty() && opts.base_url.empty() ? "openai" : opts.provider;
    client_config& c = out.config;
    const auto refuse = [&](const char* who) {
        return std::string("--dialect ") + dialect_flag(*opts.dialect) + " is not served by " + who;
    };
    if (provider == "openai") {
        const api_dialect d = opts.dialect.value_or(api_dialect::openai_compatible);
        if (d == api_dialect::dashscope_native) return "--dialect dashscope needs a DashScope provider or a --base-url";
        if (d == api_dialect::anthropic_messages) return refuse("OpenAI: use --provider anthropic");
        c = d == api_dialect::openai_responses ? providers::openai_responses({}) : providers::openai({});
        out.description = d == api_dialect::openai_responses ? "OpenAI Responses" : "OpenAI";
        key_variables(vendor::openai, out);
    } else if (provider == "deepseek") {
        const api_dialect d = opts.dialect.value_or(api_dialect::openai_compatible);
        if (d == api_dialect::dashscope_native) return "--dialect dashscope needs a DashScope provider or a --base-url";
        if (d != api_dialect::openai_compatible) return refuse("DeepSeek's preset: give its --base-url");
        c = providers::deepseek({});
        out.description = "DeepSeek";
        key_variables(vendor::deepseek, out);
    } else if (provider == "anthropic") {
        const api_dialect d = opts.dialect.value_or(api_dialect::anthropic_messages);
        if (d != api_dialect::anthropic_messages) return refuse("Anthropic");
        c = providers::anthropic({});
        out.description = "Anthropic";
        key_variables(vendor::anthropic, out);
    } else if (provider.rfind("dashscope", 0) == 0) {
        const region r = provider == "dashscope-intl"       ? region::intl
                         : provider == "dashscope-finance"  ? region::finance
                         : provider == "dashscope-us"       ? region::us
                         : provider == "dashscope-hongkong" ? region::hongkong
                                                            : region::cn;
        switch (opts.dialect.value_or(api_dialect::openai_compatible)) {
        case api_dialect::openai_compatible:
            c = providers::dashscope_compatible(r, {});
            out.description = "DashScope compatible mode";
            break;
        case api_dialect::dashscope_native:
            c = providers::dashscope_native(r, {});
            out.description = "DashScope native API";
            break;
        case api_dialect::anthropic_messages:
            c = providers::dashscope_anthropic(r, {});
            out.description = "DashScope Anthropic Messages";
            break;
        case api_dialect::openai_responses:
            c = providers::dashscope_responses(r, {});
            out.description = "DashScope OpenAI Responses";
            break;
        }
        out.description += region_description(r);
        key_variables(vendor::dashscope, out);
    }
    if (!opts.base_url.empty()) {
        // Checked here so that a usage error says so; the client checks again.
        auto u = boost::urls::parse_uri(opts.base_url);
        if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty())
            return "--base-url must be an http:// or https:// URL with a host";
        if (provider.empty()) {
            const api_dialect d = opts.dialect.value_or(api_dialect::openai_compatible);
            c = providers::custom(opts.base_url, {}, d);
            // A known provider's host: its key variable and its error codes, as with --provider.
            const vendor host_vendor = protocol::vendor_of_host(u->host());
            if (host_vendor != vendor::automatic) c.vendor = host_vendor;
            key_variables(host_vendor, out);
            switch (host_vendor) {
            case vendor::dashscope: out.description = "DashScope, told from the host"; break;
            case vendor::deepseek: out.description = "DeepSeek, told from the host"; break;
            case vendor::openai: out.description = "OpenAI, told from the host"; break;
            case vendor::anthropic: out.description = "Anthropic, told from the host"; break;
            case vendor::automatic: out.description = "a custom server"; break;
            }
        }
        c.base_url = opts.base_url;
        while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
    }
    if (opts.vendor) c.vendor = *opts.vendor;
    c.host_overrides = opts.resolve;
    if (!opts.api_key.empty()) {
        c.api_key = opts.api_key;
        out.key_source = "--api-key";
    } else if (auto key = env(out.key_variable.c_str()); !key.empty()) {
        c.api_key = std::move(key);
        out.key_source = out.key_variable;
    } else if (!out.bearer_variable.empty()) {
        if (auto token = env(out.bearer_variable.c_str()); !token.empty()) {
            c.api_key = std::move(token);
            c.auth = auth_scheme::bearer;
            out.key_source = out.bearer_variable;
        }
    }
    if (!opts.workspace.empty()) c.workspace = opts.workspace;
    if (opts.max_retries) c.retry.max_retries = *opts.max_retries;
    c.limits = opts.limits;
    if (opts.connect_timeout) c.timeouts.connect = *opts.connect_timeout;
    if (opts.idle_timeout) c.timeouts.idle = *opts.idle_timeout;
    if (opts.timeout) c.timeouts.total = *opts.timeout;
    if (!opts.ca_file.empty()) c.tls.ca_file = opts.ca_file;
    if (!opts.proxy.empty()) c.proxy.url = opts.proxy;
    c.http = opts.http;
    if (opts.no_proxy) {
        c.proxy.url.clear();
        c.proxy.from_environment = false;
    }
    return {};
}

}  // namespace llmstream::cli

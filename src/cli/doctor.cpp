// `llmstream doctor`: checks the key, the endpoint and its region, DNS, then makes a one-token
// request and explains the outcome as a checklist with the fix for each failure.
#include "cli/commands.hpp"
#include "cli/outcome.hpp"
#include "http/origin.hpp"
#include "http/proxy.hpp"
#include "http/tls_stream.hpp"
#include "limits/redis_connection.hpp"
#include "limits/redis_store.hpp"

#include <llmstream/error.hpp>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

namespace llmstream::cli {

namespace {


namespace asio = boost::asio;

void line(const char* mark, const std::string& what) { std::cout << mark << ' ' << what << '\n'; }
void ok(const std::string& what) { line("[ok]  ", what); }
void fail(const std::string& what) { line("[FAIL]", what); }
void note(const std::string& what) { line("[note]", what); }

// The client's own rate limits in force, in one line.
std::string describe_limits(const rate_limits& l) {
    if (!l.enabled()) return "none set (--rpm, --tpm, --max-in-flight, --adaptive)";
    std::string out;
    auto add = [&](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
    if (l.requests_per_minute > 0) add(std::to_string(l.requests_per_minute) + " requests per minute");
    if (l.tokens_per_minute > 0) add(std::to_string(l.tokens_per_minute) + " tokens per minute");
    if (l.max_in_flight > 0) add(std::to_string(l.max_in_flight) + " in flight");
    if (l.adaptive) add("adaptive (from " + std::to_string(l.adaptive_start_rpm) + " requests per minute)");
    return out + (l.redis.empty() ? "; kept by this process alone, per model" : "; shared on Redis, per model");
}

// Does the Redis of --redis answer? (Its address only: never the password.)
void check_redis(const std::string& url, const tls_options& tls) {
    limits::redis_address address;
    if (const std::string error = limits::parse_redis_url(url, address); !error.empty()) {
        fail(error);
        return;
    }
    asio::io_context io(1);
    const auto tls_context = address.tls ? http::make_client_tls_context(tls) : nullptr;
    auto connection =
        std::make_shared<limits::redis_connection>(io.get_executor(), address, std::chrono::seconds(2), tls_context.get());
    boost::system::error_code ec;
    limits::redis_reply reply;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        std::vector<std::string> ping = {"PING"};  // (a braced list inside co_await trips GCC 12)
        ec = co_await connection->call(std::move(ping), reply);
    }, asio::detached);
    io.run();
    if (!ec && reply.type != limits::redis_reply::kind::error)
        ok("Redis at " + address.shown() + " answers: the limits are shared with every process that uses it");
    else
        note("Redis at " + address.shown() + " " + limits::describe_failure(ec, reply) +
             ": each process keeps its own limits, divided by expected instances, until it answers");
}
void fix(const std::string& what) { std::cout << "       fix: " << what << '\n'; }

// The base URL as it may be shown: no user info, no query (either may carry a secret).
std::string shown_url(const std::string& base_url) {
    auto u = boost::urls::parse_uri(base_url);
    if (!u) return "(unparsable URL)";
    boost::urls::url v(*u);
    v.remove_userinfo();
    v.remove_query();
    v.remove_fragment();
    return std::string(v.buffer());
}

std::string region_note(std::string_view host) {
    if (host == "dashscope.aliyuncs.com") return "DashScope mainland China (Beijing)";
    if (host == "dashscope-intl.aliyuncs.com") return "DashScope international (Singapore)";
    if (host == "dashscope-finance.aliyuncs.com") return "DashScope finance cloud";
    if (host == "dashscope-us.aliyuncs.com") return "DashScope US (Virginia)";
    if (host == "cn-hongkong.dashscope.aliyuncs.com") return "DashScope Hong Kong";
    if (host == "api.openai.com") return "OpenAI";
    if (host == "api.deepseek.com") return "DeepSeek";
    if (host == "api.anthropic.com") return "Anthropic";
    if (host.size() > 18 && host.substr(host.size() - 18) == ".maas.aliyuncs.com") return "a DashScope workspace host";
    if (host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]") return "a server on this machine";
    return "a custom server";
}

std::string dialect_name(api_dialect d) {
    switch (d) {
    case api_dialect::openai_compatible: return "OpenAI-compatible";
    case api_dialect::dashscope_native: return "DashScope native";
    case api_dialect::anthropic_messages: return "Anthropic Messages";
    case api_dialect::openai_responses: return "OpenAI Responses";
    }
    return "unknown";
}

std::string default_model(const options& o) {
    if (!o.model.empty()) return o.model;
    if (o.provider.rfind("dashscope", 0) == 0)
        return o.dialect == api_dialect::anthropic_messages || o.dialect == api_dialect::openai_responses ? "qwen-plus"
                                                                                                            : "qwen-turbo";
    if (o.provider == "anthropic") return "claude-haiku-4-5";
    if (o.provider == "deepseek") return "deepseek-chat";
    if (o.provider == "openai" || (o.provider.empty() && o.base_url.empty())) return "gpt-4o-mini";
    return {};
}

// What to do about the failure of the one-token request, for the classes people get lost in.
std::string fix_for(const boost::system::error_code& ec, const diagnostics& d, const endpoint& ep,
                    const std::string& model, std::string_view region) {
    const bool dashscope = ep.config.vendor == vendor::dashscope;
    const bool generic_denial = d.provider_code.empty() || d.provider_code == "Model.AccessDenied" ||
                                d.provider_code == "AccessDenied" || d.provider_code == "Workspace.AccessDenied" ||
                                d.provider_code == "NoPermission";
    if (ec == api_errc::permission_denied && !generic_denial) return d.hint;  // e.g. FreeTierOnly: its own fix
    if (ec == api_errc::permission_denied) {
        if (dashscope)
            return "the workspace of this key lacks model authorization for " + model +
                   ", or the service is not activated. Walk the sub-workspace checklist:\n"
                   "         1. the key was created in the workspace that makes this call (a key belongs to one "
                   "workspace; " + (ep.config.workspace.empty() ? std::string("no --workspace was given")
                                                                : "--workspace " + ep.config.workspace + " was sent") +
                   ")\n"
                   "         2. that workspace has model authorization for " + model +
                   " (Model Studio console, the workspace's model authorization; a sub-workspace gets it from the "
                   "main account)\n"
                   "         3. Model Studio is activated for the account in this region (" + std::string(region) + ")";
        return "this key (or its project) may not use " + model + ": check the key's permissions and project";
    }
    if (ec == api_errc::authentication) {
        if (dashscope)
            return "the key is wrong, revoked, or from another region: DashScope keys work only in their own region "
                   "(this endpoint is " + std::string(region) +
                   "); pick --provider dashscope, dashscope-intl, dashscope-finance, dashscope-us or "
                   "dashscope-hongkong to match the key";
        return "the key is wrong, revoked or meant for another provider: create a new key and set " +
               ep.key_variable;
    }
    if (ec == api_errc::payment_required)
        return "the account's balance is used up or overdue (or the model is not purchased): top up or check the "
               "plan in the billing console, then retry";
    if (ec == api_errc::not_found) return "no model named " + model + " for this key: check the name and the region";
    return d.hint.empty() ? "see the message above" : d.hint;
}

}  // namespace

int run_doctor(const options& o, const endpoint& ep) {
    int code = exit_code::ok;
    std::cout << "llmstream doctor\n";

    // 1. The key: present, and where it came from. Its value is never shown.
    const std::string& key = ep.config.api_key;
    if (key.empty() && ep.key_required) {
        fail("API key: not set");
        fix("export " + ep.key_variable + "=<your key> (or pass --api-key)");
        code = exit_code::authentication;
    } else if (key.empty()) {
        ok("API key: none (" + ep.key_variable + " is unset; a local server may not need one)");
    } else {
        ok("API key: set by " + ep.key_source + " (" + std::to_string(key.size()) + " characters)");
        if (key.find_first_of(" \t\r\n\"'") != std::string::npos) {
            fail("API key: it contains spaces, quotes or a line break: a copy-and-paste accident?");
            fix("set the key again without surrounding quotes or whitespace");
            code = exit_code::authentication;
        }
    }

    // 2. The endpoint and its region.
    auto url = boost::urls::parse_uri(ep.config.base_url);
    const std::string host = url ? std::string(url->host()) : std::string();
    const std::string region = region_note(host);
    // A named provider's description already says its region; a base URL's host says it here.
    const bool preset_host = !o.provider.empty() && o.base_url.empty();
    ok("endpoint: " + shown_url(ep.config.base_url) + " (" + ep.description + "; " +
       (preset_host ? std::string() : region + "; ") +
       dialect_name(ep.config.dialect) + " dialect)");
    if (!ep.config.workspace.empty()) ok("workspace: " + ep.config.workspace + " (sent as X-DashScope-WorkSpace)");
    ok("rate limits: " + describe_limits(ep.config.limits));
    if (!ep.config.limits.redis.empty()) check_redis(ep.config.limits.redis, ep.config.tls);
    if (ep.config.vendor == vendor::dashscope)
        note("DashScope keys belong to one region: a key from another region's console gets 401 here");

    // The proxy, if any: host and port only, and which setting chose it.
    http::origin origin;
    std::optional<http::proxy_endpoint> proxy;
    if (!http::parse_origin(ep.config.base_url, origin)) {
        const auto& p = ep.config.proxy;
        std::string reason;
        if (auto ec = http::choose_proxy(origin.tls, origin.host, origin.port, {p.url, p.from_environment, p.no_proxy},
                                         http::process_environment, proxy, reason)) {
            fail("proxy: unusable (" + reason + "): " + ec.message());
            fix("write it as http://[user:password@]host[:port], or pass --no-proxy");
            return exit_code::usage;
        }
        if (proxy)
            note("proxy: " + proxy->display() + " (" + reason + ")" +
                 (origin.tls ? ", through a CONNECT tunnel" : ", requests in absolute form"));
        else
            ok("proxy: none (" + (reason.empty() ? std::string("--no-proxy") : reason) + ")");
    }

    asio::io_context io(1);
    // 3. DNS.
    bool resolved = false;
    std::string host_name = host;
    if (host_name.size() > 2 && host_name.front() == '[') host_name = host_name.substr(1, host_name.size() - 2);
    auto pinned = std::find_if(ep.config.host_overrides.begin(), ep.config.host_overrides.end(),
                                     [&](const host_override& h) { return boost::algorithm::iequals(h.host, host_name); });
    if (url && proxy) {
        // Through a proxy the server's name is the proxy's to look up: check the proxy's instead.
        host_name = proxy->host;
        pinned = ep.config.host_overrides.end();
    }
    if (url && pinned != ep.config.host_overrides.end()) {
        ok("DNS: not asked: --resolve sends " + host_name + " to " + pinned->address);
        resolved = true;
    } else if (url) {
        std::string port = proxy           ? proxy->port
                           : url->has_port() ? std::string(url->port())
                                             : (url->scheme() == "https" ? "443" : "80");
        const std::string what = proxy ? "the proxy's host " + host_name : host_name;
        asio::ip::tcp::resolver resolver(io);
        asio::steady_timer limit(io, ep.config.timeouts.connect.count() > 0 ? ep.config.timeouts.connect
                                                                             : std::chrono::milliseconds(10'000));
        boost::system::error_code dns_ec = asio::error::timed_out;
        std::size_t addresses = 0;
        resolver.async_resolve(host_name, port, [&](boost::system::error_code ec, asio::ip::tcp::resolver::results_type r) {
            dns_ec = ec;
            addresses = r.size();
            limit.cancel();
        });
        bool timed_out = false;
        limit.async_wait([&](boost::system::error_code ec) {
            if (ec) return;
            timed_out = true;
            resolver.cancel();
        });
        io.run();
        io.restart();
        if (dns_ec) {
            fail("DNS: " + what + (timed_out ? " did not resolve in time" : " does not resolve (" + dns_ec.message() + ")"));
            fix("check the host name in the base URL, the DNS server and any proxy settings");
            if (code == exit_code::ok) code = exit_code::network;
        } else {
            ok("DNS: " + what + " resolves (" + std::to_string(addresses) + " address" + (addresses == 1 ? "" : "es") +
               (proxy ? "; the proxy looks up " + origin.host + ")" : ")"));
            resolved = true;
        }
    }

    // 4. A one-token request: connection, TLS, key, model, balance.
    const std::string model = default_model(o);
    if (!resolved || (key.empty() && ep.key_required)) {
        note("request: skipped until the failures above are fixed");
        return code;
    }
    if (model.empty()) {
        note("request: skipped: pass --model NAME to try a one-token request");
        return code;
    }
    client_config cfg = ep.config;
    cfg.retry.max_retries = 0;  // the doctor reports what happens, it does not hide it
    client c(io.get_executor(), cfg);
    chat_request req;
    req.model = model;
    req.max_tokens = 1;
    req.messages = {{"user", "Say OK."}};
    const auto start = std::chrono::steady_clock::now();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(std::move(req));
        for (;;) {
            auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
            if (!ec && d) continue;
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
            const diagnostics& diag = s.diagnostics();
            if (!ec) {
                ok(std::string("connection") + (ep.config.base_url.rfind("https", 0) == 0 ? " and TLS" : "") +
                   ": fine");
                ok("request: " + model + " answered in " + std::to_string(ms.count()) + " ms" +
                   (diag.request_id.empty() ? "" : " (request id " + diag.request_id + ")"));
                co_return;
            }
            const failure_report r = describe_failure(ec, diag);
            const bool answered = diag.http_status != 0;
            const std::string cls = error_class_name(ec);
            if (!answered) {
                fail(std::string(cls == "tls" ? "TLS" : "connection") + ": " + r.summary.substr(std::string("llmstream: ").size()));
            } else {
                ok(std::string("connection") + (ep.config.base_url.rfind("https", 0) == 0 ? " and TLS" : "") + ": fine");
                fail("request to " + model + ": " + r.summary.substr(std::string("llmstream: ").size()));
            }
            fix(fix_for(ec, diag, ep, model, region));
            if (code == exit_code::ok) code = exit_code_for(ec);
            co_return;
        }
    }, asio::detached);
    io.run();
    return code;
}

}  // namespace llmstream::cli

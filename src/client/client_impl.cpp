#include "client_impl.hpp"

#include "limits/redis_store.hpp"
#include "http/tls_stream.hpp"
#include "protocol/vendor.hpp"


#include <cstdlib>
#include <stdexcept>

namespace llmstream::detail {

namespace asio = boost::asio;
using boost::system::error_code;

client_impl::client_impl(asio::any_io_executor ex, client_config cfg) : executor(std::move(ex)), config(std::move(cfg)) {
    if (auto ec = http::parse_origin(config.base_url, origin))
        // The URL itself is not echoed: it may carry credentials in userinfo or the query.
        throw std::invalid_argument("llmstream::client: unusable base_url: " + ec.message());
    config.vendor = protocol::vendor_for_host(config.vendor, origin.host);
    if (origin.tls) {
        tls = http::make_client_tls_context(config.tls);
        tls_sessions = std::make_unique<http::tls_session_cache>(tls->native_handle(), config.tls.resume_sessions);
    }
    http::pool_settings ps;
    ps.max_connections = std::max<std::size_t>(1, config.pool.max_connections);
    ps.max_waiting = config.pool.max_waiting;
    ps.wait_timeout = config.pool.wait_timeout;
    ps.idle_timeout = config.pool.idle_timeout;
    pool = std::make_unique<http::connection_pool>(executor, ps, tls.get());

    std::vector<std::pair<std::string, std::string>> pinned;
    for (const auto& o : config.host_overrides) {
        error_code ec;
        asio::ip::make_address(o.address, ec);
        if (o.host.empty() || ec)
            throw std::invalid_argument("llmstream::client: a host override needs a host name and an IP address, got \"" +
                                        o.host + "\" -> \"" + o.address + "\"");
        pinned.emplace_back(o.host, o.address);
    }
    lookup = http::deadline_resolver::pinned_lookup(std::move(pinned));
    const http::proxy_settings proxy_settings{config.proxy.url, config.proxy.from_environment, config.proxy.no_proxy};
    if (auto ec = http::choose_proxy(origin.tls, origin.host, origin.port, proxy_settings, http::process_environment,
                                     proxy, proxy_reason))
        // Neither the URL nor its credentials are echoed.
        throw std::invalid_argument("llmstream::client: unusable proxy (" +
                                    (proxy_reason.empty() ? std::string("client_config::proxy") : proxy_reason) +
                                    "): " + ec.message());
    if (proxy) proxy_authorization = http::proxy_authorization(*proxy);
    // HTTP/2: over TLS when offered by ALPN (automatic) or required (http2); in clear text only when
    // required (prior knowledge), and never through an http:// proxy (which would need absolute-form HTTP/1.1).
    const bool h2 = config.http == http_version::http2 || (config.http == http_version::automatic && origin.tls);
    if (config.http == http_version::http2 && !origin.tls && proxy)
        throw std::invalid_argument("llmstream::client: http = http2 to an http:// base URL cannot go through an HTTP "
                                    "proxy (" + proxy_reason + "): use http1, or bypass the proxy with no_proxy");
    if (h2) {
        h2pool = std::make_unique<http::h2::pool>(executor, ps, tls.get(), config.http2);
        if (origin.tls) alpn = config.http == http_version::http2 ? std::string_view("\x02h2", 3)
                                                                   : std::string_view("\x02h2\x08http/1.1", 12);
    } else if (origin.tls) {
        alpn = std::string_view("\x08http/1.1", 9);
    }
    const bool x_api_key = config.auth == auth_scheme::x_api_key ||
                           (config.auth == auth_scheme::automatic && config.dialect == api_dialect::anthropic_messages);
    auth_header_name = x_api_key ? "x-api-key" : "Authorization";
    auth_header_value = x_api_key ? config.api_key : "Bearer " + config.api_key;
    server_port = std::atoi(origin.port.c_str());
    // gen_ai.provider.name: an OpenAI-compatible server of unknown vendor speaks OpenAI's flavour.
    provider_name = config.vendor == vendor::automatic ? "openai" : to_string(config.vendor);
    config.max_buffered_deltas = std::max<std::size_t>(1, config.max_buffered_deltas);
    if (config.limits.enabled()) {
        std::string key = config.limits.key.empty()
                              ? limits::limit_fingerprint(config.base_url, config.api_key, config.workspace)
                              : config.limits.key;
        gate = std::make_unique<limits::gate>(executor, config.limits, [this] { return random01(); }, std::move(key),
                                              config.tls);
    }
}

std::size_t client_impl::open_connections() const noexcept {
    return pool->open_connections() + (h2pool ? h2pool->open_connections() : 0);
}
std::size_t client_impl::idle_connections() const noexcept {
    return pool->idle_connections() + (h2pool ? h2pool->idle_connections() : 0);
}
std::size_t client_impl::waiting_requests() const noexcept {
    return pool->waiting_requests() + (h2pool ? h2pool->waiting_requests() : 0) + connect_gate.waiting();
}

}  // namespace llmstream::detail

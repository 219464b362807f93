// What every generation of one client shares: the configuration, the parsed origin, TLS, the
// connection pool, name lookup, the proxy, the retry budget, randomness for jitter.
#pragma once

#include <llmstream/config.hpp>

#include "http/connect_gate.hpp"
#include "http/connection_pool.hpp"
#include "http/h2/pool.hpp"
#include "http/origin.hpp"
#include "http/proxy.hpp"
#include "http/resolve.hpp"
#include "http/tls_sessions.hpp"
#include "limits/gate.hpp"
#include "retry/retry_planner.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace llmstream::detail {

class client_impl {
public:
    /// Throws std::invalid_argument for an unusable base URL, host override or proxy.
    client_impl(boost::asio::any_io_executor ex, client_config cfg);

    /// Uniform in [0, 1), for backoff jitter.
    double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

    boost::asio::any_io_executor executor;
    client_config config;
    http::origin origin;
    std::unique_ptr<boost::asio::ssl::context> tls;
    std::unique_ptr<http::tls_session_cache> tls_sessions;  // null without TLS; declared after tls: goes first
    std::unique_ptr<http::connection_pool> pool;  // HTTP/1.1
    std::unique_ptr<http::h2::pool> h2pool;       // HTTP/2; null when this client never speaks it
    http::connect_gate connect_gate{config.pool.max_connecting, config.pool.wait_timeout};  // both pools' new connections
    std::string_view alpn;                        // what TLS offers by ALPN (wire format), "" for none

    /// True while requests should go over HTTP/2 (h2pool set, and the origin has not chosen http/1.1).
    bool speaks_h2() const noexcept { return h2pool && !h2pool->http1_only(); }
    std::size_t open_connections() const noexcept;
    std::size_t idle_connections() const noexcept;
    std::size_t waiting_requests() const noexcept;
    http::deadline_resolver::lookup_fn lookup;  // asio's, or one that answers pinned hosts itself
    std::string auth_header_name;   // "Authorization" (Bearer) or "x-api-key"
    std::string auth_header_value;  // holds the key: never logged
    std::optional<http::proxy_endpoint> proxy;  // empty: direct connections
    std::string proxy_reason;                   // why this proxy (or none) was chosen
    std::string proxy_authorization;            // "Basic ..." or empty
    retry::budget retry_budget{config.retry_budget};
    std::unique_ptr<limits::gate> gate;  // the rate governor; null when no limit is set
    std::mt19937_64 rng{std::random_device{}()};
    int server_port = 0;
    const char* provider_name = "openai";  // gen_ai.provider.name
    std::uint64_t requests_started = 0;    // numbers the requests for the observer
};

}  // namespace llmstream::detail
